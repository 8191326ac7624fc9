"""Exercises of chapter 7, computation in superposition (TMS §7 and "Superposition and
Adversarial Examples"): |x| from two ReLU neurons, reading which sides of a feature a model
computes, cancelling the asymmetric motif's push, and the exact smallest perturbation of a
ReLU-output model."""

from __future__ import annotations

import torch

from .core import (
    Mistake,
    call_safely,
    exercise,
    expect_close,
    expect_float,
    expect_instances_independent,
    expect_tensor,
    fail,
    seeded,
)

CHAPTER = "07_computation"


# -- |x| from two neurons -----------------------------------------------------------------------
def abs_two_neurons() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weights of an absolute-value model that computes |x_0|, |x_1|.

    The model is h = ReLU(W1 x), y = ReLU(W2 h + b) with n = 2 features
    and m = 4 neurons. Return (W1, W2, b) with W1: (4, 2), W2: (2, 4),
    b: (2,), such that y = (|x_0|, |x_1|) for every x in [-1, 1]².
    """
    # neurons ReLU(x_0), ReLU(-x_0), ReLU(x_1), ReLU(-x_1)
    W1 = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    # |x| = ReLU(x) + ReLU(-x): output i adds its feature's two neurons
    W2 = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    return W1, W2, torch.zeros(2)


def _abs_positive_only():
    W1 = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    return W1, torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]), torch.zeros(2)


def _abs_subtracts():
    W1, W2, b = abs_two_neurons()
    return W1, torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]]), b


def _abs_crossed():
    W1, W2, b = abs_two_neurons()
    return W1, W2.flip(0), b


def _abs_transposed():
    W1, W2, b = abs_two_neurons()
    return W1.T, W2.T, b


def _check_abs_two_neurons(fn) -> None:
    out = call_safely(fn, {}, "abs_two_neurons()")
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail(f"return the three weights (W1, W2, b) as a tuple, got {type(out).__name__}")
    W1 = expect_tensor(out[0], (4, 2), "d_hidden, feats", None,
                       wrong_shapes={(2, 4): "W1 maps the 2 features to the 4 neurons: shape (4, 2)"})
    W2 = expect_tensor(out[1], (2, 4), "feats, d_hidden", None,
                       wrong_shapes={(4, 2): "W2 maps the 4 neurons back to the 2 outputs: shape (2, 4)"})
    b = expect_tensor(out[2], (2,), "feats", None)
    W1, W2, b = W1.float(), W2.float(), b.float()
    x = torch.rand(500, 2, generator=seeded(3)) * 2 - 1
    y = torch.relu(torch.relu(x @ W1.T) @ W2.T + b)
    for i in range(2):
        for side, mask in (("negative", x[:, i] < 0), ("positive", x[:, i] > 0)):
            alone = torch.zeros(50, 2)
            alone[:, i] = torch.linspace(0.02, 1, 50) * (1 if side == "positive" else -1)
            yi = torch.relu(torch.relu(alone @ W1.T) @ W2.T + b)
            if (yi[:, 1 - i] - 0).abs().max() > 1e-5:
                fail(f"feature {i} alone changes output {1 - i}: output j must read only the neurons "
                     f"of feature j (check which columns of W2 are nonzero)")
            err = (yi[:, i] - alone[:, i].abs()).abs().max().item()
            if err > 1e-5:
                fires = torch.relu(alone[-1] @ W1.T) > 0  # neurons firing for this side
                if ((W2[i] < 0) & fires).any():
                    fail(f"on the {side} side of feature {i} a neuron fires but output {i} reads it with a "
                         f"negative weight: ReLU(-x) is already positive for x < 0, so read it with +1, not -1")
                if yi[:, i].abs().max() < 1e-6:
                    fail(f"on the {side} side of feature {i} the output is 0: one neuron must fire there, "
                         f"a neuron ReLU(-x) has input weight -1")
                fail(f"feature {i} alone at {side} values gives outputs up to {err:.3g} away from |x|")
    if (y - x.abs()).abs().max() > 1e-5:
        fail("with both features on, the outputs differ from (|x_0|, |x_1|): keep each feature's "
             "neurons to itself")


# -- which sides are computed -------------------------------------------------------------------
def sides_computed(
    y: torch.Tensor, v: torch.Tensor, tol: float = 0.2,
) -> torch.Tensor:
    """Which sides of each feature a model computes, from its responses.

    y: (inst, feats, vals), y[k, i, j] is output i of model k with
    feature i alone at value v[j]; v: (vals,), evenly spaced values, as
    many below 0 as above it (none at 0). A side (v < 0 or v > 0) is
    computed when the mean of |y - |v|| over its values is below tol
    times the mean of |v| over them. Returns a bool tensor
    (inst, feats, 2): [..., 0] the negative side, [..., 1] the positive.
    """
    err = (y - v.abs()).abs()
    sides = []
    for mask in (v < 0, v > 0):
        sides.append(err[..., mask].mean(-1) < tol * v[mask].abs().mean())
    return torch.stack(sides, dim=-1)


def _sides_signed_target(y, v, tol=0.2):
    err = (y - v).abs()
    return torch.stack([err[..., m].mean(-1) < tol * v[m].abs().mean() for m in (v < 0, v > 0)], dim=-1)


def _sides_max_error(y, v, tol=0.2):
    err = (y - v.abs()).abs()
    return torch.stack([err[..., m].amax(-1) < tol * v[m].abs().mean() for m in (v < 0, v > 0)], dim=-1)


def _sides_swapped(y, v, tol=0.2):
    return sides_computed(y, v, tol).flip(-1)


def _sides_unnormalised(y, v, tol=0.2):
    err = (y - v.abs()).abs()
    return torch.stack([err[..., m].mean(-1) < tol for m in (v < 0, v > 0)], dim=-1)


def _responses(seed: int, n_vals: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    v = torch.cat([-torch.linspace(1, 0.05, n_vals), torch.linspace(0.05, 1, n_vals)])
    g = seeded(seed)
    # computed, half-computed, flat at 1/2, flat at 0, a slope of 0.6, per side at random
    kinds = torch.randint(0, 5, (3, 6, 2), generator=g)
    y = torch.zeros(3, 6, v.numel())
    for k in range(3):
        for i in range(6):
            for s, mask in enumerate((v < 0, v > 0)):
                a = v[mask].abs()
                y[k, i, mask] = [a, a + 0.02, torch.full_like(a, 0.5), torch.zeros_like(a), 0.6 * a][int(kinds[k, i, s])]
    return y, v


def _check_sides_computed(fn) -> None:
    y, v = _responses(5)
    case = "3 models of 6 features, responses at 40 values"
    out = expect_tensor(call_safely(fn, {"y": y, "v": v, "tol": 0.2}, case), (3, 6, 2), "inst, feats, 2", torch.bool,
                        wrong_shapes={(3, 6): "one answer per side: stack the negative and positive sides on a last axis"})
    exact = torch.zeros(1, 2, v.numel())
    exact[0, 0] = v.abs()  # feature 0: the full V
    exact[0, 1, v > 0] = v[v > 0]  # feature 1: ReLU(v), the positive side only
    got = call_safely(fn, {"y": exact, "v": v, "tol": 0.2}, "an exact V and ReLU(v)")
    if got.shape == (1, 2, 2):
        if got[0, 0].tolist() == [False, True] or got[0, 1].tolist() == [True, False]:
            if got[0, 1].tolist() == [True, False]:
                fail("ReLU(v) follows |v| on the positive side only, and the positive side is [..., 1]: "
                     "the order is (negative, positive)")
            fail("the full V is computed on both sides: compare y with |v|, not with v")
    flat = torch.full((1, 1, v.numel()), 0.5)
    if call_safely(fn, {"y": flat, "v": v, "tol": 0.2}, "an output stuck at 1/2").any():
        fail("an output stuck at 1/2 (the dense mean) computes neither side: its mean error is 1/4, "
             "half the mean of |v|")
    slope = call_safely(fn, {"y": 0.85 * v.abs()[None, None], "v": v, "tol": 0.2}, "y = 0.85 |v|")
    if not slope.all():
        fail("y = 0.85 |v| is within tolerance on average (mean error 0.15 × the mean of |v|): use "
             "the mean error over the side, not the largest")
    scaled = call_safely(fn, {"y": 0.1 * y, "v": 0.1 * v, "tol": 0.2}, case + ", y and v divided by 10")
    if not torch.equal(scaled, out):
        fail("dividing both y and v by 10 changed the answer: compare the mean error with tol times the "
             "mean of |v| on that side, not with tol itself")
    expect_instances_independent(fn, {"y": y, "v": v, "tol": 0.2}, ("y",), case)
    for seed in (5, 6):
        yy, vv = _responses(seed)
        expect_close(call_safely(fn, {"y": yy, "v": vv, "tol": 0.2}, f"responses {seed}"), sides_computed(yy, vv),
                     f"responses {seed}")
        expect_close(call_safely(fn, {"y": yy, "v": vv, "tol": 0.5}, f"responses {seed}, tol = 0.5"),
                     sides_computed(yy, vv, 0.5), f"responses {seed}, tol = 0.5")


# -- the asymmetric motif -----------------------------------------------------------------------
def cancel_push(
    strong_weight: float, weak_weight: float,
) -> tuple[float, float]:
    """The two read weights of output w in a hand-built asymmetric motif.

    Neuron 0 = ReLU(strong_weight · x_s + weak_weight · x_w) is shared by a
    strong feature s and a weak feature w; neuron 1 = ReLU(x_s) fires for
    the strong feature alone. Output w = ReLU(read · neuron0 + inhibit ·
    neuron1). Return (read, inhibit) such that output w = x_w when w alone
    is on (x_w > 0) and output w = 0 when s alone is on (x_s > 0), for
    positive strong_weight and weak_weight.
    """
    read = 1 / weak_weight  # read · weak_weight · x_w = x_w
    # neuron 1 = x_s cancels the push read · strong_weight · x_s
    inhibit = -read * strong_weight
    return read, inhibit


def _cancel_unscaled(a, c):
    return 1 / c, -a


def _cancel_read_only(a, c):
    return 1 / c, -1 / c


def _cancel_not_reciprocal(a, c):
    return c, -a * c


def _cancel_positive(a, c):
    return 1 / c, a / c


def _check_cancel_push(fn) -> None:
    for a, c in ((2.0, 0.5), (1.5, 0.25), (3.0, 0.8)):
        case = f"strong_weight = {a}, weak_weight = {c}"
        out = call_safely(fn, {"strong_weight": a, "weak_weight": c}, case)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail(f"return the two weights (read, inhibit) as a tuple, got {type(out).__name__}")
        read, inhibit = (expect_float(v, "a Python float") for v in out)
        xw = 0.7
        if abs(read * c * xw - xw) > 1e-6:
            fail(f"on {case}: with w alone at x_w = {xw} output w is {read * c * xw:.4g}, not x_w; the neuron "
                 f"carries weak_weight · x_w, so read it with 1 / weak_weight")
        xs = 0.7
        push = read * a * xs
        total = push + inhibit * xs
        if inhibit > 0:
            fail(f"on {case}: inhibit = {inhibit:.4g} adds to the push; inhibition is a negative weight")
        if abs(total) > 1e-6:
            fail(f"on {case}: with s alone at x_s = {xs} the push read · strong_weight · x_s = {push:.4g} "
                 f"meets {inhibit * xs:.4g} from neuron 1, leaving {total:.4g}; cancel the push exactly: "
                 f"inhibit = -read · strong_weight")
        expect_close(read, 1 / c, case)
        expect_close(inhibit, -a / c, case)


# -- the exact smallest perturbation --------------------------------------------------------------
def relu_output_attack(
    W: torch.Tensor, b: torch.Tensor, delta: float, base: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The smallest L2 and L∞ perturbations that raise output j of the
    model x' = ReLU(Wᵀ W x + b) by delta, starting from x = base · e_j
    (feature j alone), for every feature j.

    W: (inst, d_hidden, feats), b: (inst, feats). Output j's
    pre-activation is z_j = a·x + b_j with a = row j of WᵀW; the output
    rises by delta when a·Δ >= c, c = delta + ReLU(z_j) - z_j at the
    start. Return (l2, linf), each (inst, feats): c / ‖a‖₂ and c / ‖a‖₁
    (inf where a = 0).
    """
    G = W.mT @ W  # (inst, j, k): row j is a for output j
    z = base * torch.diagonal(G, dim1=1, dim2=2) + b
    c = delta + torch.relu(z) - z
    inf = torch.full_like(c, float("inf"))
    l2, l1 = G.norm(dim=2), G.abs().sum(dim=2)
    return (torch.where(l2 > 0, c / l2.clamp_min(1e-30), inf),
            torch.where(l1 > 0, c / l1.clamp_min(1e-30), inf))


def _attack_constant_c(W, b, delta, base):
    G = W.mT @ W
    return delta / G.norm(dim=2), delta / G.abs().sum(dim=2)


def _attack_swapped(W, b, delta, base):
    l2, linf = relu_output_attack(W, b, delta, base)
    return linf, l2


def _attack_others_only(W, b, delta, base):
    G = W.mT @ W
    z = base * torch.diagonal(G, dim1=1, dim2=2) + b
    c = delta + torch.relu(z) - z
    off = G - torch.diag_embed(torch.diagonal(G, dim1=1, dim2=2))
    return c / off.norm(dim=2), c / off.abs().sum(dim=2)


def _attack_l2_squared(W, b, delta, base):
    G = W.mT @ W
    z = base * torch.diagonal(G, dim1=1, dim2=2) + b
    c = delta + torch.relu(z) - z
    return c / (G**2).sum(dim=2), c / G.abs().sum(dim=2)


def _check_relu_output_attack(fn) -> None:
    W = torch.randn(3, 2, 5, generator=seeded(11))
    b = -0.3 * torch.rand(3, 5, generator=seeded(12))
    case = "3 models of 5 features in 2 dimensions"
    out = call_safely(fn, {"W": W, "b": b, "delta": 0.25, "base": 0.5}, case)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"return the two answers (l2, linf) as a tuple, got {type(out).__name__}")
    l2 = expect_tensor(out[0], (3, 5), "inst, feats")
    linf = expect_tensor(out[1], (3, 5), "inst, feats")
    ref2, refi = relu_output_attack(W, b, 0.25, 0.5)
    if torch.allclose(l2, refi) and torch.allclose(linf, ref2):
        fail("l2 and linf are swapped: an L∞ budget ε moves a·Δ by ε‖a‖₁ at most (signs lined up), "
             "so the L∞ answer is c / ‖a‖₁ and the L2 one c / ‖a‖₂")
    orth = torch.eye(3)[None]
    o2, oi = call_safely(fn, {"W": orth, "b": torch.zeros(1, 3), "delta": 0.25, "base": 0.5},
                         "three orthogonal unit features, no bias")
    if not torch.isfinite(o2).all() or (o2 - 0.25).abs().max() > 1e-5:
        fail(f"with orthogonal unit features only feature j's own input moves output j, so ε = delta = "
             f"0.25; got {o2.flatten().tolist()}: a includes a_j = ‖W_j‖² (the feature's own input)")
    negative = call_safely(fn, {"W": orth, "b": torch.full((1, 3), -1.0), "delta": 0.25, "base": 0.5},
                           "orthogonal unit features with bias -1 (outputs off at the start)")[0]
    if (negative - 0.75).abs().max() > 1e-5:
        fail(f"with bias -1 the output starts at 0 (z = -0.5): it must first climb to 0, so c = delta + "
             f"ReLU(z) - z = 0.75; got ε = {negative.flatten().tolist()}")
    long2 = call_safely(fn, {"W": 2 * orth, "b": torch.zeros(1, 3), "delta": 0.25, "base": 0.5},
                        "three orthogonal features of norm 2, no bias")[0]
    if (long2 - 0.0625).abs().max() > 1e-5:
        fail(f"with orthogonal features of norm 2, a = (4, 0, 0) and ε = c / ‖a‖₂ = 0.0625; got "
             f"{long2.flatten().tolist()}: ‖a‖₂ is the square root of the sum of squares")
    dropped = W.clone()
    dropped[:, :, 0] = 0
    d2, di = call_safely(fn, {"W": dropped, "b": b, "delta": 0.25, "base": 0.5}, "feature 0 dropped (W_0 = 0)")
    if not (torch.isinf(d2[:, 0]).all() and torch.isinf(di[:, 0]).all()):
        fail("a dropped feature (a = 0) cannot be moved at all: return inf there, not NaN or a number")
    expect_instances_independent(fn, {"W": W, "b": b, "delta": 0.25, "base": 0.5}, ("W", "b"), case)
    expect_close(l2, ref2, case + " (l2)")
    expect_close(linf, refi, case + " (linf)")
    for delta, base in ((0.1, 0.3), (0.5, -0.2)):
        r2, ri = relu_output_attack(W, b, delta, base)
        g2, gi = call_safely(fn, {"W": W, "b": b, "delta": delta, "base": base}, f"delta = {delta}, base = {base}")
        expect_close(g2, r2, f"delta = {delta}, base = {base} (l2)")
        expect_close(gi, ri, f"delta = {delta}, base = {base} (linf)")


EXERCISES = [
    exercise(
        abs_two_neurons, chapter=CHAPTER, title="|x| from two neurons",
        difficulty=1, importance=4, minutes=5, check=_check_abs_two_neurons,
        hints=["One neuron per side: input weights +1 and -1 on the same feature.",
               "|x| = ReLU(x) + ReLU(-x): output i reads both of feature i's neurons with +1."],
        mistakes=[Mistake(_abs_positive_only, "input weight -1"),
                  Mistake(_abs_subtracts, "read it with +1"),
                  Mistake(_abs_crossed, "only the neurons of feature j"),
                  Mistake(_abs_transposed, "shape (4, 2)")],
    ),
    exercise(
        sides_computed, chapter=CHAPTER, title="Which sides are computed",
        difficulty=2, importance=3, minutes=10, check=_check_sides_computed,
        hints=["err = (y - v.abs()).abs() has the shape of y; index its last axis with the mask v < 0.",
               "Compare err[..., mask].mean(-1) with tol * v[mask].abs().mean()."],
        mistakes=[Mistake(_sides_signed_target, "not with v"),
                  Mistake(_sides_max_error, "mean error"),
                  Mistake(_sides_swapped, "(negative, positive)"),
                  Mistake(_sides_unnormalised, "not with tol itself")],
    ),
    exercise(
        cancel_push, chapter=CHAPTER, title="Cancel the push",
        difficulty=2, importance=4, minutes=10, check=_check_cancel_push,
        hints=["With w alone, neuron 0 = weak_weight · x_w and neuron 1 = 0.",
               "With s alone, neuron 0 = strong_weight · x_s and neuron 1 = x_s: make the sum 0."],
        mistakes=[Mistake(_cancel_unscaled, "inhibit = -read · strong_weight"),
                  Mistake(_cancel_read_only, "cancel the push exactly"),
                  Mistake(_cancel_not_reciprocal, "1 / weak_weight"),
                  Mistake(_cancel_positive, "negative weight")],
    ),
    exercise(
        relu_output_attack, chapter=CHAPTER, title="The exact smallest perturbation",
        difficulty=3, importance=4, minutes=15, check=_check_relu_output_attack,
        hints=["G = W.mT @ W; row j of G is a, and its diagonal holds ‖W_j‖².",
               "z = base · diag(G) + b; then c = delta + ReLU(z) - z.",
               "torch.where(norm > 0, c / norm.clamp_min(1e-30), inf) avoids 0 / 0."],
        mistakes=[Mistake(_attack_constant_c, "it must first climb to 0"),
                  Mistake(_attack_swapped, "swapped"),
                  Mistake(_attack_others_only, "a_j = ‖W_j‖²"),
                  Mistake(_attack_l2_squared, "square root")],
    ),
]
