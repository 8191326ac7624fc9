"""The k-gons of the learning dynamics (Chen et al. 2023, "Dynamical versus Bayesian Phase
Transitions in a Toy Model of Superposition").

With exactly one feature active at a time (``x = μ e_a``), a model with ``m = 2`` is drawn
through regular k-gons of increasing ``k`` as it trains, each a critical point of the loss.
:func:`one_hot_loss` is the exact expected loss of any weights on that data,
:func:`optimal_kgon` the best regular k-gon, :func:`train_one_hot` records a training run's
snapshots and :func:`kgon_visits` finds where its loss dwelt at a k-gon's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..checks import check_number, check_positive_int
from ..data import OneHotSampler
from ..metrics import REPRESENTED, angular_gaps
from ..models import ToyModel, ToyModelConfig
from ..training import TrainConfig, train

__all__ = [
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
    "Dwell",
    "level_dwell",
]


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
    bias ``bias``; the other features have zero weights and bias ``dropped_bias``. ``k = 0`` is the
    origin, ``W = 0``, where training starts from a small initialisation."""
    check_positive_int(n_features, "n_features")
    if isinstance(k, bool) or not isinstance(k, int) or not (0 <= k <= n_features):
        raise ValueError(f"k must be an integer in [0, n_features={n_features}], got {k!r}")
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
    if k == 0:                                       # no features kept: length and bias mean nothing
        length, bias = 0.0, dropped
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
    check_positive_int(record_every, "record_every")
    check_number(init_scale, "init_scale", low=0, low_open=True)
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
    check_positive_int(min_length, "min_length")
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


@dataclass(frozen=True)
class Dwell:
    """How long one model's loss stayed near each of some levels, against a smooth control.

    The control is the exponential decay ``L_end + (L_0 − L_end) exp(−t/τ)`` between the run's
    first and last loss whose ``τ`` removes the same total excess loss as the run
    (``τ = ∫(L − L_end) dt / (L_0 − L_end)``): a curve without plateaus on the run's own time
    scale. A plateau at a level is a dwell there several times what the control predicts; a
    loss that only passes a level dwells there about as long as (or less than) the control.

    Attributes:
        instance: which model.
        steps: ``{k: steps}`` spent within the tolerance of each level.
        expected: ``{k: steps}`` the control spends there (capped at the run's length).
        tau: the control's time constant, in steps.
    """

    instance: int
    steps: dict[int, float]
    expected: dict[int, float]
    tau: float

    def ratio(self, k: int) -> float:
        """Dwell at level ``k`` over the control's (``inf`` where the control never comes near)."""
        return self.steps[k] / self.expected[k] if self.expected[k] > 0 else math.inf


def _control_reaches(y: float, start: float, end: float, tau: float, span: float) -> float:
    """When ``end + (start − end) exp(−t/τ)`` falls to ``y`` (0 if it starts below, ``span`` if never)."""
    if y >= start:
        return 0.0
    if y <= end:
        return span
    return min(span, tau * math.log((start - end) / (y - end)))


def level_dwell(traj: Trajectory, levels: dict[int, float], *, tolerance: float = 0.05) -> list[Dwell]:
    """For every model of ``traj``: the steps its exact loss spent within ``tolerance``
    (relative) of each level ``{k: loss}``, and the steps a smooth exponential control fitted
    to the same run spends there (see :class:`Dwell`)."""
    if not levels or not 0 < tolerance < 1:
        raise ValueError("levels must be a non-empty {k: loss} dict and tolerance in (0, 1)")
    steps = traj.steps.double()
    dt = torch.diff(steps, prepend=steps[:1])                            # steps each snapshot stands for
    span = float(steps[-1] - steps[0])
    out = []
    for inst in range(traj.loss.shape[1]):
        loss = traj.loss[:, inst].double()
        start, end = loss[0].item(), loss[-1].item()
        excess = start - end
        if excess <= 0:
            raise ValueError(f"the loss of model {inst} did not fall, so there is no decay to compare with")
        area = torch.trapezoid((loss - end).clamp(min=0), steps).item()
        tau = area / excess

        dwell, expected = {}, {}
        for k, v in levels.items():
            near = (loss / v - 1).abs() < tolerance
            dwell[k] = float(dt[near].sum())
            expected[k] = (_control_reaches(v * (1 - tolerance), start, end, tau, span)
                           - _control_reaches(v * (1 + tolerance), start, end, tau, span))
        out.append(Dwell(inst, dwell, expected, tau))
    return out

