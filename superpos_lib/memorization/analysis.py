"""What a model trained on a finite dataset represents: its training examples or its features.

Henighan et al. extend TMS's feature dimensionality ``D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)²`` to the
training examples, through their hidden vectors ``h_t = W x_t``: an example that the model
stores in superposition, like a feature, gets a share of the hidden dimensions of its own. A
memorizing model gives its examples the dimensions (``T`` examples in a ``T``-gon have
``D = m / T`` each) and its features almost none; a generalizing one the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass

from jaxtyping import Float, Int
from torch import Tensor

from .. import metrics
from ..checks import check_number
from .finite import DoubleDescent

__all__ = ["OWNS", "example_dimensionality", "feature_dims", "dimension_owners", "Regimes", "regimes",
           "FeatureAlignment", "feature_alignment"]

OWNS = 0.2
"""An object (an example's hidden vector or a feature) holds a share of a dimension of its own
when its dimensionality exceeds this: a pentagon's vertices have 2/5, a 10-gon's 1/5, while
ten equally long features pointing one way have 1/10 each."""


def example_dimensionality(dd: DoubleDescent) -> Float[Tensor, "inst t_max"]:
    """Each training example's dimensionality, from its hidden vector (0 on padding)."""
    return metrics.feature_dimensionality(dd.hidden())


def feature_dims(dd: DoubleDescent) -> Float[Tensor, "inst feats"]:
    """Each feature's dimensionality ``D_i`` (TMS's, of the columns of ``W``)."""
    return metrics.feature_dimensionality(dd.W)


def dimension_owners(D: Float[Tensor, "inst objects"], threshold: float = OWNS) -> Int[Tensor, "inst"]:
    """How many objects per instance hold more than ``threshold`` of a dimension."""
    check_number(threshold, "threshold", low=0, low_open=True)
    if D.ndim != 2:
        raise ValueError(f"D must have shape (inst, objects), got {tuple(D.shape)}")
    return (D > threshold).sum(-1)


@dataclass(frozen=True)
class Regimes:
    """Who holds the hidden dimensions, per instance.

    Attributes:
        example_owners: ``(inst,)`` training examples with ``D > OWNS``.
        feature_owners: ``(inst,)`` features with ``D > OWNS``.
        max_example_dim: ``(inst,)`` the largest example dimensionality.
        max_feature_dim: ``(inst,)`` the largest feature dimensionality.
    """

    example_owners: Int[Tensor, "inst"]
    feature_owners: Int[Tensor, "inst"]
    max_example_dim: Float[Tensor, "inst"]
    max_feature_dim: Float[Tensor, "inst"]

    @property
    def memorizing(self) -> Tensor:
        """Examples, and no feature, hold dimensions of their own."""
        return (self.example_owners > 0) & (self.feature_owners == 0)

    @property
    def generalizing(self) -> Tensor:
        """Features, and no example, hold dimensions of their own."""
        return (self.feature_owners > 0) & (self.example_owners == 0)


def regimes(dd: DoubleDescent, threshold: float = OWNS) -> Regimes:
    """Who holds the dimensions in each of ``dd``'s models."""
    De, Df = example_dimensionality(dd), feature_dims(dd)
    return Regimes(example_owners=dimension_owners(De, threshold), feature_owners=dimension_owners(Df, threshold),
                   max_example_dim=De.max(-1).values, max_feature_dim=Df.max(-1).values)



@dataclass(frozen=True)
class FeatureAlignment:
    """How a model's features sit relative to the training examples they occur in.

    Attributes:
        cosine: ``(inst, feats)`` for a feature present in the training set, the largest cosine
            between ``W_i`` and the hidden vector of an example it occurs in; NaN for a feature
            absent from every training example.
        absent_norm: ``(inst,)`` the longest ``‖W_i‖`` among the absent features (0 if none).
    """

    cosine: Float[Tensor, "inst feats"]
    absent_norm: Float[Tensor, "inst"]

    def share_aligned(self, threshold: float = 0.9) -> Float[Tensor, "inst"]:
        """The share of the present features whose cosine exceeds ``threshold``."""
        check_number(threshold, "threshold", low=-1, high=1)
        present = ~self.cosine.isnan()
        return ((self.cosine > threshold) & present).sum(-1) / present.sum(-1).clamp_min(1)


def feature_alignment(dd: DoubleDescent) -> FeatureAlignment:
    """Does each feature point along an example it occurs in (as in a memorizing model)?"""
    H = dd.hidden()                                              # (inst, m, t_max)
    W_hat = dd.W / dd.W.norm(dim=1, keepdim=True).clamp_min(1e-12)
    H_hat = H / H.norm(dim=1, keepdim=True).clamp_min(1e-12)
    cos = W_hat.mT @ H_hat                                       # (inst, feats, t_max)
    occurs = (dd.X > 0).mT                                       # (inst, feats, t_max)
    best = cos.masked_fill(~occurs, float("-inf")).max(-1).values
    present = occurs.any(-1)
    norms = dd.W.norm(dim=1)
    return FeatureAlignment(cosine=best.masked_fill(~present, float("nan")),
                            absent_norm=norms.masked_fill(present, 0.0).max(-1).values)
