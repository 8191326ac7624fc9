"""How good an SAE is, defined once: sparsity, reconstruction, dead latents, feature recovery.

* :func:`l0` (active latents per input), :func:`mse`, and :func:`fvu`, the fraction of variance
  unexplained ``Σ‖x − x̂‖² / Σ‖x − x̄‖²`` over the whole evaluation set (not a mean of
  per-input ratios);
* :func:`rescale_factor`, shrinkage measured: the one factor on all latent activations that
  would reconstruct best (Wright & Sharkey 2024), 1 when the activations are not shrunk;
* :func:`latent_density` and the :func:`dead_fraction` / :func:`dense_fraction` of latents,
  :func:`density_histogram` on a log scale;
* against known features (Sharkey et al. 2022): :func:`mmcs`, the mean over features of the
  best cosine with any decoder row, the one-to-one :func:`matched_mmcs` (Hungarian matching by
  SciPy; the literature's mean correlation coefficient, MCC, computed on directions),
  :func:`latents_per_feature` (feature splitting) and :func:`recovery` per instance;
* against the true features' *firing* (SynthSAEBench's scores): :func:`firing_scores`, every
  latent's precision, recall and F1 as a detector of every feature (:class:`FiringScores`),
  :func:`uniqueness` (how many latents share a feature), :func:`absorption` (Chanin et al.
  2024: a parent's latent silent when a child fires);
* against correlated features: :func:`hedging` (Chanin et al. 2025: a latent that has merged
  in part of the features its feature fires with);
* across training runs: :func:`shared_latents`, the share of one SAE's latents matched in
  another's (seed stability, Paulo & Belrose 2025);
* :func:`evaluate` streams a whole evaluation set in chunks (float64 accumulators), so
  millions of rows are fine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from ..checks import check_matrix, check_number, check_positive_int
from .base import SAE, SparseAutoencoder

__all__ = [
    "l0",
    "mse",
    "fvu",
    "rescale_factor",
    "latent_density",
    "dead_fraction",
    "dense_fraction",
    "density_histogram",
    "cosine_matrix",
    "mmcs",
    "matched_mmcs",
    "latents_per_feature",
    "n_recovered",
    "Recovery",
    "recovery",
    "SAEMetrics",
    "evaluate",
    "FiringScores",
    "firing_scores",
    "uniqueness",
    "Absorption",
    "absorption",
    "hedging",
    "shared_latents",
]


def l0(f: Float[Tensor, "*inst batch d_sae"]) -> Float[Tensor, "*inst"]:
    """Mean number of non-zero latents per input."""
    return (f != 0).float().sum(-1).mean(-1)


def mse(x: Float[Tensor, "*xs batch d_in"], x_hat: Float[Tensor, "*inst batch d_in"]) -> Float[Tensor, "*inst"]:
    """Mean over inputs of the squared reconstruction error ``‖x − x̂‖²``."""
    return (x - x_hat).square().sum(-1).mean(-1)


def fvu(x: Float[Tensor, "*xs batch d_in"], x_hat: Float[Tensor, "*inst batch d_in"]) -> Float[Tensor, "*inst"]:
    """Fraction of variance unexplained, ``Σ‖x − x̂‖² / Σ‖x − x̄‖²`` over the whole set
    (``x̄`` the set's mean input): 0 is perfect, 1 is no better than predicting the mean."""
    x, x_hat = torch.broadcast_tensors(x, x_hat)
    num = (x - x_hat).double().square().sum((-1, -2))
    den = (x - x.mean(-2, keepdim=True)).double().square().sum((-1, -2))
    return (num / den).float()


def rescale_factor(x: Float[Tensor, "*xs batch d_in"], x_hat: Float[Tensor, "*inst batch d_in"],
                   bias: Float[Tensor, "*inst d_in"] | None = None) -> Float[Tensor, "*inst"]:
    """Shrinkage, measured: the ``γ`` minimising ``Σ‖x − b − γ (x̂ − b)‖²`` over the whole set,
    ``Σ⟨x − b, x̂ − b⟩ / Σ‖x̂ − b‖²``, with ``b`` the decoder bias (in the inputs' units; ``None``:
    0). Since ``x̂ − b = W_decᵀ f``, it is the one factor by which every latent activation would
    have to be multiplied to reconstruct best (the rescaling of Wright & Sharkey 2024). 1: no
    shrinkage; above 1: the activations are too small (an L1 penalty's shrinkage)."""
    x, x_hat = torch.broadcast_tensors(x, x_hat)
    if bias is not None:
        x, x_hat = x - bias[..., None, :], x_hat - bias[..., None, :]
    num = (x.double() * x_hat.double()).sum((-1, -2))
    den = x_hat.double().square().sum((-1, -2))
    if (den == 0).any():
        raise ValueError("x_hat equals the bias everywhere: no latent is active, the rescale factor is undefined")
    return (num / den).float()


def latent_density(f: Float[Tensor, "*inst batch d_sae"]) -> Float[Tensor, "*inst d_sae"]:
    """Fraction of inputs on which each latent fires."""
    return (f != 0).float().mean(-2)


def dead_fraction(density: Float[Tensor, "*inst d_sae"]) -> Float[Tensor, "*inst"]:
    """Fraction of latents that never fired on the evaluation set."""
    return (density == 0).float().mean(-1)


def dense_fraction(density: Float[Tensor, "*inst d_sae"], threshold: float = 0.1) -> Float[Tensor, "*inst"]:
    """Fraction of latents firing on more than ``threshold`` of inputs (too dense to be a sparse feature)."""
    check_number(threshold, "threshold", low=0, high=1, low_open=True, high_open=True)
    return (density > threshold).float().mean(-1)


def density_histogram(
    density: Float[Tensor, "d_sae"], bins: int = 40, low: float = -6.0
) -> tuple[Float[Tensor, "bins"], Float[Tensor, "bins_plus_1"], int]:
    """Histogram of ``log10`` latent densities over ``[low, 0]``: ``(counts, edges, n_dead)``
    (dead latents, with density 0, have no logarithm and are counted apart)."""
    check_positive_int(bins, "bins")
    check_number(low, "low", high=0, high_open=True)
    d = density.flatten().float()
    alive = d[d > 0]
    edges = torch.linspace(low, 0.0, bins + 1)
    counts = torch.histc(alive.log10().clamp(low, 0.0), bins=bins, min=low, max=0.0)
    return counts, edges, int((d == 0).sum())


def cosine_matrix(true_directions: Float[Tensor, "feats d_in"], W_dec: Float[Tensor, "d_sae d_in"]) -> Float[Tensor, "feats d_sae"]:
    """Cosine similarity of every true feature with every decoder row."""
    for t, name in ((true_directions, "true_directions"), (W_dec, "W_dec")):
        if not isinstance(t, Tensor) or t.ndim != 2 or 0 in t.shape:
            raise ValueError(f"{name} must be a non-empty 2-D tensor, got {getattr(t, 'shape', type(t))}")
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    if true_directions.shape[1] != W_dec.shape[1]:
        raise ValueError(f"true_directions and W_dec must have the same width, got {true_directions.shape[1]} and {W_dec.shape[1]}")
    a = true_directions.detach().float().cpu()
    b = W_dec.detach().float().cpu()
    a = a / a.norm(dim=1, keepdim=True).clamp(min=1e-12)
    b = b / b.norm(dim=1, keepdim=True).clamp(min=1e-12)
    return a @ b.T


def mmcs(true_directions: Float[Tensor, "feats d_in"], W_dec: Float[Tensor, "d_sae d_in"]) -> float:
    """Mean max cosine similarity: the mean over true features of the best cosine with any
    decoder row (1 when every feature has a latent pointing exactly along it)."""
    return float(cosine_matrix(true_directions, W_dec).max(dim=1).values.mean())


def matched_mmcs(true_directions: Float[Tensor, "feats d_in"], W_dec: Float[Tensor, "d_sae d_in"]) -> float:
    """MMCS with each latent used at most once: the best one-to-one matching of features to
    latents (Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`), averaged over
    features (a feature left without a latent scores 0). The literature on identifiable
    representations calls the same matched mean the mean correlation coefficient (MCC)."""
    from scipy.optimize import linear_sum_assignment  # imported here: SciPy's optimize takes a while to load

    cos = cosine_matrix(true_directions, W_dec).double().numpy()
    rows, cols = linear_sum_assignment(cos, maximize=True)
    return float(cos[rows, cols].sum() / cos.shape[0])


def latents_per_feature(
    true_directions: Float[Tensor, "feats d_in"], W_dec: Float[Tensor, "d_sae d_in"], threshold: float = 0.9
) -> Float[Tensor, "feats"]:
    """How many decoder rows point along each true feature (cosine above ``threshold``): 1 is a
    clean recovery, more is a feature split across latents, 0 a feature missed."""
    check_number(threshold, "threshold", low=-1, high=1, high_open=True)
    return (cosine_matrix(true_directions, W_dec) > threshold).float().sum(1)


def n_recovered(true_directions: Float[Tensor, "feats d_in"], W_dec: Float[Tensor, "*inst d_sae d_in"],
                threshold: float = 0.98) -> Tensor:
    """How many true features have a decoder row within cosine ``threshold`` of them, for each
    instance of a batched decoder ``(inst, d_sae, d_in)`` (or one ``(d_sae, d_in)``, as one)."""
    check_number(threshold, "threshold", low=-1, high=1, high_open=True)
    if not isinstance(W_dec, Tensor) or W_dec.ndim not in (2, 3):
        raise ValueError(f"W_dec must be (d_sae, d_in) or (inst, d_sae, d_in), got {getattr(W_dec, 'shape', type(W_dec))}")
    decoders = W_dec.detach()[None] if W_dec.ndim == 2 else W_dec.detach()
    return torch.stack([(latents_per_feature(true_directions, W, threshold) > 0).sum() for W in decoders])


@dataclass(frozen=True)
class Recovery:
    """How well each instance's decoder recovers known features: ``mmcs`` and ``matched_mmcs``, ``(inst,)``."""

    mmcs: Tensor
    matched_mmcs: Tensor


def recovery(true_directions: Float[Tensor, "feats d_in"], W_dec: Float[Tensor, "*inst d_sae d_in"]) -> Recovery:
    """:func:`mmcs` and :func:`matched_mmcs` of every instance of a batched decoder
    ``(inst, d_sae, d_in)`` (or of one ``(d_sae, d_in)``, as one instance)."""
    if not isinstance(W_dec, Tensor) or W_dec.ndim not in (2, 3):
        raise ValueError(f"W_dec must be (d_sae, d_in) or (inst, d_sae, d_in), got {getattr(W_dec, 'shape', type(W_dec))}")
    decoders = W_dec.detach()[None] if W_dec.ndim == 2 else W_dec.detach()
    return Recovery(torch.tensor([mmcs(true_directions, W) for W in decoders]),
                    torch.tensor([matched_mmcs(true_directions, W) for W in decoders]))


@dataclass(frozen=True)
class SAEMetrics:
    """Evaluation of SAEs on a set of inputs, one entry per instance.

    Attributes:
        l0, mse, fvu: ``(inst,)`` (MSE in the inputs' units).
        density: ``(inst, d_sae)`` fraction of inputs each latent fires on.
        dead, dense: ``(inst,)`` fractions of latents *dead* (firing on none of the inputs)
            and *dense* (firing on more than ``dense_threshold``, default 10%, of them).
        n_inputs: size of the evaluation set.
        mmcs, matched_mmcs: ``(inst,)`` recovery of the known features, when
            :func:`evaluate` was given them (else ``None``).
        rescale: ``(inst,)`` the :func:`rescale_factor` (shrinkage; NaN for an SAE whose
            latents never fired).
    """

    l0: Tensor
    mse: Tensor
    fvu: Tensor
    density: Tensor
    dead: Tensor
    dense: Tensor
    n_inputs: int
    mmcs: Tensor | None = None
    matched_mmcs: Tensor | None = None
    rescale: Tensor | None = None

    @property
    def n_dead(self) -> Tensor:
        """Latents that never fired on the evaluation set, per instance (an integer tensor)."""
        return (self.density == 0).sum(-1)


@torch.no_grad()
def evaluate(
    sae: SAE | SparseAutoencoder,
    acts: Float[Tensor, "n d_in"] | Iterable[Tensor],
    *,
    true_directions: Float[Tensor, "feats d_in"] | None = None,
    chunk: int = 8192,
    dense_threshold: float = 0.1,
) -> SAEMetrics:
    """L0, MSE, FVU and latent densities over a whole evaluation set, streamed in chunks
    (``acts`` a tensor, or an iterable of ``batch d_in`` tensors, e.g. a finite generator);
    with ``true_directions``, also each instance's :func:`recovery` of them; and the
    :func:`rescale_factor` of each instance's latents."""
    check_positive_int(chunk, "chunk")
    if isinstance(acts, Tensor):
        check_matrix(acts, "acts")
        pieces: Iterable[Tensor] = acts.split(chunk)
    else:
        pieces = acts
    single = isinstance(sae, SparseAutoencoder)
    device = sae.W_dec.device
    n = 0
    sum_x = sum_sq = err = fires = cross = lat_sq = None
    bias = (sae.b_dec / sae.scale)[None] if single else sae.b_dec / sae.scale  # (inst, d_in), inputs' units
    for x in pieces:
        x = check_matrix(x, "acts", sae.W_dec.shape[-1]).to(device, torch.float32)
        if single:
            f = sae.encode(x)[None]
            x_hat = sae.decode(f[0])[None]
        else:
            f = sae.encode(x)
            x_hat = sae.decode(f)
        xd = x.double()
        lat = (x_hat - bias[:, None, :]).double()  # W_decᵀ f, in the inputs' units
        parts = (xd.sum(0), xd.square().sum(), (x_hat - x).double().square().sum((-1, -2)),
                 (f != 0).double().sum(-2), ((xd - bias[:, None, :]) * lat).sum((-1, -2)), lat.square().sum((-1, -2)))
        if n == 0:
            sum_x, sum_sq, err, fires, cross, lat_sq = parts
        else:
            for total, part in zip((sum_x, sum_sq, err, fires, cross, lat_sq), parts):
                total += part
        n += x.shape[0]
    if n == 0:
        raise ValueError("acts is empty: no inputs to evaluate on")
    var = sum_sq - sum_x.square().sum() / n
    density = (fires / n).float()
    rec = None if true_directions is None else recovery(true_directions, sae.W_dec)
    rescale = torch.where(lat_sq > 0, cross / lat_sq.clamp(min=1e-300), float("nan")).float()
    out = SAEMetrics(density.sum(-1), (err / n).float(), (err / var).float(), density, dead_fraction(density),
                     dense_fraction(density, dense_threshold), n,
                     None if rec is None else rec.mmcs, None if rec is None else rec.matched_mmcs, rescale)
    if single:
        fields = ("l0", "mse", "fvu", "density", "dead", "dense")
        out = SAEMetrics(*(getattr(out, k)[0] for k in fields), n,
                         None if rec is None else rec.mmcs[0], None if rec is None else rec.matched_mmcs[0], rescale[0])
    return out


def _check_codes(t: object, name: str, rows: int | None = None) -> Tensor:
    if not isinstance(t, Tensor) or t.ndim != 2 or 0 in t.shape:
        raise ValueError(f"{name} must be a non-empty (batch, n) tensor, got {getattr(t, 'shape', type(t))}")
    if rows is not None and t.shape[0] != rows:
        raise ValueError(f"{name} must have one row per input ({rows}), got {t.shape[0]}")
    if t.is_floating_point() and not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return t


@dataclass(frozen=True)
class FiringScores:
    """Each latent as a detector of each true feature, from when they are non-zero.

    Attributes:
        precision: ``(d_sae, feats)``: of the inputs latent ``j`` fires on, the share where
            feature ``i`` is active (0 for a latent that never fires).
        recall: ``(d_sae, feats)``: of the inputs where feature ``i`` is active, the share latent
            ``j`` fires on (0 for a feature never active).
        f1: ``(d_sae, feats)``: their harmonic mean, ``2·TP / (fires + active)``.
    """

    precision: Tensor
    recall: Tensor
    f1: Tensor

    def best(self) -> tuple[Tensor, Tensor]:
        """Each latent's best-detected feature: ``(feature, f1)``, both ``(d_sae,)``."""
        f1, feature = self.f1.max(dim=1)
        return feature, f1

    def of(self, feature: Tensor) -> "FiringScores":
        """Each latent's scores for one feature each (``feature``: ``(d_sae,)`` indices, e.g.
        the best-aligned feature by decoder cosine): ``(d_sae,)`` precision, recall, F1."""
        if not isinstance(feature, Tensor) or feature.shape != (self.f1.shape[0],) or feature.is_floating_point():
            raise ValueError(f"feature must be ({self.f1.shape[0]},) integer indices, got {getattr(feature, 'shape', type(feature))}")
        if feature.numel() and (feature.min() < 0 or feature.max() >= self.f1.shape[1]):
            raise ValueError(f"feature indices must be in [0, {self.f1.shape[1]}), got {feature.tolist()}")
        j = torch.arange(feature.numel())
        return FiringScores(self.precision[j, feature], self.recall[j, feature], self.f1[j, feature])


def firing_scores(f: Float[Tensor, "batch d_sae"], c: Float[Tensor, "batch feats"]) -> FiringScores:
    """Precision, recall and F1 of every latent (non-zero in ``f``) as a detector of every true
    feature (non-zero in the coefficients ``c``), over the same inputs."""
    f = _check_codes(f, "f")
    c = _check_codes(c, "c", f.shape[0])
    a, b = (f != 0).double(), (c != 0).double()
    tp = a.T @ b  # (d_sae, feats)
    fires, active = a.sum(0), b.sum(0)
    precision = tp / fires[:, None].clamp(min=1)
    recall = tp / active[None, :].clamp(min=1)
    f1 = 2 * tp / (fires[:, None] + active[None, :]).clamp(min=1)
    return FiringScores(precision.float(), recall.float(), f1.float())


def uniqueness(true_directions: Float[Tensor, "feats d_in"], W_dec: Float[Tensor, "d_sae d_in"],
               alive: Tensor | None = None) -> float:
    """How rarely latents share a feature: the number of distinct true features that the latents
    point closest to (decoder cosine), over the number of latents (``alive``: a ``(d_sae,)``
    mask of the latents to count, e.g. those that fire). 1: every latent has a feature of its
    own; ``1/d_sae``: all point at the same one."""
    best = cosine_matrix(true_directions, W_dec).argmax(dim=0)  # (d_sae,)
    if alive is not None:
        if not isinstance(alive, Tensor) or alive.shape != best.shape or alive.dtype != torch.bool:
            raise ValueError(f"alive must be a ({best.numel()},) boolean mask, got {getattr(alive, 'shape', type(alive))}")
        best = best[alive.cpu()]
    if best.numel() == 0:
        raise ValueError("alive selects no latent: uniqueness is undefined")
    return best.unique().numel() / best.numel()


@dataclass(frozen=True)
class Absorption:
    """How a parent feature's latent behaves with and without the parent's children, per parent.

    Attributes:
        rate: ``(n_parents,)``: of the inputs where the parent *and* one of its children are
            active, the share where the parent's latent is silent (absorption).
        recall_alone: ``(n_parents,)``: of the inputs where the parent is active with no child,
            the share where its latent fires (the control: a working latent is near 1).
        with_child, alone: ``(n_parents,)`` how many inputs each share counts.
    """

    rate: Tensor
    recall_alone: Tensor
    with_child: Tensor
    alone: Tensor


def absorption(f: Float[Tensor, "batch d_sae"], c: Float[Tensor, "batch feats"], hierarchy,
               parent_latent: Tensor) -> Absorption:
    """Feature absorption (Chanin et al. 2024) measured against ground truth: for each parent of
    ``hierarchy`` (a :class:`~superpos_lib.sae.data.Hierarchy`), how often its latent
    (``parent_latent``: ``(n_parents,)`` latent indices, e.g. the latent whose decoder row is
    closest to the parent's direction) is silent when a child fires with the parent, against how
    often it fires when the parent is alone."""
    f = _check_codes(f, "f")
    c = _check_codes(c, "c", f.shape[0])
    P = hierarchy.n_parents
    if c.shape[1] < hierarchy.n_structured:
        raise ValueError(f"c has {c.shape[1]} features, fewer than the hierarchy's {hierarchy.n_structured}")
    if (not isinstance(parent_latent, Tensor) or parent_latent.shape != (P,) or parent_latent.is_floating_point()
            or parent_latent.min() < 0 or parent_latent.max() >= f.shape[1]):
        raise ValueError(f"parent_latent must be ({P},) latent indices in [0, {f.shape[1]}), got "
                         f"{parent_latent.tolist() if isinstance(parent_latent, Tensor) else parent_latent!r}")
    act = c != 0
    parent = act[:, :P]
    child = act[:, P : hierarchy.n_structured].view(-1, P, hierarchy.children).any(-1)
    fires = f[:, parent_latent.to(f.device)] != 0  # (batch, P)
    both, alone = parent & child, parent & ~child
    n_both, n_alone = both.sum(0), alone.sum(0)
    rate = (both & ~fires).sum(0) / n_both.clamp(min=1)
    recall = (alone & fires).sum(0) / n_alone.clamp(min=1)
    nan = torch.tensor(float("nan"))
    return Absorption(torch.where(n_both > 0, rate.float(), nan), torch.where(n_alone > 0, recall.float(), nan),
                      n_both, n_alone)


def hedging(true_directions: Float[Tensor, "feats d_in"], W_dec: Float[Tensor, "d_sae d_in"],
            groups: Sequence[Sequence[int]]) -> Float[Tensor, "groups"]:
    """Feature hedging (Chanin et al. 2025) measured against ground truth: for each group of
    correlated features (``groups``: lists of feature indices, the first the one a latent is
    expected to track), the latent whose decoder row is nearest the first feature, and how much
    closer that row is to the group's other features than the first feature's own direction is
    (mean over them of ``cos(row, f_j) − cos(f_first, f_j)``). 0: the latent is its feature alone;
    above 0: it has merged in part of its correlated partners."""
    cos = cosine_matrix(true_directions, W_dec)  # (feats, d_sae), validates both
    n = true_directions.shape[0]
    if (isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence) or not groups
            or not all(isinstance(g, Sequence) and len(g) >= 2 and all(isinstance(i, int) and 0 <= i < n for i in g)
                       for g in groups)):
        raise ValueError(f"groups must be a non-empty list of groups of at least two feature indices in [0, {n}), "
                         f"got {groups!r}")
    own = cosine_matrix(true_directions, true_directions)
    out = []
    for g in groups:
        first, rest = g[0], list(g[1:])
        latent = cos[first].argmax()
        out.append((cos[rest, latent] - own[rest, first]).mean())
    return torch.stack(out)


def shared_latents(W_a: Float[Tensor, "d_sae d_in"], W_b: Float[Tensor, "d_sae_b d_in"], threshold: float = 0.7) -> float:
    """Seed stability: match the latents of two SAEs one-to-one by decoder cosine (Hungarian
    algorithm) and return the share of ``W_a``'s latents whose partner is within cosine
    ``threshold`` (Paulo & Belrose 2025 match by cosine at 0.7)."""
    from scipy.optimize import linear_sum_assignment

    check_number(threshold, "threshold", low=-1, high=1)
    cos = cosine_matrix(W_a, W_b).double().numpy()
    rows, cols = linear_sum_assignment(cos, maximize=True)
    return float((cos[rows, cols] > threshold).sum() / cos.shape[0])
