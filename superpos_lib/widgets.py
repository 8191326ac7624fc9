"""Live explorers: sliders that retrain toy models and redraw them while they train.

The pattern, shared by every explorer: controls → retrain (batched over seeds, through the
training loop's callbacks) → redraw. Training runs in a background thread so the kernel stays
free to receive slider moves; a newer request supersedes the running one (the running
training is stopped at its next callback), so the figure always ends up showing the latest
slider values. ``update(...)`` goes through the same path and waits, which is what the
chapters, the tests and the benchmark call. (``CompositionExplorer`` trains nothing: it redraws
on each move.)
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import ipywidgets as W
import torch

from .data import importance_decay
from .models import ToyModelConfig
from .features import CompositionDemo
from .plotting import CompositionFrame, ExplorerFrame, NeuronFrame
from .runtime import get_device
from .training import ToyModels, TrainConfig, TrainState, fit_toy_models

__all__ = ["LatestOnlyWorker", "ExplorerSettings", "LiveExplorer", "SuperpositionExplorer", "NeuronExplorer", "CompositionExplorer"]


class LatestOnlyWorker:
    """Runs jobs one at a time in a background thread; only the newest job matters.

    ``submit(job)`` supersedes any queued job and marks a running one stale: the job function
    receives ``is_stale()`` and is expected to return early when it turns true.
    """

    def __init__(self, fn: Callable[[object, Callable[[], bool]], None]):
        self._fn = fn
        self._lock = threading.Condition()
        self._pending: tuple[int, object] | None = None
        self._generation = 0
        self._busy = False
        self.error: BaseException | None = None

    def submit(self, job: object) -> None:
        with self._lock:
            self._generation += 1
            self._pending = (self._generation, job)
            if not self._busy:
                self._busy = True
                threading.Thread(target=self._run, daemon=True, name="superpos-explorer").start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._pending is None:
                    self._busy = False
                    self._lock.notify_all()
                    return
                generation, job = self._pending
                self._pending = None
            try:
                self._fn(job, lambda g=generation: g != self._generation)
            except BaseException as err:  # surfaced by wait(), never lost in the thread
                self.error = err

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no job is queued or running; re-raise a job's exception. False on timeout."""
        with self._lock:
            done = self._lock.wait_for(lambda: not self._busy, timeout)
        if self.error is not None:
            err, self.error = self.error, None
            raise err
        return done


@dataclass(frozen=True)
class ExplorerSettings:
    """One setting of the superposition explorer's controls.

    Args:
        density: feature density ``1 - S`` in ``(0, 1]``.
        importance_decay: importance of feature ``i`` is ``importance_decay ** i``.
        n_features: number of features ``n``.
        d_hidden: hidden dimensions ``m``.
        relu: ReLU output (``False``: linear model).
    """

    density: float = 0.05
    importance_decay: float = 0.9
    n_features: int = 5
    d_hidden: int = 2
    relu: bool = True

    def __post_init__(self):
        if not (0 < self.density <= 1):
            raise ValueError(f"density must be in (0, 1], got {self.density!r}")
        if not (0 < self.importance_decay <= 1):
            raise ValueError(f"importance_decay must be in (0, 1], got {self.importance_decay!r}")
        ToyModelConfig(self.n_features, self.d_hidden)  # validates both sizes

    def title(self) -> str:
        kind = "ReLU" if self.relu else "linear"
        return (
            f"{kind} output, n = {self.n_features}, m = {self.d_hidden}, "
            f"1 − S = {self.density:.3g}, I = {self.importance_decay:g}^i"
        )


class LiveExplorer:
    """Controls → retrain ``n_seeds`` toy models (latest request wins) → redraw, live.

    Subclasses say which controls they show (:attr:`controls`, names of
    :class:`ExplorerSettings` fields), which model they train (:meth:`model_config`) and which
    figure draws it (:attr:`frame_class`, e.g. :class:`~superpos_lib.plotting.ExplorerFrame`).

    Args:
        settings: the initial control values.
        n_seeds: seeds trained per setting; the lowest-loss one is shown.
        train_config: the schedule (default: the library's 1,000-step recipe).
        device: where to train (``None``: CUDA > MPS > CPU).
        frame_interval: seconds between live frames while training.
        max_features, max_hidden: slider ranges.
        seed: seeds the weights and data of every retrain (a setting always gives the same model).
    """

    controls: tuple[str, ...] = ()
    frame_class: type = ExplorerFrame

    def __init__(
        self,
        settings: ExplorerSettings = ExplorerSettings(),
        *,
        n_seeds: int = 4,
        train_config: TrainConfig = TrainConfig(),
        device: str | torch.device | None = None,
        frame_interval: float = 0.4,
        max_features: int = 20,
        max_hidden: int = 10,
        seed: int = 0,
    ):
        if n_seeds < 1:
            raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
        self.n_seeds = n_seeds
        self.train_config = train_config
        self.device = get_device(device)
        self.frame_interval = frame_interval
        self.seed = seed
        self.result: ToyModels | None = None
        self.shown: ExplorerSettings | None = None  # the settings of the figure on display
        self.frames_drawn = 0
        self._defaults = settings
        self._frames: dict[tuple[int, int], object] = {}
        self._holding = False

        s = settings
        cu = dict(continuous_update=False, style={"description_width": "130px"}, layout=W.Layout(width="400px"))
        every = {
            "density": lambda: W.FloatLogSlider(s.density, base=10, min=-3, max=0, step=0.05, description="density 1 − S", readout_format=".3f", **cu),
            "importance_decay": lambda: W.FloatSlider(s.importance_decay, min=0.5, max=1.0, step=0.01, description="importance decay", **cu),
            "n_features": lambda: W.IntSlider(s.n_features, min=2, max=max_features, description="features n", **cu),
            "d_hidden": lambda: W.IntSlider(s.d_hidden, min=1, max=max_hidden, description="hidden dims m", **cu),
            "relu": lambda: W.ToggleButtons(options=[("ReLU output", True), ("linear output", False)], value=s.relu, style={"button_width": "110px"}),
        }
        self.widgets = {name: every[name]() for name in self.controls}
        self.status = W.HTML()
        self.image = W.Image(format="png", layout=W.Layout(width="100%", max_width="840px"))
        self.widget = W.VBox([W.VBox(list(self.widgets.values())), self.image, self.status])
        for control in self.widgets.values():
            control.observe(self._on_change, names="value")

        self._worker = LatestOnlyWorker(self._retrain)
        self._worker.submit(self.settings)
        self._worker.wait()

    # -- what a subclass decides ------------------------------------------------------------------
    def model_config(self, s: ExplorerSettings) -> ToyModelConfig:
        raise NotImplementedError

    # -- controls ---------------------------------------------------------------------------------
    @property
    def settings(self) -> ExplorerSettings:
        """The settings the controls show now."""
        cast = {"density": float, "importance_decay": float, "n_features": int, "d_hidden": int, "relu": bool}
        return replace(self._defaults, **{name: cast[name](w.value) for name, w in self.widgets.items()})

    def _on_change(self, _change=None) -> None:
        if not self._holding:
            self._worker.submit(self.settings)

    def submit(self, **changes) -> None:
        """Move the controls (names as in :class:`ExplorerSettings`) as a user would; don't wait."""
        new = replace(self.settings, **changes)  # validates names and values
        fixed = [name for name in changes if name not in self.widgets and changes[name] != getattr(self._defaults, name)]
        if fixed:
            raise ValueError(f"{type(self).__name__} has no control for {fixed}")
        self._holding = True  # one retrain for all the changes, not one per control
        try:
            for name, control in self.widgets.items():
                control.value = getattr(new, name)
        finally:
            self._holding = False
        self._worker.submit(new)

    def update(self, **changes):
        """Move the controls, retrain and wait; returns the frame on display (``.figure``)."""
        self.submit(**changes)
        self._worker.wait()
        return self.frame

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for pending retraining to finish."""
        return self._worker.wait(timeout)

    # -- retrain and redraw -----------------------------------------------------------------------
    @property
    def frame(self):
        assert self.shown is not None
        return self._frames[(self.shown.n_features, self.shown.d_hidden)]

    @property
    def figure(self):
        """The matplotlib figure on display."""
        return self.frame.figure

    def _frame_for(self, s: ExplorerSettings):
        key = (s.n_features, s.d_hidden)
        if key not in self._frames:
            self._frames[key] = self.frame_class(s.n_features, s.d_hidden, self.train_config.steps)
        return self._frames[key]

    def _retrain(self, s: ExplorerSettings, is_stale: Callable[[], bool]) -> None:
        n, k = s.n_features, self.n_seeds
        importance = importance_decay(n, s.importance_decay).expand(k, n).contiguous()
        density = torch.full((k, n), s.density)
        frame = self._frame_for(s)
        last = [time.perf_counter()]

        def live(state: TrainState) -> bool:
            if is_stale():
                return True
            now = time.perf_counter()
            if now - last[0] >= self.frame_interval and len(state.logged_steps):
                best = int(state.loss.argmin())
                self._draw(frame, state.model.W[best].detach().cpu(), importance[best], state.logged_steps,
                           state.loss_history[: len(state.logged_steps), best].cpu(),
                           f"{s.title()}   (training: step {state.step}/{state.steps})")
                self.shown = s
                last[0] = time.perf_counter()
            return False

        config = replace(self.model_config(s), n_inst=k)
        started = time.perf_counter()
        result = fit_toy_models(config, density, importance, n_seeds=k, train_config=self.train_config,
                                seed=self.seed, device=self.device, callbacks=[live], callback_every=25,
                                progress=False, eval_samples=2**13)
        if is_stale():
            return
        best = result.best()
        self._draw(frame, best.W[0], best.importance[0], best.logged_steps, best.loss_history[:, 0],
                   f"{s.title()}   (loss {best.loss[0].item():.4g})")
        self.result, self.shown = best, s
        self.status.value = (
            f"<small>Trained {k} seeds for {self.train_config.steps} steps on {self.device.type} in "
            f"{time.perf_counter() - started:.2f} s; showing the lowest-loss seed.</small>"
        )

    def _draw(self, frame, W_best, importance, steps, loss, title: str) -> None:
        frame.update(W_best, importance, steps, loss, title=title)
        self.image.value = frame.png()
        self.frames_drawn += 1

    def _repr_mimebundle_(self, **kwargs) -> dict:
        return _bundle_with_png(self.widget, self.image, **kwargs)


def _bundle_with_png(widget, image, **kwargs) -> dict:
    """A widget's display bundle plus its current image as a PNG, for front ends without widgets."""
    bundle = widget._repr_mimebundle_(**kwargs)
    bundle["image/png"] = base64.b64encode(bytes(image.value)).decode("ascii")
    return bundle


class SuperpositionExplorer(LiveExplorer):
    """Sliders for density, importance decay, n, m and the output non-linearity (chapter 3).

    Every change retrains ``n_seeds`` models of ``x' = ReLU(WᵀWx + b)`` (or the linear model)
    and shows the lowest-loss one: 2-D feature directions (or ``WᵀW``), norms, loss.
    """

    controls = ("density", "importance_decay", "n_features", "d_hidden", "relu")
    frame_class = ExplorerFrame

    def model_config(self, s: ExplorerSettings) -> ToyModelConfig:
        return ToyModelConfig(s.n_features, s.d_hidden, relu=s.relu)


class NeuronExplorer(LiveExplorer):
    """Sliders for density, importance decay, n and m of the neuron model (chapter 2).

    Every change retrains ``n_seeds`` models of ``h = ReLU(W x)``, ``x' = ReLU(Wᵀh + b)`` and
    shows the lowest-loss one: each neuron's weights stacked by feature, and how much of each
    feature sits on its largest neuron.
    """

    controls = ("density", "importance_decay", "n_features", "d_hidden")
    frame_class = NeuronFrame

    def __init__(self, settings: ExplorerSettings = ExplorerSettings(density=0.1, importance_decay=0.75, n_features=10, d_hidden=5), **kwargs):
        super().__init__(settings, **kwargs)

    def model_config(self, s: ExplorerSettings) -> ToyModelConfig:
        return ToyModelConfig(s.n_features, s.d_hidden, hidden_relu=True)


class CompositionExplorer:
    """Sliders for three feature values; shows their linear representation and what comes back.

    Compares reading features back with a linear probe from the linear code ``r = Σ x_i d_i``
    (exact) and from the packed number ``(floor(10·x₁) + x₂)/10`` (fails for ``x₂``), against
    the packed number's non-linear decoding (chapter 1). Nothing trains: each move redraws.
    """

    def __init__(self, demo: CompositionDemo | None = None, values: tuple[float, ...] = (0.35, 0.6, 0.8)):
        self.demo = demo or CompositionDemo.make()
        n = self.demo.directions.shape[0]
        if len(values) != n:
            raise ValueError(f"values needs {n} entries, got {len(values)}")
        self.sliders = [
            W.FloatSlider(v, min=0.0, max=0.99, step=0.01, description=f"x{i + 1}", continuous_update=True,
                          layout=W.Layout(width="360px"))
            for i, v in enumerate(values)
        ]
        self.frame = CompositionFrame(n, n)
        self.image = W.Image(format="png", layout=W.Layout(width="100%", max_width="840px"))
        self.widget = W.VBox([W.VBox(self.sliders), self.image])
        self.readouts: dict[str, torch.Tensor] = {}
        self._holding = False
        for slider in self.sliders:
            slider.observe(self._redraw, names="value")
        self._redraw()

    @property
    def values(self) -> torch.Tensor:
        return torch.tensor([s.value for s in self.sliders], dtype=torch.float32)

    def update(self, *values: float) -> dict[str, torch.Tensor]:
        """Set the sliders (one value per feature) and return the readouts drawn."""
        if len(values) != len(self.sliders):
            raise ValueError(f"update needs {len(self.sliders)} values, got {len(values)}")
        for slider, value in zip(self.sliders, values):
            if not 0 <= value <= 0.99:
                raise ValueError(f"feature values must be in [0, 0.99], got {value}")
        self._holding = True  # one redraw for all the sliders
        try:
            for slider, value in zip(self.sliders, values):
                slider.value = value
        finally:
            self._holding = False
        self._redraw()
        return self.readouts

    def _redraw(self, _change=None) -> None:
        if self._holding:
            return
        rep, self.readouts = self.demo.read(self.values)
        self.frame.update(rep, self.readouts)
        self.image.value = self.frame.png()

    @property
    def figure(self):
        return self.frame.figure

    def _repr_mimebundle_(self, **kwargs) -> dict:
        return _bundle_with_png(self.widget, self.image, **kwargs)
