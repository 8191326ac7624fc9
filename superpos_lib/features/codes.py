"""Features, decomposability and linearity (TMS §1, "Background and Motivation").

A representation is *linear* when it is a sum of feature directions weighted by how active
each feature is: ``r = Σ_i x_i d_i``. Then a linear readout, a dot product with a probe
vector, recovers each feature. A non-linear code can be just as lossless, for example packing
two numbers into one (``(floor(10·x₁) + x₂)/10``), yet no linear readout recovers what it
packs. And with more features than dimensions the directions cannot all be independent:
``WᵀW`` of the features a model represents is no longer invertible, the signature of
superposition (a dropped feature, ``W_i = 0``, makes the full ``WᵀW`` singular too, and is not
superposition).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from ..checks import check_positive_int
from ..metrics import REPRESENTED

__all__ = [
    "pack_two",
    "unpack_two",
    "random_directions",
    "compose",
    "LinearProbe",
    "fit_probe",
    "r_squared",
    "probe_r2",
    "gram_is_invertible",
    "in_superposition",
    "is_basis_aligned",
    "CompositionDemo",
    "regular_polygon",
]


def _check_unit_interval(x: Tensor, name: str) -> None:
    if torch.isnan(x).any() or (x < 0).any() or (x >= 1).any():
        raise ValueError(f"{name} must lie in [0, 1) with no NaN")


def pack_two(x1: Float[Tensor, "*batch"], x2: Float[Tensor, "*batch"]) -> Float[Tensor, "*batch"]:
    """Pack two numbers in ``[0, 1)`` into one: ``(floor(10·x₁) + x₂) / 10``.

    The first decimal holds ``x₁`` (rounded down to a tenth), the rest holds ``x₂`` exactly. A
    perfectly good code, and not a linear one.
    """
    _check_unit_interval(x1, "x1")
    _check_unit_interval(x2, "x2")
    return (torch.floor(10 * x1) + x2) / 10


def unpack_two(z: Float[Tensor, "*batch"]) -> tuple[Float[Tensor, "*batch"], Float[Tensor, "*batch"]]:
    """Invert :func:`pack_two` (non-linearly): ``(floor(10·x₁)/10, x₂)``."""
    tenths = torch.floor(10 * z)
    return tenths / 10, 10 * z - tenths


def random_directions(
    n_features: int, d: int, *, orthogonal: bool = False, generator: torch.Generator | None = None
) -> Float[Tensor, "feats d"]:
    """``n_features`` random unit vectors in ``R^d`` (mutually orthogonal if asked; needs n <= d)."""
    check_positive_int(n_features, "n_features")
    check_positive_int(d, "d")
    g = torch.randn(n_features, d, generator=generator, dtype=torch.float64)
    if orthogonal:
        if n_features > d:
            raise ValueError(f"n_features={n_features} orthogonal directions need d >= n_features, got d={d}")
        q, r = torch.linalg.qr(g.T)
        g = (q * torch.sign(torch.diagonal(r))).T
    return (g / g.norm(dim=1, keepdim=True)).float()


def regular_polygon(k: int, *, radius: float = 1.0) -> Float[Tensor, "2 k"]:
    """``k`` directions evenly spaced around a circle in 2-D, as the columns of a ``2 × k`` matrix."""
    check_positive_int(k, "k")
    angles = torch.arange(k, dtype=torch.float64) * 2 * math.pi / k
    return (radius * torch.stack([angles.cos(), angles.sin()])).float()


def compose(x: Float[Tensor, "batch feats"], directions: Float[Tensor, "feats d"]) -> Float[Tensor, "batch d"]:
    """The linear representation ``r = Σ_i x_i d_i`` of each row of feature values."""
    if x.ndim != 2 or directions.ndim != 2 or x.shape[1] != directions.shape[0]:
        raise ValueError(f"x must be (batch, feats) and directions (feats, d) with matching feats, got {tuple(x.shape)} and {tuple(directions.shape)}")
    return x @ directions


@dataclass(frozen=True)
class LinearProbe:
    """A linear readout ``weight · r + bias``."""

    weight: Float[Tensor, "d"]
    bias: float

    def __call__(self, reps: Float[Tensor, "batch d"]) -> Float[Tensor, "batch"]:
        return reps @ self.weight + self.bias


def fit_probe(reps: Float[Tensor, "batch d"], target: Float[Tensor, "batch"]) -> LinearProbe:
    """The least-squares linear readout of ``target`` from ``reps``."""
    if reps.ndim != 2 or target.ndim != 1 or reps.shape[0] != target.shape[0]:
        raise ValueError(f"reps must be (batch, d) and target (batch,), got {tuple(reps.shape)} and {tuple(target.shape)}")
    if reps.shape[0] <= reps.shape[1]:
        raise ValueError(f"need more samples than dimensions to fit a probe, got {tuple(reps.shape)}")
    if torch.isnan(reps).any() or torch.isnan(target).any():
        raise ValueError("reps and target must not contain NaN")
    design = torch.cat([reps, torch.ones(reps.shape[0], 1)], dim=1).double()
    solution = torch.linalg.lstsq(design, target.double()[:, None]).solution[:, 0]
    return LinearProbe(solution[:-1].float(), float(solution[-1]))


def r_squared(prediction: Float[Tensor, "batch"], target: Float[Tensor, "batch"]) -> float:
    """Coefficient of determination ``1 − Σ(y − ŷ)² / Σ(y − ȳ)²``."""
    if prediction.shape != target.shape:
        raise ValueError(f"prediction and target must have the same shape, got {tuple(prediction.shape)} and {tuple(target.shape)}")
    residual = ((target - prediction) ** 2).sum()
    spread = ((target - target.mean()) ** 2).sum()
    return float(1 - residual / spread.clamp_min(1e-12))


def probe_r2(reps: Float[Tensor, "batch d"], target: Float[Tensor, "batch"], *, train_fraction: float = 0.5) -> float:
    """How well a linear probe reads ``target`` from ``reps``: R² on samples it was not fitted on."""
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    n_train = int(train_fraction * reps.shape[0])
    probe = fit_probe(reps[:n_train], target[:n_train])
    return r_squared(probe(reps[n_train:]), target[n_train:])


def gram_is_invertible(W: Float[Tensor, "d_hidden feats"], *, tol: float = 1e-6) -> bool:
    """Whether ``WᵀW`` is invertible: every feature has a direction independent of the others.

    ``False`` is the test for superposition (or for a dropped feature, whose column is 0): with
    more features than dimensions, ``WᵀW`` (``feats × feats``) has rank at most ``d_hidden``.
    """
    if W.ndim != 2:
        raise ValueError(f"W must have shape (d_hidden, feats), got {tuple(W.shape)}")
    eig = torch.linalg.eigvalsh((W.T @ W).double())
    return bool(eig.min() > tol * max(float(eig.max()), 1e-12))


def in_superposition(W: Float[Tensor, "d_hidden feats"], *, min_norm: float = REPRESENTED, tol: float = 1e-6) -> bool:
    """Whether the features ``W`` represents (columns of norm above ``min_norm``) are in superposition.

    The superposition test applied to represented features only: their Gram matrix is singular,
    so some of them share dimensions. A feature the model drops (``W_i = 0``) also makes the full
    ``WᵀW`` singular, but dropping a feature is not superposition; it is left out here.
    """
    if W.ndim != 2:
        raise ValueError(f"W must have shape (d_hidden, feats), got {tuple(W.shape)}")
    if not min_norm >= 0:
        raise ValueError(f"min_norm must be >= 0, got {min_norm}")
    kept = W[:, W.norm(dim=0) > min_norm]
    return kept.shape[1] > 0 and not gram_is_invertible(kept, tol=tol)


def is_basis_aligned(W: Float[Tensor, "d_hidden feats"], *, tol: float = 1e-6) -> bool:
    """Whether every feature's direction is a (scaled) basis vector, each a different one."""
    if W.ndim != 2:
        raise ValueError(f"W must have shape (d_hidden, feats), got {tuple(W.shape)}")
    nonzero = W.abs() > tol * W.abs().max().clamp_min(1e-12)
    return bool((nonzero.sum(0) == 1).all() and (nonzero.sum(1) <= 1).all())


@dataclass(frozen=True)
class CompositionDemo:
    """Three features, two codes, and the linear probes fitted to read them back.

    The linear code is ``r = Σ_i x_i d_i`` with fixed, non-orthogonal unit directions ``d_i`` in
    as many dimensions as features; the packed code is ``z = pack_two(x₁, x₂)``. Probes are
    least-squares readouts fitted on random feature values.
    """

    directions: Float[Tensor, "feats d"]
    linear_probes: tuple[LinearProbe, ...]
    packed_probes: tuple[LinearProbe, LinearProbe]

    @staticmethod
    def make(n_features: int = 3, *, n_samples: int = 4000, seed: int = 0) -> "CompositionDemo":
        g = torch.Generator().manual_seed(seed)
        directions = random_directions(n_features, n_features, generator=g)
        x = torch.rand(n_samples, n_features, generator=g)
        reps = compose(x, directions)
        z = pack_two(x[:, 0], x[:, 1])[:, None]
        return CompositionDemo(
            directions,
            tuple(fit_probe(reps, x[:, i]) for i in range(n_features)),
            (fit_probe(z, x[:, 0]), fit_probe(z, x[:, 1])),
        )

    def read(self, x: Float[Tensor, "feats"]) -> tuple[Float[Tensor, "d"], dict[str, Float[Tensor, "feats"]]]:
        """The linear representation of ``x`` and every readout of it (NaN where a code has no such feature)."""
        n = self.directions.shape[0]
        if x.shape != (n,):
            raise ValueError(f"x must hold {n} feature values, got shape {tuple(x.shape)}")
        _check_unit_interval(x, "x")
        rep = compose(x[None], self.directions)
        z = pack_two(x[:1], x[1:2])[:, None]
        nan = torch.full((n - 2,), float("nan"))
        decoded = torch.cat([*unpack_two(z[:, 0]), nan])
        return rep[0], {
            "true value": x,
            "probe on linear r": torch.cat([probe(rep) for probe in self.linear_probes]),
            "probe on packed z": torch.cat([self.packed_probes[0](z), self.packed_probes[1](z), nan]),
            "decoding packed z": decoded,
        }
