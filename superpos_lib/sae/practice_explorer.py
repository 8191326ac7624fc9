"""The explorer of chapter 10: an SAE variant, its sparsity, its width and how strongly children
come with their parents, retrained live on the chapter's structured ground truth."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import ipywidgets as W
import torch
from torch import Tensor

from ..checks import check_positive_int
from ..runtime import get_device
from ..training import TrainConfig
from ..ui import Explorer, Frame, Job, to_numpy
from .base import SAEConfig
from .metrics import cosine_matrix
from .practice import PRACTICE_TRAINING, FeatureQuality, feature_quality, structured_truth
from .practice_figures import KIND_LABELS
from .training import SAETraining, train_saes

__all__ = ["PRACTICE_EXPLORER_TRAINING", "PracticeFrame", "PracticeReadout", "PracticeExplorer"]

PRACTICE_EXPLORER_TRAINING = replace(PRACTICE_TRAINING, steps=300, batch_size=128, threads=1)
"""The explorer's schedule: the chapter's, shortened to 300 steps of 128 inputs so that two SAEs
retrain and redraw in under a second on a 2-core CPU (TopK still absorbs and Matryoshka still
does not at this length: see the chapter's guide)."""

K_KINDS = ("topk", "batchtopk", "matryoshka")


class PracticeFrame(Frame):
    """Two parents and their children against the latents nearest to each (the absorption map of
    :func:`~superpos_lib.sae.practice_figures.plot_absorption_map`), and the training loss; a
    title of two lines (the setting, then the scores)."""

    TITLE_LINES = 2

    def __init__(self, total_steps: int):
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        fig = self._new_figure(3.3)
        self.ax_map, self.ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
        self.figure = fig
        self._image = self.ax_map.imshow(torch.zeros(8, 8).numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
        self.ax_map.set_xticks(range(8), [str(i + 1) for i in range(8)], fontsize=self.FONT)
        labels = [f"{'  child ' + str(p) + '.' + str(c) if c else 'parent ' + str(p)}" for p in (0, 1) for c in range(4)]
        self.ax_map.set_yticks(range(8), labels, fontsize=self.FONT)
        self.ax_map.set_xlabel("the latent nearest to row …", fontsize=self.FONT)
        self.ax_map.set_title("cosine: features × nearest latents", fontsize=self.FONT)
        self._init_loss(total_steps)
        self._freeze_layout()

    def update(self, cos: Tensor, logged_steps: list[int], loss_history: Tensor, *, title: str = ""):
        """Redraw for a newly trained SAE (``cos``: the ``(8, 8)`` map)."""
        if tuple(cos.shape) != (8, 8):
            raise ValueError(f"cos must be (8, 8), got {tuple(cos.shape)}")
        self._image.set_data(to_numpy(cos))
        self._set_loss(logged_steps, loss_history, title)
        return self.figure


@dataclass(frozen=True)
class PracticeReadout:
    """The SAEs trained for one setting, and the one shown (the lowest final loss).

    Attributes:
        training: all of them, with their loss curves.
        best: the index of the one shown.
        quality: the :class:`~superpos_lib.sae.practice.FeatureQuality` of every one.
        cos: ``(8, 8)``: parents 0 and 1 and their children against their nearest latents.
    """

    training: SAETraining
    best: int
    quality: FeatureQuality
    cos: Tensor

    @property
    def metrics(self) -> dict[str, float]:
        """The shown SAE's scores."""
        return self.quality.row(self.best)


class PracticeExplorer(Explorer):
    """Controls ``kind`` (all six variants), ``k`` (the k-based kinds), ``lam`` (λ: relu_l1,
    gated, jumprelu), ``d_sae`` and ``child_probability`` (how often a firing parent brings a
    child; 0 removes the hierarchy's correlation).

    Every move retrains ``n_seeds`` SAEs on :func:`~superpos_lib.sae.practice.structured_truth`
    and shows the lowest-loss one: its absorption map and loss, its L0, FVU, absorption rate,
    latent F1 and MCC (:attr:`metrics`).
    """

    def __init__(self, *, kind: str = "topk", k: int = 3, lam: float = 0.3, d_sae: int = 64,
                 child_probability: float = 0.8, n_seeds: int = 2,
                 train_config: TrainConfig = PRACTICE_EXPLORER_TRAINING, device: str | torch.device | None = None,
                 seed: int = 0):
        self.n_seeds = check_positive_int(n_seeds, "n_seeds")
        self.train_config, self.seed = train_config, seed
        self.device = get_device(device)
        self._frame_ = PracticeFrame(train_config.steps)
        self._data: dict[float, Any] = {}
        cu = dict(continuous_update=False, style={"description_width": "130px"}, layout=W.Layout(width="400px"))
        controls = {
            "kind": W.ToggleButtons(options=[(KIND_LABELS[k_], k_) for k_ in KIND_LABELS], value="topk",
                                    style={"button_width": "95px"}),
            "k": W.IntSlider(3, min=1, max=8, description="k (k-based kinds)", **cu),
            "lam": W.FloatLogSlider(0.3, base=10, min=-2.5, max=0, step=0.1, description="λ (L1 or L0 price)",
                                    readout_format=".3f", **cu),
            "d_sae": W.IntSlider(64, min=16, max=128, step=16, description="dictionary size", **cu),
            "child_probability": W.FloatSlider(0.8, min=0.0, max=1.0, step=0.1, description="child with parent",
                                               **cu),
        }
        super().__init__(controls, initial={"kind": kind, "k": k, "lam": lam, "d_sae": d_sae,
                                            "child_probability": child_probability})

    @classmethod
    def demo(cls, device: str | torch.device | None = None) -> "PracticeExplorer":
        """Chapter 10's explorer: TopK at k = 3 with 64 latents, children with 80 % of their parents' firings."""
        return cls(device=device)

    @property
    def metrics(self) -> dict[str, float]:
        """L0, FVU, MCC, F1, uniqueness, absorption and parent recall alone of the SAE on display."""
        return self.result.metrics

    @staticmethod
    def sparsity(s: dict[str, Any]) -> float:
        """The sparsity a setting trains with: ``k`` for the k-based kinds, λ for the others."""
        return float(s["k"]) if s["kind"] in K_KINDS else float(s["lam"])

    def data(self, child_probability: float):
        """The ground truth for one slider value (built once)."""
        key = round(float(child_probability), 6)
        if key not in self._data:
            self._data[key] = structured_truth(child_probability=key, device=self.device)
        return self._data[key]

    def run(self, s: dict[str, Any], job: Job) -> PracticeReadout | None:
        data = self.data(s["child_probability"])
        config = SAEConfig(data.d_in, s["d_sae"], s["kind"], n_inst=self.n_seeds)
        res = train_saes(data.batches(self.train_config.batch_size), config, self.sparsity(s),
                         train_config=self.train_config, seed=self.seed, device=self.device,
                         callbacks=[job.callback()], callback_every=50, progress=False)
        if job.stale():
            return None
        quality = feature_quality(res.sae, data, 4096)
        best = int(res.loss_history[-5:].mean(0).argmin())
        rows = [f for p in (0, 1) for f in (p, *data.hierarchy.child_features(p))]
        true, W_dec = data.features[rows].cpu(), res.sae.W_dec[best].detach()
        nearest = cosine_matrix(true, W_dec).argmax(1)
        return PracticeReadout(res, best, quality, cosine_matrix(true, W_dec[nearest]))

    def draw(self, s: dict[str, Any], shown: PracticeReadout) -> PracticeFrame:
        v, kind = shown.metrics, s["kind"]
        setting = f"k = {s['k']}" if kind in K_KINDS else f"λ = {s['lam']:.3g}"
        # with no child ever firing there is nothing to absorb: the rate is undefined
        absorbed = "n/a (no child fires)" if v["absorption"] != v["absorption"] else f"{v['absorption']:.2f}"
        title = (f"{KIND_LABELS[kind]}, {setting}, {s['d_sae']} latents, child with parent "
                 f"{s['child_probability']:.0%}\nL0 {v['l0']:.2f}, FVU {v['fvu']:.3f}, absorption "
                 f"{absorbed}, F1 {v['f1']:.2f}, MCC {v['mcc']:.2f}")
        self._frame_.update(shown.cos, shown.training.logged_steps, shown.training.loss_history[:, shown.best],
                            title=title)
        return self._frame_

    def status_line(self, s: dict[str, Any], shown: PracticeReadout, seconds: float) -> str:
        return (f"Trained {self.n_seeds} SAEs for {self.train_config.steps} steps on {self.device.type} "
                f"in {seconds:.2f} s; showing the lowest-loss one.")
