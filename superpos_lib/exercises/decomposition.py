"""Exercises of chapter 4, the mathematics of superposition (TMS §4): dimensions per feature,
the dense loss, the linear model's loss decomposition and the pairwise interference a ReLU
output pays. (Feature dimensionality, TMS §6, is chapter 6's: :mod:`.geometry`.)"""

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
from .superposition import _pentagon_W

CHAPTER = "04_mathematics"


# -- dimensions per feature ---------------------------------------------------------------------
def dimensions_per_feature(W: torch.Tensor) -> torch.Tensor:
    """Hidden dimensions per represented feature, m / ‖W‖_F².

    W: (inst, d_hidden, feats) with m = d_hidden; ‖W‖_F² is the sum of the
    squares of every entry of an instance's W. Returns (inst,).
    """
    m = W.shape[1]
    return m / (W**2).sum(dim=(1, 2))


def _check_dimensions_per_feature(fn) -> None:
    W = torch.randn(3, 2, 5, generator=seeded(8))
    case = "3 instances of 5 features in 2 dimensions"
    out = expect_tensor(call_safely(fn, {"W": W}, case), (3,), "inst",
                        wrong_shapes={(): "one value per instance: sum over dims 1 and 2 only"})
    expect_finite(out, case)
    got = call_safely(fn, {"W": _pentagon_W()}, "a pentagon of unit features in 2 dimensions")
    if abs(got.item() - 1) < 1e-4:
        fail("five unit features in m = 2 dimensions have 2/5 of a dimension each, got 1: the "
             "numerator is m = d_hidden, not the number of features")
    if abs(got.item() - 0.4) > 1e-4:
        fail(f"five unit features in m = 2 dimensions have 2/5 of a dimension each, got "
             f"{got.item():.4g}: m / ‖W‖_F², where ‖W‖_F² is the sum of squares of W's entries")
    factor = (call_safely(fn, {"W": 2 * W}, case + ", W doubled") / out).mean().item()
    if abs(factor - 0.25) > 1e-3:
        fail(f"doubling W must divide the value by 4 (‖W‖_F² is a sum of squares); it "
             f"multiplied it by {factor:.3g}")
    expect_instances_independent(fn, {"W": W}, ("W",), case)
    for name, x in {case: W, "6 features in 3 dimensions": torch.randn(2, 3, 6, generator=seeded(9))}.items():
        expect_close(call_safely(fn, {"W": x}, name), dimensions_per_feature(x), name)


# -- the dense loss -----------------------------------------------------------------------------
def dense_optimal_loss(
    importance: torch.Tensor, d_hidden: int,
) -> torch.Tensor:
    """The loss of keeping the d_hidden most important features (p = 1).

    importance: (inst, feats); x_i uniform on [0, 1). The model keeps the
    d_hidden most important features exactly and predicts every other
    feature by its mean 1/2, paying its variance 1/12, weighted by its
    importance; the loss is the mean over the n features:
    (1/n) Σ_dropped I_i / 12. Returns (inst,). (A bound on the dense
    optimum: a lopsided model can do very slightly better.)
    """
    n = importance.shape[1]
    ranked = importance.sort(dim=1, descending=True).values
    return ranked[:, d_hidden:].sum(dim=1) / (12 * n)


def _check_dense_optimal_loss(fn) -> None:
    imp = 0.7 ** torch.arange(20.0)[None]
    case = "TMS's n = 20, m = 5, I_i = 0.7^i"
    out = expect_tensor(call_safely(fn, {"importance": imp, "d_hidden": 5}, case), (1,), "inst",
                        wrong_shapes={(): "one loss per instance: sum over the features only"})
    expect_finite(out, case)
    hand = torch.tensor([[1.0, 0.5, 0.1]])
    name = "n = 3, m = 1, importances (1, 0.5, 0.1)"
    got = call_safely(fn, {"importance": hand, "d_hidden": 1}, name).item()
    right = 0.6 / 36
    if abs(got - 4 * right) < 1e-6:
        fail(f"on {name} the loss is {got:.4g}, 4 times too large: a dropped feature costs its "
             f"variance 1/12 (E[x²] − E[x]², predicted by its mean 1/2), not E[x²] = 1/3")
    if abs(got - 3 * right) < 1e-6:
        fail(f"on {name} the loss is {got:.4g}, 3 times too large: average over the n features "
             f"(divide the sum by n)")
    if abs(got - right) > 1e-6:
        fail(f"on {name} the model keeps feature 0 (importance 1), the most important, and drops "
             f"the other two: (0.5 + 0.1) / 12 / 3 = {right:.4g}; got {got:.4g}")
    shuffled = imp[:, torch.randperm(20, generator=seeded(10))]
    again = call_safely(fn, {"importance": shuffled, "d_hidden": 5}, case + ", features shuffled")
    if not torch.allclose(again, out):
        fail("listing the features in another order changed the loss: keep the d_hidden most "
             "important features, whatever their position (sort the importances)")
    imps = torch.rand(4, 6, generator=seeded(11))
    expect_instances_independent(fn, {"importance": imps, "d_hidden": 2}, ("importance",), "4 instances")
    for name, (x, m) in {case: (imp, 5), "4 instances of 6 random importances, m = 2": (imps, 2),
                         "m = n: nothing dropped": (imps, 6)}.items():
        expect_close(call_safely(fn, {"importance": x, "d_hidden": m}, name), dense_optimal_loss(x, m), name)


# -- the loss decomposition ---------------------------------------------------------------------
def loss_decomposition(
    W: torch.Tensor, feature_probability: torch.Tensor,
    importance: torch.Tensor, b: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The linear model's expected loss on zero-mean features, term by
    term.

    W: (inst, d_hidden, feats); feature_probability p, importance I and
    b: (inst, feats). Feature j is present with probability p_j, then
    uniform on [-1, 1), so E[x_j²] = p_j / 3. Each term is divided by n:
    benefit = Σ_i I_i (p_i/3) (1 − ‖W_i‖²)²,
    interference = Σ_i I_i Σ_{j≠i} (p_j/3) (W_i · W_j)²,
    bias = Σ_i I_i b_i². Returns (benefit, interference, bias), each
    (inst,).
    """
    n = W.shape[2]
    second = feature_probability / 3              # E[x_j²]
    G = W.mT @ W                                  # (inst, i, j): W_i · W_j
    norms_sq = torch.diagonal(G, dim1=1, dim2=2)  # ‖W_i‖²
    benefit = (importance * second * (1 - norms_sq) ** 2).sum(dim=1)
    off = G**2 * (1 - torch.eye(n))               # (W_i · W_j)², j ≠ i
    leak = importance[:, :, None] * off * second[:, None, :]
    bias = (importance * b**2).sum(dim=1)
    return benefit / n, leak.sum(dim=(1, 2)) / n, bias / n


def _decomposition_inputs(seed: int, inst: int = 3, d_hidden: int = 2, feats: int = 4) -> dict:
    g = seeded(seed)
    return {"W": torch.randn(inst, d_hidden, feats, generator=g) * 0.7,
            "feature_probability": torch.rand(inst, feats, generator=g) * 0.9 + 0.1,
            "importance": torch.rand(inst, feats, generator=g) + 0.5,
            "b": torch.randn(inst, feats, generator=g) * 0.1}


def _terms(fn, args: dict, case: str) -> tuple[torch.Tensor, ...]:
    out = call_safely(fn, args, case)
    if not isinstance(out, tuple) or len(out) != 3:
        fail(f"it returned a {type(out).__name__}"
             f"{f' of {len(out)}' if isinstance(out, (tuple, list)) else ''}: return the three "
             f"terms as a tuple (benefit, interference, bias)")
    inst = args["W"].shape[0]
    return tuple(expect_tensor(t, (inst,), "inst", wrong_shapes={(): "one value per instance"}) for t in out)


def _check_loss_decomposition(fn) -> None:
    args = _decomposition_inputs(0)
    case = "3 instances of 4 features in 2 dimensions"
    terms = _terms(fn, args, case)
    for t, name in zip(terms, ("benefit", "interference", "bias")):
        expect_finite(t, case)
        expect_nonnegative(t, case, f"the {name} term is a weighted sum of squares")
    ones = {"W": torch.eye(3)[None], "feature_probability": torch.full((1, 3), 0.3),
            "importance": torch.ones(1, 3), "b": torch.zeros(1, 3)}
    benefit, interference, bias = _terms(fn, ones, "three orthogonal unit features, b = 0")
    if interference.abs().max() > 1e-6:
        fail("three orthogonal unit features have no interference: the sum is over j ≠ i "
             "(leave out the j = i term, (W_i · W_i)² = ‖W_i‖⁴)")
    if benefit.abs().max() > 1e-6 or bias.abs().max() > 1e-6:
        fail("three orthogonal unit features with b = 0 lose nothing: benefit and bias terms 0")
    none = {"W": torch.zeros(1, 2, 4), "feature_probability": torch.full((1, 4), 0.3),
            "importance": torch.ones(1, 4), "b": torch.zeros(1, 4)}
    got = _terms(fn, none, "four features, all dropped (W = 0), p = 0.3")[0].item()
    if abs(got - 0.4) < 1e-6:
        fail(f"with W = 0 and p = 0.3 the benefit term of four features is {got:.4g}, 4 times "
             f"too large: average over the n features (divide by n)")
    if abs(got - 0.1) > 1e-6:
        fail(f"with W = 0 and p = 0.3 the benefit term is {got:.4g}, expected 0.1: E[x²] = p/3 "
             f"for a feature uniform on [-1, 1) when present")
    pair = {"W": torch.tensor([[[1.0, 0.6]]]), "feature_probability": torch.tensor([[0.1, 0.9]]),
            "importance": torch.tensor([[1.0, 0.0]]), "b": torch.zeros(1, 2)}
    leak = _terms(fn, pair, "two overlapping features, only feature 0 important")[1].item()
    right = 0.36 * 0.3 / 2
    if abs(leak - right) > 1e-6:
        wrong_p = 0.36 * 0.1 / 3 / 2
        fail(f"two features with W_0 · W_1 = 0.6, densities (0.1, 0.9) and importances (1, 0): "
             f"output 0 pays I_0 (p_1/3) (W_0 · W_1)² / n = {right:.4g}, got {leak:.4g}"
             + (": weight by p_j/3, the density of the feature j that leaks in, not p_i"
                if abs(leak - wrong_p) < 1e-6 else ""))
    expect_instances_independent(fn, args, tuple(args), case)
    for name, a in {case: args, "2 instances of 6 features in 3 dimensions": _decomposition_inputs(1, 2, 3, 6)}.items():
        for got_t, right_t in zip(_terms(fn, a, name), loss_decomposition(**a)):
            expect_close(got_t, right_t, name)


# -- pairwise interference ----------------------------------------------------------------------
def pairwise_interference(
    W: torch.Tensor, relu: bool = False,
) -> torch.Tensor:
    """The interference of every pair of features, (W_i · W_j)² for i ≠ j.

    W: (inst, d_hidden, feats). The diagonal is 0. With relu=True only
    positive overlaps count (ReLU(W_i · W_j))²: behind a ReLU output a
    negative overlap is free. Returns (inst, feats, feats).
    """
    G = W.mT @ W  # (inst, i, j): W_i · W_j
    if relu:
        G = G.clamp(min=0)
    return G**2 * (1 - torch.eye(W.shape[2]))


def _check_pairwise_interference(fn) -> None:
    W = torch.randn(3, 2, 4, generator=seeded(12))
    case = "3 instances of 4 features in 2 dimensions"
    out = expect_tensor(call_safely(fn, {"W": W, "relu": False}, case), (3, 4, 4), "inst, feats, feats")
    expect_finite(out, case)
    expect_nonnegative(out, case, "interference is a square")
    if torch.diagonal(out, dim1=1, dim2=2).abs().max() > 1e-6:
        fail("the diagonal must be 0: a feature does not interfere with itself (i ≠ j)")
    pair = torch.tensor([[[1.0, -1.0]]])
    got = call_safely(fn, {"W": pair, "relu": True}, "an antipodal pair, relu=True")
    if got.abs().max() > 1e-6:
        fail("with relu=True an antipodal pair (W_0 · W_1 = −1) interferes for free: clamp the "
             "overlaps at 0 before squaring (after squaring every overlap is positive)")
    plain = call_safely(fn, {"W": pair, "relu": False}, "an antipodal pair, relu=False")
    if abs(plain[0, 0, 1].item() - 1) > 1e-6:
        fail(f"without relu an antipodal pair pays (W_0 · W_1)² = 1, got {plain[0, 0, 1].item():.4g}")
    factor = (call_safely(fn, {"W": 2 * W, "relu": False}, case + ", W doubled")[out > 0] / out[out > 0]).median()
    if abs(factor.item() - 16) > 0.01:
        fail(f"doubling W must multiply (W_i · W_j)² by 16, got {factor.item():.3g}: use the dot "
             f"products W_i · W_j themselves, not cosines")
    expect_instances_independent(fn, {"W": W, "relu": True}, ("W",), case)
    for name, (x, relu) in {case: (W, False), case + ", relu=True": (W, True),
                            "6 features in 3 dimensions, relu=True": (torch.randn(2, 3, 6, generator=seeded(13)), True)}.items():
        expect_close(call_safely(fn, {"W": x, "relu": relu}, name), pairwise_interference(x, relu), name)


# -- mistakes -----------------------------------------------------------------------------------
def _per_feature_count(W):
    return W.shape[2] / (W**2).sum(dim=(1, 2))


def _frobenius_not_squared(W):
    return W.shape[1] / W.norm(dim=(1, 2))


def _all_instances(W):
    return W.shape[1] / (W**2).sum()


def _first_features(importance, d_hidden):
    return importance[:, d_hidden:].sum(1) / (12 * importance.shape[1])


def _second_moment(importance, d_hidden):
    ranked = importance.sort(dim=1, descending=True).values
    return ranked[:, d_hidden:].sum(1) / (3 * importance.shape[1])


def _not_averaged(importance, d_hidden):
    return importance.sort(dim=1, descending=True).values[:, d_hidden:].sum(1) / 12


def _ascending(importance, d_hidden):
    ranked = importance.sort(dim=1).values
    return ranked[:, d_hidden:].sum(1) / (12 * importance.shape[1])


def _decomposition_with_self(W, feature_probability, importance, b):
    n, second, G = W.shape[2], feature_probability / 3, W.mT @ W
    benefit = (importance * second * (1 - torch.diagonal(G, dim1=1, dim2=2)) ** 2).sum(1) / n
    leak = (importance[:, :, None] * G**2 * second[:, None, :]).sum((1, 2)) / n
    return benefit, leak, (importance * b**2).sum(1) / n


def _density_not_third(W, feature_probability, importance, b):
    n, G = W.shape[2], W.mT @ W
    benefit = (importance * feature_probability * (1 - torch.diagonal(G, dim1=1, dim2=2)) ** 2).sum(1) / n
    off = G**2 * (1 - torch.eye(n))
    leak = (importance[:, :, None] * off * feature_probability[:, None, :]).sum((1, 2)) / n
    return benefit, leak, (importance * b**2).sum(1) / n


def _density_of_output(W, feature_probability, importance, b):
    n, second, G = W.shape[2], feature_probability / 3, W.mT @ W
    benefit = (importance * second * (1 - torch.diagonal(G, dim1=1, dim2=2)) ** 2).sum(1) / n
    off = G**2 * (1 - torch.eye(n))
    leak = ((importance * second)[:, :, None] * off).sum((1, 2)) / n
    return benefit, leak, (importance * b**2).sum(1) / n


def _not_divided(W, feature_probability, importance, b):
    return tuple(t * W.shape[2] for t in loss_decomposition(W, feature_probability, importance, b))


def _pairs_with_diagonal(W, relu=False):
    G = W.mT @ W
    return (G.clamp(min=0) if relu else G) ** 2


def _relu_after_square(W, relu=False):
    sq = (W.mT @ W) ** 2 * (1 - torch.eye(W.shape[2]))
    return sq.clamp(min=0) if relu else sq


def _pairs_of_cosines(W, relu=False):
    W_hat = W / W.norm(dim=1, keepdim=True)
    G = W_hat.mT @ W_hat
    return (G.clamp(min=0) if relu else G) ** 2 * (1 - torch.eye(W.shape[2]))


EXERCISES = [
    exercise(
        dimensions_per_feature, chapter=CHAPTER, title="Dimensions per feature",
        difficulty=1, importance=3, minutes=5, check=_check_dimensions_per_feature,
        hints=["W.shape[1] is m; (W ** 2).sum(dim=(1, 2)) is ‖W‖_F² per instance."],
        mistakes=[Mistake(_per_feature_count, "the numerator is m = d_hidden"),
                  Mistake(_frobenius_not_squared, "sum of squares"),
                  Mistake(_all_instances, "one value per instance")],
    ),
    exercise(
        dense_optimal_loss, chapter=CHAPTER, title="The loss on dense features",
        difficulty=2, importance=3, minutes=10, check=_check_dense_optimal_loss,
        hints=["Sort the importances in descending order; the first d_hidden are kept.",
               "A feature uniform on [0, 1) has variance 1/3 − 1/4 = 1/12."],
        mistakes=[Mistake(_first_features, "sort the importances"),
                  Mistake(_second_moment, "not E[x²] = 1/3"),
                  Mistake(_not_averaged, "average over the n features"),
                  Mistake(_ascending, "the most important")],
    ),
    exercise(
        loss_decomposition, chapter=CHAPTER, title="Feature benefit and interference",
        difficulty=4, importance=5, minutes=20, check=_check_loss_decomposition,
        hints=["G = W.mT @ W holds every W_i · W_j; its diagonal holds ‖W_i‖².",
               "Multiply G ** 2 by (1 − torch.eye(n)) to leave out j = i.",
               "In the interference, I_i goes along rows (i) and p_j / 3 along columns (j)."],
        mistakes=[Mistake(_decomposition_with_self, "leave out the j = i term"),
                  Mistake(_density_not_third, "E[x²] = p/3"),
                  Mistake(_density_of_output, "not p_i"),
                  Mistake(_not_divided, "divide by n")],
    ),
    exercise(
        pairwise_interference, chapter=CHAPTER, title="Interference behind a ReLU",
        difficulty=2, importance=3, minutes=10, check=_check_pairwise_interference,
        hints=["Clamp the overlaps W_i · W_j at 0 before squaring when relu is True.",
               "Multiply by (1 − torch.eye(n)) to zero the diagonal."],
        mistakes=[Mistake(_pairs_with_diagonal, "the diagonal must be 0"),
                  Mistake(_relu_after_square, "before squaring"),
                  Mistake(_pairs_of_cosines, "not cosines")],
    ),
]
