"""The explorer of chapter 9: an SAE's variant, sparsity and dictionary size, retrained live on a
toy model's hidden activations."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import ipywidgets as W
import torch
from torch import Tensor

from ..checks import check_matrix, check_positive_int
from ..runtime import get_device
from ..training import TrainConfig
from ..ui import Explorer, Job
from ..models import train_toy_models
from .base import SAEConfig
from .data import hidden_activations
from .figures import SAEFrame
from .metrics import evaluate
from .training import SAE_TRAIN_CONFIG, SAETraining, train_saes

__all__ = ["SAE_EXPLORER_TRAINING", "SAEReadout", "SAEExplorer"]

SAE_EXPLORER_TRAINING = replace(SAE_TRAIN_CONFIG, steps=600, batch_size=512, threads=1)
"""The explorer's schedule: the book's SAE recipe, shortened to retrain in under a second on a CPU
(on one thread of the explorer's own: tiny SAEs gain nothing from a second)."""


@dataclass(frozen=True)
class SAEReadout:
    """The SAEs trained for one setting of the explorer, and the one on display.

    Attributes:
        training: all ``n_seeds`` SAEs and their loss curves.
        best: the index of the one shown (the lowest final training loss).
        metrics: its ``l0``, ``fvu``, ``dead`` (latents that never fired), ``mmcs`` and ``matched_mmcs``.
        dead: ``(d_sae,)`` which of its latents never fired on the evaluation inputs.
    """

    training: SAETraining
    best: int
    metrics: dict[str, float]
    dead: Tensor


class SAEExplorer(Explorer):
    """Controls ``kind``, ``lam`` (λ: the L1 penalty's weight for ReLU + L1, the price of an
    active latent for JumpReLU), ``k`` (TopK's k; its slider ends at the dictionary size) and
    ``d_sae`` (dictionary size).

    Every move retrains ``n_seeds`` SAEs at once (latest request wins) and shows the one with
    the lowest loss: its decoder rows over the true feature directions, its training loss, and
    its L0, FVU, MMCS, matched MMCS and dead latents (:attr:`metrics`).

    Args:
        acts: ``(n, 2)`` activations to train on (e.g. from :func:`~superpos_lib.sae.hidden_activations`).
        true_directions: ``(feats, 2)`` the features to recover.
        kind, lam, k, d_sae: the initial control values.
        resample: resample dead latents of relu_l1 SAEs (every 100 steps).
        n_seeds: SAEs trained per setting.
        train_config: the schedule (default :data:`SAE_EXPLORER_TRAINING`).
        device: where to train (``None``: CUDA > MPS > CPU).
        seed: seeds every retrain.
        max_d_sae: the largest dictionary (and k) the sliders offer.
    """

    def __init__(
        self,
        acts: Tensor,
        true_directions: Tensor,
        *,
        kind: str = "relu_l1",
        lam: float = 0.1,
        k: int = 1,
        d_sae: int = 5,
        resample: bool = True,
        n_seeds: int = 4,
        train_config: TrainConfig = SAE_EXPLORER_TRAINING,
        device: str | torch.device | None = None,
        seed: int = 0,
        max_d_sae: int = 16,
    ):
        check_matrix(acts, "acts", 2)
        check_matrix(true_directions, "true_directions", 2)
        self.acts, self.true_directions = acts, true_directions
        self.eval_acts = acts[: 2**14]
        self.n_seeds = check_positive_int(n_seeds, "n_seeds")
        self.train_config, self.resample, self.seed = train_config, resample, seed
        self.device = get_device(device)
        self._sae_frame = SAEFrame(train_config.steps)
        cu = dict(continuous_update=False, style={"description_width": "130px"}, layout=W.Layout(width="400px"))
        size = W.IntSlider(1, min=1, max=check_positive_int(max_d_sae, "max_d_sae"), description="dictionary size", **cu)
        SAEExplorer._check_size(size, d_sae)
        size.value = d_sae
        controls = {
            "kind": W.ToggleButtons(options=[("ReLU + L1", "relu_l1"), ("TopK", "topk"), ("JumpReLU", "jumprelu")],
                                    value="relu_l1", style={"button_width": "100px"}),
            "lam": W.FloatLogSlider(0.1, base=10, min=-3, max=0, step=0.1, description="λ (L1 or L0 penalty)",
                                    readout_format=".3f", **cu),
            "d_sae": size,
            "k": W.IntSlider(1, min=1, max=d_sae, description="k (TopK)", **cu),  # at most the dictionary
        }
        size.observe(self._bound_k, names="value")  # before the base's observer: k is bounded first
        super().__init__(controls, initial={"kind": kind, "lam": lam, "k": k})

    @staticmethod
    def _check_size(size: W.IntSlider, d_sae: int) -> None:
        if isinstance(d_sae, bool) or not isinstance(d_sae, int) or not size.min <= d_sae <= size.max:
            raise ValueError(f"d_sae must be a whole number in [{size.min}, {size.max}] (the range of its control), got {d_sae!r}")

    def _bound_k(self, change) -> None:
        """The k slider's range follows the dictionary size, so it never shows a k that cannot be trained."""
        holding, self._holding = self._holding, True  # one retrain, from the dictionary size's own observer
        try:
            self.controls["k"].max = change["new"]
        finally:
            self._holding = holding

    @classmethod
    def demo(cls, device: str | torch.device | None = None) -> "SAEExplorer":
        """Chapter 9's explorer: ReLU + L1 at λ = 0.3 with five latents, on the hidden activations of
        the ``n = 5, m = 2`` toy model at density 0.05 (the lowest-loss of four seeds)."""
        tms = train_toy_models(5, 2, 0.05, n_inst=4, device=device).best()
        acts, true = hidden_activations(tms.W[0], 0.05, 50_000, seed=1)
        return cls(acts, true, kind="relu_l1", lam=0.3, d_sae=5, device=device)

    def bounds(self, name: str, settings: dict[str, Any]) -> tuple[float, float] | None:
        if name == "k":  # k counts active latents: at most the dictionary size
            return 1, settings["d_sae"]
        return super().bounds(name, settings)

    @property
    def metrics(self) -> dict[str, float]:
        """L0, FVU, dead latents, MMCS and matched MMCS of the SAE on display."""
        return self.result.metrics

    @staticmethod
    def sparsity(s: dict[str, Any]) -> float:
        """The sparsity a setting trains with: ``k`` for topk, λ for relu_l1 and jumprelu."""
        return float(s["k"]) if s["kind"] == "topk" else float(s["lam"])

    def run(self, s: dict[str, Any], job: Job) -> SAEReadout | None:
        kind, d = s["kind"], s["d_sae"]
        config = SAEConfig(2, d, kind, n_inst=self.n_seeds,
                           resample_every=100 if (self.resample and kind == "relu_l1") else None)
        res = train_saes(self.acts, config, self.sparsity(s), train_config=self.train_config, seed=self.seed,
                         device=self.device, callbacks=[job.callback()], callback_every=50, progress=False)
        if job.stale():
            return None
        m = evaluate(res.sae, self.eval_acts, true_directions=self.true_directions)
        best = int(res.loss_history[-5:].mean(0).argmin())
        metrics = {"l0": float(m.l0[best]), "fvu": float(m.fvu[best]), "dead": int(m.n_dead[best]),
                   "mmcs": float(m.mmcs[best]), "matched_mmcs": float(m.matched_mmcs[best])}
        return SAEReadout(res, best, metrics, m.density[best] == 0)

    def draw(self, s: dict[str, Any], shown: SAEReadout) -> SAEFrame:
        kind, v, res, best = s["kind"], shown.metrics, shown.training, shown.best
        sparsity = self.sparsity(s)
        setting = f"k = {sparsity:g}" if kind == "topk" else f"λ = {sparsity:.3g}"
        self._sae_frame.update(self.true_directions, res.sae.W_dec[best].detach(), shown.dead, res.logged_steps, res.loss_history[:, best],
                               title=f"{kind}, {setting}, {s['d_sae']} latents\nMMCS {v['mmcs']:.3f}, matched "
                                     f"{v['matched_mmcs']:.3f}, L0 {v['l0']:.2f}, FVU {v['fvu']:.3f}, dead {v['dead']}")
        return self._sae_frame

    def status_line(self, s: dict[str, Any], shown: SAEReadout, seconds: float) -> str:
        return (f"Trained {self.n_seeds} SAEs for {self.train_config.steps} steps on {self.device.type} "
                f"in {seconds:.2f} s; showing the lowest-loss one.")
