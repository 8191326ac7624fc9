"""Exercises of chapter 9, sparse autoencoders (Sharkey et al. 2022): how well a decoder
recovers known features (MMCS and its one-to-one matched version) and the fraction of
variance unexplained."""

from __future__ import annotations

import torch

from .core import (
    Mistake,
    call_safely,
    exercise,
    expect_close,
    expect_float,
    fail,
    seeded,
)
from .sae import CHAPTER


# -- mean max cosine similarity -----------------------------------------------------------------
def mmcs(true_directions: torch.Tensor, W_dec: torch.Tensor) -> float:
    """Mean max cosine similarity between true features and decoder rows.

    true_directions: (n_true, d), one feature per row; W_dec: (d_sae, d),
    one latent's direction per row. For each true feature, the largest
    cosine with any decoder row; their mean over the true features.
    Returns a Python float.
    """
    true_unit = true_directions / true_directions.norm(dim=1, keepdim=True)
    dec_unit = W_dec / W_dec.norm(dim=1, keepdim=True)
    cosines = true_unit @ dec_unit.T  # (n_true, d_sae)
    return cosines.max(dim=1).values.mean().item()


def _directions(seed: int, n: int, d: int) -> torch.Tensor:
    return torch.randn(n, d, generator=seeded(seed))


def _check_mmcs(fn) -> None:
    true, W_dec = _directions(22, 4, 3), _directions(23, 6, 3)
    case = "4 true features and 6 decoder rows in 3-D"
    out = expect_float(call_safely(fn, {"true_directions": true, "W_dec": W_dec}, case))
    if not -1 - 1e-6 <= out <= 1 + 1e-6:
        fail(f"the score is {out:.4g}, but cosines lie in [-1, 1]: normalise the decoder rows and "
             f"the true directions")
    lengths = torch.linspace(0.2, 5.0, 6)[:, None]
    longer = expect_float(call_safely(fn, {"true_directions": true, "W_dec": W_dec * lengths}, case))
    if abs(longer - out) > 1e-5:
        fail("the score changed when decoder rows were made longer: normalise the decoder rows "
             "(a cosine, not a dot product)")
    longer = expect_float(call_safely(fn, {"true_directions": true * lengths[:4], "W_dec": W_dec}, case))
    if abs(longer - out) > 1e-5:
        fail("the score changed when true directions were made longer: normalise them too")
    opposite = expect_float(call_safely(fn, {"true_directions": torch.tensor([[1.0, 0.0]]),
                                             "W_dec": torch.tensor([[-2.0, 0.0]])},
                                        "one decoder row opposite the one feature"))
    if opposite > -1 + 1e-5:
        fail(f"a decoder row pointing opposite a feature (cosine −1) recovers nothing: MMCS −1, "
             f"got {opposite:.4g}; use the signed cosine, not its absolute value")
    away = -(true / true.norm(dim=1, keepdim=True)).sum(0, keepdim=True)     # opposite them all
    extra = torch.cat([W_dec, away])
    more = expect_float(call_safely(fn, {"true_directions": true, "W_dec": extra}, case + " and one more row"))
    if more < out - 1e-6:
        fail("adding a decoder row lowered the score: for each true feature take its best "
             "decoder row (the max over d_sae, dim=1), then average over the true features")
    for name, (t, w) in {case: (true, W_dec), "8 true features, 5 decoder rows in 6-D": (
            _directions(25, 8, 6), _directions(26, 5, 6))}.items():
        expect_close(expect_float(call_safely(fn, {"true_directions": t, "W_dec": w}, name)), mmcs(t, w), name)


# -- matched MMCS -------------------------------------------------------------------------------
def matched_mmcs(
    true_directions: torch.Tensor, W_dec: torch.Tensor,
) -> float:
    """MMCS with each decoder row matched to at most one true feature.

    true_directions: (n_true, d); W_dec: (d_sae, d); at most 6 of each.
    Of all one-to-one matchings of features to latents, the one with the
    largest total cosine; return that total / n_true (a feature left
    without a latent, when n_true > d_sae, scores 0). Small sizes: trying
    every matching is fine. Returns a Python float.
    """
    from itertools import permutations

    true_unit = true_directions / true_directions.norm(dim=1, keepdim=True)
    dec_unit = W_dec / W_dec.norm(dim=1, keepdim=True)
    cosines = true_unit @ dec_unit.T  # (n_true, d_sae)
    n, d_sae = cosines.shape
    if d_sae < n:                     # unmatched features score 0
        cosines = torch.cat([cosines, torch.zeros(n, n - d_sae)], dim=1)
    options = torch.tensor(list(permutations(range(cosines.shape[1]), n)))
    totals = cosines[torch.arange(n), options].sum(dim=1)
    return (totals.max() / n).item()


def _check_matched_mmcs(fn) -> None:
    close = torch.tensor([[1.0, 0.0], [0.995, 0.0998]])
    case = "two features 6° apart, decoder rows along the two axes"
    out = expect_float(call_safely(fn, {"true_directions": close, "W_dec": torch.eye(2)}, case))
    right = matched_mmcs(close, torch.eye(2))
    if abs(out - mmcs(close, torch.eye(2))) < 1e-4:
        fail(f"on {case} the score is {out:.4g}, as if a latent could serve both features: each "
             f"latent may serve only one feature (the best is {right:.4g})")
    expect_close(out, right, case, atol=1e-4)
    true, W_dec = _directions(27, 4, 3), _directions(28, 5, 3)
    name = "4 true features and 5 decoder rows in 3-D"
    base = expect_float(call_safely(fn, {"true_directions": true, "W_dec": W_dec}, name))
    for seed in range(3):
        order = torch.randperm(4, generator=seeded(seed))
        again = expect_float(call_safely(fn, {"true_directions": true[order], "W_dec": W_dec},
                                         name + ", features reordered"))
        if abs(again - base) > 1e-5:
            fail("reordering the true features changed the score: the best matching does not "
                 "depend on their order (a greedy, feature-by-feature choice does); try every "
                 "matching")
    few = _directions(29, 2, 3)
    short = expect_float(call_safely(fn, {"true_directions": true, "W_dec": few}, "4 features, 2 latents"))
    if abs(short - matched_mmcs(true, few)) > 1e-4:
        fail(f"with 4 true features and 2 latents two features are left without a latent and "
             f"score 0: divide the matched total by the number of true features "
             f"(expected {matched_mmcs(true, few):.4g}, got {short:.4g})")
    for case_name, (t, w) in {name: (true, W_dec), "5 true features and 6 decoder rows in 4-D": (
            _directions(30, 5, 4), _directions(31, 6, 4)), "3 features, 3 latents": (
            _directions(32, 3, 3), _directions(33, 3, 3))}.items():
        expect_close(expect_float(call_safely(fn, {"true_directions": t, "W_dec": w}, case_name)),
                     matched_mmcs(t, w), case_name, atol=1e-4)


# -- fraction of variance unexplained -----------------------------------------------------------
def fvu(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """The fraction of variance unexplained, Σ‖x − x̂‖² / Σ‖x − x̄‖².

    x, x_hat: (batch, d_in); x̄ is the mean input (the mean over the
    batch).
    Both sums run over the whole set (every input and dimension): one
    ratio, not a mean of per-input ratios. Returns a Python float.
    """
    residual = ((x - x_hat) ** 2).sum()
    spread = ((x - x.mean(dim=0)) ** 2).sum()
    return (residual / spread).item()


def _check_fvu(fn) -> None:
    g = seeded(34)
    x = torch.randn(50, 4, generator=g) + torch.tensor([3.0, -1.0, 0.5, 2.0])
    x_hat = x + torch.randn(50, 4, generator=g) * 0.3
    case = "50 inputs in 4-D with a non-zero mean"
    out = expect_float(call_safely(fn, {"x": x, "x_hat": x_hat}, case))
    perfect = expect_float(call_safely(fn, {"x": x, "x_hat": x.clone()}, "a perfect reconstruction"))
    if abs(perfect) > 1e-6:
        fail(f"a perfect reconstruction must have FVU 0 (the fraction of variance UNexplained), "
             f"got {perfect:.4g}")
    mean = expect_float(call_safely(fn, {"x": x, "x_hat": x.mean(dim=0).expand(50, 4)},
                                    "predicting the mean input"))
    if abs(mean - 1) > 1e-4:
        fail(f"predicting the mean input must give FVU 1, got {mean:.4g}: the denominator is the "
             f"spread around the mean input, Σ‖x − x̄‖² with x̄ = x.mean(dim=0)")
    shift = torch.tensor([10.0, -5.0, 2.0, 1.0])
    moved = expect_float(call_safely(fn, {"x": x + shift, "x_hat": x_hat + shift}, case + ", moved"))
    if abs(moved - out) > 1e-4 * abs(out):
        fail("the FVU changed when x and x̂ moved together: the denominator is the spread around "
             "the mean input, not Σ‖x‖²")
    sizes = torch.logspace(-1, 1, 50)[:, None]
    for name, (a, b) in {"inputs of very different sizes (one ratio of sums over the whole set, "
                         "not a mean of per-input ratios)": (x * sizes, x_hat * sizes), case: (x, x_hat)}.items():
        expect_close(expect_float(call_safely(fn, {"x": a, "x_hat": b}, name)), fvu(a, b), name)


# -- mistakes -----------------------------------------------------------------------------------
def _decoder_not_normalised(true_directions, W_dec):
    true_unit = true_directions / true_directions.norm(dim=1, keepdim=True)
    return (true_unit @ W_dec.T).max(dim=1).values.mean().item()


def _best_feature_per_latent(true_directions, W_dec):
    t = true_directions / true_directions.norm(dim=1, keepdim=True)
    d = W_dec / W_dec.norm(dim=1, keepdim=True)
    return (t @ d.T).max(dim=0).values.mean().item()


def _absolute_cosines(true_directions, W_dec):
    t = true_directions / true_directions.norm(dim=1, keepdim=True)
    d = W_dec / W_dec.norm(dim=1, keepdim=True)
    return (t @ d.T).abs().max(dim=1).values.mean().item()


def _mmcs_tensor(true_directions, W_dec):
    t = true_directions / true_directions.norm(dim=1, keepdim=True)
    d = W_dec / W_dec.norm(dim=1, keepdim=True)
    return (t @ d.T).max(dim=1).values.mean()


def _greedy(true_directions, W_dec):
    t = true_directions / true_directions.norm(dim=1, keepdim=True)
    cos = t @ (W_dec / W_dec.norm(dim=1, keepdim=True)).T
    used, total = set(), 0.0
    for row in cos:
        free = [j for j in range(cos.shape[1]) if j not in used]
        if free:
            j = max(free, key=lambda j: row[j].item())
            used.add(j)
            total += row[j].item()
    return total / cos.shape[0]


def _over_latents(true_directions, W_dec):
    n, d_sae = true_directions.shape[0], W_dec.shape[0]
    return matched_mmcs(true_directions, W_dec) * n / min(n, d_sae)


def _no_mean_subtracted(x, x_hat):
    return (((x - x_hat) ** 2).sum() / (x**2).sum()).item()


def _mean_over_dims(x, x_hat):
    return (((x - x_hat) ** 2).sum() / ((x - x.mean(dim=1, keepdim=True)) ** 2).sum()).item()


def _explained(x, x_hat):
    return 1 - fvu(x, x_hat)


def _per_input_ratios(x, x_hat):
    return (((x - x_hat) ** 2).sum(1) / ((x - x.mean(0)) ** 2).sum(1)).mean().item()


EXERCISES = [
    exercise(
        mmcs, chapter=CHAPTER, title="Mean max cosine similarity",
        difficulty=2, importance=4, minutes=10, check=_check_mmcs,
        hints=["Normalise the rows of both matrices; one product gives every cosine.",
               "Max over the decoder rows (dim=1), mean over the true features; .item()."],
        mistakes=[Mistake(_decoder_not_normalised, "normalise the decoder rows"),
                  Mistake(_best_feature_per_latent, "for each true feature take its best"),
                  Mistake(_absolute_cosines, "not its absolute value"),
                  Mistake(_mmcs_tensor, "float(...) or .item()")],
    ),
    exercise(
        matched_mmcs, chapter=CHAPTER, title="Matched MMCS: one latent per feature",
        difficulty=4, importance=3, minutes=20, check=_check_matched_mmcs,
        hints=["itertools.permutations(range(d_sae), n_true) lists every one-to-one matching.",
               "cosines[torch.arange(n), options] picks each matching's cosines at once.",
               "Pad the cosines with zero columns when there are fewer latents than features."],
        mistakes=[Mistake(mmcs, "each latent may serve only one feature"),
                  Mistake(_greedy, "a greedy, feature-by-feature choice"),
                  Mistake(_over_latents, "divide the matched total by the number of true features")],
    ),
    exercise(
        fvu, chapter=CHAPTER, title="Fraction of variance unexplained",
        difficulty=2, importance=4, minutes=5, check=_check_fvu,
        hints=["x.mean(dim=0) is the mean input x̄.", "Sum over everything, then one division."],
        mistakes=[Mistake(_no_mean_subtracted, "the spread around the mean input"),
                  Mistake(_mean_over_dims, "x̄ = x.mean(dim=0)"),
                  Mistake(_explained, "UNexplained"),
                  Mistake(_per_input_ratios, "not a mean of per-input ratios")],
    ),
]
