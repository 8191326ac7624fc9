"""Exercises of chapter 6, the geometry of superposition (TMS §6): feature dimensionality, the
square antiprism and why its D is exactly 3/8 (a tight frame), the tegum product of two
models, the graph of strong interactions whose components are the tegum factors, and the
generator of anticorrelated features that keeps every feature's density."""

from __future__ import annotations

import math

import torch

from .core import (
    ExerciseFailed,
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
from .superposition import _pentagon_W

CHAPTER = "06_geometry"


# -- feature dimensionality ---------------------------------------------------------------------
def feature_dimensionality(W: torch.Tensor) -> torch.Tensor:
    """The fraction of a dimension each feature gets.

    W: (inst, d_hidden, feats), column i is feature i's direction W_i.
    D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)², the sum over every j, i included,
    with Ŵ_i = W_i / ‖W_i‖; D_i = 0 for a feature with W_i = 0.
    Returns (inst, feats).
    """
    norms = W.norm(dim=1)  # (inst, feats)
    W_hat = W / norms.clamp_min(1e-12)[:, None, :]
    dots = W_hat.mT @ W    # (inst, i, j): Ŵ_i · W_j
    return norms**2 / (dots**2).sum(dim=2).clamp_min(1e-12)


def _check_feature_dimensionality(fn) -> None:
    W = torch.randn(3, 2, 5, generator=seeded(7))
    case = "3 instances of 5 features in 2 dimensions"
    out = expect_tensor(call_safely(fn, {"W": W}, case), (3, 5), "inst, feats",
                        wrong_shapes={(3, 5, 5): "sum over j in the denominator"})
    got = call_safely(fn, {"W": torch.eye(3)[None]}, "three orthogonal unit features")
    if not torch.isfinite(got).all() or (got - 1).abs().max() > 1e-4:
        fail(f"a feature with a dimension to itself has D = 1, got {got.flatten().tolist()}: the "
             f"sum Σ_j (Ŵ_i · W_j)² includes j = i")
    dropped = W.clone()
    dropped[:, :, 0] = 0
    zero = call_safely(fn, {"W": dropped}, "feature 0 dropped (W_0 = 0)")
    expect_finite(zero, "feature 0 dropped (W_0 = 0)", "D = 0 for a dropped feature, not NaN: "
                  "guard the divisions, e.g. .clamp_min(1e-12)")
    if zero[:, 0].abs().max() > 1e-6:
        fail(f"a dropped feature (W_0 = 0) has D = 0, got {zero[:, 0].tolist()}")
    expect_finite(out, case)
    expect_nonnegative(out, case, "D is a ratio of squares")
    factor = (call_safely(fn, {"W": 2 * W}, case + ", W doubled") / out).median().item()
    if abs(factor - 0.25) < 0.01:
        fail("doubling W divided D by 4: normalise W_i in the denominator (Ŵ_i · W_j); D does "
             "not depend on the scale of W")
    if abs(factor - 4) < 0.05:
        fail("doubling W multiplied D by 4: the denominator uses Ŵ_i · W_j, W_j not normalised")
    if abs(factor - 1) > 1e-3:
        fail(f"doubling W must leave D unchanged, it multiplied it by {factor:.3g}")
    pair = torch.tensor([[[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]])
    cases = {case: W, "a pentagon (D = 2/5 each)": _pentagon_W(), "an antipodal pair and a feature "
             "alone (D = 1/2, 1/2, 1)": pair, "feature 0 dropped (W_0 = 0)": dropped}
    expect_instances_independent(fn, {"W": W}, ("W",), case)
    for name, x in cases.items():
        expect_close(call_safely(fn, {"W": x}, name), feature_dimensionality(x), name)


# -- the square antiprism -----------------------------------------------------------------------
def square_antiprism() -> torch.Tensor:
    """Eight unit features in three dimensions, every one with D_i = 3/8.

    Two squares of four unit vectors each, the upper one at height z = +h
    and the lower one at z = -h (the third coordinate), the lower square
    turned 45° about the z axis from the upper one, and h chosen so that
    every feature's dimensionality is exactly 3/8: eight features share
    three dimensions equally. Returns W: (3, 8), column i is feature i.
    """
    h = (1 / 3) ** 0.5            # Σ_j W_j W_jᵀ = (8/3) I needs 8 h² = 8/3
    r = (2 / 3) ** 0.5            # unit vectors: r² + h² = 1
    k = torch.arange(8)
    angle = k * torch.pi / 4      # even k: 0°, 90°, ...; odd k: 45°, ...
    z = torch.where(k % 2 == 0, h, -h)
    return torch.stack([r * angle.cos(), r * angle.sin(), z])


_EQUAL_EDGE_H = (1 / (1 + 2 * math.sqrt(2))) ** 0.5  # the antiprism with equal edges


def _check_square_antiprism(fn) -> None:
    case = "square_antiprism()"
    W = expect_tensor(call_safely(fn, {}, case), (3, 8), "d_hidden, feats", None,
                      wrong_shapes={(8, 3): "features are columns, W is (d_hidden, feats): transpose it"})
    if not W.is_floating_point():
        fail(f"the output has dtype {W.dtype}: directions need floating-point entries")
    expect_finite(W := W.float(), case)
    norms = W.norm(dim=0)
    if (norms - 1).abs().max() > 1e-5:
        fail(f"every feature direction must have unit length, got norms {[round(v, 4) for v in norms.tolist()]}: "
             f"put the squares at radius r with r² + h² = 1")
    z = W[2]
    up, down = z > 1e-6, z < -1e-6
    if int(up.sum()) != 4 or int(down.sum()) != 4 or (z.abs() - z.abs().mean()).abs().max() > 1e-5:
        fail(f"four features at height z = +h and four at z = -h (the third row of W), got z = "
             f"{[round(v, 4) for v in z.tolist()]}")
    cos = W.mT @ W / (norms[:, None] * norms[None, :]) + 2 * torch.eye(8)  # diagonal out of the way
    if cos.min() < -1 + 1e-4:
        i, j = divmod(int(cos.argmin()), 8)
        fail(f"features {i} and {j} are antipodal (cosine -1): with both squares at the same angles "
             f"every corner has its opposite in the other square (a prism, here the cube); turn "
             f"the lower square 45° about the z axis")
    angles = torch.rad2deg(torch.atan2(W[1], W[0]))
    for name, square in (("upper", up), ("lower", down)):
        a = angles[square].sort().values
        gaps = torch.cat([a.diff(), a[:1] + 360 - a[-1:]])
        if (gaps - 90).abs().max() > 1e-3:
            fail(f"the {name} square's four features must be 90° apart round the z axis, got angles "
                 f"{[round(v, 2) for v in a.tolist()]}°")
    offset = (angles[down][:, None] - angles[up][None, :]).remainder(90).min().item()
    if abs(offset - 45) > 1e-3:
        fail(f"the lower square must be turned 45° from the upper one, it is turned {offset:.3g}°")
    D = feature_dimensionality(W[None].double())[0]
    if (D - 3 / 8).abs().max() > 1e-5:
        h, short = z.abs().mean().item(), 100 * (1 - D.mean().item() / 0.375)
        extra = " (the equal-edge antiprism, h² = 1/(1 + 2√2))" if abs(h - _EQUAL_EDGE_H) < 1e-4 else ""
        fail(f"every feature must have D_i = 3/8 = 0.375, got {D.mean().item():.4f} ({short:.2g} % "
             f"short) with h = {h:.4f}{extra}: for unit vectors D_i = 1/Σ_j cos²(i, j), and a tight "
             f"frame, Σ_j W_j W_jᵀ = (n/m) I, gives every feature D_i = m/n. Choose h so that "
             f"Σ_j z_j² = 8 h² is n/m = 8/3 (the x and y rows then follow from r² = 1 - h²)")


# -- the tegum product --------------------------------------------------------------------------
def tegum_product(factors: list[torch.Tensor]) -> torch.Tensor:
    """Several models' features, each model in its own orthogonal subspace.

    factors: a list of weight matrices, factor k of shape (d_k, n_k), its
    features' directions as columns. Returns the block-diagonal
    (Σ_k d_k, Σ_k n_k) matrix: factor 0 in the top-left corner, each next
    factor below and to the right of the previous one, zeros elsewhere.
    """
    return torch.block_diag(*factors)


def _tegum_call(fn, factors: list[torch.Tensor], case: str) -> torch.Tensor:
    try:
        return call_safely(fn, {"factors": factors}, case)
    except ExerciseFailed as err:
        if str(err).startswith("it raised RuntimeError"):
            fail(f"{str(err).rstrip('.')}. If you put the factors side by side (torch.cat along the columns), their "
                 f"heights differ: each factor needs its own d_k rows, zeros elsewhere")
        raise


def _check_tegum_product(fn) -> None:
    pentagon, pair = _pentagon_W()[0], torch.tensor([[1.0, -1.0]])
    case = "a pentagon (2 × 5) ⊕ an antipodal pair (1 × 2)"
    out = expect_tensor(_tegum_call(fn, [pentagon, pair], case), (3, 7), "Σd, Σn", wrong_shapes={
        (2, 7): "the factors share the same dimensions; each needs a subspace of its own, "
                "d_k rows of its own",
        (7, 3): "transposed: features are columns, so the product has Σd rows and Σn columns"})
    expect_finite(out, case)
    D = feature_dimensionality(out[None])[0]
    right = torch.tensor([0.4] * 5 + [0.5] * 2)
    if (D - right).abs().max() > 1e-4:
        if (D.sort().values - right.sort().values).abs().max() < 1e-4:
            fail(f"on {case} the features' dimensionalities are {[round(v, 3) for v in D.tolist()]}, "
                 f"expected the pentagon's 2/5 (×5) then the pair's 1/2 (×2): put the blocks in "
                 f"the order of the list, factor 0 top left")
        fail(f"on {case} the features' dimensionalities are {[round(v, 3) for v in D.tolist()]}, "
             f"expected each factor's own, side by side: 2/5 (×5) then 1/2 (×2). In a tegum "
             f"product no feature overlaps another factor's: the factors' subspaces are orthogonal")
    cross = (out[:, :5].mT @ out[:, 5:]).abs().max().item()
    if cross > 1e-6 or out[:2, 5:].abs().max() > 1e-6 or out[2:, :5].abs().max() > 1e-6:
        fail(f"on {case} the pentagon's features overlap the pair's (up to {cross:.3g}): zeros off "
             f"the diagonal blocks")
    if not (torch.allclose(out[:2, :5], pentagon) and torch.allclose(out[2:, 5:], pair)):
        fail(f"on {case} the blocks must be the factors themselves: the pentagon in rows 0-1, "
             f"columns 0-4, the pair in row 2, columns 5-6")
    three = [torch.randn(*shape, generator=seeded(22 + k)) for k, shape in enumerate(((2, 3), (3, 4), (1, 1)))]
    name = "three factors, (2 × 3), (3 × 4) and (1 × 1)"
    expect_close(_tegum_call(fn, three, name), tegum_product(three), name)


# -- the graph of strong interactions -----------------------------------------------------------
def strong_connections(
    W: torch.Tensor, threshold: float,
) -> torch.Tensor:
    """Which pairs of features interact strongly: the edges of TMS's graph.

    W: (inst, d_hidden, feats), column i is feature i's direction W_i.
    Features i != j are joined when max(|Ŵ_i · W_j|, |Ŵ_j · W_i|) is
    above threshold, with Ŵ_i = W_i / ‖W_i‖; a feature with W_i = 0 has
    no edges. Returns a symmetric bool (inst, feats, feats), its
    diagonal False.
    """
    norms = W.norm(dim=1).clamp_min(1e-12)       # (inst, feats)
    proj = (W.mT @ W).abs() / norms[:, :, None]  # |Ŵ_i · W_j| at (i, j)
    strong = torch.maximum(proj, proj.mT) > threshold
    return strong & ~torch.eye(W.shape[2], dtype=torch.bool)


def _edges(fn, W: torch.Tensor, threshold: float, case: str) -> torch.Tensor:
    (inst, _, n), out = W.shape, call_safely(fn, {"W": W, "threshold": threshold}, case)
    return expect_tensor(out, (inst, n, n), "inst, feats, feats", torch.bool)


def _check_strong_connections(fn) -> None:
    W = torch.randn(3, 2, 6, generator=seeded(21))
    case = "3 instances of 6 features in 2 dimensions, threshold 0.5"
    out = _edges(fn, W, 0.5, case)
    if torch.diagonal(out, dim1=1, dim2=2).any():
        fail("the diagonal must be False: a feature is not joined to itself (i != j)")
    lopsided = torch.tensor([[[1.0, 0.4]]])
    one = _edges(fn, lopsided, 0.5, "W_0 = 1, W_1 = 0.4 in one dimension, threshold 0.5")
    if not (torch.equal(out, out.mT) and torch.equal(one, one.mT)):
        fail("the graph must be symmetric: i and j are joined when either |Ŵ_i · W_j| or "
             "|Ŵ_j · W_i| is above the threshold (take the larger of the two, the max of the "
             "matrix of projections and its transpose)")
    pair = torch.tensor([[[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]])
    got = _edges(fn, pair, 0.5, "an antipodal pair and an orthogonal feature, threshold 0.5")
    if not got[0, 0, 1]:
        fail("an antipodal pair (Ŵ_0 · W_1 = -1) interacts as strongly as two features can: "
             "compare the absolute overlap |Ŵ_i · W_j| with the threshold")
    if got[0, 2].any() or got[0, :, 2].any():
        fail("a feature orthogonal to the others has no edges (Ŵ_i · W_j = 0)")
    twice = _edges(fn, 2 * W, 1.0, case.replace("0.5", "1.0") + ", W doubled")
    if not torch.equal(twice, out):
        fail("doubling W and the threshold must leave the graph as it was (Ŵ_i · W_j doubles "
             "with W): normalise the first vector only, Ŵ_i = W_i / ‖W_i‖, not W_i · W_j and "
             "not the cosine")
    if not one[0, 0, 1]:
        fail("with W_0 = 1 and W_1 = 0.4 (one dimension) and threshold 0.5 the two features are "
             "joined: Ŵ_1 · W_0 = 1 (normalise the first vector only)")
    dropped = W * (torch.arange(6) > 0)  # feature 0 dropped
    zero = _edges(fn, dropped, 0.5, "feature 0 dropped (W_0 = 0)")
    if zero[:, 0].any() or zero[:, :, 0].any():
        fail("a dropped feature (W_0 = 0) has no edges: guard the division by ‖W_0‖ = 0")
    expect_instances_independent(fn, {"W": W, "threshold": 0.5}, ("W",), case)
    more = torch.randn(2, 3, 7, generator=seeded(23))
    for name, (x, t) in {case: (W, 0.5), "the same, threshold 0.2": (W, 0.2), "feature 0 dropped":
                         (dropped, 0.5), "7 features in 3 dimensions, threshold 0.8": (more, 0.8)}.items():
        expect_close(_edges(fn, x, t, name), strong_connections(x, t), name)


# -- anticorrelated features --------------------------------------------------------------------
def anticorrelated_present(
    g: torch.Tensor, p: torch.Tensor,
) -> torch.Tensor:
    """Which features of one anticorrelated group are present.

    g: (inst, batch), one uniform number on [0, 1) per sample;
    p: (inst, k), the densities of the group's k features. Lay arcs of
    lengths p_0, p_1, ... end to end round a circle of circumference 1,
    feature j's from c_j = p_0 + ... + p_{j-1}, wrapping past 1 back to 0;
    feature j is present when g falls in its arc, (g - c_j) mod 1 < p_j.
    Returns a bool (inst, batch, k).
    """
    c = p.cumsum(dim=1) - p                   # (inst, k): where arcs start
    arc = (g[:, :, None] - c[:, None, :]) % 1  # (inst, batch, k)
    return arc < p[:, None, :]


_GROUPS_OF_3 = torch.tensor([[0.1, 0.3, 0.2], [0.7, 0.2, 0.05], [0.6, 0.5, 0.4], [0.9, 0.8, 0.3]])
_PAIRS = torch.tensor([[0.7, 0.7], [0.6, 0.5], [0.3, 0.5], [0.95, 0.2]])
_SAMPLES, _TOL = 40_000, 0.012  # a frequency's standard deviation is at most 0.0025


def _present(fn, g: torch.Tensor, p: torch.Tensor, case: str) -> torch.Tensor:
    (inst, batch), k = g.shape, p.shape[1]
    return expect_tensor(call_safely(fn, {"g": g, "p": p}, case), (inst, batch, k), "inst, batch, k",
                         torch.bool, wrong_shapes={(inst, k, batch): "the features go last: (inst, batch, k)"})


def _expect_marginals(out: torch.Tensor, p: torch.Tensor, case: str) -> None:
    freq = out.double().mean(1)
    for i in range(len(p)):
        if (freq[i] - p[i]).abs().max() <= _TOL:
            continue
        total = p[i].sum().item()
        said = (f"on {case} instance {i} has densities {[round(v, 3) for v in p[i].tolist()]} (Σp = "
                f"{total:.3g}), its features were present in {[round(v, 3) for v in freq[i].tolist()]}"
                f" of the samples")
        if total > 1 and (freq[i] - p[i] / total).abs().max() <= _TOL:
            fail(f"{said}: each split its group's samples with the others and got p_j / Σp. "
                 f"Making the group present, then picking one feature (ARENA's g < 2p and a coin) "
                 f"needs Σp ≤ 1 (p ≤ 0.5 for a pair); let the arcs wrap round the circle, "
                 f"(g - c_j) mod 1 < p_j, so that features overlap only where they must")
        if total > 1:
            fail(f"{said}: an arc that runs past 1 must wrap round to 0; take (g - c_j) mod 1 "
                 f"before comparing it with p_j")
        fail(f"{said}: each feature must keep its density, an arc of length p_j")


def _check_anticorrelated_present(fn) -> None:
    g = torch.rand(4, _SAMPLES, generator=seeded(20))
    case = "4 groups of 3 features, 40,000 samples each"
    out = _present(fn, g, _GROUPS_OF_3, case)
    _expect_marginals(out, _GROUPS_OF_3, case)
    for i, p in enumerate(_GROUPS_OF_3):
        both = out[i].sum(1) >= 2
        if p.sum() <= 1 and both.any():
            a, b = (int(v) for v in out[i, both.nonzero()[0, 0]].nonzero()[:2, 0])
            fail(f"with densities {[round(v, 3) for v in p.tolist()]} (Σp = {p.sum().item():.3g} ≤ 1) "
                 f"features {a} and {b} were present together in {both.double().mean().item():.3g} "
                 f"of the samples: lay the arcs end to end so that they never overlap, c_j the sum "
                 f"of the densities before j, p_0 + ... + p_{{j-1}}")
    pairs = _present(fn, g, _PAIRS, "4 pairs, 40,000 samples each")
    _expect_marginals(pairs, _PAIRS, "4 pairs, 40,000 samples each")
    together, least = pairs.all(2).double().mean(1), (_PAIRS.sum(1) - 1).clamp(min=0)
    for i in range(len(_PAIRS)):
        if abs(together[i] - least[i]) > _TOL:
            fail(f"a pair with densities {_PAIRS[i].tolist()} was present together in "
                 f"{together[i].item():.3g} of the samples: anticorrelated features overlap as little "
                 f"as they can, P(both) = max(0, p_0 + p_1 - 1) = {least[i].item():.3g}")
    for dens, points in (([0.2, 0.3, 0.4], [0.0, 0.1, 0.25, 0.6, 0.95]), ([0.6, 0.7], [0.1, 0.4, 0.8])):
        x, p = torch.tensor([points]), torch.tensor([dens])
        got, want = _present(fn, x, p, f"p = {dens}")[0], anticorrelated_present(x, p)[0]
        for s, point in enumerate(points):
            if not torch.equal(got[s], want[s]):
                fail(f"with p = {dens} at g = {point} the features present are "
                     f"{want[s].nonzero()[:, 0].tolist()}, got {got[s].nonzero()[:, 0].tolist()}: "
                     f"feature 0's arc starts at c_0 = 0, feature j's at c_j = p_0 + ... + p_{{j-1}}")
    expect_instances_independent(fn, {"g": g[:, :50], "p": _GROUPS_OF_3}, ("g", "p"), "4 groups, 50 samples")
    for name, (x, p, mine) in {case: (g, _GROUPS_OF_3, out), "4 pairs": (g, _PAIRS, pairs)}.items():
        arc = (x.double()[:, :, None] - (p.double().cumsum(1) - p.double())[:, None, :]) % 1
        edge = ((arc - p.double()[:, None, :]).abs() < 1e-5) | (arc < 1e-5) | (arc > 1 - 1e-5)
        differ = (mine != anticorrelated_present(x, p)) & ~edge  # an arc's edge may go either way
        if differ.any():
            i, s, j = differ.nonzero()[0].tolist()
            fail(f"on {name} the output differs from the solution's at {int(differ.sum())} entries "
                 f"(first: instance {i}, g = {x[i, s].item():.4f}, feature {j})")


# -- mistakes -----------------------------------------------------------------------------------
def _dim_excluding_self(W):
    norms = W.norm(dim=1)
    sq = ((W / norms[:, None, :]).mT @ W) ** 2
    return norms**2 / (sq.sum(2) - torch.diagonal(sq, dim1=1, dim2=2))


def _dim_unnormalised(W):
    return W.norm(dim=1) ** 2 / ((W.mT @ W) ** 2).sum(2).clamp_min(1e-12)


def _dim_cosines(W):
    norms = W.norm(dim=1).clamp_min(1e-12)
    W_hat = W / norms[:, None, :]
    return norms**2 / ((W_hat.mT @ W_hat) ** 2).sum(2).clamp_min(1e-12)


def _dim_unguarded(W):
    norms = W.norm(dim=1)
    return norms**2 / (((W / norms[:, None, :]).mT @ W) ** 2).sum(2)


def _antiprism(h: float, r: float, turn: float = math.pi / 4) -> torch.Tensor:
    k = torch.arange(8)
    angle = (k // 2) * math.pi / 2 + (k % 2) * turn
    return torch.stack([r * angle.cos(), r * angle.sin(), torch.where(k % 2 == 0, h, -h)])


def _equal_edges():
    return _antiprism(_EQUAL_EDGE_H, (1 - _EQUAL_EDGE_H**2) ** 0.5)


def _cube():
    return _antiprism(3**-0.5, (2 / 3) ** 0.5, turn=0.0)


def _not_unit():
    return _antiprism(3**-0.5, 1.0)


def _features_as_rows():
    return square_antiprism().T


def _side_by_side(factors):
    return torch.cat(list(factors), dim=1)


def _same_subspace(factors):
    d = max(f.shape[0] for f in factors)
    return torch.cat([torch.nn.functional.pad(f, (0, 0, 0, d - f.shape[0])) for f in factors], dim=1)


def _transposed_blocks(factors):
    return torch.block_diag(*[f.T for f in factors])


def _reversed_blocks(factors):
    return torch.block_diag(*list(factors)[::-1])


def _with_diagonal(W, threshold):
    proj = (W.mT @ W).abs() / W.norm(dim=1).clamp_min(1e-12)[:, :, None]
    return torch.maximum(proj, proj.mT) > threshold


def _one_direction(W, threshold):
    proj = (W.mT @ W).abs() / W.norm(dim=1).clamp_min(1e-12)[:, :, None]
    return (proj > threshold) & ~torch.eye(W.shape[2], dtype=torch.bool)


def _signed(W, threshold):
    proj = (W.mT @ W) / W.norm(dim=1).clamp_min(1e-12)[:, :, None]
    return (torch.maximum(proj, proj.mT) > threshold) & ~torch.eye(W.shape[2], dtype=torch.bool)


def _unnormalised(W, threshold):
    return ((W.mT @ W).abs() > threshold) & ~torch.eye(W.shape[2], dtype=torch.bool)


def _present_then_split(g, p):
    total, c = p.sum(1, keepdim=True), (p.cumsum(1) - p)[:, None, :]
    pos = (g / total.clamp(max=1))[:, :, None] * total[:, None]   # uniform on [0, Σp) when active
    return (g < total)[:, :, None] & (pos >= c) & (pos < c + p[:, None, :])


def _no_wrap(g, p):
    d = g[:, :, None] - (p.cumsum(1) - p)[:, None, :]
    return (d >= 0) & (d < p[:, None, :])


def _equal_spacing(g, p):
    c = torch.arange(p.shape[1]) * p[:, :1]
    return (g[:, :, None] - c[:, None, :]) % 1 < p[:, None, :]


def _inclusive_cumsum(g, p):
    return (g[:, :, None] - p.cumsum(1)[:, None, :]) % 1 < p[:, None, :]


EXERCISES = [
    exercise(
        feature_dimensionality, chapter=CHAPTER, title="Feature dimensionality",
        difficulty=3, importance=4, minutes=15, check=_check_feature_dimensionality,
        hints=["W_hat.mT @ W holds every Ŵ_i · W_j; sum their squares over j.",
               "A zero column makes 0 / 0: clamp the norms and the denominator."],
        mistakes=[Mistake(_dim_excluding_self, "includes j = i"),
                  Mistake(_dim_unnormalised, "normalise W_i in the denominator"),
                  Mistake(_dim_cosines, "W_j not normalised"),
                  Mistake(_dim_unguarded, "not NaN")],
    ),
    exercise(
        square_antiprism, chapter=CHAPTER, title="The square antiprism",
        difficulty=3, importance=3, minutes=15, check=_check_square_antiprism,
        hints=["Put feature k at angle k·45° round the z axis, even k at z = +h, odd k at z = -h.",
               ("For unit vectors D_i = 1 / Σ_j cos²(i, j) = 1 / Ŵ_iᵀ (Σ_j W_j W_jᵀ) Ŵ_i: "
                "choose h to make Σ_j W_j W_jᵀ a multiple of the identity.")],
        mistakes=[Mistake(_equal_edges, "tight frame"),
                  Mistake(_cube, "antipodal"),
                  Mistake(_not_unit, "unit length"),
                  Mistake(_features_as_rows, "transpose")],
    ),
    exercise(
        tegum_product, chapter=CHAPTER, title="The tegum product",
        difficulty=2, importance=3, minutes=10, check=_check_tegum_product,
        hints=["torch.block_diag(*factors) builds a block-diagonal matrix.",
               "By hand: torch.zeros(Σd, Σn), then copy factor k into its rows and columns."],
        mistakes=[Mistake(_side_by_side, "its own d_k rows"),
                  Mistake(_same_subspace, "share the same dimensions"),
                  Mistake(_transposed_blocks, "features are columns"),
                  Mistake(_reversed_blocks, "in the order of the list")],
    ),
    exercise(
        strong_connections, chapter=CHAPTER, title="The graph of strong interactions",
        difficulty=2, importance=3, minutes=10, check=_check_strong_connections,
        hints=["(W.mT @ W) / norms[:, :, None] holds Ŵ_i · W_j at (i, j).",
               "Take the absolute value, then torch.maximum of the matrix and its transpose.",
               "Remove the diagonal with & ~torch.eye(n, dtype=torch.bool)."],
        mistakes=[Mistake(_with_diagonal, "the diagonal must be False"),
                  Mistake(_one_direction, "must be symmetric"),
                  Mistake(_signed, "absolute overlap"),
                  Mistake(_unnormalised, "normalise the first vector only")],
    ),
    exercise(
        anticorrelated_present, chapter=CHAPTER, title="Anticorrelated features",
        difficulty=3, importance=3, minutes=15, check=_check_anticorrelated_present,
        hints=["p.cumsum(dim=1) - p gives every c_j, the sum of the densities before j.",
               ("Python's % on tensors is torch.remainder: (g - c) % 1 lies in [0, 1) "
                "even when g - c is negative."),
               "Broadcast: g[:, :, None] against c[:, None, :] gives (inst, batch, k)."],
        mistakes=[Mistake(_present_then_split, "ARENA"),
                  Mistake(_no_wrap, "wrap round to 0"),
                  Mistake(_equal_spacing, "end to end"),
                  Mistake(_inclusive_cumsum, "the densities before j")],
    ),
]
