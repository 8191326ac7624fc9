"""The explorer of a toy model of superposition: sliders that retrain it live.

Shared by the chapters whose explorer trains the toy model itself: "Demonstrating
superposition" (:class:`~superpos_lib.superposition.SuperpositionExplorer`) and "Privileged
and non-privileged bases" (:class:`~superpos_lib.privileged.NeuronExplorer`). Every move
retrains ``n_seeds`` models at once through the training loop's callbacks, draws live frames
of the lowest-loss seed while they train, and finally shows the lowest-loss seed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import ipywidgets as W
import torch

from ..checks import check_positive_int
from ..data import importance_decay
from ..models import ToyModelConfig, ToyModels, fit_toy_models
from ..runtime import get_device
from ..training import TrainConfig, TrainState
from .explorer import Explorer, Job

__all__ = ["EXPLORER_TRAINING", "ToyModelExplorer", "toy_model_title"]

EXPLORER_TRAINING = TrainConfig(batch_size=512, threads=1)
"""The toy-model explorers' schedule: the library's 1,000-step recipe on batches of 512, on one
thread of the explorer's own. Measured on 2 CPU cores in a worker thread after heavy training in
the same process: batch 1,024 took 0.5-2.0 s per retrain of 4 seeds (n = 5-20, m = 2-10),
batch 512 0.3-0.9 s; two threads were slower than one for every one of these sizes."""


def toy_model_title(s: dict[str, Any]) -> str:
    """The figure title for one setting of a toy-model explorer's controls."""
    kind = "ReLU" if s.get("relu", True) else "linear"
    imp = (f"I₀ = {s['first_importance']:.2g}, others 1" if "first_importance" in s
           else f"I = {s['importance_decay']:g}^i")
    return f"{kind} output, n = {s['n_features']}, m = {s['d_hidden']}, 1 − S = {s['density']:.3g}, {imp}"


class ToyModelExplorer(Explorer):
    """Controls for density, importance decay, ``n``, ``m`` (and the output non-linearity) of a
    toy model; every change retrains ``n_seeds`` seeds and shows the lowest-loss one.

    Subclasses set :attr:`defaults` (control name → initial value; the controls shown),
    :attr:`frame_class` (a frame built from ``(n_features, d_hidden, total_steps)`` whose
    ``update(W, importance, logged_steps, loss_history, title=...)`` redraws it) and
    :meth:`model_config`.

    Args:
        n_seeds: seeds trained per setting; the lowest-loss one is shown.
        train_config: the schedule (default :data:`EXPLORER_TRAINING`: the 1,000-step recipe on batches of 512).
        device: where to train (``None``: CUDA > MPS > CPU).
        frame_interval: seconds between live frames while training.
        max_features, max_hidden: slider ranges for ``n`` and ``m``.
        seed: seeds the weights and data of every retrain (a setting always gives the same model).
        **initial: initial control values, overriding :attr:`defaults`.
    """

    defaults: ClassVar[dict[str, Any]] = {}
    frame_class: ClassVar[type]

    def __init__(self, *, n_seeds: int = 4, train_config: TrainConfig = EXPLORER_TRAINING,
                 device: str | torch.device | None = None, frame_interval: float = 0.5,
                 max_features: int = 20, max_hidden: int = 10, seed: int = 0, **initial: Any):
        self.n_seeds = check_positive_int(n_seeds, "n_seeds")
        self.train_config = train_config
        self.device = get_device(device)
        self.seed = seed
        self._frames: dict[tuple[int, int], Any] = {}
        s = self.defaults
        cu = dict(continuous_update=False, style={"description_width": "130px"}, layout=W.Layout(width="400px"))
        every = {
            "density": lambda: W.FloatLogSlider(s["density"], base=10, min=-3, max=0, step=0.05,
                                                description="density 1 − S", readout_format=".3f", **cu),
            "importance_decay": lambda: W.FloatSlider(s["importance_decay"], min=0.5, max=1.0, step=0.01,
                                                      description="importance decay", **cu),
            "first_importance": lambda: W.FloatLogSlider(s["first_importance"], base=10, min=-1, max=1.5,
                                                         step=0.05, description="importance I₀",
                                                         readout_format=".2f", **cu),
            "n_features": lambda: W.IntSlider(s["n_features"], min=2, max=max_features, description="features n", **cu),
            "d_hidden": lambda: W.IntSlider(s["d_hidden"], min=1, max=max_hidden, description="hidden dims m", **cu),
            "relu": lambda: W.ToggleButtons(options=[("ReLU output", True), ("linear output", False)], value=s["relu"],
                                            style={"button_width": "110px"}),
        }
        super().__init__({name: every[name]() for name in s}, initial=initial, frame_interval=frame_interval)

    @classmethod
    def demo(cls, device: str | torch.device | None = None) -> "ToyModelExplorer":
        return cls(device=device)

    def model_config(self, s: dict[str, Any]) -> ToyModelConfig:
        """The architecture for one setting of the controls (one instance)."""
        raise NotImplementedError

    def importance(self, s: dict[str, Any]) -> torch.Tensor:
        """The features' importances ``(n,)`` for one setting: ``decay ** i``, or all 1 with
        feature 0's set to ``first_importance`` for an explorer with that control."""
        n = s["n_features"]
        if "first_importance" in s:
            imp = torch.ones(n)
            imp[0] = float(s["first_importance"])
            return imp
        return importance_decay(n, s["importance_decay"])

    def frame_for(self, s: dict[str, Any]):
        """The frame for a setting's shape, built once per ``(n_features, d_hidden)``."""
        key = (s["n_features"], s["d_hidden"])
        if key not in self._frames:
            self._frames[key] = self.frame_class(*key, self.train_config.steps)
        return self._frames[key]

    def run(self, s: dict[str, Any], job: Job) -> ToyModels | None:
        n, k = s["n_features"], self.n_seeds
        importance = self.importance(s).expand(k, n).contiguous()
        frame = self.frame_for(s)

        def live(state: TrainState):
            best = int(state.loss.argmin())
            frame.update(state.model.W[best].detach().cpu(), importance[best], state.logged_steps,
                         state.loss_history[: len(state.logged_steps), best].cpu(),
                         title=f"{toy_model_title(s)}   (training: step {state.step}/{state.steps})")
            return frame

        config = replace(self.model_config(s), n_inst=k)
        result = fit_toy_models(config, torch.full((k, n), float(s["density"])), importance, n_seeds=k,
                                train_config=self.train_config, seed=self.seed, device=self.device,
                                callbacks=[job.callback(live)], callback_every=25, progress=False, eval_samples=2**13)
        return None if job.stale() else result.best()

    def draw(self, s: dict[str, Any], best: ToyModels):
        frame = self.frame_for(s)
        frame.update(best.W[0], best.importance[0], best.logged_steps, best.loss_history[:, 0],
                     title=f"{toy_model_title(s)}   (loss {best.loss[0].item():.4g})")
        return frame

    def status_line(self, s: dict[str, Any], best: ToyModels, seconds: float) -> str:
        return (f"Trained {self.n_seeds} seeds for {self.train_config.steps} steps on {self.device.type} "
                f"in {seconds:.2f} s; showing the lowest-loss seed.")
