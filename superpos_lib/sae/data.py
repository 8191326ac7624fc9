"""Data for sparse autoencoders with a known answer: ground truth, and a toy model's activations.

* :class:`GroundTruthData` (Sharkey et al. 2022): random unit feature directions, more of
  them than dimensions, each switched on at random and summed; equally frequent, or with
  frequencies decaying as ``decay**i`` (Sharkey et al.) or as a Zipf law, and optionally with a
  :class:`Hierarchy` (children that fire only with their parent: Chanin et al. 2024's setting
  for feature absorption) and :class:`Correlation` (groups of features that tend to fire
  together: the setting for feature hedging);
* :func:`hidden_activations`: a trained TMS model's hidden activations ``h = W x`` and its
  feature directions in that space (chapter 9's first SAE and its explorer).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from ..checks import check_number, check_positive_int
from ..data import generate_batch
from ..runtime import get_device

__all__ = ["Correlation", "GroundTruthData", "Hierarchy", "hidden_activations"]


@dataclass(frozen=True)
class Hierarchy:
    """Parent features and their children: a child fires only when its parent fires.

    Features ``0 .. n_parents − 1`` are the parents; parent ``p``'s children are features
    ``n_parents + p·children + c`` for ``c < children``; the rest are independent. When a parent
    fires, with probability ``child_probability`` exactly one of its children (each equally
    likely) fires with it; otherwise the parent fires alone. (A word's "starts with S" and its
    "is the word *short*" are such a pair.)

    Args:
        n_parents: number of parent features.
        children: children per parent.
        child_probability: the chance that a firing parent has a child firing with it.
    """

    n_parents: int
    children: int
    child_probability: float = 0.5

    def __post_init__(self):
        check_positive_int(self.n_parents, "n_parents")
        check_positive_int(self.children, "children")
        check_number(self.child_probability, "child_probability", low=0, high=1)

    @property
    def n_structured(self) -> int:
        """Parents and children together (the first features)."""
        return self.n_parents * (1 + self.children)

    def parent_of(self, child: int) -> int:
        """The parent of feature ``child`` (a child's index)."""
        if not self.n_parents <= child < self.n_structured:
            raise ValueError(f"child must be in [{self.n_parents}, {self.n_structured}), got {child!r}")
        return (child - self.n_parents) // self.children

    def child_features(self, parent: int) -> range:
        """The features that are ``parent``'s children."""
        if not 0 <= parent < self.n_parents:
            raise ValueError(f"parent must be in [0, {self.n_parents}), got {parent!r}")
        start = self.n_parents + parent * self.children
        return range(start, start + self.children)


@dataclass(frozen=True)
class Correlation:
    """Groups of features that tend to fire together, each keeping its own frequency.

    The groups are made of the features after the hierarchy's (or from feature 0): with
    ``first`` the first of them, group ``g`` holds features ``first + g``,
    ``first + g + n_groups``, …, ``size`` of them. With decaying frequencies each group is then
    one frequent feature and rarer partners (a narrow SAE has room for the first only).

    Firing follows a Gaussian copula: every feature ``i`` draws ``z_i = √ρ·z_g + √(1−ρ)·ε_i``
    (``z_g`` shared by its group, ``ε_i`` its own, both standard normal) and fires when
    ``z_i < Φ⁻¹(p_i)``. Each feature's probability ``p_i`` is unchanged; ``ρ = correlation`` is
    the correlation of the Gaussians, and the firings' own correlation is lower (rare events
    are correlated less than the Gaussians behind them). ``ρ = 0`` is independence.

    Args:
        n_groups: number of groups.
        size: features per group.
        correlation: ``ρ`` in ``[0, 1)``.
    """

    n_groups: int
    size: int
    correlation: float

    def __post_init__(self):
        check_positive_int(self.n_groups, "n_groups")
        check_positive_int(self.size, "size")
        check_number(self.correlation, "correlation", low=0, high=1, high_open=True)

    @property
    def n_correlated(self) -> int:
        """Features in groups."""
        return self.n_groups * self.size

    def members(self, group: int, first: int = 0) -> range:
        """The features of ``group`` when the groups start at feature ``first``."""
        if not 0 <= group < self.n_groups:
            raise ValueError(f"group must be in [0, {self.n_groups}), got {group!r}")
        return range(first + group, first + self.n_correlated, self.n_groups)


class GroundTruthData:
    """Sharkey et al.'s ground-truth data for sparse autoencoders: known features, mixed.

    ``n_features`` random unit directions in ``d_in`` dimensions (more features than
    dimensions); each sample switches feature ``i`` on with probability ``p_i`` (on average
    ``n_active`` per sample), gives it a value uniform on ``[0, 1)``, and sums the active
    directions: ``x = Σ_i c_i f_i``. An SAE trained on ``x`` is scored by how well its decoder
    rows recover the rows of :attr:`features`.

    Args:
        n_features: number of true features.
        d_in: dimension of the data.
        n_active: mean number of active features per sample (children included).
        decay: ``None`` for equally frequent features; otherwise feature ``i``'s frequency is
            proportional to ``decay ** i`` (rare features are the hard ones).
        zipf: instead of ``decay``, frequencies proportional to ``(i + 1) ** −zipf`` (a Zipf
            law, as word frequencies are).
        hierarchy: parents and children (:class:`Hierarchy`), the first features. Parents and
            independent features take their frequencies from the profile above; a child's
            frequency is its parent's times ``child_probability / children``.
        correlation: groups of features that tend to fire together (:class:`Correlation`),
            made of the features after the hierarchy's; frequencies unchanged.
        values: ``(low, high)``: an active feature's value is uniform on ``[low, high)``
            (Sharkey et al.: ``(0, 1)``; values bounded away from 0 make a latent's misses
            a matter of structure, not of values too small to see).
        seed: seeds the directions; sampling uses its own generator (``sample(..., generator)``).
        device: where directions live and samples are drawn.

    Attributes:
        features: ``(feats, d_in)`` unit rows, the true directions.
        probability: ``(feats,)`` each feature's chance of being active.
        hierarchy: the :class:`Hierarchy`, or ``None``.
        correlation: the :class:`Correlation`, or ``None``.
    """

    def __init__(
        self,
        n_features: int = 512,
        d_in: int = 256,
        *,
        n_active: float = 5.0,
        decay: float | None = None,
        zipf: float | None = None,
        hierarchy: Hierarchy | None = None,
        correlation: Correlation | None = None,
        values: tuple[float, float] = (0.0, 1.0),
        seed: int = 0,
        device: str | torch.device | None = "cpu",
    ):
        check_positive_int(n_features, "n_features")
        check_positive_int(d_in, "d_in")
        check_number(n_active, "n_active", low=0, high=n_features, low_open=True)
        if decay is not None:
            check_number(decay, "decay", low=0, high=1, low_open=True)
        if zipf is not None:
            check_number(zipf, "zipf", low=0)
            if decay is not None:
                raise ValueError("decay and zipf are two frequency profiles: give at most one")
        if hierarchy is not None:
            if not isinstance(hierarchy, Hierarchy):
                raise ValueError(f"hierarchy must be a Hierarchy, got {type(hierarchy).__name__}")
            if hierarchy.n_structured > n_features:
                raise ValueError(f"hierarchy has {hierarchy.n_structured} parents and children, more than "
                                 f"n_features={n_features}")
        first = 0 if hierarchy is None else hierarchy.n_structured
        if correlation is not None:
            if not isinstance(correlation, Correlation):
                raise ValueError(f"correlation must be a Correlation, got {type(correlation).__name__}")
            if first + correlation.n_correlated > n_features:
                raise ValueError(f"correlation has {correlation.n_correlated} features in groups after the "
                                 f"hierarchy's {first}, more than n_features={n_features}")
        if (not isinstance(values, tuple) or len(values) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
                or not 0 <= values[0] < values[1]):
            raise ValueError(f"values must be (low, high) with 0 <= low < high, got {values!r}")
        self.hierarchy = hierarchy
        self.correlation = correlation
        self.values = (float(values[0]), float(values[1]))
        self.device = get_device(device)
        gen = torch.Generator().manual_seed(seed)
        f = torch.randn(n_features, d_in, generator=gen)
        self.features = (f / f.norm(dim=1, keepdim=True)).to(self.device)
        i = torch.arange(n_features, dtype=torch.float32)
        rel = torch.ones(n_features) if decay is None and zipf is None else (
            decay**i if decay is not None else (i + 1) ** -zipf)
        if hierarchy is not None:  # a child's frequency is its parent's share
            h = hierarchy
            parents = rel[: h.n_parents]
            rel = rel.clone()
            rel[h.n_parents : h.n_structured] = (parents * h.child_probability / h.children).repeat_interleave(h.children)
        self.probability = (rel * (n_active / rel.sum())).to(self.device)
        if (self.probability > 1).any():
            raise ValueError(f"n_active={n_active} is too large for this frequency profile: the most frequent "
                             f"feature would fire with probability {float(self.probability.max()):.2f} > 1")
        self._gen = torch.Generator(device=self.device).manual_seed(seed + 1)

    @property
    def n_features(self) -> int:
        return self.features.shape[0]

    @property
    def d_in(self) -> int:
        return self.features.shape[1]

    def coefficients(self, batch_size: int, generator: torch.Generator | None = None) -> Float[Tensor, "batch feats"]:
        """Feature values ``c``: active with probability ``p_i`` (and as the hierarchy says), then
        uniform on ``[low, high)`` (``values``)."""
        check_positive_int(batch_size, "batch_size")
        gen = generator or self._gen
        u = torch.rand(batch_size, self.n_features, generator=gen, device=self.device)
        h, corr, (low, high) = self.hierarchy, self.correlation, self.values
        if h is None and corr is None:
            x = u.mul_(1 / self.probability)  # present iff u < p, then u / p is uniform on [0, 1)
            present = x < 1
            if (low, high) != (0.0, 1.0):
                x = x.mul_(high - low).add_(low)
            return x.mul_(present)
        active = u < self.probability
        if corr is not None:
            self._correlate(active, gen)
        if h is None:
            v = torch.rand(batch_size, self.n_features, generator=gen, device=self.device)
            return v.mul_(high - low).add_(low).mul_(active)
        P, S = h.n_parents, h.n_structured
        parent = active[:, :P]
        with_child = parent & (torch.rand(batch_size, P, generator=gen, device=self.device) < h.child_probability)
        which = torch.randint(h.children, (batch_size, P), generator=gen, device=self.device)
        children = torch.zeros(batch_size, P, h.children, dtype=torch.bool, device=self.device)
        children.scatter_(-1, which[..., None], with_child[..., None])
        active[:, P:S] = children.view(batch_size, -1)
        v = torch.rand(batch_size, self.n_features, generator=gen, device=self.device)
        return v.mul_(high - low).add_(low).mul_(active)

    def _correlate(self, active: Tensor, gen: torch.Generator) -> None:
        """Redraw the grouped features' firing in place with the Gaussian copula."""
        corr, batch = self.correlation, active.shape[0]
        first = 0 if self.hierarchy is None else self.hierarchy.n_structured
        idx = slice(first, first + corr.n_correlated)
        shared = torch.randn(batch, 1, corr.n_groups, generator=gen, device=self.device)
        own = torch.randn(batch, corr.size, corr.n_groups, generator=gen, device=self.device)
        z = (shared * corr.correlation**0.5 + own * (1 - corr.correlation) ** 0.5).view(batch, -1)
        active[:, idx] = z < torch.special.ndtri(self.probability[idx])

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Float[Tensor, "batch d_in"]:
        """A batch of data ``x = c @ features``."""
        return self.coefficients(batch_size, generator) @ self.features

    def with_activity(self, n_active: float, *, seed: int = 0) -> "GroundTruthData":
        """The same features, structure and values, every frequency scaled so that ``n_active``
        features are active per input on average (e.g. a denser test set); sampled with its own
        generator (``seed``)."""
        check_number(n_active, "n_active", low=0, high=self.n_features, low_open=True)
        probability = self.probability * (n_active / float(self.probability.sum()))
        if (probability > 1).any():
            raise ValueError(f"n_active={n_active} is too large: the most frequent feature would fire with "
                             f"probability {float(probability.max()):.2f} > 1")
        other = copy.copy(self)
        other.probability = probability
        other._gen = torch.Generator(device=self.device).manual_seed(seed)
        return other

    def batches(self, batch_size: int) -> Iterator[Float[Tensor, "batch d_in"]]:
        """An endless stream of fresh batches (what an SAE trains on)."""
        while True:
            yield self.sample(batch_size)


@torch.no_grad()
def hidden_activations(
    W: Float[Tensor, "d_hidden feats"],
    feature_probability: float,
    n_samples: int,
    *,
    seed: int = 0,
) -> tuple[Float[Tensor, "n d_hidden"], Float[Tensor, "feats d_hidden"]]:
    """A TMS model's hidden activations ``h = W x`` on fresh sparse features, and the true
    feature directions in that hidden space (the columns of ``W``, as rows): an SAE's data and
    its answer key. Inputs on which no feature is active give ``h = 0``; they are kept (an SAE
    must learn to stay silent on them)."""
    if W.ndim != 2:
        raise ValueError(f"W must be (d_hidden, feats), got {tuple(W.shape)}")
    check_positive_int(n_samples, "n_samples")
    gen = torch.Generator().manual_seed(seed)
    x = generate_batch(feature_probability, n_samples, W.shape[1], generator=gen)[0]
    W = W.detach().float().cpu()
    return x @ W.T, W.T.clone()
