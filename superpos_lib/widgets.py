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

from . import metrics, phases
from . import sae as sae_lib
from .data import generate_batch, importance_decay
from .models import ToyModelConfig
from .features import CompositionDemo
from .plotting import CompositionFrame, DecompositionFrame, ExplorerFrame, NeuronFrame, PhaseFrame, SAEFrame
from .runtime import get_device
from .training import ToyModels, TrainConfig, TrainState, fit_toy_models

__all__ = [
    "LatestOnlyWorker",
    "ExplorerSettings",
    "LiveExplorer",
    "SuperpositionExplorer",
    "NeuronExplorer",
    "CompositionExplorer",
    "DecompositionExplorer",
    "PhaseExplorer",
    "SAEExplorer",
]


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


class _ShowsFrame:
    """What every explorer shares: ``widget`` (the controls and ``image``) shows ``frame``'s
    figure as a PNG, so front ends without widgets (the static site, nbval) still see it."""

    @property
    def figure(self):
        """The matplotlib figure on display."""
        return self.frame.figure

    def _repr_mimebundle_(self, **kwargs) -> dict:
        return _bundle_with_png(self.widget, self.image, **kwargs)


class LiveExplorer(_ShowsFrame):
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


class CompositionExplorer(_ShowsFrame):
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


class DecompositionExplorer(_ShowsFrame):
    """Sliders for the angles and lengths of three features in 2-D and their density (chapter 4).

    Nothing trains: each move recomputes the linear model's feature benefit and interference
    terms (exact, zero-mean features ``x ∈ [-1, 1)``), the ReLU model's true loss on TMS's
    features ``x ∈ [0, 1)`` (a Monte-Carlo average over one fixed sample, so the number moves
    smoothly), and each pair's interference with and without the ReLU.
    """

    def __init__(
        self,
        angles: tuple[float, ...] = (0.0, 150.0, 250.0),
        lengths: tuple[float, ...] = (1.0, 1.0, 1.0),
        density: float = 0.1,
        *,
        n_samples: int = 2**15,
        seed: int = 0,
    ):
        if len(angles) != len(lengths) or len(angles) < 2:
            raise ValueError(f"angles and lengths need the same number (>= 2) of entries, got {len(angles)} and {len(lengths)}")
        self.n_features = len(angles)
        self.n_samples = n_samples
        self.seed = seed
        cu = dict(continuous_update=True, style={"description_width": "80px"}, layout=W.Layout(width="270px"))
        self.angle_sliders = [W.FloatSlider(a % 360, min=0, max=359, step=1, description=f"angle {i + 1} (°)", **cu)
                              for i, a in enumerate(angles)]
        self.length_sliders = [W.FloatSlider(v, min=0, max=1.5, step=0.01, description=f"length {i + 1}", **cu)
                               for i, v in enumerate(lengths)]
        self.density_slider = W.FloatLogSlider(density, base=10, min=-2, max=0, step=0.05, description="density p",
                                               readout_format=".3f", **cu)
        self.frame = DecompositionFrame(self.n_features)
        self.image = W.Image(format="png", layout=W.Layout(width="100%", max_width="840px"))
        columns = [W.VBox(self.angle_sliders), W.VBox(self.length_sliders), W.VBox([self.density_slider])]
        self.widget = W.VBox([W.HBox(columns), self.image])
        self.values: dict[str, float] = {}
        self._holding = False
        self._batches: dict[float, torch.Tensor] = {}
        for s in (*self.angle_sliders, *self.length_sliders, self.density_slider):
            s.observe(self._redraw, names="value")
        self._redraw()

    @property
    def W(self) -> torch.Tensor:
        """The current directions, ``(2, feats)``."""
        a = torch.deg2rad(torch.tensor([s.value for s in self.angle_sliders], dtype=torch.float32))
        length = torch.tensor([s.value for s in self.length_sliders], dtype=torch.float32)
        return torch.stack([a.cos(), a.sin()]) * length

    def _batch(self, p: float) -> torch.Tensor:
        if p not in self._batches:
            gen = torch.Generator().manual_seed(self.seed)
            self._batches = {p: generate_batch(p, self.n_samples, self.n_features, generator=gen)}
        return self._batches[p]

    def compute(self) -> dict[str, float]:
        """The four numbers drawn: linear ``benefit``, ``interference``, ``linear_total``, and ``relu_total``."""
        p = float(self.density_slider.value)
        W3 = self.W[None]
        n = self.n_features
        terms = metrics.loss_decomposition(W3, torch.full((1, n), p), torch.ones(1, n))
        x = self._batch(p)
        out = torch.relu(x @ (W3[0].T @ W3[0]))
        relu = ((x - out) ** 2).mean().item()
        return {"benefit": terms.benefit.item(), "interference": terms.interference.item(),
                "linear_total": terms.total.item(), "relu_total": relu}

    def update(self, *, angles: tuple[float, ...] | None = None, lengths: tuple[float, ...] | None = None,
               density: float | None = None) -> dict[str, float]:
        """Set sliders (as a reader would) and return :meth:`compute`'s numbers for them."""
        for values, sliders, name in ((angles, self.angle_sliders, "angles"), (lengths, self.length_sliders, "lengths")):
            if values is not None and len(values) != self.n_features:
                raise ValueError(f"{name} needs {self.n_features} entries, got {len(values)}")
        if lengths is not None and any(not 0 <= v <= 1.5 for v in lengths):
            raise ValueError(f"lengths must be in [0, 1.5], got {lengths}")
        if density is not None and not 0.01 <= density <= 1:
            raise ValueError(f"density must be in [0.01, 1], got {density}")
        self._holding = True
        try:
            if angles is not None:
                for s, v in zip(self.angle_sliders, angles):
                    s.value = float(v) % 360
            if lengths is not None:
                for s, v in zip(self.length_sliders, lengths):
                    s.value = float(v)
            if density is not None:
                self.density_slider.value = density
        finally:
            self._holding = False
        self._redraw()
        return self.values

    def _redraw(self, _change=None) -> None:
        if self._holding:
            return
        self.values = self.compute()
        v = self.values
        self.frame.update(self.W, [v["benefit"], v["interference"], v["linear_total"], v["relu_total"]],
                          title=f"p = {self.density_slider.value:.3g}:  linear loss {v['linear_total']:.4f},  "
                                f"ReLU loss {v['relu_total']:.4f}")
        self.image.value = self.frame.png()


class PhaseExplorer(_ShowsFrame):
    """Sliders for the extra feature's relative importance ``r`` and the density ``p`` of the
    ``n = 2, m = 1`` model (chapter 5).

    Every move retrains ``n_seeds`` models in the background (latest request wins) and shows
    the lowest-loss one: its weights, which solution it picked, where ``(r, p)`` sits on the
    analytic phase diagram, and its loss against the three candidates' analytic losses.
    """

    def __init__(
        self,
        r: float = 1.0,
        p: float = 0.3,
        *,
        n_seeds: int = 8,
        train_config: TrainConfig = TrainConfig(batch_size=256),
        device: str | torch.device | None = None,
        seed: int = 0,
    ):
        if n_seeds < 1:
            raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
        self.n_seeds, self.train_config, self.seed = n_seeds, train_config, seed
        self.device = get_device(device)
        cu = dict(continuous_update=False, style={"description_width": "150px"}, layout=W.Layout(width="420px"))
        self.r_slider = W.FloatLogSlider(r, base=10, min=-1, max=1, step=0.02, description="relative importance r", **cu)
        self.p_slider = W.FloatLogSlider(p, base=10, min=-2, max=0, step=0.02, description="density p", readout_format=".3f", **cu)
        r_grid, p_grid = torch.logspace(-1, 1, 81), torch.logspace(-2, 0, 81)
        pp, rr = torch.meshgrid(p_grid, r_grid, indexing="ij")
        self.frame = PhaseFrame(r_grid, p_grid, phases.analytic_phase(rr, pp))
        self.image = W.Image(format="png", layout=W.Layout(width="100%", max_width="840px"))
        self.status = W.HTML()
        self.widget = W.VBox([self.r_slider, self.p_slider, self.image, self.status])
        self.result: ToyModels | None = None
        self.label: int | None = None
        self._holding = False
        for s in (self.r_slider, self.p_slider):
            s.observe(self._on_change, names="value")
        self._worker = LatestOnlyWorker(self._retrain)
        self._worker.submit((float(r), float(p)))
        self._worker.wait()

    def _on_change(self, _change=None) -> None:
        if not self._holding:
            self._worker.submit((float(self.r_slider.value), float(self.p_slider.value)))

    def update(self, r: float | None = None, p: float | None = None):
        """Move the sliders, retrain and wait; returns the frame on display (``.figure``)."""
        r = self.r_slider.value if r is None else r
        p = self.p_slider.value if p is None else p
        phases.candidate_losses(r, p)  # validates
        self._holding = True
        try:
            self.r_slider.value, self.p_slider.value = r, p
        finally:
            self._holding = False
        self._worker.submit((float(r), float(p)))
        self._worker.wait()
        return self.frame

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for pending retraining to finish."""
        return self._worker.wait(timeout)

    def _retrain(self, job: tuple[float, float], is_stale: Callable[[], bool]) -> None:
        r, p = job
        k = self.n_seeds
        importance = torch.tensor([[1.0, r]]).expand(k, 2).contiguous()
        density = torch.full((k, 2), p)
        started = time.perf_counter()
        res = fit_toy_models(ToyModelConfig(2, 1, k), density, importance, n_seeds=k, train_config=self.train_config,
                             seed=self.seed, device=self.device, callbacks=[lambda _s: is_stale()],
                             callback_every=50, progress=False, eval_samples=2**14)
        if is_stale():
            return
        best = res.best()
        label = int(phases.classify_extra_feature(best.W)[0])
        predicted = int(phases.analytic_phase(r, p))
        cand = phases.candidate_losses(r, p).float()
        verdict = "as the analysis predicts" if label == predicted else f"(analysis: {phases.SOLUTIONS[predicted]})"
        self.frame.update(r, p, best.W[0], label, cand, best.loss[0].item(),
                          title=f"r = {r:.3g}, p = {p:.3g}: extra feature → {phases.SOLUTIONS[label]}, {verdict}")
        self.image.value = self.frame.png()
        self.result, self.label = best, label
        self.status.value = (f"<small>Trained {k} seeds for {self.train_config.steps} steps on {self.device.type} in "
                             f"{time.perf_counter() - started:.2f} s; showing the lowest-loss seed.</small>")


SAE_EXPLORER_TRAINING = TrainConfig(steps=600, batch_size=512, lr=1e-2, betas=(0.9, 0.999), warmup=0.02)


class SAEExplorer(_ShowsFrame):
    """Controls for an SAE's variant, sparsity and dictionary size, on a toy model's hidden
    activations (chapter 8).

    Every move retrains ``n_seeds`` SAEs at once (latest request wins) and shows the one with
    the lowest loss: its decoder rows over the true feature directions, its training loss, and
    its L0, FVU, MMCS, matched MMCS and dead latents (in :attr:`metrics`).

    Args:
        acts: ``(n, 2)`` activations to train on (e.g. from :func:`~superpos_lib.sae.hidden_activations`).
        true_directions: ``(feats, 2)`` the features to recover.
        kind, l1_coeff, k, d_sae: the initial control values (``k`` is the target L0 for jumprelu).
        resample: resample dead latents of relu_l1 SAEs (every 100 steps).
    """

    def __init__(
        self,
        acts: Tensor,
        true_directions: Tensor,
        *,
        kind: str = "relu_l1",
        l1_coeff: float = 0.1,
        k: int = 1,
        d_sae: int = 5,
        resample: bool = True,
        n_seeds: int = 4,
        train_config: TrainConfig = SAE_EXPLORER_TRAINING,
        device: str | torch.device | None = None,
        seed: int = 0,
        max_d_sae: int = 16,
    ):
        sae_lib._check_acts(acts, "acts")
        if true_directions.ndim != 2 or true_directions.shape[1] != acts.shape[1] or acts.shape[1] != 2:
            raise ValueError(f"acts and true_directions must both have 2 columns, got {tuple(acts.shape)} and {tuple(true_directions.shape)}")
        if n_seeds < 1:
            raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
        self.acts, self.true_directions = acts, true_directions
        self.eval_acts = acts[: 2**14]
        self.n_seeds, self.train_config, self.resample, self.seed = n_seeds, train_config, resample, seed
        self.device = get_device(device)
        cu = dict(continuous_update=False, style={"description_width": "130px"}, layout=W.Layout(width="400px"))
        self.kind_buttons = W.ToggleButtons(options=[("ReLU + L1", "relu_l1"), ("TopK", "topk"), ("JumpReLU", "jumprelu")],
                                            value=kind, style={"button_width": "100px"})
        self.l1_slider = W.FloatLogSlider(l1_coeff, base=10, min=-3, max=0, step=0.1, description="λ (ReLU + L1)", readout_format=".3f", **cu)
        self.k_slider = W.IntSlider(k, min=1, max=max_d_sae, description="k / target L0", **cu)
        self.d_sae_slider = W.IntSlider(d_sae, min=1, max=max_d_sae, description="dictionary size", **cu)
        self.frame = SAEFrame(train_config.steps)
        self.image = W.Image(format="png", layout=W.Layout(width="100%", max_width="760px"))
        self.status = W.HTML()
        self.widget = W.VBox([self.kind_buttons, self.l1_slider, self.k_slider, self.d_sae_slider, self.image, self.status])
        self.metrics: dict[str, float] = {}
        self.result: sae_lib.SAETraining | None = None
        self._holding = False
        for w in (self.kind_buttons, self.l1_slider, self.k_slider, self.d_sae_slider):
            w.observe(self._on_change, names="value")
        self._worker = LatestOnlyWorker(self._retrain)
        self._worker.submit(self._job())
        self._worker.wait()

    def _job(self) -> tuple[str, float, int]:
        kind, d = self.kind_buttons.value, int(self.d_sae_slider.value)
        sparsity = float(self.l1_slider.value) if kind == "relu_l1" else float(min(int(self.k_slider.value), d))
        return kind, sparsity, d

    def _on_change(self, _change=None) -> None:
        if not self._holding:
            self._worker.submit(self._job())

    def update(self, *, kind: str | None = None, l1_coeff: float | None = None, k: int | None = None,
               d_sae: int | None = None) -> dict[str, float]:
        """Move the controls, retrain and wait; returns :attr:`metrics` of the SAE shown."""
        if kind is not None:
            sae_lib._check_kind(kind)
        if l1_coeff is not None and not 1e-3 <= l1_coeff <= 1:
            raise ValueError(f"l1_coeff must be in [0.001, 1], got {l1_coeff!r}")
        for v, name, w in ((k, "k", self.k_slider), (d_sae, "d_sae", self.d_sae_slider)):
            if v is not None and not w.min <= v <= w.max:
                raise ValueError(f"{name} must be in [{w.min}, {w.max}], got {v!r}")
        self._holding = True
        try:
            for v, w in ((kind, self.kind_buttons), (l1_coeff, self.l1_slider), (k, self.k_slider), (d_sae, self.d_sae_slider)):
                if v is not None:
                    w.value = v
        finally:
            self._holding = False
        self._worker.submit(self._job())
        self._worker.wait()
        return self.metrics

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for pending retraining to finish."""
        return self._worker.wait(timeout)

    def _retrain(self, job: tuple[str, float, int], is_stale: Callable[[], bool]) -> None:
        kind, sparsity, d = job
        started = time.perf_counter()
        config = sae_lib.SAEConfig(2, d, kind, n_inst=self.n_seeds,
                                   resample_every=100 if (self.resample and kind == "relu_l1") else None)
        res = sae_lib.train_saes(self.acts, config, sparsity, train_config=self.train_config, seed=self.seed,
                                 device=self.device, callbacks=[lambda _s: is_stale()], callback_every=50, progress=False)
        if is_stale():
            return
        m = sae_lib.evaluate(res.sae, self.eval_acts)
        best = int(res.loss_history[-5:].mean(0).argmin())
        W_dec = res.sae.W_dec[best].detach()
        dead = m.density[best] == 0
        self.metrics = {
            "l0": float(m.l0[best]), "fvu": float(m.fvu[best]), "dead": int(dead.sum()),
            "mmcs": sae_lib.mmcs(self.true_directions, W_dec),
            "matched_mmcs": sae_lib.matched_mmcs(self.true_directions, W_dec),
        }
        v = self.metrics
        setting = f"λ = {sparsity:.3g}" if kind == "relu_l1" else f"{'k' if kind == 'topk' else 'target L0'} = {sparsity:g}"
        self.frame.update(self.true_directions, W_dec, dead, res.logged_steps, res.loss_history[:, best],
                          title=f"{kind}, {setting}, {d} latents: MMCS {v['mmcs']:.3f}, matched {v['matched_mmcs']:.3f}, "
                                f"L0 {v['l0']:.2f}, FVU {v['fvu']:.3f}, dead {v['dead']}")
        self.image.value = self.frame.png()
        self.result = res
        self.status.value = (f"<small>Trained {self.n_seeds} SAEs for {self.train_config.steps} steps on {self.device.type} in "
                             f"{time.perf_counter() - started:.2f} s; showing the lowest-loss one.</small>")
