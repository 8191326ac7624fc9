"""Superposition as a phase change (TMS §5) and the k-gons of the learning dynamics (Chen et al. 2023).

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
divided by ``n``.

**k-gons.** With exactly one feature active at a time (``x = μ e_a``), Chen et al. found that a
model with ``m = 2`` is drawn through regular k-gons of increasing ``k`` as it trains, each a
critical point of the loss. :func:`one_hot_loss` is the exact expected loss of any weights on
that data, and :func:`optimal_kgon` the best regular k-gon.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from .data import ArrayLike, OneHotSampler, _check_positive_int, as_inst_feats
from .metrics import REPRESENTED, angular_gaps, feature_norms, superposition
from .models import ToyModel, ToyModelConfig
from .training import TrainConfig, evaluate_loss, fit_toy_models, train

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
    "one_hot_loss",
    "regular_kgon",
    "KGon",
    "optimal_kgon",
    "kgon_size",
    "Trajectory",
    "train_one_hot",
    "n_reconstructed",
    "Visit",
    "kgon_visits",
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
        model = ToyModel(ToyModelConfig(n, n - 1, pp.numel()))
        with torch.no_grad():
            model.W.copy_(self.W)
            model.b_final.copy_(self.b_final)
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
    if n_features not in (2, 3):
        raise ValueError(f"n_features must be 2 (m = 1) or 3 (m = 2), got {n_features!r}")
    _check_positive_int(n_seeds, "n_seeds")
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


# --- one feature at a time: exact losses and k-gons (Chen et al. 2023) ---------------------------


def one_hot_loss(
    W: Float[Tensor, "inst d_hidden feats"],
    b_final: Float[Tensor, "inst feats"],
    importance: Float[Tensor, "inst feats"] | None = None,
) -> Float[Tensor, "inst"]:
    """The exact expected loss of ``x' = ReLU(WᵀWx + b)`` when one feature is active at a time.

    With ``x = μ e_a`` (``a`` uniform over the ``n`` features, ``μ ~ U[0, 1)``), output ``o``
    is ``ReLU(μ G_oa + b_o)`` with ``G = WᵀW``, and its squared error integrates in closed form
    over the interval of ``μ`` where the ReLU is on. Averaged like :meth:`ToyModel.loss`:
    ``L = (1/n²) Σ_a Σ_o I_o ∫₀¹ (μ δ_oa − ReLU(μ G_oa + b_o))² dμ``. Differentiable.
    """
    if W.ndim != 3 or b_final.shape != (W.shape[0], W.shape[2]):
        raise ValueError(f"W must be (inst, d_hidden, feats) and b_final (inst, feats); got {tuple(W.shape)} and {tuple(b_final.shape)}")
    if torch.isnan(W).any() or torch.isnan(b_final).any():
        raise ValueError("W and b_final must not contain NaN")
    n = W.shape[2]
    G = W.mT @ W                                     # (inst, o, a)
    beta = b_final[:, :, None].expand_as(G)          # bias of output o
    tau = torch.eye(n, dtype=W.dtype, device=W.device).expand_as(G)
    # On the set where alpha*mu + beta > 0, the error is ((tau - alpha) mu - beta)^2 instead of (tau mu)^2.
    alpha = G
    safe = torch.where(alpha == 0, torch.ones_like(alpha), alpha)
    root = (-beta / safe).clamp(0, 1)
    on_all = (beta > 0).to(W.dtype)
    lo = torch.where(alpha > 0, root, torch.where(alpha < 0, torch.zeros_like(root), 1 - on_all))
    hi = torch.where(alpha > 0, torch.ones_like(root), torch.where(alpha < 0, root, torch.ones_like(root)))
    A = (tau - alpha) ** 2 - tau**2
    B = -2 * (tau - alpha) * beta
    C = beta**2
    on = A * (hi**3 - lo**3) / 3 + B * (hi**2 - lo**2) / 2 + C * (hi - lo)
    per_pair = tau / 3 + on                          # ∫ tau² mu² = tau / 3
    if importance is not None:
        per_pair = per_pair * importance[:, :, None]
    return per_pair.sum((1, 2)) / n**2


def regular_kgon(
    k: int, n_features: int, length: float | Tensor = 1.0, bias: float | Tensor = 0.0, dropped_bias: float | Tensor = 0.0
) -> tuple[Float[Tensor, "1 2 feats"], Float[Tensor, "1 feats"]]:
    """Weights of a regular k-gon: features ``0..k-1`` at angles ``2πi/k`` with norm ``length`` and
    bias ``bias``; the other features have zero weights and bias ``dropped_bias``."""
    _check_positive_int(n_features, "n_features")
    if not isinstance(k, int) or not (1 <= k <= n_features):
        raise ValueError(f"k must be an integer in [1, n_features={n_features}], got {k!r}")
    length, bias, dropped_bias = (torch.as_tensor(v, dtype=torch.float64) for v in (length, bias, dropped_bias))
    theta = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
    dirs = torch.stack([theta.cos(), theta.sin()])                  # (2, k)
    W = torch.cat([dirs * length, torch.zeros(2, n_features - k, dtype=torch.float64)], 1)
    b = torch.cat([bias.expand(k), dropped_bias.expand(n_features - k)])
    return W[None], b[None]


@dataclass(frozen=True)
class KGon:
    """The best regular k-gon for ``n`` features: its shape and its exact one-hot loss."""

    k: int
    n_features: int
    length: float
    bias: float
    dropped_bias: float
    loss: float


def optimal_kgon(k: int, n_features: int) -> KGon:
    """Minimise :func:`one_hot_loss` over the k-gon's norm, its bias and the dropped features' bias."""
    regular_kgon(k, n_features)  # validates
    params = torch.tensor([1.0, 0.0, 0.5 / n_features], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([params], lr=1, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = one_hot_loss(*regular_kgon(k, n_features, *params))[0]
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        loss = one_hot_loss(*regular_kgon(k, n_features, *params))[0].item()
    length, bias, dropped = (abs(params[0].item()), params[1].item(), params[2].item())
    return KGon(k, n_features, length, bias, dropped, loss)


def kgon_size(
    W: Float[Tensor, "inst 2 feats"], threshold: float = REPRESENTED, tolerance_deg: float = 10.0
) -> Int[Tensor, "inst"]:
    """``k`` when the represented features form a regular k-gon (every angular gap within
    ``tolerance_deg`` of ``360/k``), else 0."""
    gaps = angular_gaps(W, threshold)
    out = torch.zeros(W.shape[0], dtype=torch.long)
    for i, g in enumerate(gaps):
        k = g.numel()
        if k >= 2 and (g - 360.0 / k).abs().max() <= tolerance_deg:
            out[i] = k
    return out


@dataclass(frozen=True)
class Trajectory:
    """Snapshots of models trained on one-hot data.

    Attributes:
        steps: ``(T,)`` the step of each snapshot (0: the initial weights).
        W: ``(T, inst, 2, feats)``; b_final: ``(T, inst, feats)``.
        loss: ``(T, inst)`` the exact one-hot loss of each snapshot.
    """

    steps: Tensor
    W: Tensor
    b_final: Tensor
    loss: Tensor


def train_one_hot(
    n_features: int = 6,
    d_hidden: int = 2,
    *,
    n_inst: int = 16,
    train_config: TrainConfig = TrainConfig(steps=4000, lr=0.01, schedule="constant", warmup=0.0),
    init_scale: float = 1.0,
    record_every: int = 20,
    seed: int = 0,
    device: str | torch.device | None = None,
    callbacks: Sequence = (),
) -> Trajectory:
    """Train ``n_inst`` toy models on one-feature-at-a-time data, recording snapshots of the weights.

    ``init_scale`` multiplies the Xavier initialisation (small starts show the plateaus best).
    """
    _check_positive_int(record_every, "record_every")
    if not (math.isfinite(init_scale) and init_scale > 0):
        raise ValueError(f"init_scale must be a finite number > 0, got {init_scale!r}")
    config = ToyModelConfig(n_features, d_hidden, n_inst)
    gen = torch.Generator().manual_seed(seed)
    model = ToyModel(config, generator=gen, device=device)
    with torch.no_grad():
        model.W.mul_(init_scale)
    sampler = OneHotSampler(n_inst, n_features, train_config.batch_size, seed=seed, device=model.W.device)
    snaps_W, snaps_b, steps = [model.W.detach().cpu().clone()], [model.b_final.detach().cpu().clone()], [0]

    def record(state):
        snaps_W.append(state.model.W.detach().cpu().clone())
        snaps_b.append(state.model.b_final.detach().cpu().clone())
        steps.append(state.step)

    imp = torch.ones(n_inst, n_features, device=model.W.device)
    train(model, sampler.sample, train_config, loss_args=(imp,), callbacks=(record, *callbacks),
          callback_every=record_every, progress=False)
    W = torch.stack(snaps_W)
    b = torch.stack(snaps_b)
    T = W.shape[0]
    with torch.no_grad():
        loss = one_hot_loss(W.flatten(0, 1).double(), b.flatten(0, 1).double()).view(T, n_inst).float()
    return Trajectory(torch.tensor(steps), W, b, loss)



def n_reconstructed(W: Float[Tensor, "inst d_hidden feats"], b_final: Float[Tensor, "inst feats"]) -> Int[Tensor, "inst"]:
    """How many features the model reads back: output ``i`` for input ``e_i`` (``ReLU(‖W_i‖² + b_i)``)
    exceeds 1/2. Unlike a norm threshold this ignores features switched off by a negative bias."""
    self_out = torch.relu((W**2).sum(1) + b_final)
    return (self_out > 0.5).sum(-1)


@dataclass(frozen=True)
class Visit:
    """A stretch of training where a model's exact loss sat at a k-gon's loss.

    Attributes:
        instance: which model.
        k: the k-gon whose loss it matched.
        start, end: snapshot indices (end exclusive).
        n_represented: features the model reads back at the middle of the stretch
            (:func:`n_reconstructed`).
    """

    instance: int
    k: int
    start: int
    end: int
    n_represented: int


def kgon_visits(traj: Trajectory, levels: dict[int, float], *, tolerance: float = 0.05, min_length: int = 5) -> list[Visit]:
    """Every stretch of at least ``min_length`` snapshots where a model's loss stayed within
    ``tolerance`` (relative) of one of the k-gon losses ``levels`` (``{k: loss}``)."""
    _check_positive_int(min_length, "min_length")
    if not levels or not 0 < tolerance < 1:
        raise ValueError("levels must be a non-empty {k: loss} dict and tolerance in (0, 1)")
    ks = sorted(levels)
    lv = torch.tensor([levels[k] for k in ks], dtype=torch.float64)
    counts = n_reconstructed(traj.W.flatten(0, 1), traj.b_final.flatten(0, 1)).view(traj.loss.shape)
    out = []
    for inst in range(traj.loss.shape[1]):
        near = ((traj.loss[:, inst, None].double() / lv - 1).abs() < tolerance)
        label = torch.where(near.any(1), near.double().argmax(1), torch.full_like(near[:, 0], -1, dtype=torch.long))
        t, T = 0, len(label)
        while t < T:
            end = t
            while end < T and label[end] == label[t]:
                end += 1
            if label[t] >= 0 and end - t >= min_length:
                mid = (t + end) // 2
                n_rep = int(counts[mid, inst])
                out.append(Visit(inst, ks[int(label[t])], t, end, n_rep))
            t = end
    return out
