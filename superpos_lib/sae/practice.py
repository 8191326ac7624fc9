"""Chapter 10, "SAEs in practice": how to tell a good dictionary when the answer is known.

One structured ground truth (:func:`structured_truth`: parents whose children fire only with
them, Zipf frequencies) and one scorecard (:func:`feature_quality`) serve every experiment:

* :func:`compare_kinds`: every variant on the same data, a small benchmark in the spirit of
  SynthSAEBench (Chanin et al. 2026): L0, FVU, and the feature-level scores (MCC, F1,
  absorption, uniqueness) that reconstruction does not see;
* :func:`l0_sweep`: "Sparse but wrong" (Chanin & Garriga-Alonso 2025): FVU keeps falling as k
  grows, feature quality does not;
* :func:`correlated_truth` and :func:`hedging_sweep`: feature hedging (Chanin et al. 2025): a
  narrow SAE's latent merges in part of the features its feature fires with;
* :func:`seed_stability`: the share of latents two runs agree on (Paulo & Belrose 2025);
* :func:`probe_shift`: linear probes for the parent features, read from the activations or
  from an SAE's latents, scored as the inputs get denser than in training (Kantamneni et al.
  2025: probes on SAE latents did not consistently beat probes on the activations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from ..checks import check_number, check_positive_int
from ..features.codes import fit_probe
from ..runtime import get_device
from ..training import TrainConfig
from .base import SAE, SAEConfig, SparseAutoencoder, kinds
from .data import Correlation, GroundTruthData, Hierarchy
from .metrics import absorption, cosine_matrix, evaluate, firing_scores, hedging, shared_latents, uniqueness
from .training import SAE_TRAIN_CONFIG, train_saes

__all__ = [
    "PRACTICE_TRAINING",
    "TRUE_L0",
    "structured_truth",
    "FeatureQuality",
    "feature_quality",
    "Comparison",
    "compare_kinds",
    "parent_share",
    "sparsity_sweep",
    "l0_sweep",
    "HEDGING_TRAINING",
    "correlated_truth",
    "hedging_sweep",
    "seed_stability",
    "probe_shift",
]

PRACTICE_TRAINING = replace(SAE_TRAIN_CONFIG, steps=1000, batch_size=256)
"""The chapter's schedule: the book's SAE recipe, 1,000 steps of 256 fresh inputs."""

TRUE_L0 = 3.0
"""The mean number of active features per input of :func:`structured_truth`."""


def structured_truth(*, child_probability: float = 0.8, seed: int = 1,
                     device: str | torch.device | None = "cpu") -> GroundTruthData:
    """The chapter's ground truth: 64 features in 32 dimensions, three active per input on
    average. Features 0-7 are parents, each with three children (8-31) of which one fires with
    the parent ``child_probability`` of the time, never without it; 32-63 are independent.
    Frequencies follow a Zipf law (``(i + 1)^−½``, so the parents are the most frequent
    features), and an active feature's value is uniform on [0.5, 1)."""
    check_number(child_probability, "child_probability", low=0, high=1)
    return GroundTruthData(64, 32, n_active=TRUE_L0, hierarchy=Hierarchy(8, 3, child_probability), zipf=0.5,
                           values=(0.5, 1.0), seed=seed, device=device)


@dataclass(frozen=True)
class FeatureQuality:
    """A scorecard per SAE instance (every field ``(inst,)``), on inputs with known features.

    Attributes:
        l0: active latents per input.
        fvu: fraction of variance unexplained.
        mcc: matched mean cosine of the true features with the decoder rows, one latent each
            (:func:`~superpos_lib.sae.matched_mmcs`).
        f1: the mean over the latents that fire of each one's F1 score as a detector of the
            feature its decoder row points closest to (:func:`~superpos_lib.sae.firing_scores`).
        uniqueness: distinct features those latents point to, over their number.
        absorption: mean over parents of the share of parent-and-child inputs on which the
            parent's latent (the one closest to the parent's direction) is silent; NaN for data
            without a hierarchy.
        recall_alone: mean over parents of the share of parent-alone inputs on which it fires.
    """

    l0: Tensor
    fvu: Tensor
    mcc: Tensor
    f1: Tensor
    uniqueness: Tensor
    absorption: Tensor
    recall_alone: Tensor

    def __getitem__(self, i: int | slice | Tensor) -> "FeatureQuality":
        """The scores of some instances."""
        return FeatureQuality(*(getattr(self, k)[i] for k in self.__dataclass_fields__))

    def row(self, i: int) -> dict[str, float]:
        """Instance ``i``'s scores as plain numbers."""
        return {k: float(getattr(self, k)[i]) for k in self.__dataclass_fields__}


@torch.no_grad()
def feature_quality(sae: SAE, data: GroundTruthData, n_inputs: int = 16_384, *, seed: int = 12_345) -> FeatureQuality:
    """Score every instance of ``sae`` on ``n_inputs`` fresh inputs of ``data`` (drawn with their
    own generator, ``seed``, so every SAE of a comparison sees the same ones)."""
    check_positive_int(n_inputs, "n_inputs")
    gen = torch.Generator(device=data.device).manual_seed(seed)
    c = data.coefficients(n_inputs, generator=gen)
    x = c @ data.features
    m = evaluate(sae, x, true_directions=data.features)
    f_all = sae.encode(x).cpu()
    c = c.cpu()
    h = data.hierarchy
    f1, uniq, absorb, alone = [], [], [], []
    for i in range(sae.n_inst):
        f, W = f_all[i], sae.W_dec[i].detach().cpu()
        alive = (f != 0).any(0)
        nearest = cosine_matrix(data.features, W).argmax(0)
        scores = firing_scores(f, c).of(nearest)
        f1.append(float(scores.f1[alive].mean()) if alive.any() else 0.0)
        uniq.append(uniqueness(data.features, W, alive) if alive.any() else 0.0)
        if h is None:
            absorb.append(float("nan"))
            alone.append(float("nan"))
        else:
            parent_latent = cosine_matrix(data.features[: h.n_parents], W).argmax(1)
            ab = absorption(f, c, h, parent_latent)
            absorb.append(float(ab.rate.nanmean()))
            alone.append(float(ab.recall_alone.nanmean()))
    t = lambda v: torch.tensor(v, dtype=torch.float32)  # noqa: E731
    return FeatureQuality(m.l0.cpu(), m.fvu.cpu(), m.matched_mmcs.cpu(), t(f1), t(uniq), t(absorb), t(alone))


def _train(data: GroundTruthData, kind: str, sparsity, n_inst: int, d_sae: int, train_config: TrainConfig,
           seed: int, device) -> SAE:
    config = SAEConfig(data.d_in, d_sae, kind, n_inst=n_inst)
    return train_saes(data.batches(train_config.batch_size), config, sparsity, train_config=train_config, seed=seed,
                      device=device).sae


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare_kinds` trained and measured, by kind: ``saes`` (the batched
    :class:`~superpos_lib.sae.SAE` of each, one instance per seed) and ``quality`` (its
    :class:`FeatureQuality`)."""

    saes: dict[str, SAE]
    quality: dict[str, FeatureQuality]

    def mean(self, score: str) -> dict[str, float]:
        """Each kind's mean over seeds of one :class:`FeatureQuality` field."""
        if score not in FeatureQuality.__dataclass_fields__:
            raise ValueError(f"score must be one of {list(FeatureQuality.__dataclass_fields__)}, got {score!r}")
        return {k: float(getattr(q, score).nanmean()) for k, q in self.quality.items()}


def compare_kinds(
    data: GroundTruthData,
    sparsity: Mapping[str, float],
    *,
    d_sae: int = 64,
    n_seeds: int = 3,
    train_config: TrainConfig = PRACTICE_TRAINING,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> Comparison:
    """Train ``n_seeds`` SAEs of every kind in ``sparsity`` (kind → λ or k) on ``data`` and score
    them all on the same inputs."""
    if not isinstance(sparsity, Mapping) or not sparsity:
        raise ValueError(f"sparsity must map SAE kinds to their λ or k, got {sparsity!r}")
    unknown = [k for k in sparsity if k not in kinds()]
    if unknown:
        raise ValueError(f"sparsity names unknown kinds {unknown}; the kinds are {kinds()}")
    check_positive_int(n_seeds, "n_seeds")
    dev = get_device(device)
    saes = {kind: _train(data, kind, s, n_seeds, d_sae, train_config, seed, dev).cpu() for kind, s in sparsity.items()}
    return Comparison(saes, {kind: feature_quality(sae, data) for kind, sae in saes.items()})


def parent_share(W_dec: Tensor, data: GroundTruthData) -> Tensor:
    """For every child feature of ``data``'s hierarchy, the cosine between its parent's direction
    and the decoder row nearest to the child (``W_dec``: ``(d_sae, d_in)``), ``(n_children,)``.
    Near 0: the child's latent is the child alone; well above 0: it carries its parent too (the
    signature of absorption)."""
    h = data.hierarchy
    if h is None:
        raise ValueError("data has no hierarchy: it has no children")
    if not isinstance(W_dec, Tensor) or W_dec.ndim != 2 or W_dec.shape[1] != data.d_in:
        raise ValueError(f"W_dec must be (d_sae, {data.d_in}), got {getattr(W_dec, 'shape', type(W_dec))}")
    F, W = data.features.cpu(), W_dec.detach().cpu()
    children = torch.arange(h.n_parents, h.n_structured)
    nearest = cosine_matrix(F[children], W).argmax(1)
    parents = torch.tensor([h.parent_of(int(c)) for c in children])
    return (cosine_matrix(F[parents], W[nearest])).diagonal()


def sparsity_sweep(
    data: GroundTruthData,
    values: Sequence[float],
    *,
    kind: str,
    d_sae: int = 64,
    train_config: TrainConfig = PRACTICE_TRAINING,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> FeatureQuality:
    """One SAE of ``kind`` per sparsity setting in ``values`` (λ or k), trained as one batched
    model and scored: :class:`FeatureQuality` with one entry per value (a frontier over L0)."""
    if kind not in kinds():
        raise ValueError(f"kind must be one of {kinds()}, got {kind!r}")
    if not isinstance(values, Sequence) or len(values) == 0:
        raise ValueError(f"values must be a non-empty sequence of sparsity settings, got {values!r}")
    sae = _train(data, kind, torch.tensor([float(v) for v in values]), len(values), d_sae, train_config, seed,
                 get_device(device))
    return feature_quality(sae, data)


def l0_sweep(
    data: GroundTruthData,
    ks: Sequence[float],
    *,
    kind: str = "batchtopk",
    d_sae: int = 64,
    train_config: TrainConfig = PRACTICE_TRAINING,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> FeatureQuality:
    """:func:`sparsity_sweep` over k for a k-based ``kind``: one SAE per k in ``ks``."""
    if kind not in ("topk", "batchtopk", "matryoshka"):
        raise ValueError(f"kind must be a k-based kind (topk, batchtopk, matryoshka), got {kind!r}")
    if not isinstance(ks, Sequence) or len(ks) == 0:
        raise ValueError(f"ks must be a non-empty sequence of k values, got {ks!r}")
    return sparsity_sweep(data, ks, kind=kind, d_sae=d_sae, train_config=train_config, seed=seed, device=device)


HEDGING_TRAINING = replace(PRACTICE_TRAINING, steps=500)
"""The hedging experiment's schedule: 500 steps of 256 (its SAEs are small and settle fast)."""


def correlated_truth(correlation: float, *, seed: int = 0,
                     device: str | torch.device | None = "cpu") -> GroundTruthData:
    """The hedging experiment's ground truth: 32 features in 32 dimensions, two active per input
    on average, frequencies ``0.9^i`` and values in [0.5, 1), in 16 correlated pairs
    (:class:`~superpos_lib.sae.Correlation`, copula correlation ``correlation``): feature ``g``
    and feature ``g + 16``, a frequent feature and a partner about five times rarer."""
    check_number(correlation, "correlation", low=0, high=1, high_open=True)
    return GroundTruthData(32, 32, n_active=2, decay=0.9, correlation=Correlation(16, 2, correlation),
                           values=(0.5, 1.0), seed=seed, device=device)


def hedging_sweep(
    correlations: Sequence[float],
    saes: Mapping[str, tuple[str, float, int]],
    *,
    n_seeds: int = 3,
    train_config: TrainConfig = HEDGING_TRAINING,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> dict[str, Tensor]:
    """Feature hedging against correlation and width: for every correlation of
    :func:`correlated_truth` and every SAE in ``saes`` (name → ``(kind, λ or k, d_sae)``),
    ``n_seeds`` SAEs trained as one batched model, each scored by its mean
    :func:`~superpos_lib.sae.hedging` over the 16 pairs. Returns name →
    ``(len(correlations), n_seeds)``."""
    if not isinstance(correlations, Sequence) or len(correlations) == 0:
        raise ValueError(f"correlations must be a non-empty sequence, got {correlations!r}")
    if not isinstance(saes, Mapping) or not saes:
        raise ValueError(f"saes must map names to (kind, sparsity, d_sae), got {saes!r}")
    for name, spec in saes.items():
        if not (isinstance(spec, tuple) and len(spec) == 3 and spec[0] in kinds()
                and isinstance(spec[2], int) and spec[2] > 0):
            raise ValueError(f"saes[{name!r}] must be (kind, sparsity, d_sae) with kind one of {kinds()}, got {spec!r}")
    check_positive_int(n_seeds, "n_seeds")
    dev = get_device(device)
    out: dict[str, list[Tensor]] = {name: [] for name in saes}
    for rho in correlations:
        data = correlated_truth(rho, seed=seed, device=dev)
        groups = [list(data.correlation.members(g)) for g in range(data.correlation.n_groups)]
        for name, (kind, sparsity, d_sae) in saes.items():
            sae = _train(data, kind, sparsity, n_seeds, d_sae, train_config, seed, dev)
            W = sae.W_dec.detach().cpu()
            out[name].append(torch.stack([hedging(data.features.cpu(), W[i], groups).mean() for i in range(n_seeds)]))
    return {name: torch.stack(v) for name, v in out.items()}


def seed_stability(W_dec: Tensor, threshold: float = 0.7) -> Tensor:
    """For decoders of several runs (``(runs, d_sae, d_in)``), the share of latents matched
    between each pair of runs (:func:`~superpos_lib.sae.shared_latents`), ``(pairs,)``."""
    if not isinstance(W_dec, Tensor) or W_dec.ndim != 3 or W_dec.shape[0] < 2:
        raise ValueError(f"W_dec must be (runs >= 2, d_sae, d_in), got {getattr(W_dec, 'shape', type(W_dec))}")
    W = W_dec.detach().cpu()
    n = W.shape[0]
    return torch.tensor([shared_latents(W[a], W[b], threshold) for a in range(n) for b in range(a + 1, n)])


@torch.no_grad()
def probe_shift(
    data: GroundTruthData,
    saes: Mapping[str, SparseAutoencoder],
    n_active: Sequence[float],
    *,
    n_inputs: int = 8000,
    seed: int = 0,
) -> dict[str, Tensor]:
    """Linear probes for whether each parent feature of ``data``'s hierarchy is active, fitted
    on ``n_inputs`` inputs of ``data`` (least squares on 0/1 targets,
    :func:`~superpos_lib.features.fit_probe`, thresholded at ½), one set reading the activations
    and one set per SAE of ``saes`` reading its latents. Each is scored on fresh inputs with
    ``n_active`` features active on average (:meth:`GroundTruthData.with_activity`): reader
    (``"activations"`` or the SAE's name) → ``(len(n_active),)`` mean F1 over the parents."""
    h = data.hierarchy
    if h is None:
        raise ValueError("data has no hierarchy: there are no parent features to probe for")
    if not isinstance(saes, Mapping) or not all(isinstance(v, SparseAutoencoder) for v in saes.values()):
        raise ValueError("saes must map names to trained SparseAutoencoder objects (e.g. sae.instance(0))")
    if not isinstance(n_active, Sequence) or not n_active:
        raise ValueError(f"n_active must be a non-empty sequence of mean active counts, got {n_active!r}")
    check_positive_int(n_inputs, "n_inputs")
    readers = {"activations": lambda x: x, **{name: sae.encode for name, sae in saes.items()}}
    c = data.coefficients(n_inputs, generator=torch.Generator(device=data.device).manual_seed(seed))
    x, y = (c @ data.features).cpu(), (c[:, : h.n_parents] > 0).cpu()
    probes = {name: [fit_probe(read(x), y[:, j].float()) for j in range(h.n_parents)] for name, read in readers.items()}
    out = {name: torch.zeros(len(n_active)) for name in readers}
    for i, n in enumerate(n_active):
        ct = data.with_activity(float(n), seed=seed + 1 + i).coefficients(n_inputs)
        xt, yt = (ct @ data.features).cpu(), (ct[:, : h.n_parents] > 0).cpu()
        for name, read in readers.items():
            z = read(xt)
            pred = torch.stack([p(z) for p in probes[name]], 1) > 0.5
            tp = (pred & yt).sum(0).float()
            out[name][i] = (2 * tp / (pred.sum(0) + yt.sum(0)).clamp(min=1)).mean()
    return out
