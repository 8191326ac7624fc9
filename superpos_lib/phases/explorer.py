"""The explorer of chapter 5: move ``(r, p)`` and retrain the ``n = 2, m = 1`` model live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import torch
from torch import Tensor

from ..checks import check_positive_int
from ..models import ToyModelConfig, ToyModels, fit_toy_models
from ..runtime import get_device
from ..training import TrainConfig
from ..ui import Explorer, Job
from .diagram import SOLUTIONS, analytic_phase, candidate_losses, classify_extra_feature
from .figures import PhaseFrame

__all__ = ["PhasePoint", "PhaseExplorer"]


@dataclass(frozen=True)
class PhasePoint:
    """The model trained at one ``(r, p)`` and what it did with the extra feature.

    Attributes:
        model: the lowest-loss seed.
        label: its solution, an index into :data:`~superpos_lib.phases.SOLUTIONS`.
        predicted: the analysis' lowest-loss candidate there.
        candidates: the three candidates' losses, ``(3,)``.
    """

    model: ToyModels
    label: int
    predicted: int
    candidates: Tensor


class PhaseExplorer(Explorer):
    """Sliders ``r`` (the extra feature's relative importance) and ``p`` (density) of the
    ``n = 2, m = 1`` model.

    Every move retrains ``n_seeds`` models in the background (latest request wins) and shows
    the lowest-loss one: its weights, which solution it picked, where ``(r, p)`` sits on the
    analytic phase diagram, and its loss against the three candidates' analytic losses.
    """

    def __init__(self, r: float = 1.0, p: float = 0.3, *, n_seeds: int = 8,
                 train_config: TrainConfig = TrainConfig(batch_size=256, threads=1), device: str | torch.device | None = None,
                 seed: int = 0):
        self.n_seeds = check_positive_int(n_seeds, "n_seeds")
        self.train_config, self.seed = train_config, seed
        self.device = get_device(device)
        cu = dict(continuous_update=False, style={"description_width": "150px"}, layout=W.Layout(width="420px"))
        controls = {
            "r": W.FloatLogSlider(1.0, base=10, min=-1, max=1, step=0.02, description="relative importance r", **cu),
            "p": W.FloatLogSlider(0.3, base=10, min=-2, max=0, step=0.02, description="density p",
                                  readout_format=".3f", **cu),
        }
        r_grid, p_grid = torch.logspace(-1, 1, 81), torch.logspace(-2, 0, 81)
        pp, rr = torch.meshgrid(p_grid, r_grid, indexing="ij")
        self._phase = PhaseFrame(r_grid, p_grid, analytic_phase(rr, pp))
        super().__init__(controls, initial={"r": r, "p": p})

    @classmethod
    def demo(cls, device: str | torch.device | None = None) -> "PhaseExplorer":
        return cls(device=device)

    @property
    def label(self) -> int:
        """The solution the model on display picked (an index into ``SOLUTIONS``)."""
        return self.result.label

    def run(self, s: dict[str, Any], job: Job) -> PhasePoint | None:
        r, p, k = float(s["r"]), float(s["p"]), self.n_seeds
        importance = torch.tensor([[1.0, r]]).expand(k, 2).contiguous()
        res = fit_toy_models(ToyModelConfig(2, 1, k), torch.full((k, 2), p), importance, n_seeds=k,
                             train_config=self.train_config, seed=self.seed, device=self.device,
                             callbacks=[job.callback()], callback_every=50, progress=False, eval_samples=2**14)
        if job.stale():
            return None
        best = res.best()
        return PhasePoint(best, int(classify_extra_feature(best.W)[0]), int(analytic_phase(r, p)),
                          candidate_losses(r, p).float())

    def draw(self, s: dict[str, Any], point: PhasePoint) -> PhaseFrame:
        r, p = float(s["r"]), float(s["p"])
        verdict = ", as the analysis predicts" if point.label == point.predicted else f" (analysis: {SOLUTIONS[point.predicted]})"
        self._phase.update(r, p, point.model.W[0], point.label, point.candidates, point.model.loss[0].item(),
                           title=f"r = {r:.3g}, p = {p:.3g}: extra feature → {SOLUTIONS[point.label]}{verdict}")
        return self._phase

    def status_line(self, s: dict[str, Any], point: PhasePoint, seconds: float) -> str:
        return (f"Trained {self.n_seeds} seeds for {self.train_config.steps} steps on {self.device.type} "
                f"in {seconds:.2f} s; showing the lowest-loss seed.")
