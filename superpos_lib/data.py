"""Sparse synthetic features, the data of every toy model (TMS §2, "Demonstrating Superposition").

Each feature ``x_i`` is zero with probability ``S`` (the sparsity) and otherwise uniform on
``[0, 1)`` (or ``[-1, 1)`` for signed features). Following ARENA we parametrise by the density
``feature_probability = 1 - S``, which may differ per feature and per instance, and give each
feature an ``importance`` ``I_i`` that weights its reconstruction error.

One uniform number per entry is enough: with ``u ~ U[0, 1)``, the feature is present when
``u < p``, and then ``u / p`` is again uniform on ``[0, 1)``. That halves the random numbers a
naive mask-then-value sampler draws, which matters because drawing them is the largest cost of
a toy-model training step on a CPU.

**Correlated and anticorrelated groups** (TMS §6, chapter 6): :class:`FeatureGroups` makes
consecutive features fire together or apart while each keeps its own density. A group draws one
more uniform ``g`` per sample: a correlated group's feature ``j`` is present when ``g < p_j``
(all together, the most two events with these densities can overlap), an anticorrelated one's
when ``g`` falls in its own arc of the circle, ``(g - c_j) mod 1 < p_j`` with
``c_j = p_0 + ... + p_{j-1}``: the arcs are disjoint while ``Σ p ≤ 1``, so the features never fire
together, and overlap as little as possible beyond it (``P(both) = max(0, p_i + p_j - 1)`` for a
pair, the least any two events with these densities can share). So both work for every ``p``.
A present feature's value is its own independent uniform, as for independent features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from .checks import check_choice, check_number, check_positive_int
from .runtime import get_device

__all__ = [
    "FeatureGroups",
    "importance_decay",
    "log_densities",
    "as_inst_feats",
    "broadcast_instances",
    "instance_settings",
    "best_of_seeds",
    "generate_batch",
    "FeatureSampler",
    "OneHotSampler",
]

ArrayLike = float | int | Sequence | np.ndarray | Tensor  # scalar, nested lists, arrays


@dataclass(frozen=True)
class FeatureGroups:
    """Groups of consecutive features that fire together (correlated) or apart (anticorrelated).

    Features ``0 .. size*correlated - 1`` form ``correlated`` groups of ``size``, the next
    ``size*anticorrelated`` form the anticorrelated groups, and any features after them are
    independent. Every feature keeps its density ``p_i``; see the module docstring for how.

    Args:
        correlated: number of correlated groups.
        anticorrelated: number of anticorrelated groups.
        size: features per group (2: ARENA's pairs).

    Example:
        >>> FeatureGroups(correlated=1, anticorrelated=1).labels(5)
        ['correlated 1', 'correlated 1', 'anticorrelated 1', 'anticorrelated 1', 'independent']
    """

    correlated: int = 0
    anticorrelated: int = 0
    size: int = 2

    def __post_init__(self):
        for name in ("correlated", "anticorrelated"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be a whole number of groups >= 0, got {value!r}")
        check_positive_int(self.size, "size")
        if self.size < 2:
            raise ValueError(f"size must be at least 2 features per group, got {self.size}")

    @property
    def n_grouped(self) -> int:
        """How many features belong to a group (the first ``n_grouped``)."""
        return self.size * (self.correlated + self.anticorrelated)

    def check(self, n_features: int) -> None:
        """``ValueError`` unless the groups fit in ``n_features`` features."""
        if self.n_grouped > n_features:
            raise ValueError(
                f"groups need {self.n_grouped} features ({self.correlated} correlated and "
                f"{self.anticorrelated} anticorrelated groups of {self.size}), "
                f"but n_features={n_features}"
            )

    def group_of(self, n_features: int) -> Tensor:
        """``(feats,)`` long: each feature's group number (correlated groups first), ``-1`` if none."""
        self.check(n_features)
        index = torch.full((n_features,), -1, dtype=torch.long)
        index[: self.n_grouped] = torch.arange(self.n_grouped) // self.size
        return index

    def labels(self, n_features: int) -> list[str]:
        """A label per feature: ``"correlated 1"``, ``"anticorrelated 2"`` or ``"independent"``."""
        out = []
        for g in self.group_of(n_features).tolist():
            if g < 0:
                out.append("independent")
            elif g < self.correlated:
                out.append(f"correlated {g + 1}")
            else:
                out.append(f"anticorrelated {g - self.correlated + 1}")
        return out

    def present_(
        self, g: Float[Tensor, "inst groups batch"], p: Float[Tensor, "inst grouped 1"]
    ) -> Tensor:
        """Which grouped features are present, from one uniform per group and sample.

        ``g``: uniforms on ``[0, 1)``, one row per group; ``p``: the grouped features' densities.
        Returns a bool ``(inst, grouped, batch)``. Overwrites ``g``.
        """
        n_corr = self.size * self.correlated
        u = g.repeat_interleave(self.size, dim=1)          # (inst, grouped, batch)
        present = torch.empty_like(u, dtype=torch.bool)
        torch.lt(u[:, :n_corr], p[:, :n_corr], out=present[:, :n_corr])
        if self.anticorrelated:
            pa = p[:, n_corr:].reshape(p.shape[0], self.anticorrelated, self.size)
            start = (pa.cumsum(2) - pa).reshape(p.shape[0], -1, 1)  # c_j: arcs end to end
            arc = u[:, n_corr:].sub_(start).remainder_(1.0)
            torch.lt(arc, p[:, n_corr:], out=present[:, n_corr:])
        return present


def importance_decay(n_features: int, decay: float) -> Float[Tensor, "feats"]:
    """Importances ``decay ** i`` for ``i = 0..n_features-1`` (TMS uses 0.9 and 0.7)."""
    check_positive_int(n_features, "n_features")
    check_number(decay, "decay", low=0, low_open=True)
    return decay ** torch.arange(n_features, dtype=torch.float32)


def log_densities(n: int = 10, min_density: float = 0.05) -> Float[Tensor, "n"]:
    """``n`` densities from 1 down to ``min_density``, evenly spaced in log space.

    The defaults give TMS's intro sweep ``p = 20 ** (-k / 9)``, ``k = 0..9``.
    """
    check_positive_int(n, "n")
    check_number(min_density, "min_density", low=0, high=1, low_open=True)
    if n == 1:
        return torch.ones(1)
    k = torch.arange(n, dtype=torch.float64) / (n - 1)
    return (min_density**k).float()


def as_inst_feats(
    value: ArrayLike,
    name: str,
    n_features: int,
    *,
    low: float,
    high: float = float("inf"),
    low_inclusive: bool = True,
) -> Float[Tensor, "inst feats"]:
    """Validate a per-feature quantity and shape it ``(inst, feats)`` with ``inst`` >= 1.

    Accepts a scalar, a per-feature vector ``(feats,)``, or an array ``(inst, feats)``; either
    axis may have length 1 and is then broadcast. The instance axis is left at the length given.

    Raises:
        ValueError: naming ``name``, for NaN, values outside ``[low, high]`` (or ``(low, high]``),
            or a shape that does not broadcast to ``(inst, n_features)``.
    """
    try:
        t = torch.as_tensor(value, dtype=torch.float32).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from err
    if t.ndim > 2:
        raise ValueError(
            f"{name} must be a scalar, a (feats,) vector or an (inst, feats) array, "
            f"got shape {tuple(t.shape)}"
        )
    t = t.reshape((1,) * (2 - t.ndim) + tuple(t.shape))
    if t.shape[1] not in (1, n_features):
        raise ValueError(
            f"{name} has {t.shape[1]} values per instance, which does not broadcast to "
            f"n_features={n_features}"
        )
    if t.shape[0] < 1:
        raise ValueError(f"{name} is empty")
    if torch.isnan(t).any():
        raise ValueError(f"{name} contains NaN")
    below = (t < low) if low_inclusive else (t <= low)
    if below.any() or (t > high).any():
        bracket = "[" if low_inclusive else "("
        raise ValueError(
            f"{name} must lie in {bracket}{low:g}, {high:g}], "
            f"got values from {t.min().item():g} to {t.max().item():g}"
        )
    return t.expand(t.shape[0], n_features).contiguous()


def broadcast_instances(
    arrays: dict[str, Float[Tensor, "_ feats"]], n_inst: int | None
) -> tuple[dict[str, Float[Tensor, "inst feats"]], int, int]:
    """Give every array the same instance count; a multiple of it means seeds.

    The instance count the arrays imply is the longest instance axis (the others must have
    length 1 or the same length). ``n_inst=None`` uses it; a multiple ``k`` times it repeats each
    configuration ``k`` times in a row (``k`` seeds of each).

    Returns:
        The arrays shaped ``(n_inst, feats)``, ``n_inst``, and the number of seeds per configuration.
    """
    lengths = {name: a.shape[0] for name, a in arrays.items()}
    implied = max(lengths.values())
    for name, length in lengths.items():
        if length not in (1, implied):
            others = ", ".join(f"{k} has {v}" for k, v in lengths.items())
            raise ValueError(
                f"{name} has {length} instances, which does not broadcast with the others ({others})"
            )
    if n_inst is None:
        n_inst = implied
    check_positive_int(n_inst, "n_inst")
    if n_inst % implied:
        raise ValueError(
            f"n_inst={n_inst} must be a multiple of the {implied} instance(s) that "
            f"{' and '.join(lengths)} imply"
        )
    n_seeds = n_inst // implied
    out = {
        name: a.expand(implied, a.shape[1]).repeat_interleave(n_seeds, dim=0).contiguous()
        for name, a in arrays.items()
    }
    return out, n_inst, n_seeds


def instance_settings(
    feature_probability: ArrayLike, importance: ArrayLike, n_features: int, n_inst: int | None
) -> tuple[Float[Tensor, "inst feats"], Float[Tensor, "inst feats"], int, int]:
    """A training call's density and importance, validated and shaped ``(n_inst, feats)``:
    ``(feature_probability, importance, n_inst, n_seeds)`` (see :func:`broadcast_instances`)."""
    p = as_inst_feats(feature_probability, "feature_probability", n_features, low=0.0, high=1.0, low_inclusive=False)
    imp = as_inst_feats(importance, "importance", n_features, low=0.0)
    arrays, n_inst, n_seeds = broadcast_instances({"feature_probability": p, "importance": imp}, n_inst)
    return arrays["feature_probability"], arrays["importance"], n_inst, n_seeds


def best_of_seeds(loss: Float[Tensor, "inst"], n_seeds: int) -> Tensor:
    """The index of the lowest-loss instance in each group of ``n_seeds`` consecutive ones."""
    groups = loss.view(-1, n_seeds)
    return groups.argmin(1) + torch.arange(groups.shape[0]) * n_seeds


def _sparsify_(
    u: Float[Tensor, "inst feats batch"], inv_p: Float[Tensor, "inst feats 1"], signed: bool
) -> Float[Tensor, "inst feats batch"]:
    """Turn uniforms into sparse features, in place: present iff ``u < p``, value ``u / p``."""
    x = u.mul_(inv_p)
    present = x < 1
    if signed:
        return x.mul_(2).sub_(1).mul_(present)
    return x.mul_(present)


def _sparsify_grouped_(
    u: Float[Tensor, "inst feats batch"],
    g: Float[Tensor, "inst groups batch"],
    p: Float[Tensor, "inst feats 1"],
    inv_p: Float[Tensor, "inst feats 1"],
    groups: FeatureGroups,
    signed: bool,
) -> Float[Tensor, "inst feats batch"]:
    """:func:`_sparsify_` for the independent features; the grouped ones take their presence
    from the group uniforms ``g`` and their value from their own ``u``."""
    k = groups.n_grouped
    _sparsify_(u[:, k:], inv_p[:, k:], signed)
    present = groups.present_(g, p[:, :k])
    head = u[:, :k]
    if signed:
        head.mul_(2).sub_(1)
    head.mul_(present)
    return u


def generate_batch(
    feature_probability: ArrayLike,
    batch_size: int,
    n_features: int | None = None,
    *,
    signed: bool = False,
    groups: FeatureGroups | None = None,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = "cpu",
) -> Float[Tensor, "inst batch feats"]:
    """A fresh batch of sparse features, e.g. to look at or to evaluate a model on.

    Args:
        feature_probability: density ``p = 1 - S``: scalar, ``(feats,)`` or ``(inst, feats)``.
        batch_size: samples per instance.
        n_features: needed only when ``feature_probability`` is a scalar.
        signed: values uniform on ``[-1, 1)`` instead of ``[0, 1)``.
        groups: correlated / anticorrelated groups (:class:`FeatureGroups`); ``None``: all independent.
        generator: a ``torch.Generator`` on ``device`` for reproducible draws.
        device: where to create the batch.
    """
    check_positive_int(batch_size, "batch_size")
    if n_features is None:
        shape = torch.as_tensor(feature_probability).shape
        if len(shape) == 0:
            raise ValueError("n_features is needed when feature_probability is a scalar")
        n_features = int(shape[-1])
    p = as_inst_feats(feature_probability, "feature_probability", n_features, low=0.0, high=1.0, low_inclusive=False)
    _check_groups(groups, n_features)
    dev = get_device(device)
    u = torch.rand(p.shape[0], n_features, batch_size, generator=generator, device=dev)
    p = p.to(dev)[..., None]
    if groups is None or groups.n_grouped == 0:
        return _sparsify_(u, 1 / p, signed).mT
    n_groups = groups.correlated + groups.anticorrelated
    g = torch.rand(p.shape[0], n_groups, batch_size, generator=generator, device=dev)
    return _sparsify_grouped_(u, g, p, 1 / p, groups, signed).mT


def _check_groups(groups: object, n_features: int) -> None:
    if groups is not None:
        if not isinstance(groups, FeatureGroups):
            raise ValueError(f"groups must be a FeatureGroups or None, got {groups!r}")
        groups.check(n_features)


class FeatureSampler:
    """Draws batches of sparse features on the device into one reused buffer.

    This is the training loop's data source: it allocates nothing per step. On a CPU it draws
    with NumPy's SFC64 generator, which fills float32 buffers about 1.5x faster than torch's
    Mersenne Twister; elsewhere (or with ``backend="torch"``) a ``torch.Generator`` on the device.

    ``sample()`` returns a view of the buffer, overwritten by the next call: clone it to keep it.
    Its memory layout is batch-last (``(inst, feats, batch)`` contiguous), which makes the
    batched matrix products of the toy models several times faster than batch-major.
    """

    def __init__(
        self,
        feature_probability: Float[Tensor, "inst feats"],
        batch_size: int,
        *,
        seed: int = 0,
        signed: bool = False,
        groups: FeatureGroups | None = None,
        device: str | torch.device | None = "cpu",
        backend: str | None = None,
    ):
        check_positive_int(batch_size, "batch_size")
        check_choice(backend, "backend", (None, "numpy", "torch"))
        p = torch.as_tensor(feature_probability, dtype=torch.float32)
        if p.ndim != 2:
            raise ValueError(f"feature_probability must be (inst, feats), got shape {tuple(p.shape)}")
        p = as_inst_feats(p, "feature_probability", p.shape[1], low=0.0, high=1.0, low_inclusive=False)
        _check_groups(groups, p.shape[1])
        self.device = get_device(device)
        self.signed = signed
        self.batch_size = batch_size
        self.groups = groups if groups is not None and groups.n_grouped else None
        self._p = p.to(self.device)[..., None]            # (inst, feats, 1)
        self._inv_p = 1 / self._p
        n_rows = p.shape[1] + (0 if self.groups is None else groups.correlated + groups.anticorrelated)
        # one buffer: the features' uniforms, then (with groups) one row per group
        self._all = torch.empty(p.shape[0], n_rows, batch_size, device=self.device)
        self._buf = self._all[:, : p.shape[1]]
        if backend is None:
            backend = "numpy" if self.device.type == "cpu" else "torch"
        if backend == "numpy" and self.device.type != "cpu":
            raise ValueError(f"backend='numpy' needs device='cpu', got {self.device}")
        self.backend = backend
        if backend == "numpy":
            self._np_rng = np.random.Generator(np.random.SFC64(seed))
            self._np_buf = self._all.numpy()
        else:
            self._torch_rng = torch.Generator(device=self.device).manual_seed(seed)

    def sample(self) -> Float[Tensor, "inst batch feats"]:
        """The next batch (a view of the reused buffer)."""
        if self.backend == "numpy":
            self._np_rng.random(out=self._np_buf, dtype=np.float32)
        else:
            self._all.uniform_(generator=self._torch_rng)
        if self.groups is None:
            return _sparsify_(self._buf, self._inv_p, self.signed).mT
        g = self._all[:, self._buf.shape[1]:]
        return _sparsify_grouped_(self._buf, g, self._p, self._inv_p, self.groups, self.signed).mT


class OneHotSampler:
    """Exactly one feature active per sample: ``x = μ e_a`` with ``a`` uniform over the features
    and ``μ ~ U[0, 1)`` (the high-sparsity limit that Chen et al. 2023 study exactly).

    Same interface and batch-last layout as :class:`FeatureSampler`; ``sample()`` returns a view
    of a reused buffer. Draws with a ``torch.Generator`` on the device.
    """

    def __init__(
        self,
        n_inst: int,
        n_features: int,
        batch_size: int,
        *,
        seed: int = 0,
        device: str | torch.device | None = "cpu",
    ):
        for value, name in ((n_inst, "n_inst"), (n_features, "n_features"), (batch_size, "batch_size")):
            check_positive_int(value, name)
        self.device = get_device(device)
        self.n_features = n_features
        self._gen = torch.Generator(device=self.device).manual_seed(seed)
        self._buf = torch.zeros(n_inst, n_features, batch_size, device=self.device)
        self._idx = torch.empty(n_inst, 1, batch_size, dtype=torch.long, device=self.device)
        self._val = torch.empty(n_inst, 1, batch_size, device=self.device)

    def sample(self) -> Float[Tensor, "inst batch feats"]:
        """The next batch (a view of the reused buffer)."""
        self._idx.random_(0, self.n_features, generator=self._gen)
        self._val.uniform_(generator=self._gen)
        self._buf.zero_().scatter_(1, self._idx, self._val)
        return self._buf.mT
