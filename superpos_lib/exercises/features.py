"""Exercises of chapter 1, features, decomposability and linearity (TMS §1; Mikolov et al.
2013): cosine similarities, analogies by vector arithmetic, PPMI, the superposition test."""

from __future__ import annotations

import math

import torch

from .core import (
    Mistake,
    call_safely,
    exercise,
    expect_close,
    expect_finite,
    expect_nonnegative,
    expect_tensor,
    fail,
    seeded,
)

CHAPTER = "01_features"


# -- cosine similarities ----------------------------------------------------------------------
def cosine_similarities(E: torch.Tensor) -> torch.Tensor:
    """The cosine similarity of every row of E with every row.

    E: (n, d), one vector per row (none of them zero).
    Returns (n, n): entry (i, j) is E_i · E_j / (‖E_i‖ ‖E_j‖).
    """
    unit = E / E.norm(dim=1, keepdim=True)
    return unit @ unit.T


def _check_cosine_similarities(fn) -> None:
    E = torch.randn(5, 3, generator=seeded(0)) * torch.tensor([[0.5], [1], [2], [3], [0.2]])
    case = "5 random vectors of different lengths in 3-D"
    out = expect_tensor(call_safely(fn, {"E": E}, case), (5, 5), "n, n")
    expect_finite(out, case)
    if not torch.allclose(out, out.T, atol=1e-5):
        fail("the output is not symmetric: normalise both vectors of each pair (cos(E_i, E_j) = "
             "cos(E_j, E_i))")
    diag = torch.diagonal(out)
    if not torch.allclose(diag, torch.ones(5), atol=1e-4):
        if torch.allclose(diag, (E**2).sum(1), rtol=1e-3):
            fail("the diagonal holds the squared lengths ‖E_i‖²: these are dot products; divide "
                 "each row by its norm first (the cosine of a vector with itself is 1)")
        fail("the cosine of a vector with itself is 1, but the diagonal is not: normalise each "
             "row, E / E.norm(dim=1, keepdim=True) (the rows, not the columns)")
    hand = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [-3.0, 0.0]])
    cases = {case: E, "four hand-built 2-D vectors at 0°, 90°, 45° and 180°": hand,
             "8 random vectors in 4-D": torch.randn(8, 4, generator=seeded(1))}
    for name, x in cases.items():
        expect_close(call_safely(fn, {"E": x}, name), cosine_similarities(x), name)


# -- analogies ----------------------------------------------------------------------------------
def analogy(E: torch.Tensor, a: int, b: int, c: int) -> int:
    """a is to b as c is to ...? The index of the answer (3CosAdd).

    E: (vocab, dim), one word vector per row; a, b, c: row indices.
    Normalise the rows, then return the index of the word whose vector has
    the largest cosine with E_b − E_a + E_c, leaving a, b and c themselves
    out of the answers. Returns a Python int.
    """
    unit = E / E.norm(dim=1, keepdim=True)
    target = unit[b] - unit[a] + unit[c]
    cosines = unit @ target / target.norm()
    cosines[[a, b, c]] = -float("inf")
    return int(cosines.argmax())


def _analogy_cases() -> dict[str, tuple[torch.Tensor, int, int, int]]:
    g = seeded(2)
    king = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.1, 1.0, 1.0],
                         [0.0, 0.0, -1.0]])                        # man, king, woman, queen, other
    # every word other than a, b, c points away from b − a + c
    away = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [-1.0, -1.0], [-1.0, -0.2]])
    return {
        "man : king :: woman : ? (rows 0-4)": (king, 0, 1, 2),
        "a vocabulary where every other word has a negative cosine": (away, 0, 1, 2),
        "50 random 8-D word vectors, queries 3, 7, 11": (torch.randn(50, 8, generator=g), 3, 7, 11),
        "50 random 8-D word vectors, queries 20, 5, 42": (torch.randn(50, 8, generator=g), 20, 5, 42),
    }


def _check_analogy(fn) -> None:
    for name, (E, a, b, c) in _analogy_cases().items():
        out = call_safely(fn, {"E": E, "a": a, "b": b, "c": c}, name)
        if isinstance(out, torch.Tensor):
            fail("it returned a tensor: return a Python int, e.g. int(scores.argmax())")
        if isinstance(out, bool) or not isinstance(out, int):
            fail(f"it returned a {type(out).__name__}, expected a Python int (a row index)")
        if not 0 <= out < E.shape[0]:
            fail(f"it returned {out}, which is not a row of E (0 to {E.shape[0] - 1}) on {name}")
        if out in (a, b, c):
            which = "abc"[(a, b, c).index(out)]
            fail(f"it returned the query word {which} (row {out}) on {name}: leave a, b and c out "
                 f"of the answers (give them a score of -inf: a score of 0 still beats the words "
                 f"with negative cosines)")
        lengths = torch.linspace(0.3, 3.0, E.shape[0])[:, None]
        longer = call_safely(fn, {"E": E * lengths, "a": a, "b": b, "c": c}, name + ", rows rescaled")
        if longer != out:
            fail(f"the answer changed (from {out} to {longer}) when word vectors were made longer "
                 f"or shorter on {name}: cosines do not depend on lengths; normalise the rows "
                 f"first")
        if out != analogy(E, a, b, c):
            fail(f"on {name} the answer is row {out}, the solution's row {analogy(E, a, b, c)}: "
                 f"the target is E_b − E_a + E_c (b minus a, plus c)")


# -- positive pointwise mutual information ------------------------------------------------------
def ppmi(counts: torch.Tensor, alpha: float = 0.75) -> torch.Tensor:
    """Positive pointwise mutual information of co-occurrence counts.

    counts: (vocab, vocab), counts[w, c] = how often context c is near w.
    With P(w, c) = counts / total, P(w) the row sums / total, and contexts
    smoothed, P(c) = colsum_c ** alpha / Σ_c' colsum_c' ** alpha:
    PPMI = max(0, log(P(w, c) / (P(w) P(c)))), and 0 wherever counts[w, c]
    is 0 (also for a word that never occurs). Returns (vocab, vocab).
    """
    total = counts.sum()
    p_wc = counts / total
    p_w = counts.sum(dim=1) / total
    p_c = counts.sum(dim=0) ** alpha
    p_c = p_c / p_c.sum()
    pmi = torch.log(p_wc / (p_w[:, None] * p_c[None, :]))
    return pmi.clamp(min=0).nan_to_num(0.0)


def _counts(seed: int, vocab: int, *, symmetric: bool) -> torch.Tensor:
    g = seeded(seed)
    c = torch.poisson(torch.rand(vocab, vocab, generator=g) * 4, generator=g)
    return c + c.T if symmetric else c


def _check_ppmi(fn) -> None:
    counts = _counts(3, 6, symmetric=False)
    counts[2] = 0                                               # a word with no contexts
    case = "6 words with random counts (word 2 never occurs)"
    out = expect_tensor(call_safely(fn, {"counts": counts, "alpha": 0.75}, case), (6, 6), "vocab, vocab")
    expect_finite(out, case, "where counts are 0 the PPMI is 0 (also for a word that never "
                  "occurs, whose probabilities are 0/0)")
    expect_nonnegative(out, case, "PPMI is max(0, PMI): clamp the negative values to 0")
    if (out[counts == 0] != 0).any():
        fail(f"on {case} the PPMI is not 0 where counts are 0")
    if (out == 0).all():
        fail(f"on {case} every PPMI is 0: P(w, c), P(w) and P(c) must be probabilities, each "
             f"summing to 1 (divide colsum ** alpha by its sum; divide counts by the total)")
    plain = call_safely(fn, {"counts": counts, "alpha": 1.0}, case + ", alpha = 1")
    if torch.allclose(out, plain):
        fail("alpha changes nothing: smooth the context distribution, P(c) ∝ colsum_c ** alpha")
    scaled = call_safely(fn, {"counts": counts * 10, "alpha": 0.75}, case + ", every count × 10")
    if not torch.allclose(scaled, out, atol=1e-4):
        fail("the PPMI changed when every count was multiplied by 10: probabilities must sum to 1 "
             "(divide colsum ** alpha by its sum; divide counts by the total)")
    cases = {case: (counts, 0.75), "8 words, symmetric counts": (_counts(4, 8, symmetric=True), 0.75),
             "8 words, asymmetric counts, alpha = 1": (_counts(5, 8, symmetric=False), 1.0),
             "8 words, asymmetric counts, alpha = 0.5": (_counts(6, 8, symmetric=False), 0.5)}
    for name, (x, alpha) in cases.items():
        expect_close(call_safely(fn, {"counts": x, "alpha": alpha}, name), ppmi(x, alpha), name, atol=1e-4)


# -- the superposition test ---------------------------------------------------------------------
def in_superposition(W: torch.Tensor, min_norm: float = 0.5) -> bool:
    """Are the features that W represents in superposition?

    W: (d_hidden, feats), column i is feature i's direction. Keep the
    represented features (columns of norm above min_norm); they are in
    superposition when their Gram matrix WᵀW is singular (its rank is below
    their number). No feature represented: False. Returns a Python bool.
    """
    kept = W[:, W.norm(dim=0) > min_norm]
    if kept.shape[1] == 0:
        return False
    gram = kept.T @ kept
    return bool(torch.linalg.matrix_rank(gram) < kept.shape[1])


def _pentagon() -> torch.Tensor:
    angles = torch.arange(5) * 2 * math.pi / 5
    return torch.stack([angles.cos(), angles.sin()])


def _superposition_cases() -> dict[str, tuple[torch.Tensor, float, bool, str]]:
    rot = torch.tensor([[0.6, -0.8], [0.8, 0.6]])
    return {
        "two features on the two axes": (torch.eye(2), 0.5, False, ""),
        "two features, rotated": (rot, 0.5, False, ""),
        "three features, one dropped (W_2 = 0)": (
            torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]), 0.5, False,
            ("a dropped feature is not superposition: leave out the columns of norm <= min_norm "
             "before the Gram test")),
        "five features in two dimensions (a pentagon)": (
            _pentagon(), 0.5, True,
            "the Gram matrix is WᵀW (feats × feats), whose rank is at most d_hidden"),
        "two features along one direction in 3-D": (
            torch.tensor([[1.0, -1.0], [0, 0], [0, 0]]), 0.5, True,
            ("two features may share a direction with dimensions to spare: test whether WᵀW "
             "is singular, do not count features against dimensions")),
        "a short feature (norm 0.3) overlapping a long one, min_norm = 0.5": (
            torch.tensor([[1.0, 0.3], [0, 0]]), 0.5, False,
            "a feature of norm 0.3 is not represented when min_norm = 0.5"),
        "the same with min_norm = 0.2": (
            torch.tensor([[1.0, 0.3], [0, 0]]), 0.2, True,
            "with min_norm = 0.2 the short feature counts; does your code use min_norm?"),
    }


def _check_in_superposition(fn) -> None:
    for name, (W, min_norm, expected, why) in _superposition_cases().items():
        out = call_safely(fn, {"W": W, "min_norm": min_norm}, name)
        if isinstance(out, torch.Tensor):
            fail("it returned a tensor: return a Python bool, e.g. bool(rank < n)")
        if not isinstance(out, bool):
            fail(f"it returned a {type(out).__name__}, expected a Python bool")
        if out != expected:
            fail(f"on {name} it says {out}, the right answer is {expected}" + (f": {why}" if why else ""))


# -- mistakes -----------------------------------------------------------------------------------
def _dot_products(E):
    return E @ E.T


def _columns_normalised(E):
    unit = E / E.norm(dim=0, keepdim=True)
    return unit @ unit.T


def _one_side(E):
    return (E / E.norm(dim=1, keepdim=True)) @ E.T


def _no_exclusion(E, a, b, c):
    unit = E / E.norm(dim=1, keepdim=True)
    return int((unit @ (unit[b] - unit[a] + unit[c])).argmax())


def _excluded_with_zero(E, a, b, c):
    unit = E / E.norm(dim=1, keepdim=True)
    cosines = unit @ (unit[b] - unit[a] + unit[c])
    cosines[[a, b, c]] = 0.0
    return int(cosines.argmax())


def _not_normalised(E, a, b, c):
    scores = E @ (E[b] - E[a] + E[c])
    scores[[a, b, c]] = -math.inf
    return int(scores.argmax())


def _pmi_unclamped(counts, alpha=0.75):
    p_c = counts.sum(0) ** alpha
    pmi = torch.log(counts / counts.sum() / (counts.sum(1, keepdim=True) / counts.sum() * p_c / p_c.sum()))
    return torch.where(counts > 0, pmi, torch.zeros_like(pmi))


def _ppmi_nan(counts, alpha=0.75):
    p_c = counts.sum(0) ** alpha
    pmi = torch.log(counts / counts.sum() / (counts.sum(1, keepdim=True) / counts.sum() * p_c / p_c.sum()))
    return pmi.clamp(min=0)


def _ppmi_no_alpha(counts, alpha=0.75):
    p = counts / counts.sum()
    pmi = torch.log(p / (p.sum(1, keepdim=True) * p.sum(0, keepdim=True)))
    return pmi.clamp(min=0).nan_to_num(0.0)


def _ppmi_unnormalised_context(counts, alpha=0.75):
    total = counts.sum()
    pmi = torch.log(counts / total / (counts.sum(1, keepdim=True) / total * counts.sum(0) ** alpha))
    return pmi.clamp(min=0).nan_to_num(0.0)


def _all_features(W, min_norm=0.5):
    return bool(torch.linalg.matrix_rank(W.T @ W) < W.shape[1])


def _outer_gram(W, min_norm=0.5):
    kept = W[:, W.norm(dim=0) > min_norm]
    return kept.shape[1] > 0 and bool(torch.linalg.matrix_rank(kept @ kept.T) < kept.shape[0])


def _counting(W, min_norm=0.5):
    return int((W.norm(dim=0) > min_norm).sum()) > W.shape[0]


EXERCISES = [
    exercise(
        cosine_similarities, chapter=CHAPTER, title="Cosine similarities of word vectors",
        difficulty=1, importance=3, minutes=5, check=_check_cosine_similarities,
        hints=["Divide each row by its length first: E.norm(dim=1, keepdim=True).",
               "Then one matrix product gives every pair."],
        mistakes=[Mistake(_dot_products, "these are dot products"),
                  Mistake(_columns_normalised, "normalise each row"),
                  Mistake(_one_side, "not symmetric")],
    ),
    exercise(
        analogy, chapter=CHAPTER, title="Analogies by vector arithmetic (3CosAdd)",
        difficulty=2, importance=3, minutes=10, check=_check_analogy,
        hints=["Normalise the rows, then the target is unit[b] − unit[a] + unit[c].",
               "Set the scores of a, b and c to -inf before the argmax."],
        mistakes=[Mistake(_no_exclusion, "leave a, b and c out"),
                  Mistake(_excluded_with_zero, "leave a, b and c out"),
                  Mistake(_not_normalised, "normalise the rows")],
    ),
    exercise(
        ppmi, chapter=CHAPTER, title="Positive pointwise mutual information",
        difficulty=2, importance=2, minutes=10, check=_check_ppmi,
        hints=["Turn counts into probabilities: divide by the total; P(w) from the row sums.",
               "log(0) is -inf, which the clamp turns into 0; 0/0 is NaN: nan_to_num(0.0)."],
        mistakes=[Mistake(_pmi_unclamped, "clamp the negative values"),
                  Mistake(_ppmi_nan, "NaN or infinite"),
                  Mistake(_ppmi_no_alpha, "alpha changes nothing"),
                  Mistake(_ppmi_unnormalised_context, "summing to 1")],
    ),
    exercise(
        in_superposition, chapter=CHAPTER, title="The superposition test",
        difficulty=2, importance=4, minutes=10, check=_check_in_superposition,
        hints=["Select the represented columns: W[:, W.norm(dim=0) > min_norm].",
               "torch.linalg.matrix_rank tells whether their Gram matrix is singular."],
        mistakes=[Mistake(_all_features, "a dropped feature is not superposition"),
                  Mistake(_outer_gram, "WᵀW (feats × feats)"),
                  Mistake(_counting, "do not count features against dimensions")],
    ),
]
