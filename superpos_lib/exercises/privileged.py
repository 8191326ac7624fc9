"""Exercises of chapter 2, privileged and non-privileged bases (TMS §3, §8): a random
rotation, the neuron model's forward pass, basis alignment and neuron monosemanticity."""

from __future__ import annotations

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

CHAPTER = "02_privileged_basis"


# -- a random rotation --------------------------------------------------------------------------
def random_rotation(
    d: int, generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A random orthogonal d × d matrix, uniform over the orthogonal group.

    Draw a d × d matrix of standard normal numbers with `generator` and
    take its QR decomposition. Q is orthogonal, but the signs that QR
    chooses for R's diagonal make it not uniform: multiply each column of
    Q by the sign of the matching diagonal entry of R. Returns (d, d).
    """
    A = torch.randn(d, d, generator=generator)
    Q, R = torch.linalg.qr(A)
    return Q * torch.sign(torch.diagonal(R))


def _check_random_rotation(fn) -> None:
    case = "d = 3 with a seeded generator"
    Q = expect_tensor(call_safely(fn, {"d": 3, "generator": seeded(0)}, case), (3, 3), "d, d")
    expect_finite(Q, case)
    if not torch.allclose(Q @ Q.T, torch.eye(3), atol=1e-4):
        fail("the matrix is not orthogonal (Q Qᵀ ≠ I): return the Q of the QR decomposition, "
             "with its columns multiplied by ±1")
    again = call_safely(fn, {"d": 3, "generator": seeded(0)}, case)
    if not torch.equal(Q, again):
        fail("two calls with generators of the same seed gave different matrices: draw the "
             "numbers with generator=generator")
    other = call_safely(fn, {"d": 3, "generator": seeded(1)}, "d = 3 with another seed")
    if torch.allclose(Q, other):
        fail("generators with different seeds gave the same matrix: draw random numbers with the "
             "generator")
    g = seeded(2)
    draws = torch.stack([call_safely(fn, {"d": 2, "generator": g}, "d = 2, 200 draws") for _ in range(200)])
    first = draws[:, :, 0].mean(0)
    if (first > 0.3).all():
        fail(f"over 200 draws the first column points into the positive quadrant on average "
             f"(mean {[round(v, 2) for v in first.tolist()]}): start from standard normal numbers (torch.randn), not "
             f"uniform ones")
    mean = draws.mean(0)
    if mean.abs().max() > 0.25:
        fail(f"over 200 draws the entries do not average to 0 (Q[0, 0] averages "
             f"{mean[0, 0].item():.2f}): QR picks the signs of R's diagonal by its own rule; "
             f"multiply Q's columns by the signs of R's diagonal (the sign fix)")
    positive = (torch.linalg.det(draws) > 0).float().mean().item()
    if not 0.3 < positive < 0.7:
        fail(f"{positive:.0%} of 200 draws have determinant +1: uniform over the orthogonal "
             f"group, half are rotations (+1) and half reflections (−1)")


# -- the neuron model ---------------------------------------------------------------------------
def neuron_forward(
    W: torch.Tensor, b: torch.Tensor, x: torch.Tensor,
) -> torch.Tensor:
    """The neuron model's output, ReLU(Wᵀ ReLU(W x) + b), for every
    instance.

    W: (inst, d_hidden, feats), b: (inst, feats), x: (inst, batch, feats).
    Returns (inst, batch, feats).
    """
    h = torch.relu(x @ W.mT)  # (inst, batch, d_hidden)
    return torch.relu(h @ W + b[:, None, :])


def _toy_inputs(seed: int, inst: int = 3, batch: int = 5, d_hidden: int = 2, feats: int = 4) -> dict:
    g = seeded(seed)
    return {"W": torch.randn(inst, d_hidden, feats, generator=g),
            "b": torch.randn(inst, feats, generator=g) * 0.5,
            "x": torch.rand(inst, batch, feats, generator=g)}


def check_relu_model(fn, solution, *, hidden_relu: bool) -> None:
    """The checks shared by the toy model and the neuron model (``solution`` is the right one)."""
    args = _toy_inputs(0)
    case = "3 instances, 5 inputs, 4 features, 2 hidden dimensions"
    hidden_shape = {(3, 5, 2): "that is the hidden layer's shape (inst, batch, d_hidden): map "
                               "back to the features with Wᵀ, h @ W"}
    out = expect_tensor(call_safely(fn, args, case), (3, 5, 4), "inst, batch, feats", wrong_shapes=hidden_shape)
    expect_finite(out, case)
    positive = dict(args, b=torch.full((3, 4), 0.1))
    mixed = args["W"] * torch.tensor([1.0, -1.0, 1.0, -1.0])      # overlaps of both signs
    positive["W"] = mixed * 2
    pos_case = "a positive bias b = 0.1 and large overlaps of both signs"
    pos_out = call_safely(fn, positive, pos_case)
    expect_nonnegative(pos_out, pos_case, "did you apply the ReLU to the output?")
    if (pos_out >= 0.1 - 1e-6).all():
        fail(f"on {pos_case} no output is below b = 0.1, although some pre-activations are "
             f"negative: the bias seems to be added after the ReLU; compute ReLU(Wᵀ h + b)")
    expect_nonnegative(out, case, "did you apply the ReLU to the output, after adding b?")
    R = torch.tensor([[0.6, -0.8], [0.8, 0.6]])
    rotated = call_safely(fn, dict(args, W=R @ args["W"]), case + ", hidden space rotated")
    if hidden_relu and torch.allclose(rotated, out, atol=1e-5):
        fail("rotating the hidden space (W -> R W) changed nothing, as in a model with a linear "
             "hidden layer: apply the ReLU to the hidden layer too, h = ReLU(W x)")
    square = _toy_inputs(1, inst=4, batch=4, d_hidden=3, feats=3)
    expect_instances_independent(fn, square, ("W", "b", "x"), "4 instances of 4 inputs, 3 features")
    cases = {case: args, pos_case: positive, "4 instances of 4 inputs, 3 features": square,
             "6 features in 3 dimensions": _toy_inputs(2, inst=2, batch=7, d_hidden=3, feats=6)}
    for name, a in cases.items():
        expect_close(call_safely(fn, a, name), solution(**a), name)


def _check_neuron_forward(fn) -> None:
    check_relu_model(fn, neuron_forward, hidden_relu=True)


# -- basis alignment and monosemanticity --------------------------------------------------------
def basis_alignment(
    W: torch.Tensor, hidden_relu: bool = False,
) -> torch.Tensor:
    """Each feature's share of its squared activation on its largest
    neuron.

    W: (inst, d_hidden, feats). Feature i alone puts h = W_i (column i) on
    the neurons, or h = ReLU(W_i) when hidden_relu. Its alignment is
    max_k h_k² / Σ_k h_k²: 1 when one neuron carries it, 1/d_hidden when
    spread evenly; 0 for a feature that activates no neuron.
    Returns (inst, feats).
    """
    h = W.clamp(min=0) if hidden_relu else W
    sq = h**2
    return sq.max(dim=1).values / sq.sum(dim=1).clamp_min(1e-12)


def neuron_monosemanticity(
    W: torch.Tensor, hidden_relu: bool = False,
) -> torch.Tensor:
    """Each neuron's share of its squared weights on its largest feature.

    W: (inst, d_hidden, feats). Neuron k's weights are row k of W (only the
    positive ones, ReLU(W_k), when hidden_relu: those make it fire). Its
    score is max_i w_i² / Σ_i w_i²: 1 for a monosemantic neuron; 0 for a
    neuron with no (positive) weight. Returns (inst, d_hidden).
    """
    w = W.clamp(min=0) if hidden_relu else W
    sq = w**2
    return sq.max(dim=2).values / sq.sum(dim=2).clamp_min(1e-12)


def _check_share(fn, solution, *, per: str) -> None:
    """Checks of basis_alignment (``per="feature"``) and neuron_monosemanticity (``"neuron"``)."""
    feature = per == "feature"
    dims, axis = ("inst, feats", 2) if feature else ("inst, d_hidden", 1)
    W = torch.randn(3, 2, 5, generator=seeded(3))
    case = "3 instances, 2 neurons, 5 features"
    wrong = {(3, 2 if feature else 5): (
        f"one value per {per}: take the max and the sum over the "
        f"{'neurons (dim=1)' if feature else 'features (dim=2)'}")}
    expect_tensor(call_safely(fn, {"W": W, "hidden_relu": False}, case), (3, W.shape[axis]), dims,
                  wrong_shapes=wrong)
    hand = torch.tensor([[[3.0, 1.0, 0.0], [4.0, -1.0, 0.0]]])           # (1, 2, 3)
    if not feature:
        hand = hand.mT.contiguous()                                      # neurons as rows
    name = f"a {per} with weights (3, 4)"
    got = call_safely(fn, {"W": hand, "hidden_relu": False}, name)
    expect_finite(got, f"a {per} with no weight (all zeros)",
                  f"a {per} with no weight must score 0, not NaN: guard the division, "
                  f"e.g. .clamp_min(1e-12)")
    if abs(got[0, 0].item() - 16 / 25) > 1e-4:
        fail(f"{name} must score 16/25 = 0.64 (squares: max h_k² / Σ h_k²), got {got[0, 0].item():.4g}")
    if got[0, 2].item() != 0:
        fail(f"a {per} with no weight must score 0, got {got[0, 2].item():.4g}")
    relu = call_safely(fn, {"W": hand, "hidden_relu": True}, f"a {per} with weights (1, −1), hidden_relu=True")
    if abs(relu[0, 1].item() - 1) > 1e-4:
        fail(f"with hidden_relu=True a {per} with weights (1, −1) must score 1: a negative weight "
             f"keeps its neuron silent, so use only ReLU(W) (got {relu[0, 1].item():.4g})")
    for name, (x, flag) in {case: (W, False), case + ", hidden_relu=True": (W, True),
                            "10 features on 5 neurons": (torch.randn(2, 5, 10, generator=seeded(4)), True)}.items():
        expect_close(call_safely(fn, {"W": x, "hidden_relu": flag}, name), solution(x, flag), name)


def _check_basis_alignment(fn) -> None:
    _check_share(fn, basis_alignment, per="feature")


def _check_neuron_monosemanticity(fn) -> None:
    _check_share(fn, neuron_monosemanticity, per="neuron")


# -- mistakes -----------------------------------------------------------------------------------
def _no_sign_fix(d, generator=None):
    return torch.linalg.qr(torch.randn(d, d, generator=generator))[0]


def _uniform_entries(d, generator=None):
    Q, R = torch.linalg.qr(torch.rand(d, d, generator=generator))
    return Q * torch.sign(torch.diagonal(R))


def _global_generator(d, generator=None):
    Q, R = torch.linalg.qr(torch.randn(d, d))
    return Q * torch.sign(torch.diagonal(R))


def _no_hidden_relu(W, b, x):
    return torch.relu(x @ W.mT @ W + b[:, None, :])


def _no_output_relu(W, b, x):
    return torch.relu(x @ W.mT) @ W + b[:, None, :]


def _bias_after_relu(W, b, x):
    return torch.relu(torch.relu(x @ W.mT) @ W) + b[:, None, :]


def _first_instance_weights(W, b, x):
    return torch.relu(torch.relu(x @ W[0].T) @ W[0] + b[:, None, :])


def _alignment_wrong_axis(W, hidden_relu=False):
    sq = (W.clamp(min=0) if hidden_relu else W) ** 2
    return sq.max(dim=2).values / sq.sum(dim=2)


def _unsquared(W, hidden_relu=False):
    h = (W.clamp(min=0) if hidden_relu else W).abs()
    return h.max(dim=1).values / h.sum(dim=1).clamp_min(1e-12)


def _ignores_hidden_relu(W, hidden_relu=False):
    return (W**2).max(dim=1).values / (W**2).sum(dim=1).clamp_min(1e-12)


def _unguarded(W, hidden_relu=False):
    sq = (W.clamp(min=0) if hidden_relu else W) ** 2
    return sq.max(dim=1).values / sq.sum(dim=1)


def _mono_wrong_axis(W, hidden_relu=False):
    sq = (W.clamp(min=0) if hidden_relu else W) ** 2
    return sq.max(dim=1).values / sq.sum(dim=1).clamp_min(1e-12)


def _mono_ignores_hidden_relu(W, hidden_relu=False):
    sq = W**2
    return sq.max(dim=2).values / sq.sum(dim=2).clamp_min(1e-12)


def _mono_unsquared(W, hidden_relu=False):
    w = (W.clamp(min=0) if hidden_relu else W).abs()
    return w.max(dim=2).values / w.sum(dim=2).clamp_min(1e-12)


EXERCISES = [
    exercise(
        random_rotation, chapter=CHAPTER, title="A uniformly random rotation",
        difficulty=3, importance=2, minutes=10, check=_check_random_rotation,
        hints=["torch.linalg.qr(A) returns Q and R.",
               "Q * torch.sign(torch.diagonal(R)) multiplies column j of Q by the sign of R[j, j]."],
        mistakes=[Mistake(_no_sign_fix, "the sign fix"),
                  Mistake(_uniform_entries, "standard normal numbers"),
                  Mistake(_global_generator, "generator=generator")],
    ),
    exercise(
        neuron_forward, chapter=CHAPTER, title="The neuron model's forward pass",
        difficulty=2, importance=4, minutes=10, check=_check_neuron_forward,
        hints=["The hidden layer is h = ReLU(x @ W.mT), shape (inst, batch, d_hidden).",
               "b has no batch axis: add b[:, None, :] before the output ReLU."],
        mistakes=[Mistake(_no_hidden_relu, "apply the ReLU to the hidden layer"),
                  Mistake(_no_output_relu, "did you apply the ReLU to the output"),
                  Mistake(_bias_after_relu, "bias seems to be added after the ReLU"),
                  Mistake(_first_instance_weights, "each instance must be computed from its own")],
    ),
    exercise(
        basis_alignment, chapter=CHAPTER, title="How much of a feature sits on one neuron",
        difficulty=2, importance=3, minutes=10, check=_check_basis_alignment,
        hints=["Column i of W is what feature i puts on the neurons.",
               "Square, then take the max and the sum over the neurons (dim=1)."],
        mistakes=[Mistake(_alignment_wrong_axis, "one value per feature"),
                  Mistake(_unsquared, "must score 16/25"),
                  Mistake(_ignores_hidden_relu, "a negative weight keeps its neuron silent"),
                  Mistake(_unguarded, "not NaN")],
    ),
    exercise(
        neuron_monosemanticity, chapter=CHAPTER, title="How monosemantic a neuron is",
        difficulty=2, importance=3, minutes=5, check=_check_neuron_monosemanticity,
        hints=["Row k of W holds neuron k's weights from every feature.",
               "Square, then take the max and the sum over the features (dim=2)."],
        mistakes=[Mistake(_mono_wrong_axis, "one value per neuron"),
                  Mistake(_mono_ignores_hidden_relu, "a negative weight keeps its neuron silent"),
                  Mistake(_mono_unsquared, "must score 16/25")],
    ),
]
