"""Configurations that compete: one feature made more important or denser (TMS §6,
"Non-uniform superposition"), and features that fire together or apart ("Correlated and
anticorrelated features").

Training many seeds of the same setting finds several local optima; grouping them by how
many features they represent gives each configuration's best loss, so the point where one
configuration overtakes another (where a pentagon snaps) is measured rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..checks import check_choice, check_number, check_positive_int
from ..data import FeatureGroups, as_inst_feats, best_of_seeds
from ..metrics import REPRESENTED, feature_norms
from ..models import ToyModels, train_toy_models
from .graph import cosine_similarity

__all__ = ["OneFeatureSweep", "one_feature_sweep", "within_group_cosines"]


@dataclass(frozen=True)
class OneFeatureSweep:
    """Models with feature 0's importance (or density) swept, ``n_seeds`` seeds per value.

    Attributes:
        values: ``(k,)`` feature 0's importance or density at each setting.
        vary: ``"importance"`` or ``"density"``.
        models: every trained instance, ``k * n_seeds`` (seeds of a value consecutive).
        loss: ``(k, n_seeds)``.
        n_represented: ``(k, n_seeds)`` features with ``‖W_i‖ > 0.5``: the configuration.
    """

    values: Float[Tensor, "k"]
    vary: str
    models: ToyModels
    loss: Float[Tensor, "k seeds"]
    n_represented: Int[Tensor, "k seeds"]

    def best(self) -> Float[Tensor, "k d_hidden feats"]:
        """The lowest-loss model's ``W`` at each value."""
        return self.models.W[best_of_seeds(self.loss.flatten(), self.loss.shape[1])]

    def configuration_losses(self) -> dict[int, Float[Tensor, "k"]]:
        """For each configuration found (number of represented features), its lowest loss at
        each value (NaN where no seed found it)."""
        out = {}
        for c in sorted(set(self.n_represented.flatten().tolist()), reverse=True):
            masked = torch.where(self.n_represented == c, self.loss, torch.full_like(self.loss, float("inf")))
            low = masked.min(1).values
            out[c] = torch.where(torch.isinf(low), torch.full_like(low, float("nan")), low)
        return out


def one_feature_sweep(
    values: Float[Tensor, "k"],
    *,
    vary: str = "importance",
    n_features: int = 5,
    d_hidden: int = 2,
    density: float = 0.05,
    n_seeds: int = 16,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> OneFeatureSweep:
    """Train ``n_seeds`` seeds of a uniform model (all importances 1, density ``density``) with
    feature 0's importance (``vary="importance"``) or density (``"density"``) set to each of
    ``values``: one batched run of ``len(values) * n_seeds`` instances."""
    check_choice(vary, "vary", ("importance", "density"))
    check_positive_int(n_features, "n_features")
    check_positive_int(d_hidden, "d_hidden")
    check_positive_int(n_seeds, "n_seeds")
    check_number(density, "density", low=0, high=1, low_open=True)
    high = 1.0 if vary == "density" else float("inf")
    v = as_inst_feats(torch.as_tensor(values, dtype=torch.float32).reshape(-1, 1), "values", 1,
                      low=0.0, high=high, low_inclusive=False)[:, 0]
    k = len(v)
    p = torch.full((k, n_features), float(density))
    imp = torch.ones(k, n_features)
    (imp if vary == "importance" else p)[:, 0] = v
    models = train_toy_models(n_features, d_hidden, p, imp, n_inst=k * n_seeds, seed=seed, device=device)
    n_rep = (feature_norms(models.W) > REPRESENTED).sum(-1)
    return OneFeatureSweep(values=v, vary=vary, models=models, loss=models.loss.view(k, n_seeds),
                           n_represented=n_rep.view(k, n_seeds))


def within_group_cosines(
    W: Float[Tensor, "inst d_hidden feats"], groups: FeatureGroups
) -> Float[Tensor, "inst groups pairs"]:
    """The cosine ``Ŵ_i · Ŵ_j`` of every pair inside each group (groups in
    :class:`~superpos_lib.data.FeatureGroups` order, pairs ``(0,1), (0,2), ..., (1,2), ...``)."""
    if not isinstance(groups, FeatureGroups):
        raise ValueError(f"groups must be a FeatureGroups, got {groups!r}")
    groups.check(W.shape[-1])
    cos = cosine_similarity(W)
    i, j = torch.triu_indices(groups.size, groups.size, offset=1)
    n_groups = groups.correlated + groups.anticorrelated
    start = torch.arange(n_groups) * groups.size
    return cos[:, (start[:, None] + i), (start[:, None] + j)]
