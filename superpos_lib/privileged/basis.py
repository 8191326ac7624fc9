"""Privileged bases (TMS §3 "Privileged Basis" and §8 "Superposition in a Privileged Basis").

A basis of a layer is *privileged* when the model's computation singles it out. In the toy
model ``x' = ReLU(Wᵀ W x + b)`` the hidden layer is linear: rotating it (``W -> R W`` for an
orthogonal ``R``) leaves ``WᵀW``, and so every output and the loss, unchanged, and no direction
of the hidden space is special. The "neuron" model ``h = ReLU(W x)`` applies its non-linearity
to each hidden unit separately, so its neurons are a privileged basis: features may line up
with them (monosemantic neurons) or not (polysemantic neurons).

The neuron model itself is the core toy model with ``hidden_relu=True``
(:func:`superpos_lib.train_toy_models`).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from jaxtyping import Float
from torch import Tensor

from ..checks import check_positive_int
from ..models import ToyModels, evaluate_loss

__all__ = ["random_rotation", "rotate_hidden", "loss_after_rotation", "basis_alignment", "neuron_monosemanticity"]

_EPS = 1e-12


def random_rotation(d: int, *, generator: torch.Generator | None = None) -> Float[Tensor, "d d"]:
    """A random orthogonal ``d × d`` matrix (uniform over the orthogonal group, via QR)."""
    check_positive_int(d, "d")
    q, r = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()  # sign fix makes the distribution uniform


def rotate_hidden(
    W: Float[Tensor, "inst d_hidden feats"], R: Float[Tensor, "d_hidden d_hidden"]
) -> Float[Tensor, "inst d_hidden feats"]:
    """``R W``: the same model with its hidden space rotated by ``R``."""
    if W.ndim != 3 or R.shape != (W.shape[1], W.shape[1]):
        raise ValueError(f"R must be (d_hidden, d_hidden) = {(W.shape[1],) * 2} for W of shape {tuple(W.shape)}, got {tuple(R.shape)}")
    if not torch.allclose(R @ R.T, torch.eye(R.shape[0], dtype=R.dtype), atol=1e-4):
        raise ValueError("R must be orthogonal (R Rᵀ = I)")
    return torch.einsum("hk,ikf->ihf", R, W)


def loss_after_rotation(
    result: ToyModels, R: Float[Tensor, "d_hidden d_hidden"], *, n_samples: int = 2**16, seed: int = 7
) -> tuple[Float[Tensor, "inst"], Float[Tensor, "inst"]]:
    """Loss of trained models before and after rotating their hidden space, on the same samples."""
    rotated = replace(result, W=rotate_hidden(result.W, R))
    args = (result.feature_probability, result.importance)
    before = evaluate_loss(result.to_model(), *args, n_samples=n_samples, seed=seed)
    after = evaluate_loss(rotated.to_model(), *args, n_samples=n_samples, seed=seed)
    return before, after


def _activations(W: Tensor, hidden_relu: bool) -> Tensor:
    """What each feature alone (value 1) puts on the hidden units: ``W`` or ``ReLU(W)``."""
    if W.ndim != 3:
        raise ValueError(f"W must have shape (inst, d_hidden, feats), got {tuple(W.shape)}")
    return W.clamp(min=0) if hidden_relu else W


def basis_alignment(W: Float[Tensor, "inst d_hidden feats"], *, hidden_relu: bool = False) -> Float[Tensor, "inst feats"]:
    """Share of each feature's hidden activation on its largest unit: 1 when one unit carries it.

    Feature ``i`` alone, with value 1, puts ``h = W[:, i]`` on the hidden units of a linear hidden
    layer and ``h = ReLU(W[:, i])`` on the neuron model's (``hidden_relu=True``: a negative
    weight keeps its neuron silent). The alignment is ``max_k h_k² / Σ_k h_k²``: a feature spread
    evenly over ``m`` units scores ``1/m``, one that activates no unit 0.
    """
    sq = _activations(W, hidden_relu) ** 2
    return sq.max(dim=1).values / sq.sum(dim=1).clamp_min(_EPS)


def neuron_monosemanticity(W: Float[Tensor, "inst d_hidden feats"], *, hidden_relu: bool = False) -> Float[Tensor, "inst d_hidden"]:
    """Share of each unit's squared input weights on its largest feature: 1 for a monosemantic unit.

    With ``hidden_relu=True`` only positive weights count, the ones that make the neuron fire;
    a neuron that no feature makes fire scores 0.
    """
    sq = _activations(W, hidden_relu) ** 2
    return sq.max(dim=2).values / sq.sum(dim=2).clamp_min(_EPS)
