"""Measurements of learned toy models (TMS §2–§4), named and defined as in the paper (chapters 3–8).

For feature ``i`` with direction ``W_i`` (column ``i`` of ``W``) and unit direction ``Ŵ_i``:

* norm ``‖W_i‖``: near 1 when the feature is represented, near 0 when it is dropped;
* superposition ``Σ_{j≠i} (Ŵ_i · W_j)²``: how much other features project onto ``W_i``'s
  direction; 0 when ``W_i`` has a dimension to itself;
* feature dimensionality ``D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)²`` (``j`` includes ``i``): the
  fraction of a dimension feature ``i`` gets (1 alone, 1/2 in an antipodal pair, 2/5 in a pentagon);
* the linear model's expected loss split into *feature benefit* and *interference* (TMS §4,
  chapter 4), and the pairwise interference a ReLU output pays or not.

The loss decomposition lives here, beside the other measurements of ``W``, rather than in the
chapter-4 package: it is the measurement the later chapters (geometry, computation) reuse.
"""

from __future__ import annotations

from dataclasses import dataclass

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor

from .checks import check_positive_int, check_weights
from .data import as_inst_feats

__all__ = [
    "feature_norms",
    "gram",
    "superposition",
    "feature_dimensionality",
    "dimensions_per_feature",
    "n_represented",
    "feature_angles",
    "angular_gaps",
    "dense_optimal_loss",
    "LossTerms",
    "loss_decomposition",
    "pairwise_interference",
    "REPRESENTED",
]

REPRESENTED = 0.5
"""A feature counts as represented when ``‖W_i‖`` exceeds this (as in TARGETS / ARENA)."""

_EPS = 1e-8


def feature_norms(W: Float[Tensor, "inst d_hidden feats"]) -> Float[Tensor, "inst feats"]:
    """``‖W_i‖`` for every feature of every instance."""
    check_weights(W)
    return W.norm(dim=1)


def gram(W: Float[Tensor, "inst d_hidden feats"]) -> Float[Tensor, "inst feats feats"]:
    """``WᵀW``: entry ``(i, j)`` is ``W_i · W_j`` (diagonal: squared norms)."""
    check_weights(W)
    return einops.einsum(W, W, "inst d_hidden feats, inst d_hidden feats_j -> inst feats feats_j")


def _projections_sq(W: Tensor) -> Tensor:
    """``(Ŵ_i · W_j)²`` as ``(inst, i, j)``."""
    W_hat = W / (feature_norms(W)[:, None, :] + _EPS)
    dots = einops.einsum(W_hat, W, "inst d_hidden feats, inst d_hidden feats_j -> inst feats feats_j")
    return dots**2


def superposition(W: Float[Tensor, "inst d_hidden feats"]) -> Float[Tensor, "inst feats"]:
    """``Σ_{j≠i} (Ŵ_i · W_j)²``: interference onto each feature's direction (0: its own dimension)."""
    sq = _projections_sq(W)
    return sq.sum(-1) - torch.diagonal(sq, dim1=1, dim2=2)


def feature_dimensionality(W: Float[Tensor, "inst d_hidden feats"]) -> Float[Tensor, "inst feats"]:
    """``D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)²`` (0 for a dropped feature)."""
    norms_sq = feature_norms(W) ** 2
    return norms_sq / (_projections_sq(W).sum(-1) + _EPS)


def dimensions_per_feature(W: Float[Tensor, "inst d_hidden feats"]) -> Float[Tensor, "inst"]:
    """``m / ‖W‖_F²``: hidden dimensions per (fully) represented feature."""
    check_weights(W)
    return W.shape[1] / (W**2).sum((1, 2)).clamp_min(_EPS)


def n_represented(W: Float[Tensor, "inst d_hidden feats"], threshold: float = REPRESENTED) -> Int[Tensor, "inst"]:
    """How many features have ``‖W_i‖ > threshold``, per instance (an integer tensor)."""
    return (feature_norms(W) > threshold).sum(-1)


def feature_angles(W: Float[Tensor, "inst 2 feats"]) -> Float[Tensor, "inst feats"]:
    """Angle of each feature's direction in a 2-D hidden space, in degrees in ``(-180, 180]``."""
    check_weights(W, d_hidden=2)
    return torch.rad2deg(torch.atan2(W[:, 1], W[:, 0]))


def angular_gaps(W: Float[Tensor, "inst 2 feats"], threshold: float = REPRESENTED) -> list[Tensor]:
    """Angles (degrees) between neighbouring represented features, going round the circle.

    One tensor per instance, as many gaps as represented features (they sum to 360); a regular
    pentagon gives five gaps of 72°. An instance with fewer than two represented features gets
    an empty tensor.
    """
    angles = feature_angles(W)
    keep = feature_norms(W) > threshold
    out = []
    for a, k in zip(angles, keep):
        a = torch.sort(a[k]).values
        if a.numel() < 2:
            out.append(a.new_zeros(0))
            continue
        out.append(torch.diff(torch.cat([a, a[:1] + 360.0])))
    return out


def dense_optimal_loss(importance: Float[Tensor, "feats"] | Float[Tensor, "inst feats"], d_hidden: int) -> Tensor:
    """Loss on dense features (``p = 1``, ``x_i ~ U[0, 1)``) of keeping the ``m = d_hidden``
    most important features exactly and predicting each other feature by its mean through the
    bias, paying its variance ``1/12``: ``L = (1/n) Σ_{dropped i} I_i / 12``.

    An upper bound on the dense optimum, not the optimum itself: a lopsided model that gives a
    dropped feature a little of a dimension does very slightly better (``n = 2, m = 1``:
    ``0.041627`` against ``1/24 = 0.041667``, chapter 3).
    """
    check_positive_int(d_hidden, "d_hidden")
    imp_t = torch.as_tensor(importance, dtype=torch.float32)
    if imp_t.ndim not in (1, 2):
        raise ValueError(f"importance must be (feats,) or (inst, feats), got {tuple(imp_t.shape)}")
    imp = as_inst_feats(imp_t, "importance", imp_t.shape[-1], low=0.0)
    n = imp.shape[1]
    dropped = torch.sort(imp, dim=1, descending=True).values[:, d_hidden:]
    loss = dropped.sum(1) / (12.0 * n)
    return loss if imp_t.ndim == 2 else loss[0]


@dataclass(frozen=True)
class LossTerms:
    """The linear model's expected loss, term by term (each ``(inst,)``; see :func:`loss_decomposition`)."""

    benefit: Tensor
    interference: Tensor
    bias: Tensor

    @property
    def total(self) -> Tensor:
        """``benefit + interference + bias``: the expected loss."""
        return self.benefit + self.interference + self.bias


def loss_decomposition(
    W: Float[Tensor, "inst d_hidden feats"],
    feature_probability: Float[Tensor, "inst feats"],
    importance: Float[Tensor, "inst feats"],
    b_final: Float[Tensor, "inst feats"] | None = None,
) -> LossTerms:
    """The exact expected loss of the linear model ``x' = WᵀWx + b`` on zero-mean features.

    With independent signed features (``x_i ~ U[-1, 1)`` with density ``p_i``, so ``E[x_i] = 0``
    and ``E[x_i²] = p_i/3``), the error of output ``i`` is
    ``(1 − ‖W_i‖²) x_i − Σ_{j≠i} (W_i·W_j) x_j − b_i`` and its square averages to

    * feature benefit ``Σ_i I_i (p_i/3) (1 − ‖W_i‖²)²``: what is lost on features the model does
      not fully represent (0 when every ``‖W_i‖ = 1``);
    * interference ``Σ_i I_i Σ_{j≠i} (p_j/3) (W_i·W_j)²``: what other features leak into
      output ``i``, whatever the sign of the overlap;
    * bias ``Σ_i I_i b_i²`` (0 for the optimal ``b = 0``).

    Each term is divided by ``n``, :meth:`~superpos_lib.models.ToyModel.loss`'s convention
    (the mean over features), so ``total`` is what that method estimates.
    """
    check_weights(W)
    inst, _, n = W.shape
    shape = (inst, n)
    for name, t in (("feature_probability", feature_probability), ("importance", importance), ("b_final", b_final)):
        if t is not None and (tuple(t.shape) != shape or torch.isnan(t).any()):
            raise ValueError(f"{name} must have shape {shape} without NaN, got {tuple(t.shape)}")
    if ((feature_probability <= 0) | (feature_probability > 1)).any():
        raise ValueError("feature_probability must lie in (0, 1]")
    second = feature_probability / 3                      # E[x_i²]
    G = gram(W)
    diag = torch.diagonal(G, dim1=1, dim2=2)
    benefit = (importance * second * (1 - diag) ** 2).sum(-1) / n
    off = G**2 - torch.diag_embed(diag**2)
    interference = (importance[:, :, None] * off * second[:, None, :]).sum((1, 2)) / n
    bias = (importance * b_final**2).sum(-1) / n if b_final is not None else torch.zeros_like(benefit)
    return LossTerms(benefit, interference, bias)


def pairwise_interference(W: Float[Tensor, "inst d_hidden feats"], *, relu: bool = False) -> Float[Tensor, "inst feats feats"]:
    """``(W_i·W_j)²`` for ``i ≠ j`` (0 on the diagonal); with ``relu=True`` only positive overlaps count.

    The ReLU version is what a ReLU-output model pays when one feature is active at a time: a
    negative overlap drives the other output below zero, where the ReLU cuts it off for free.
    """
    G = gram(W)
    if relu:
        G = G.clamp(min=0)
    return G**2 * (1 - torch.eye(W.shape[2], dtype=W.dtype, device=W.device))
