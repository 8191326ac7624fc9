"""The chapter's density sweep of absolute-value models, read out in one place.

All densities train as one batched model; the result carries what the chapter measures on
each: the sides computed, neuron monosemanticity, primary neurons per feature and the
asymmetric motifs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from ..checks import check_number, check_positive_int
from ..data import importance_decay
from ..privileged.basis import neuron_monosemanticity
from ..training import TrainConfig
from .absolute import COMPUTATION_TRAINING, AbsoluteValueModels, train_absolute_value
from .adversarial import min_perturbation
from .analysis import AsymmetricMotif, computed_sides, find_asymmetric_motifs, primary_neurons

__all__ = ["DENSITIES", "DECAY", "COMPUTATION_TRAINING", "POLYSEMANTIC", "ComputationSweep", "computation_sweep"]

DENSITIES = (1.0, 0.3, 0.1, 0.03, 0.01)
"""ARENA's densities for the absolute-value model, down to 1 − S = 0.01."""

DECAY = 0.99
"""The sweep's importance decay, ``I_i = 0.99^i``: slow enough that computing more features is
worth neurons (with TMS's 0.8^i, the features past the 20th carry about 1% of the importance)."""

POLYSEMANTIC = 0.9
"""A neuron is polysemantic when less than this share of its squared input weights is on its
largest feature."""


@dataclass(frozen=True)
class ComputationSweep:
    """A trained density sweep (the lowest-loss seed of each density) and what it computes.

    Attributes:
        models: the models, one instance per density.
        density: ``(k,)``.
        sides: ``(k, feats, 2)`` the sides computed (negative, positive).
        monosemanticity: ``(k, d_hidden)`` each neuron's share on its largest feature.
        primary: ``(k, feats)`` neurons whose largest input weight is the feature.
        motifs: the asymmetric motifs of each instance.
    """

    models: AbsoluteValueModels
    density: Float[Tensor, "k"]
    sides: Bool[Tensor, "k feats 2"]
    monosemanticity: Float[Tensor, "k d_hidden"]
    primary: Int[Tensor, "k feats"]
    motifs: list[list[AsymmetricMotif]]

    @classmethod
    def of(cls, models: AbsoluteValueModels) -> "ComputationSweep":
        """Read out any trained absolute-value models (their density is feature 0's)."""
        if not isinstance(models, AbsoluteValueModels):
            raise ValueError(f"models must be AbsoluteValueModels, got {type(models).__name__}")
        W1, W2, b = models.W1, models.W2, models.b
        return cls(models=models, density=models.feature_probability[:, 0].clone(), sides=computed_sides(W1, W2, b),
                   monosemanticity=neuron_monosemanticity(W1), primary=primary_neurons(W1),
                   motifs=find_asymmetric_motifs(W1, W2, b))

    @property
    def d_hidden(self) -> int:
        return self.models.W1.shape[1]

    @property
    def n_sides(self) -> Int[Tensor, "k"]:
        """Sides computed per density (at most ``m`` without superposition)."""
        return self.sides.sum(dim=(1, 2))

    @property
    def n_full(self) -> Int[Tensor, "k"]:
        """Features with both sides computed."""
        return self.sides.all(dim=2).sum(dim=1)

    @property
    def alive(self) -> Bool[Tensor, "k d_hidden"]:
        """Neurons with any input weight (norm above 0.01)."""
        return self.models.W1.norm(dim=2) > 1e-2

    @property
    def n_polysemantic(self) -> Int[Tensor, "k"]:
        """Live neurons below :data:`POLYSEMANTIC`."""
        return ((self.monosemanticity < POLYSEMANTIC) & self.alive).sum(dim=1)

    @property
    def sides_per_neuron(self) -> Float[Tensor, "k"]:
        """Sides computed per neuron: above 1 only in superposition."""
        return self.n_sides.float() / self.d_hidden

    def attack_base(self, value: float = 0.5) -> Float[Tensor, "k feats"]:
        """Where :meth:`vulnerability` starts each feature's attack: ``+value`` if its positive
        side is computed, else ``-value`` if its negative side is, else 0 (not attacked)."""
        pos, neg = self.sides[..., 1], self.sides[..., 0]
        return torch.where(pos, value, torch.where(neg, -value, 0.0))

    def vulnerability(self, norm: str = "linf", *, delta: float = 0.25, **attack: Any) -> Float[Tensor, "k feats"]:
        """``delta / ε`` for each computed feature (``nan`` for the others), ``ε`` the smallest
        perturbation :func:`~.adversarial.min_perturbation` finds that raises its output by ``delta``."""
        base = self.attack_base()
        eps = min_perturbation(self.models, base, delta=delta, norm=norm, **attack)
        return torch.where(base != 0, delta / eps, torch.full_like(eps, float("nan")))

    def neurons_per_full_feature(self) -> Float[Tensor, "k"]:
        """Mean primary neurons of the fully computed features (``nan`` where there are none)."""
        full = self.sides.all(dim=2)
        counts = (self.primary * full).sum(dim=1).float()
        return counts / full.sum(dim=1).float()


def computation_sweep(
    n_features: int = 100,
    d_hidden: int = 40,
    densities: Sequence[float] = DENSITIES,
    *,
    decay: float = DECAY,
    n_seeds: int = 1,
    train_config: TrainConfig = COMPUTATION_TRAINING,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> ComputationSweep:
    """Train absolute-value models at each density (importance ``decay ** i``), all at once."""
    check_positive_int(n_features, "n_features")
    check_positive_int(d_hidden, "d_hidden")
    check_positive_int(n_seeds, "n_seeds")
    check_number(decay, "decay", low=0, high=1, low_open=True)
    try:
        density = torch.as_tensor([float(d) for d in densities])
    except (TypeError, ValueError) as err:
        raise ValueError(f"densities must be a sequence of numbers, got {densities!r}") from err
    if density.numel() == 0:
        raise ValueError("densities must not be empty")
    imp = importance_decay(n_features, decay)
    models = train_absolute_value(n_features, d_hidden, density[:, None], imp, n_inst=len(density) * n_seeds,
                                  train_config=train_config, seed=seed, device=device).best()
    return ComputationSweep.of(models)
