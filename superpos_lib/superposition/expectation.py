"""The toy model's expected loss, computed stratum by stratum rather than sampled (TMS §2).

With ``n`` independent features, each present with probability ``p`` (one density per
instance) and then uniform on ``[0, 1)``, the number ``k`` of active features is binomial:

    E[L] = Σ_k C(n, k) p^k (1 − p)^(n − k) · E[L | k active].

Given ``k``, the input no longer depends on ``p``: ``k`` features chosen uniformly, each
uniform on ``[0, 1)``. So the rare inputs that make a Monte-Carlo loss noisy in the sparse
tail (at ``p = 0.001`` and ``n = 20``, an input with two features active comes once in about
5,000 samples) get a stratum of their own, shared by every density:

* ``k = 0``: the output is ``ReLU(b)``, exactly;
* ``k = 1``: exactly, in closed form (the integral of :func:`superpos_lib.phases.one_hot_loss`);
* ``k = 2, 3``: one active feature's value integrated out in closed form, the others at
  scrambled Sobol points, over every one of the ``C(n, k)`` subsets of active features when
  there are few enough (all of them for ``n = 20``), otherwise over balanced samples as below;
* ``k ≥ 4`` (inputs that only dense features make often): the same subsets or, when there are
  many, random ones in which every feature is active equally often, with Latin-hypercube
  values, and the loss averaged over them like a Monte-Carlo loss.

A stratum is left out only where its probability is below ``tail``, so the loss is exact up
to ``O(p^(K+1))`` for the largest ``K`` kept, plus the integration error of the strata
``k ≥ 2``. For trained ``n = 20, m = 5`` models and the default ``n_samples`` that error is
measured (over point seeds) at about 3e-5 of the loss at ``p = 0.001``, 2e-4 at ``p = 0.003``
and 1e-3 at ``p = 0.01``; at ``p ≥ 0.03``, where inputs with four or more features active
carry much of the loss, it is 0.5-3 %, comparable to plain Monte Carlo. The points depend only
on ``seed``, so models compared with the same seed see the same inputs. Losses are averaged
over the features, :meth:`ToyModel.loss`'s convention.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from functools import lru_cache

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..checks import check_number, check_positive_int, check_weights
from ..data import ArrayLike, as_inst_feats
from ..models import EVAL_ELEMENTS, ToyModels

__all__ = ["active_count_probabilities", "expected_loss", "with_expected_loss"]

MIN_PER_SUBSET = 4
"""Every subset of ``k`` active features is enumerated when each can get at least this many
Sobol points out of ``n_samples``; otherwise the subsets are sampled."""

INTEGRATED_UP_TO = 3
"""With up to this many features active, one feature's value is integrated out in closed form
(exact for one active feature); beyond, where only dense inputs reach, the loss is averaged."""


def active_count_probabilities(n_features: int, feature_probability: ArrayLike) -> Float[Tensor, "inst n_active"]:
    """``P(k active) = C(n, k) p^k (1 − p)^(n − k)`` for ``k = 0..n``, one row per density
    (``feature_probability`` a number or a vector of densities)."""
    check_positive_int(n_features, "n_features")
    p = torch.as_tensor(feature_probability, dtype=torch.float64).reshape(-1, 1)
    if torch.isnan(p).any() or (p <= 0).any() or (p > 1).any():
        raise ValueError(f"feature_probability must lie in (0, 1], got {p.flatten().tolist()}")
    k = torch.arange(n_features + 1, dtype=torch.float64)
    comb = torch.tensor([math.comb(n_features, int(j)) for j in k], dtype=torch.float64)
    return comb * p**k * (1 - p) ** (n_features - k)


@lru_cache(maxsize=64)
def _stratum(n: int, k: int, n_samples: int, seed: int) -> tuple[Int[Tensor, "batch"], Float[Tensor, "batch feats"]]:
    """Inputs with exactly ``k >= 1`` of ``n`` features active, each feature equally often.

    Returns the inputs and, per input, one active feature ``a`` (the one
    :func:`_integrated_loss` integrates out). Few subsets: each of the ``C(n, k)`` gets its own
    power-of-two block of a scrambled Sobol sequence (a net in ``k`` dimensions), ``a`` its
    first feature. Many: the ``n`` cyclic windows of length ``k`` of random permutations
    (``a`` first), each feature's values a Latin hypercube sample over the inputs where it is
    active (so what a feature costs alone integrates almost exactly).
    """
    n_subsets = math.comb(n, k)
    if n_subsets * MIN_PER_SUBSET <= n_samples or k == 1:
        per_subset = 1 if k == 1 else 2 ** int(math.log2(n_samples // n_subsets))
        subsets = torch.tensor(list(itertools.combinations(range(n), k)))  # (C, k)
        subsets = subsets.repeat_interleave(per_subset, 0)                 # (C * per, k)
        sobol = torch.quasirandom.SobolEngine(k, scramble=True, seed=seed + 7919 * k)
        values = sobol.draw(len(subsets), dtype=torch.float64)
    else:
        gen = torch.Generator().manual_seed(seed + 104729 * k)
        perms = torch.rand(max(1, n_samples // n), n, generator=gen).argsort(1)
        windows = (torch.arange(n)[:, None] + torch.arange(k)) % n         # (n, k)
        subsets = perms[:, windows].reshape(-1, k)                         # (perms * n, k)
        feat = subsets.flatten()
        per_feature = len(feat) // n                                       # the same for all
        order = (feat + torch.rand(len(feat), generator=gen, dtype=torch.float64)).argsort()
        stratum = torch.empty(len(feat), dtype=torch.float64)
        stratum[order] = (torch.arange(len(feat)) % per_feature).double()
        jitter = torch.rand(len(feat), generator=gen, dtype=torch.float64)
        values = ((stratum + jitter) / per_feature).view(-1, k)
    x = torch.zeros(len(subsets), n, dtype=torch.float64)
    x.scatter_(1, subsets, values)
    return subsets[:, 0].clone(), x.float()                    # cached: never changed in place


def _integrated_loss(W: Tensor, b: Tensor, imp: Tensor, a: Tensor, x: Tensor, relu: bool) -> Tensor:
    """``(1/n) Σ_o I_o (x_o − x'_o)²`` averaged over the inputs, per instance, with the value
    ``u`` of feature ``a`` integrated over ``[0, 1)`` in closed form.

    Output ``o``'s pre-activation is ``z = α u + c`` with ``α = (WᵀW)_oa`` and ``c`` what the
    other active features and the bias give; its target is ``τ u + σ`` (``τ = [o = a]``,
    ``σ = x_o``). The squared error is ``(τ u + σ)²`` where the ReLU is off and
    ``(τ u + σ − z)²`` on the interval of ``u`` where it is on, so each integrates exactly,
    as in :func:`superpos_lib.phases.one_hot_loss` (the case ``k = 1``).
    """
    inst, _, n = W.shape
    G = W.mT @ W                                               # (inst, o, a)
    chunk = max(1, EVAL_ELEMENTS // (4 * inst * n))
    total = torch.zeros(inst, dtype=torch.float64, device=W.device)
    feats = torch.arange(n, device=W.device)[:, None]
    for a_s, xs in zip(a.to(W.device).split(chunk), x.to(device=W.device, dtype=W.dtype).split(chunk)):
        sigma = xs.T.clone()                                   # (feats, batch)
        sigma[a_s, torch.arange(len(a_s), device=W.device)] = 0   # u takes feature a's place
        c = torch.baddbmm(b[..., None], W.mT, W @ sigma)       # (inst, feats, batch)
        alpha = G[:, :, a_s]                                   # (inst, feats, batch)
        tau = (feats == a_s).to(W.dtype)                       # (feats, batch)
        if relu:
            root = (-c / torch.where(alpha == 0, torch.ones_like(alpha), alpha)).clamp(0, 1)
            lo = torch.where(alpha > 0, root, torch.zeros_like(root))
            hi = torch.where(alpha < 0, root, torch.where(alpha == 0, (c > 0).to(W.dtype), torch.ones_like(root)))
        else:
            lo, hi = torch.zeros_like(c), torch.ones_like(c)
        # (τu + σ − z)² − (τu + σ)² = z² − 2(τu + σ) z = P u² + Q u + R on [lo, hi]
        P = alpha * (alpha - 2 * tau)
        Q = 2 * (alpha * c - tau * c - sigma * alpha)
        R = c * (c - 2 * sigma)
        on = P * (hi**3 - lo**3) / 3 + Q * (hi**2 - lo**2) / 2 + R * (hi - lo)
        off = tau / 3 + sigma**2                               # ∫ (τu + σ)² du, as τσ = 0
        err = (on + off) * imp[..., None]
        total = total + err.sum((1, 2), dtype=torch.float64)
    return total / (len(x) * n)


def _mean_loss(W: Tensor, b: Tensor, imp: Tensor, x: Tensor, relu: bool) -> Tensor:
    """``(1/n) Σ_o I_o (x_o − x'_o)²`` averaged over the rows of ``x``, per instance.

    Computed in ``W``'s precision in a batch-last layout, summed in float64.
    """
    inst, _, n = W.shape
    chunk = max(1, EVAL_ELEMENTS // (inst * n))
    total = torch.zeros(inst, dtype=torch.float64, device=W.device)
    in_place = not (torch.is_grad_enabled() and (W.requires_grad or b.requires_grad))
    for xs in x.to(device=W.device, dtype=W.dtype).split(chunk):
        xt = xs.T                                              # (feats, batch)
        out = torch.baddbmm(b[..., None], W.mT, W @ xt)        # (inst, feats, batch)
        if in_place:                                           # the same, without temporaries
            err = (out.relu_() if relu else out).sub_(xt).square_().mul_(imp[..., None])
        else:
            err = ((torch.relu(out) if relu else out) - xt) ** 2 * imp[..., None]
        total = total + err.sum((1, 2), dtype=torch.float64)
    return total / (len(x) * n)


def expected_loss(
    W: Float[Tensor, "inst d_hidden feats"],
    b_final: Float[Tensor, "inst feats"],
    feature_probability: ArrayLike,
    importance: ArrayLike = 1.0,
    *,
    relu: bool = True,
    n_samples: int = 2**13,
    tail: float = 1e-12,
    seed: int = 0,
) -> Float[Tensor, "inst"]:
    """The expected loss of ``x' = ReLU(WᵀWx + b)`` (or ``WᵀWx + b``) on sparse features.

    Conditions on how many features are active (see the module's docstring): exact for none
    and for one active feature, quasi-random points for more. Differentiable in ``W`` and
    ``b_final``; float64 (the strata of two or more active features are computed in ``W``'s
    precision and summed in float64).

    Args:
        W, b_final: the models, one per instance.
        feature_probability: the density ``p``, the same for every feature of an instance: a
            scalar, or ``(inst, 1)`` / ``(inst, feats)`` with equal entries along a row.
        importance: ``I_i``, a scalar, ``(feats,)`` or ``(inst, feats)``.
        relu: ReLU output (``False``: the linear model).
        n_samples: points per stratum of two or more active features.
        tail: a stratum less likely than this at an instance's density is left out for it;
            what is left out is at most ``(n + 1) · tail`` times the largest conditional loss.
        seed: seeds the points (the same seed gives every model the same inputs).
    """
    check_weights(W)
    inst, _, n = W.shape
    if tuple(b_final.shape) != (inst, n) or torch.isnan(b_final).any():
        raise ValueError(f"b_final must have shape {(inst, n)} without NaN, got {tuple(b_final.shape)}")
    check_positive_int(n_samples, "n_samples")
    check_number(tail, "tail", low=0, high=1, low_open=True, high_open=True)
    p = as_inst_feats(feature_probability, "feature_probability", n, low=0.0, high=1.0, low_inclusive=False)
    if not torch.equal(p, p[:, :1].expand_as(p)):
        raise ValueError("feature_probability must be the same for every feature of an instance")
    imp = as_inst_feats(importance, "importance", n, low=0.0)
    for name, t in (("feature_probability", p), ("importance", imp)):
        if t.shape[0] not in (1, inst):
            raise ValueError(f"{name} has {t.shape[0]} instances for {inst} models")
    imp = imp.double().to(W.device).expand(inst, n)
    prob = active_count_probabilities(n, p[:, 0]).to(W.device).expand(inst, n + 1)
    total = torch.zeros(inst, dtype=torch.float64, device=W.device)
    for k in range(n + 1):
        need = prob[:, k] > tail                               # the instances this stratum matters to
        if not need.any():
            continue
        Wk, bk, ik = W[need], b_final[need], imp[need]
        if k == 0:
            out = torch.relu(bk) if relu else bk
            conditional = (ik * out.double() ** 2).sum(-1) / n
        else:
            a, x = _stratum(n, k, n_samples, seed)
            if k <= INTEGRATED_UP_TO:
                dtype = torch.float64 if k == 1 else W.dtype   # k = 1 is exact: keep it so
                conditional = _integrated_loss(Wk.to(dtype), bk.to(dtype), ik.to(dtype), a, x, relu)
            else:
                conditional = _mean_loss(Wk, bk, ik.to(W.dtype), x, relu)
        total = total.index_add(0, need.nonzero()[:, 0], prob[need, k] * conditional)
    return total


def with_expected_loss(models: ToyModels, **kwargs) -> ToyModels:
    """A copy of ``models`` whose ``loss`` is :func:`expected_loss`, so ``.best()`` picks by it.

    For models trained on unsigned features (the default); ``kwargs`` go to
    :func:`expected_loss` (``n_samples``, ``tail``, ``seed``).
    """
    if not isinstance(models, ToyModels):
        raise ValueError(f"models must be ToyModels, got {type(models).__name__}")
    if models.config.hidden_relu:
        raise ValueError("models must have a linear hidden layer (hidden_relu=False)")
    loss = expected_loss(models.W, models.b_final, models.feature_probability, models.importance,
                         relu=models.config.relu, **kwargs)
    return replace(models, loss=loss)
