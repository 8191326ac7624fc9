"""The uniform-importance sweep of TMS §6 ("Uniform superposition"): every feature equally
important and equally sparse, the density swept, one instance per density, trained together.

ARENA's version (``n = 200``, ``m = 20``, densities ``20^(-k/19)``, 10,000 steps of Adam at
lr 1e-3) takes about half an hour on one CPU core; the library's fast recipe trains all twenty
densities as one batched model in about a quarter of a minute on two cores (``benchmarks/bench.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..checks import check_number, check_positive_int
from ..data import log_densities
from ..metrics import REPRESENTED, dimensions_per_feature, feature_dimensionality, feature_norms
from ..models import ToyModelConfig, ToyModels, fit_toy_models
from ..training import TrainConfig
from .fractions import count_near

__all__ = ["SWEEP_TRAINING", "UniformSweep", "uniform_sweep"]

SWEEP_TRAINING = TrainConfig(steps=1000, batch_size=256)
"""The sweep's schedule: the library's 1,000-step recipe on batches of 256 (a step costs in
proportion to the batch; chapter 6's checks hold at this size for seeds 0-4)."""


@dataclass(frozen=True)
class UniformSweep:
    """A trained uniform-importance sweep (the lowest-loss seed of each density).

    Attributes:
        models: the trained models, one instance per density.
        density: ``(k,)`` the density ``1 - S`` of each instance.
        dimensionality: ``(k, feats)`` every feature's ``D_i``.
        norms: ``(k, feats)`` every feature's ``‖W_i‖``.
        dims_per_feature: ``(k,)`` ``m / ‖W‖_F²``.
    """

    models: ToyModels
    density: Float[Tensor, "k"]
    dimensionality: Float[Tensor, "k feats"]
    norms: Float[Tensor, "k feats"]
    dims_per_feature: Float[Tensor, "k"]

    @property
    def inverse_density(self) -> Float[Tensor, "k"]:
        """``1 / (1 - S)``, TMS's x-axis."""
        return 1 / self.density

    def count_near(self, fraction: float, *, tol: float = 0.005,
                   min_norm: float = REPRESENTED) -> Int[Tensor, "k"]:
        """Per density, the represented features with ``|D_i - fraction| < tol``."""
        return count_near(self.models.W, fraction, tol=tol, min_norm=min_norm)

    def plateau(self, fraction: float = 0.5, *, tol: float = 0.005,
                min_features: int = 10) -> tuple[float, float] | None:
        """The widest run of consecutive densities with at least ``min_features`` features at
        ``fraction`` (within ``tol``), as ``(lowest, highest)`` ``1 / (1 - S)``; ``None`` if none."""
        check_positive_int(min_features, "min_features")
        ok = (self.count_near(fraction, tol=tol) >= min_features).tolist()
        best, start = None, None
        for k, flag in enumerate([*ok, False]):
            if flag and start is None:
                start = k
            elif not flag and start is not None:
                if best is None or k - start > best[1] - best[0]:
                    best = (start, k)
                start = None
        if best is None:
            return None
        inv = self.inverse_density
        return float(inv[best[0]]), float(inv[best[1] - 1])


def uniform_sweep(
    n_features: int = 200,
    d_hidden: int = 20,
    n_densities: int = 20,
    min_density: float = 0.05,
    *,
    n_seeds: int = 1,
    train_config: TrainConfig = SWEEP_TRAINING,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool | None = None,
) -> UniformSweep:
    """Train TMS's uniform sweep: ``n_densities`` densities from 1 down to ``min_density``
    (evenly spaced in log space: ARENA's ``20^(-k/19)`` by default), equal importance, as one
    batched model of ``n_densities * n_seeds`` instances; keeps the lowest-loss seed of each.
    """
    for value, name in ((n_features, "n_features"), (d_hidden, "d_hidden"), (n_densities, "n_densities"),
                        (n_seeds, "n_seeds")):
        check_positive_int(value, name)
    check_number(min_density, "min_density", low=0, high=1, low_open=True)
    density = log_densities(n_densities, min_density)
    n_inst = n_densities * n_seeds
    p = density.repeat_interleave(n_seeds)[:, None].expand(n_inst, n_features).contiguous()
    config = ToyModelConfig(n_features, d_hidden, n_inst)
    models = fit_toy_models(config, p, torch.ones(n_inst, n_features), n_seeds=n_seeds,
                            train_config=train_config, seed=seed, device=device, progress=progress).best()
    W = models.W
    return UniformSweep(models=models, density=density, dimensionality=feature_dimensionality(W),
                        norms=feature_norms(W), dims_per_feature=dimensions_per_feature(W))
