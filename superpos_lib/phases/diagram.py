"""Superposition as a phase change (TMS §5, "Superposition as a Phase Change").

**The toy model of the toy model.** Two features, one hidden dimension (``n = 2, m = 1``), both
at density ``p``, feature 0 with importance 1 and the *extra* feature 1 with importance ``r``.
With ``x_i ~ U[0, 1)`` when present, ``E[x_i²] = p/3`` and a feature that the model does not
represent is best predicted by its mean ``p/2`` through the bias, which costs its variance
``p/3 − p²/4``. So the three candidate solutions cost (summed over the features)

* extra feature not represented (``W = [1, 0]``): ``r (p/3 − p²/4)``;
* extra feature gets the dimension (``W = [0, 1]``): ``p/3 − p²/4``;
* superposition, the antipodal pair ``W = [1, −1]``, ``b = 0``: the error is ``min(x_0, x_1)``
  only when both are present, ``(1 + r) p²/6``.

Superposition wins below ``p = 4r/(5r + 2)`` for ``r ≤ 1`` (``4/(5 + 2r)`` for ``r ≥ 1``).

Every loss in this module is in :meth:`~superpos_lib.models.ToyModel.loss`'s convention,
averaged over the ``n`` features, so it compares directly with trained models: the sums above
divided by ``n``. :func:`train_phase_grid` trains every cell of an ``(r, p)`` grid, all seeds of
all cells as one batch, and classifies what each model does with the extra feature.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..checks import check_choice, check_positive_int
from ..data import ArrayLike, as_inst_feats
from ..metrics import REPRESENTED, feature_norms, superposition
from ..models import ToyModel, ToyModelConfig, evaluate_loss, fit_toy_models
from ..training import TrainConfig

__all__ = [
    "SOLUTIONS",
    "NOT_REPRESENTED",
    "DEDICATED",
    "SUPERPOSED",
    "candidate_losses",
    "analytic_phase",
    "phase_boundary",
    "candidate_losses_3_2",
    "away_from_boundary",
    "classify_extra_feature",
    "PhaseGrid",
    "train_phase_grid",
]

SOLUTIONS = ("not represented", "dedicated dimension", "superposition")
"""What the model does with the extra feature; a phase label indexes this tuple."""
NOT_REPRESENTED, DEDICATED, SUPERPOSED = 0, 1, 2

SUPERPOSED_ABOVE = 0.25
"""The extra feature counts as superposed when ``Σ_{j≠i} (Ŵ_i·W_j)²`` exceeds this
(0 with a dimension to itself, 1 in an antipodal pair, 1/2 in a triangle)."""


def _as_grid(r: ArrayLike, p: ArrayLike) -> tuple[Tensor, Tensor]:
    """``r`` and ``p`` as float64 tensors broadcast together, checked."""
    r_t = torch.as_tensor(r, dtype=torch.float64)
    p_t = torch.as_tensor(p, dtype=torch.float64)
    if torch.isnan(r_t).any() or (r_t <= 0).any():
        raise ValueError("r (the extra feature's relative importance) must be > 0 and not NaN")
    if torch.isnan(p_t).any() or (p_t <= 0).any() or (p_t > 1).any():
        raise ValueError("p (the feature density) must lie in (0, 1]")
    return torch.broadcast_tensors(r_t, p_t)


def _dropped(p: Tensor) -> Tensor:
    """Loss (summed form) of a feature predicted by its mean: its variance ``p/3 − p²/4``."""
    return p / 3 - p**2 / 4


def candidate_losses(r: ArrayLike, p: ArrayLike) -> Float[Tensor, "*grid 3"]:
    """Losses of the three candidate solutions of the ``n = 2, m = 1`` model, in :data:`SOLUTIONS` order.

    ``r`` and ``p`` broadcast together; the last axis is (not represented, dedicated, superposed).
    Averaged over the two features, like :meth:`ToyModel.loss`.
    """
    r, p = _as_grid(r, p)
    return torch.stack([r * _dropped(p), _dropped(p), (1 + r) * p**2 / 6], -1) / 2


def analytic_phase(r: ArrayLike, p: ArrayLike, n_features: int = 2) -> Int[Tensor, "*grid"]:
    """The lowest-loss candidate (an index into :data:`SOLUTIONS`) for ``n = 2, m = 1`` or ``n = 3, m = 2``."""
    if n_features == 2:
        return candidate_losses(r, p).argmin(-1)
    if n_features == 3:
        return candidate_losses_3_2(r, p).argmin(-1)
    raise ValueError(f"n_features must be 2 (m = 1) or 3 (m = 2), got {n_features!r}")


def phase_boundary(r: ArrayLike) -> Float[Tensor, "*r"]:
    """The density below which superposition wins for ``n = 2, m = 1``: ``4r/(5r+2)`` (r ≤ 1), ``4/(5+2r)`` (r ≥ 1)."""
    r_t = torch.as_tensor(r, dtype=torch.float64)
    if torch.isnan(r_t).any() or (r_t <= 0).any():
        raise ValueError("r (the extra feature's relative importance) must be > 0 and not NaN")
    return torch.where(r_t <= 1, 4 * r_t / (5 * r_t + 2), 4 / (5 + 2 * r_t))


def candidate_losses_3_2(r: ArrayLike, p: ArrayLike) -> Float[Tensor, "*grid 3"]:
    """Losses of simple candidates for ``n = 3, m = 2`` (features 0, 1 of importance 1, extra feature 2 of importance ``r``).

    Each entry is the best of a few exact configurations with unit norms, the same closed forms
    as the ``n = 2`` case (averaged over the three features):

    * not represented: features 0 and 1 in their own dimensions, ``r (p/3 − p²/4)``;
    * dedicated dimension: the extra feature alone in one dimension and features 0, 1 sharing
      the other as an antipodal pair (``2 p²/6``) or one of them dropped (``p/3 − p²/4``);
    * superposition: the extra feature antipodal to feature 0 and feature 1 alone,
      ``(1 + r) p²/6``.

    These are candidates, not a proof of optimality: trained models may find better
    configurations (a triangle, unequal norms), which the chapter compares against.
    """
    r, p = _as_grid(r, p)
    not_rep = r * _dropped(p)
    dedicated = torch.minimum(2 * p**2 / 6, _dropped(p))
    superposed = (1 + r) * p**2 / 6
    return torch.stack([not_rep, dedicated, superposed], -1) / 3


def away_from_boundary(labels: Int[Tensor, "rows cols"]) -> Tensor:
    """Cells whose neighbours within one grid step (the 3x3 block) all share their label."""
    if labels.ndim != 2:
        raise ValueError(f"labels must be a 2-D grid, got shape {tuple(labels.shape)}")
    padded = torch.nn.functional.pad(labels[None, None].double(), (1, 1, 1, 1), mode="replicate")[0, 0]
    same = torch.ones_like(labels, dtype=torch.bool)
    rows, cols = labels.shape
    for dr in range(3):
        for dc in range(3):
            same &= padded[dr : dr + rows, dc : dc + cols] == labels
    return same


def classify_extra_feature(
    W: Float[Tensor, "inst d_hidden feats"], threshold: float = REPRESENTED
) -> Int[Tensor, "inst"]:
    """What each model does with its last (extra) feature, as an index into :data:`SOLUTIONS`.

    Not represented when ``‖W_extra‖ <= threshold``; superposed when other features project onto
    its direction (``superposition > 0.25``); otherwise it has a dedicated dimension.
    """
    norms = feature_norms(W)[:, -1]
    sup = superposition(W)[:, -1]
    labels = torch.full(norms.shape, DEDICATED, dtype=torch.long)
    labels[sup > SUPERPOSED_ABOVE] = SUPERPOSED
    labels[norms <= threshold] = NOT_REPRESENTED
    return labels


@dataclass(frozen=True)
class PhaseGrid:
    """Trained models over a grid of relative importance ``r`` and density ``p``.

    Attributes:
        r: ``(n_r,)`` relative importances of the extra feature (columns of the diagram).
        p: ``(n_p,)`` densities (rows).
        labels: ``(n_p, n_r)`` the trained models' solutions (indices into :data:`SOLUTIONS`).
        analytic: ``(n_p, n_r)`` the lowest-loss candidate at each cell.
        W: ``(n_p * n_r, d_hidden, feats)`` the best seed's weights, row-major over ``(p, r)``.
        b_final: ``(n_p * n_r, feats)``.
        loss: ``(n_p * n_r,)`` the best seed's loss.
        n_seeds: seeds trained per cell.
        seconds: wall-clock training time.
    """

    r: Tensor
    p: Tensor
    labels: Tensor
    analytic: Tensor
    W: Tensor
    b_final: Tensor
    loss: Tensor
    n_seeds: int
    seconds: float

    @property
    def n_models(self) -> int:
        """Models trained, seeds included."""
        return self.W.shape[0] * self.n_seeds

    def evaluate_loss(self, n_samples: int = 2**20, seed: int = 7) -> Float[Tensor, "cells"]:
        """Each cell's chosen model's loss on ``n_samples`` fresh samples (unbiased, unlike
        :attr:`loss`, which also picked the seed)."""
        n = self.W.shape[2]
        pp, rr = torch.meshgrid(self.p, self.r, indexing="ij")
        importance = torch.ones(pp.numel(), n)
        importance[:, -1] = rr.flatten()
        prob = pp.flatten()[:, None].expand(-1, n).contiguous()
        model = ToyModel.from_weights(self.W, self.b_final)
        return evaluate_loss(model, prob, importance, n_samples=n_samples, seed=seed)

    def agreement(self) -> float:
        """Share of cells away from the analytic boundary where training agrees with the analysis."""
        mask = away_from_boundary(self.analytic)
        return (self.labels == self.analytic)[mask].double().mean().item()


def train_phase_grid(
    r: ArrayLike,
    p: ArrayLike,
    *,
    n_features: int = 2,
    n_seeds: int = 4,
    train_config: TrainConfig = TrainConfig(batch_size=256),
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool | None = None,
) -> PhaseGrid:
    """Train every cell of an ``(r, p)`` grid, all seeds of all cells as one batch of instances.

    ``n_features=2`` trains the ``n = 2, m = 1`` model (importances ``[1, r]``); ``n_features=3``
    the ``n = 3, m = 2`` one (importances ``[1, 1, r]``). Each cell keeps its lowest-loss seed.
    """
    check_choice(n_features, "n_features", (2, 3))
    check_positive_int(n_seeds, "n_seeds")
    r_t = torch.as_tensor(r, dtype=torch.float32).flatten()
    p_t = torch.as_tensor(p, dtype=torch.float32).flatten()
    as_inst_feats(r_t[:, None], "r", 1, low=0.0, low_inclusive=False)
    as_inst_feats(p_t[:, None], "p", 1, low=0.0, high=1.0, low_inclusive=False)
    pp, rr = torch.meshgrid(p_t, r_t, indexing="ij")
    cells = pp.numel()
    importance = torch.ones(cells, n_features)
    importance[:, -1] = rr.flatten()
    prob = pp.flatten()[:, None].expand(cells, n_features)
    importance = importance.repeat_interleave(n_seeds, 0)
    prob = prob.repeat_interleave(n_seeds, 0).contiguous()
    config = ToyModelConfig(n_features, n_features - 1, cells * n_seeds)
    start = time.perf_counter()
    res = fit_toy_models(config, prob, importance, n_seeds=n_seeds, train_config=train_config, seed=seed,
                         device=device, progress=progress, eval_samples=2**14).best()
    seconds = time.perf_counter() - start
    shape = (len(p_t), len(r_t))
    return PhaseGrid(
        r=r_t,
        p=p_t,
        labels=classify_extra_feature(res.W).view(shape),
        analytic=analytic_phase(rr, pp, n_features),
        W=res.W,
        b_final=res.b_final,
        loss=res.loss,
        n_seeds=n_seeds,
        seconds=seconds,
    )
