"""Exercises of chapter 5, phase changes (TMS §5) and k-gon learning dynamics (Chen et al.
2023): the two-feature model's candidate losses and phase, what a model does with its extra
feature, regular k-gons and the loss when one feature is active at a time."""

from __future__ import annotations

import math

import torch

from .core import (
    Mistake,
    call_safely,
    exercise,
    expect_close,
    expect_finite,
    expect_instances_independent,
    expect_nonnegative,
    expect_tensor,
    fail,
    seeded,
)

CHAPTER = "05_phase_changes"


# -- the three candidates -----------------------------------------------------------------------
def candidate_losses(r: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """The losses of the n = 2, m = 1 model's three candidate solutions.

    r: the extra feature's relative importance; p: the density (tensors of
    the same shape). Summed over the two features the candidates cost:
    extra feature not represented, r (p/3 − p²/4); extra feature in the
    dimension, p/3 − p²/4; an antipodal pair, (1 + r) p²/6. Return them
    averaged over the two features (divided by 2), in that order, on a
    last axis: shape (*r.shape, 3).
    """
    dropped = p / 3 - p**2 / 4  # a feature predicted by p/2
    not_represented = r * dropped
    dedicated = dropped
    superposed = (1 + r) * p**2 / 6
    losses = torch.stack([not_represented, dedicated, superposed], dim=-1)
    return losses / 2           # the mean over 2 features


def _grid() -> tuple[torch.Tensor, torch.Tensor]:
    r = torch.tensor([0.1, 0.5, 1.0, 2.0, 10.0], dtype=torch.float64)
    p = torch.tensor([0.01, 0.1, 0.5, 0.9], dtype=torch.float64)
    return torch.meshgrid(r, p, indexing="ij")


def _check_candidate_losses(fn) -> None:
    r, p = _grid()
    case = "a 5 × 4 grid of r and p (float64)"
    out = expect_tensor(call_safely(fn, {"r": r, "p": p}, case), (5, 4, 3), "*r.shape, 3", torch.float64,
                        wrong_shapes={(3, 5, 4): "stack the three losses on the last axis, dim=-1"})
    expect_finite(out, case)
    expect_nonnegative(out, case, "losses cannot be negative")
    one = torch.tensor([1.0], dtype=torch.float64)
    got = call_safely(fn, {"r": one, "p": one}, "r = 1, p = 1")[0]
    dropped = 1 / 3 - 1 / 4
    if abs(got[1].item() - dropped) < 1e-9:
        fail("at r = p = 1 the dedicated-dimension loss is 1/12, twice the library's 1/24: "
             "average over the two features (divide by 2)")
    if abs(got[1].item() - 1 / 6) < 1e-9 or abs(got[1].item() - 1 / 3) < 1e-9:
        fail("a feature left out is predicted by its mean p/2 and costs its variance p/3 − p²/4, "
             "not E[x²] = p/3")
    low = call_safely(fn, {"r": torch.tensor([0.1], dtype=torch.float64),
                           "p": torch.tensor([0.5], dtype=torch.float64)}, "r = 0.1, p = 0.5")[0]
    if abs(low[1].item() / low[0].item() - 0.1) < 1e-6:
        fail("column 0 is the extra feature not represented, r (p/3 − p²/4), and column 1 the "
             "extra feature in the dimension: the first two columns are swapped")
    r_flat, p_flat = r.flatten(), p.flatten()
    for name, (x, y) in {case: (r, p), "20 random settings": (
            torch.rand(20, generator=seeded(14), dtype=torch.float64) * 3 + 0.05,
            torch.rand(20, generator=seeded(15), dtype=torch.float64) * 0.99 + 0.01),
            "the grid, flattened": (r_flat, p_flat)}.items():
        expect_close(call_safely(fn, {"r": x, "p": y}, name), candidate_losses(x, y), name, atol=1e-9, rtol=1e-7)


# -- the analytic phase -------------------------------------------------------------------------
def analytic_phase(r: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Which candidate of the n = 2, m = 1 model has the lowest loss.

    r, p: tensors of the same shape. Returns an integer tensor of that
    shape: 0 (extra feature not represented), 1 (dedicated dimension) or
    2 (superposition), the order of the library's phases.SOLUTIONS. You may
    call your candidate_losses from the exercise before.
    """
    return candidate_losses(r, p).argmin(dim=-1)


def _check_analytic_phase(fn) -> None:
    r, p = _grid()
    case = "a 5 × 4 grid of r and p"
    out = call_safely(fn, {"r": r, "p": p}, case)
    if isinstance(out, torch.Tensor) and out.is_floating_point():
        fail("it returned floats: return the index of the lowest loss (argmin), not its value")
    out = expect_tensor(out, (5, 4), "*r.shape", torch.int64,
                        wrong_shapes={(4,): "take the argmin over the last axis (the candidates)",
                                      (5,): "take the argmin over the last axis (the candidates)"})
    if not ((out >= 0) & (out <= 2)).all():
        fail(f"labels must be 0, 1 or 2, got {out.unique().tolist()}")
    hand = {(1.0, 0.3): 2, (0.1, 0.9): 0, (5.0, 0.9): 1, (0.5, 0.1): 2, (2.0, 0.6): 1}
    for (rr, pp), expected in hand.items():
        got = int(call_safely(fn, {"r": torch.tensor([rr], dtype=torch.float64),
                                   "p": torch.tensor([pp], dtype=torch.float64)}, f"r = {rr}, p = {pp}")[0])
        if got != expected:
            losses = candidate_losses(torch.tensor(rr), torch.tensor(pp))
            why = (": take the argmin (the lowest loss), not the argmax" if got == int(losses.argmax())
                   else ": compare all three candidates (for r > 1 the extra feature matters more "
                   "than feature 0 and takes the dimension)")
            fail(f"at r = {rr}, p = {pp} the lowest-loss candidate is {expected}, got {got}{why}")
    expect_close(out, analytic_phase(r, p), case)
    r2 = torch.logspace(-1, 1, 30, dtype=torch.float64)[:, None].expand(30, 30)
    p2 = torch.logspace(-2, 0, 30, dtype=torch.float64)[None].expand(30, 30)
    expect_close(call_safely(fn, {"r": r2, "p": p2}, "a 30 × 30 grid"), analytic_phase(r2, p2), "a 30 × 30 grid")


# -- what a model does with its extra feature ---------------------------------------------------
def classify_extra_feature(
    W: torch.Tensor, threshold: float = 0.5,
) -> torch.Tensor:
    """What each model does with its last (extra) feature.

    W: (inst, d_hidden, feats); the extra feature is the last column.
    0 (not represented) when its norm is <= threshold; else 2 (superposed)
    when the other features' projections onto its direction,
    Σ_{j≠extra} (Ŵ_extra · W_j)², exceed 0.25; else 1 (dedicated).
    Returns an integer tensor (inst,).
    """
    extra = W[:, :, -1]       # (inst, d_hidden)
    norm = extra.norm(dim=1)  # (inst,)
    unit = extra / norm.clamp_min(1e-12)[:, None]
    proj = (unit[:, :, None] * W[:, :, :-1]).sum(dim=1) ** 2
    labels = torch.ones_like(norm, dtype=torch.long)
    labels[proj.sum(dim=1) > 0.25] = 2
    labels[norm <= threshold] = 0
    return labels


_CLASSIFY = {
    "W = [1, 0]: the extra feature dropped": (
        [[[1.0, 0.0]]], 0, "the extra feature is the last one, W[:, :, -1], and its norm is 0 here"),
    "W = [0, 1]: the extra feature alone": (
        [[[0.0, 1.0]]], 1, "the sum is over the other features, j ≠ extra"),
    "W = [1, −1]: an antipodal pair": ([[[1.0, -1.0]]], 2, ""),
    "W = [1, 0.3]: a short extra feature along feature 0": (
        [[[1.0, 0.3]]], 0, ("a feature of norm <= threshold is not represented, whatever "
                            "overlaps it (test the norm last: it overrides)")),
    "a long extra feature (norm 3) that feature 0 overlaps a little": (
        [[[1.0, 0.0], [0.3, 3.0]]], 1, ("project onto the unit direction, Ŵ_extra = W_extra / "
                                        "‖W_extra‖: (Ŵ_extra · W_0)² = 0.09")),
    "three features in 2-D: an antipodal pair and the extra feature alone": (
        [[[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]], 1, "the extra feature is the last one, W[:, :, -1]"),
}


def _check_classify_extra_feature(fn) -> None:
    W = torch.randn(6, 2, 3, generator=seeded(16))
    case = "6 random models of 3 features in 2 dimensions"
    out = call_safely(fn, {"W": W, "threshold": 0.5}, case)
    out = expect_tensor(out, (6,), "inst", torch.int64)
    for name, (w, expected, why) in _CLASSIFY.items():
        got = int(call_safely(fn, {"W": torch.tensor(w), "threshold": 0.5}, name)[0])
        if got != expected:
            fail(f"on {name} the label is {got}, the right one {expected}" + (f": {why}" if why else ""))
    longer = W.clone()
    longer[:, :, -1] *= 3
    kept = W[:, :, -1].norm(dim=1) > 0.5
    again = call_safely(fn, {"W": longer, "threshold": 0.5}, case + ", extra feature 3 times longer")
    if not torch.equal(again[kept], out[kept]):
        fail("making a represented extra feature longer changed its label: project onto the unit "
             "direction, Ŵ_extra = W_extra / ‖W_extra‖")
    short = call_safely(fn, {"W": W, "threshold": 1.5}, case + ", threshold = 1.5")
    if torch.equal(short, out) and (W[:, :, -1].norm(dim=1) <= 1.5).sum() > (W[:, :, -1].norm(dim=1) <= 0.5).sum():
        fail("the labels did not change with the threshold: not represented means norm <= threshold")
    expect_instances_independent(fn, {"W": W, "threshold": 0.5}, ("W",), case)
    for name, (x, t) in {case: (W, 0.5), case + ", threshold = 1.5": (W, 1.5),
                         "20 models of 4 features in 2-D": (torch.randn(20, 2, 4, generator=seeded(17)), 0.5)}.items():
        expect_close(call_safely(fn, {"W": x, "threshold": t}, name), classify_extra_feature(x, t), name)


# -- regular k-gons -----------------------------------------------------------------------------
def regular_kgon(
    k: int, n_features: int, length: float = 1.0,
) -> torch.Tensor:
    """The weights of a regular k-gon in two dimensions.

    Features 0 to k−1 point at angles 2πi/k (i = 0, ..., k−1) with norm
    `length`; features k to n_features − 1 are dropped (zero columns).
    k = 0 is the origin, W = 0. Returns (1, 2, n_features): one instance.
    """
    angles = 2 * torch.pi * torch.arange(k) / k  # (k,)
    directions = torch.stack([angles.cos(), angles.sin()])
    W = torch.zeros(1, 2, n_features)
    W[0, :, :k] = length * directions
    return W


def _check_regular_kgon(fn) -> None:
    case = "k = 5, n_features = 6, length = 1.2"
    out = expect_tensor(call_safely(fn, {"k": 5, "n_features": 6, "length": 1.2}, case), (1, 2, 6),
                        "1, 2, n_features", wrong_shapes={(2, 6): "add the instance axis, W[None]",
                                                          (1, 6, 2): "features are columns: (1, 2, n_features)"})
    expect_finite(out, case)
    if out[0, :, 5:].abs().max() > 1e-6:
        fail("features k to n_features − 1 are dropped: their columns must be 0")
    norms = out[0, :, :5].norm(dim=0)
    if (norms - 1.2).abs().max() > 1e-5:
        fail(f"every kept feature has norm `length` = 1.2, got {[round(v, 3) for v in norms.tolist()]}")
    angles = torch.atan2(out[0, 1, :5], out[0, 0, :5])
    if abs(angles[0].item()) > 1e-5:
        fail("feature 0 points at angle 0, along the first hidden dimension")
    gaps = torch.rad2deg(torch.remainder(angles[1:] - angles[:-1], 2 * math.pi))
    if (gaps - 72).abs().max() > 1e-3:
        fail(f"neighbours of a pentagon are 72° apart, got {[round(v, 1) for v in gaps.tolist()]}: "
             f"feature i is at angle "
             f"2πi/k, in radians (divide by k, not n_features)")
    origin = expect_tensor(call_safely(fn, {"k": 0, "n_features": 3, "length": 1.0}, "k = 0 (the origin)"),
                           (1, 2, 3), "1, 2, n_features")
    expect_finite(origin, "k = 0 (the origin)", "k = 0 is the origin, W = 0 (no angle to compute)")
    for k, n, length in ((1, 6, 1.0), (2, 6, 0.5), (4, 4, 1.0), (6, 6, 1.32), (0, 3, 1.0)):
        name = f"k = {k}, n_features = {n}, length = {length}"
        expect_close(call_safely(fn, {"k": k, "n_features": n, "length": length}, name),
                     regular_kgon(k, n, length), name)


# -- the one-hot loss ---------------------------------------------------------------------------
def one_hot_loss(W: torch.Tensor, b_final: torch.Tensor) -> torch.Tensor:
    """The toy model's expected loss when one feature is active at a time.

    W: (inst, d_hidden, feats); b_final: (inst, feats). The input is μ e_a:
    feature a, uniform over the n features, has value μ ~ U[0, 1); the
    others are 0. Output o is ReLU(μ W_o · W_a + b_o), its target μ if
    o = a
    and 0 otherwise. L = (1/n²) Σ_a Σ_o ∫₀¹ (target − output)² dμ: compute
    the integral as the mean over 1,000 midpoints of [0, 1).
    Returns (inst,).
    """
    n = W.shape[2]
    mu = (torch.arange(1000) + 0.5) / 1000    # midpoints of [0, 1)
    G = W.mT @ W                              # (inst, o, a): W_o · W_a
    out = torch.relu(mu * G[..., None] + b_final[:, :, None, None])
    target = mu * torch.eye(n)[..., None]     # (o, a, mu)
    err = ((target - out) ** 2).mean(dim=-1)  # the integral over μ
    return err.sum(dim=(1, 2)) / n**2


def _check_one_hot_loss(fn) -> None:
    g = seeded(18)
    W, b = torch.randn(3, 2, 6, generator=g), torch.randn(3, 6, generator=g) * 0.2
    case = "3 random models of 6 features in 2 dimensions"
    out = expect_tensor(call_safely(fn, {"W": W, "b_final": b}, case), (3,), "inst")
    expect_finite(out, case)
    expect_nonnegative(out, case, "a squared error cannot be negative")
    ident = call_safely(fn, {"W": torch.eye(2)[None], "b_final": torch.zeros(1, 2)}, "W = I, b = 0")
    if ident.abs().item() > 1e-6:
        fail(f"with W = I every one-hot input is reconstructed exactly: loss 0, got "
             f"{ident.item():.4g}; the target of output o is μ if o = a, else 0")
    pair = call_safely(fn, {"W": torch.tensor([[[1.0, -1.0]]]), "b_final": torch.zeros(1, 2)},
                       "an antipodal pair, W = [1, −1], b = 0")
    if pair.abs().item() > 1e-6:
        fail(f"an antipodal pair reconstructs every one-hot input exactly (the ReLU removes the "
             f"negative interference): loss 0, got {pair.item():.4g}; did you apply the ReLU?")
    zero = call_safely(fn, {"W": torch.zeros(1, 2, 6), "b_final": torch.zeros(1, 6)}, "the origin (W = 0, b = 0)")
    right = 1 / 18
    if abs(zero.item() - 6 * right) < 1e-3 * right:
        fail("at the origin the loss is 1/(3n) = 1/18 for n = 6, got 1/3: average over the active "
             "feature a as well as the outputs o, (1/n²) Σ_a Σ_o")
    if abs(zero.item() - right) > 1e-3 * right:
        fail(f"at the origin (W = 0, b = 0) each active feature's output misses μ: "
             f"(1/n²) Σ_a ∫ μ² dμ = 1/(3n) = {right:.5g} for n = 6, got {zero.item():.5g}")
    biased = {"W": torch.zeros(1, 2, 3), "b_final": torch.tensor([[0.1, 0.2, -0.3]])}
    name = "the origin with biases (0.1, 0.2, −0.3)"
    got = call_safely(fn, biased, name)
    if abs(got.item() - one_hot_loss(**biased).item()) > 2e-3 * one_hot_loss(**biased).item():
        fail(f"on {name} the loss is {got.item():.5g}, expected {one_hot_loss(**biased).item():.5g}: "
             f"with W = 0 output o is ReLU(b_o); did you add b_final inside the ReLU?")
    expect_instances_independent(fn, {"W": W, "b_final": b}, ("W", "b_final"), case)
    hexagon = regular_kgon(6, 6, 1.32)
    cases = {case: (W, b), "a hexagon of length 1.32 with bias −0.2": (hexagon, torch.full((1, 6), -0.2)),
             "4 random models of 3 features in 2 dimensions": (torch.randn(4, 2, 3, generator=g),
                                                              torch.randn(4, 3, generator=g) * 0.3)}
    for name, (x, y) in cases.items():
        expect_close(call_safely(fn, {"W": x, "b_final": y}, name), one_hot_loss(x, y), name,
                     atol=1e-5, rtol=2e-3)


# -- mistakes -----------------------------------------------------------------------------------
def _summed_candidates(r, p):
    d = p / 3 - p**2 / 4
    return torch.stack([r * d, d, (1 + r) * p**2 / 6], dim=-1)


def _swapped(r, p):
    d = p / 3 - p**2 / 4
    return torch.stack([d, r * d, (1 + r) * p**2 / 6], dim=-1) / 2


def _second_moment(r, p):
    return torch.stack([r * p / 3, p / 3, (1 + r) * p**2 / 6], dim=-1) / 2


def _stacked_first(r, p):
    d = p / 3 - p**2 / 4
    return torch.stack([r * d, d, (1 + r) * p**2 / 6]) / 2


def _argmax(r, p):
    return candidate_losses(r, p).argmax(dim=-1)


def _min_value(r, p):
    return candidate_losses(r, p).min(dim=-1).values


def _boundary_for_small_r(r, p):
    superposed = p < 4 * r / (5 * r + 2)
    return torch.where(superposed, 2, 0)


def _superposition_first(W, threshold=0.5):
    extra = W[:, :, -1]
    unit = extra / extra.norm(dim=1, keepdim=True).clamp_min(1e-12)
    sup = ((unit[:, :, None] * W[:, :, :-1]).sum(1) ** 2).sum(1)
    labels = torch.where(extra.norm(dim=1) <= threshold, 0, 1)
    return torch.where(sup > 0.25, 2, labels)


def _first_feature(W, threshold=0.5):
    return classify_extra_feature(W.flip(-1), threshold)


def _unnormalised_projection(W, threshold=0.5):
    extra = W[:, :, -1]
    sup = ((extra[:, :, None] * W[:, :, :-1]).sum(1) ** 2).sum(1)
    labels = torch.where(sup > 0.25, 2, 1)
    return torch.where(extra.norm(dim=1) <= threshold, 0, labels)


def _with_itself(W, threshold=0.5):
    extra = W[:, :, -1]
    unit = extra / extra.norm(dim=1, keepdim=True).clamp_min(1e-12)
    sup = ((unit[:, :, None] * W).sum(1) ** 2).sum(1)
    return torch.where(extra.norm(dim=1) <= threshold, 0, torch.where(sup > 0.25, 2, 1))


def _by_n_features(k, n_features, length=1.0):
    angles = 2 * math.pi * torch.arange(k) / n_features
    W = torch.zeros(1, 2, n_features)
    W[0, :, :k] = length * torch.stack([angles.cos(), angles.sin()])
    return W


def _degrees(k, n_features, length=1.0):
    angles = 360 * torch.arange(k) / k
    W = torch.zeros(1, 2, n_features)
    W[0, :, :k] = length * torch.stack([angles.cos(), angles.sin()])
    return W


def _no_length(k, n_features, length=1.0):
    return regular_kgon(k, n_features)


def _no_instance_axis(k, n_features, length=1.0):
    return regular_kgon(k, n_features, length)[0]


def _averaged_outputs_only(W, b_final):
    return one_hot_loss(W, b_final) * W.shape[2]


def _no_relu_one_hot(W, b_final):
    n, mu = W.shape[2], (torch.arange(1000) + 0.5) / 1000
    out = mu * (W.mT @ W)[..., None] + b_final[:, :, None, None]
    return ((mu * torch.eye(n)[..., None] - out) ** 2).mean(-1).sum((1, 2)) / n**2


def _target_everywhere(W, b_final):
    n, mu = W.shape[2], (torch.arange(1000) + 0.5) / 1000
    out = torch.relu(mu * (W.mT @ W)[..., None] + b_final[:, :, None, None])
    return ((mu - out) ** 2).mean(-1).sum((1, 2)) / n**2


def _bias_outside(W, b_final):
    n, mu = W.shape[2], (torch.arange(1000) + 0.5) / 1000
    out = torch.relu(mu * (W.mT @ W)[..., None]) + b_final[:, :, None, None]
    return ((mu * torch.eye(n)[..., None] - out) ** 2).mean(-1).sum((1, 2)) / n**2


EXERCISES = [
    exercise(
        candidate_losses, chapter=CHAPTER, title="The three candidate solutions",
        difficulty=2, importance=4, minutes=10, check=_check_candidate_losses,
        hints=["A feature left out costs its variance p/3 − p²/4.",
               "torch.stack([...], dim=-1) puts the three losses on a last axis."],
        mistakes=[Mistake(_summed_candidates, "divide by 2"),
                  Mistake(_swapped, "the first two columns are swapped"),
                  Mistake(_second_moment, "costs its variance p/3 − p²/4"),
                  Mistake(_stacked_first, "dim=-1")],
    ),
    exercise(
        analytic_phase, chapter=CHAPTER, title="The analytic phase diagram",
        difficulty=1, importance=3, minutes=5, check=_check_analytic_phase,
        hints=["The lowest loss wins: argmin over the candidates' axis."],
        mistakes=[Mistake(_argmax, "not the argmax"),
                  Mistake(_min_value, "return the index of the lowest loss"),
                  Mistake(_boundary_for_small_r, "compare all three candidates")],
    ),
    exercise(
        classify_extra_feature, chapter=CHAPTER, title="What did the model do with the extra feature?",
        difficulty=3, importance=3, minutes=15, check=_check_classify_extra_feature,
        hints=["The extra feature is W[:, :, -1]; the others are W[:, :, :-1].",
               "Set the superposed labels first, then let the norm test override them."],
        mistakes=[Mistake(_superposition_first, "test the norm last"),
                  Mistake(_first_feature, "the extra feature is the last one"),
                  Mistake(_unnormalised_projection, "unit direction"),
                  Mistake(_with_itself, "the sum is over the other features")],
    ),
    exercise(
        regular_kgon, chapter=CHAPTER, title="Regular k-gons",
        difficulty=2, importance=2, minutes=10, check=_check_regular_kgon,
        hints=["torch.arange(k) gives i = 0, ..., k − 1; cos and sin give the two coordinates.",
               "Start from torch.zeros(1, 2, n_features) and fill the first k columns."],
        mistakes=[Mistake(_by_n_features, "divide by k, not n_features"),
                  Mistake(_degrees, "in radians"),
                  Mistake(_no_length, "norm `length`"),
                  Mistake(_no_instance_axis, "add the instance axis")],
    ),
    exercise(
        one_hot_loss, chapter=CHAPTER, title="The loss with one feature active at a time",
        difficulty=4, importance=3, minutes=20, check=_check_one_hot_loss,
        hints=["G = W.mT @ W; output o for active feature a is ReLU(μ G[o, a] + b_o).",
               "Give μ its own last axis: mu * G[..., None] has shape (inst, o, a, 1000).",
               "The target is μ on the diagonal o = a: mu * torch.eye(n)[..., None]."],
        mistakes=[Mistake(_averaged_outputs_only, "average over the active feature"),
                  Mistake(_no_relu_one_hot, "did you apply the ReLU"),
                  Mistake(_target_everywhere, "the target of output o is μ if o = a"),
                  Mistake(_bias_outside, "did you add b_final inside the ReLU")],
    ),
]
