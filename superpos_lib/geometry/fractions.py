"""Feature dimensionality's named fractions and the ideal structures that give them (TMS §6).

A feature's dimensionality ``D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)²`` (:func:`superpos_lib.metrics.
feature_dimensionality`) is the share of a dimension it gets. For unit features that form a
*tight frame* of ``n`` vectors in ``m`` dimensions (``Σ_j W_j W_jᵀ = (n/m) I``), every
``Σ_j (Ŵ_i · W_j)² = n/m``, so every ``D_i = m/n``: a regular ``k``-gon gives ``2/k``, the
tetrahedron ``3/4``, the square antiprism (squares at heights ``±1/√3``) ``3/8``. A tegum
product (structures in orthogonal subspaces) keeps each factor's fractions.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..checks import check_choice, check_number, check_positive_int
from ..metrics import REPRESENTED, feature_dimensionality, feature_norms

__all__ = ["FRACTIONS", "regular_polygon", "ideal_structure", "count_near", "tegum_product"]

FRACTIONS: dict[str, float] = {
    "own dimension": 1.0,
    "tetrahedron": 3 / 4,
    "triangle": 2 / 3,
    "antipodal pair": 1 / 2,
    "pentagon": 2 / 5,
    "square antiprism": 3 / 8,
}
"""The fractions TMS names, by the structure whose features have them."""


def regular_polygon(k: int) -> Float[Tensor, "2 k"]:
    """``k`` unit features at angles ``2πj/k`` in two dimensions (``D = 2/k`` each, ``k >= 3``)."""
    check_positive_int(k, "k")
    if k < 3:
        raise ValueError(f"k must be at least 3 for a polygon in two dimensions, got {k}")
    angle = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
    return torch.stack([angle.cos(), angle.sin()]).float()


def _square_antiprism() -> Tensor:
    r, h = math.sqrt(2 / 3), math.sqrt(1 / 3)  # the tight frame: 4 r² = 8 h²
    angle = torch.arange(8, dtype=torch.float64) * math.pi / 4  # squares turned 45° apart
    z = torch.tensor([h, -h] * 4, dtype=torch.float64)
    return torch.stack([r * angle.cos(), r * angle.sin(), z]).float()


def ideal_structure(name: str) -> Float[Tensor, "d_hidden feats"]:
    """The ideal structure behind one of :data:`FRACTIONS`: ``(m, n)``, unit columns.

    Every feature of the result has ``D = FRACTIONS[name]`` (exactly, up to float rounding).
    """
    check_choice(name, "name", FRACTIONS)
    if name == "own dimension":
        return torch.ones(1, 1)
    if name == "antipodal pair":
        return torch.tensor([[1.0, -1.0]])
    if name == "triangle":
        return regular_polygon(3)
    if name == "pentagon":
        return regular_polygon(5)
    if name == "tetrahedron":
        return torch.tensor([[1.0, 1, -1, -1], [1, -1, 1, -1], [1, -1, -1, 1]]) / math.sqrt(3)
    return _square_antiprism()


def tegum_product(*factors: Tensor) -> Float[Tensor, "d_total feats_total"]:
    """Structures placed in orthogonal subspaces: the block-diagonal ``(Σ m_k, Σ n_k)`` matrix.

    TMS calls it a tegum product; each factor keeps its features' dimensionalities.
    """
    if not factors:
        raise ValueError("factors must hold at least one (d_hidden, feats) matrix")
    for k, f in enumerate(factors):
        if not isinstance(f, Tensor) or f.ndim != 2:
            raise ValueError(f"factors[{k}] must be a (d_hidden, feats) tensor, got {getattr(f, 'shape', f)!r}")
    return torch.block_diag(*[f.float() for f in factors])


def count_near(
    W: Float[Tensor, "inst d_hidden feats"],
    fraction: float,
    *,
    tol: float = 0.005,
    min_norm: float = REPRESENTED,
) -> Int[Tensor, "inst"]:
    """How many represented features (``‖W_i‖ > min_norm``) have ``|D_i - fraction| < tol``."""
    check_number(fraction, "fraction", low=0, high=1, low_open=True)
    check_number(tol, "tol", low=0, low_open=True)
    check_number(min_norm, "min_norm", low=0)
    D = feature_dimensionality(W)
    near = ((D - fraction).abs() < tol) & (feature_norms(W) > min_norm)
    return near.sum(-1)
