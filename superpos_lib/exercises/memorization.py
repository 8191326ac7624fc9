"""Exercises of chapter 8, memorization and double descent (Henighan et al. 2023): the
unit-norm finite datasets, the dimensionality of training examples, weights that store a
handful of examples exactly, and reading the peak of the test loss off a sweep over sizes."""

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
    expect_float,
    expect_nonnegative,
    expect_tensor,
    fail,
    seeded,
)

CHAPTER = "08_memorization"


# -- the dataset --------------------------------------------------------------------------------
def unit_norm_dataset(
    T: int, n_features: int, density: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """T training examples of sparse features, each of unit norm.

    Each feature of each example is present with probability density
    (1 − S) and then uniform on [0, 1); otherwise it is 0. Then every
    example is divided by its own norm, so that ‖x_t‖ = 1; an example
    with no feature present stays all 0. Draw every random number with
    `generator`. Returns (T, n_features), one example per row.
    """
    values = torch.rand(T, n_features, generator=generator)
    coins = torch.rand(T, n_features, generator=generator)
    x = values * (coins < density)
    norms = x.norm(dim=1, keepdim=True)  # (T, 1): one per example
    return x / norms.clamp_min(1e-12)  # an empty example stays 0


def _dataset_unnormalised(T, n_features, density, generator=None):
    values = torch.rand(T, n_features, generator=generator)
    return values * (torch.rand(T, n_features, generator=generator) < density)


def _dataset_per_feature(T, n_features, density, generator=None):
    x = _dataset_unnormalised(T, n_features, density, generator)
    return x / x.norm(dim=0, keepdim=True).clamp_min(1e-12)


def _dataset_inverted_density(T, n_features, density, generator=None):
    return unit_norm_dataset(T, n_features, 1 - density, generator)


def _dataset_nan_on_empty(T, n_features, density, generator=None):
    x = _dataset_unnormalised(T, n_features, density, generator)
    return x / x.norm(dim=1, keepdim=True)


_T, _N, _DENSITY = 4000, 20, 0.1   # about 12% of the examples are empty (0.9²⁰)


def _check_unit_norm_dataset(fn) -> None:
    case = f"T = {_T:,} examples of {_N} features at density {_DENSITY}"
    args = {"T": _T, "n_features": _N, "density": _DENSITY, "generator": seeded(0)}
    x = expect_tensor(call_safely(fn, args, case), (_T, _N), "T, n_features",
                      wrong_shapes={(_N, _T): "one example per row: shape (T, n_features)"})
    expect_finite(x, case, "an example with no feature present has norm 0: it stays all 0, "
                  "so guard the division (x / norms.clamp_min(1e-12))")
    expect_nonnegative(x, case, "features are uniform on [0, 1) when present, 0 otherwise")
    present = x != 0
    density = present.float().mean().item()
    if abs(density - (1 - _DENSITY)) < 0.02:
        fail(f"{density:.1%} of the entries are present at density {_DENSITY}: density is the "
             f"probability that a feature is present (1 − S), keep a value where the coin is "
             f"below density")
    if abs(density - _DENSITY) > 0.01:
        fail(f"{density:.1%} of the entries are present, but each is present with probability "
             f"density = {_DENSITY}")
    norms = x.norm(dim=1)
    full = present.any(1)
    if (norms[full] - 1).abs().max() > 1e-4:
        if (x.norm(dim=0) - 1).abs().max() < 1e-4:
            fail("every feature (column) has norm 1, but the examples (rows) do not: normalise "
                 "each example by its own norm, x.norm(dim=1, keepdim=True)")
        fail(f"the examples' norms range from {norms[full].min().item():.3g} to "
             f"{norms[full].max().item():.3g}: the examples are not normalised, divide each "
             f"by its own norm so that ‖x_t‖ = 1")
    if full.all():
        fail(f"no example is empty, but at density {_DENSITY} about {0.9 ** 20:.0%} of "
             f"{_N}-feature examples have no feature present")
    again = call_safely(fn, dict(args, generator=seeded(0)), case)
    if not torch.equal(x, again):
        fail("two calls with generators of the same seed gave different datasets: draw every "
             "random number with generator=generator")
    two = present.sum(1) == 2
    pairs = x[two][present[two]].view(-1, 2)
    if (pairs[:, 0] - pairs[:, 1]).abs().max() < 1e-6:
        fail("in every example with two features present the two values are equal: draw each "
             "present feature's value uniformly on [0, 1), then normalise")
    ratio = (pairs.min(1).values / pairs.max(1).values).mean().item()
    if abs(ratio - 0.5) > 0.05:   # the smaller over the larger of two uniforms has mean 1/2
        fail(f"in examples with two features present the smaller value is on average "
             f"{ratio:.2f} of the larger, but for two values uniform on [0, 1) it is 1/2: draw "
             f"each present value uniformly, apart from its coin")


# -- the dimensionality of training examples -----------------------------------------------------
def example_dimensionality(
    W: torch.Tensor, X: torch.Tensor,
) -> torch.Tensor:
    """The fraction of a hidden dimension each training example gets.

    W: (d_hidden, feats), the model's weights; X: (T, feats), the
    training examples, one per row. Example t's hidden vector is
    h_t = W x_t, and D_t = ‖h_t‖² / Σ_s (ĥ_t · h_s)², the sum over every
    example s, t included, with ĥ_t = h_t / ‖h_t‖; D_t = 0 where h_t = 0.
    Returns (T,).
    """
    H = W @ X.T  # (d_hidden, T): column t is h_t
    norms = H.norm(dim=0)  # (T,)
    H_hat = H / norms.clamp_min(1e-12)
    dots = H_hat.T @ H  # (t, s): ĥ_t · h_s
    return norms**2 / (dots**2).sum(dim=1).clamp_min(1e-12)


def _exdim_without_self(W, X):
    H = W @ X.T
    norms = H.norm(dim=0)
    dots = (H / norms.clamp_min(1e-12)).T @ H
    return norms**2 / ((dots**2).sum(dim=1) - norms**2).clamp_min(1e-12)


def _exdim_norm_not_squared(W, X):
    H = W @ X.T
    norms = H.norm(dim=0)
    dots = (H / norms.clamp_min(1e-12)).T @ H
    return norms / (dots**2).sum(dim=1).clamp_min(1e-12)


def _exdim_unnormalised(W, X):
    H = W @ X.T
    return H.norm(dim=0) ** 2 / ((H.T @ H) ** 2).sum(dim=1).clamp_min(1e-12)


def _exdim_of_features(W, X):
    norms = W.norm(dim=0)
    dots = (W / norms.clamp_min(1e-12)).T @ W
    return norms**2 / (dots**2).sum(dim=1).clamp_min(1e-12)


def _polygon(k: int) -> torch.Tensor:
    """(2, k): the vertices of a regular k-gon of unit radius."""
    angles = 2 * math.pi * torch.arange(k) / k
    return torch.stack([angles.cos(), angles.sin()])


def _check_example_dimensionality(fn) -> None:
    g = seeded(3)
    W = torch.randn(2, 9, generator=g)
    X = torch.rand(6, 9, generator=g) * (torch.rand(6, 9, generator=g) < 0.4)
    X[X.sum(1) == 0, 0] = 1.0
    X = X / X.norm(dim=1, keepdim=True)
    case = "6 examples of 9 features, d_hidden = 2"
    out = expect_tensor(call_safely(fn, {"W": W, "X": X}, case), (6,), "T",
                        wrong_shapes={(9,): "that is one number per feature, from W's columns: the "
                                      "examples' dimensionality uses their hidden vectors h_t = W x_t",
                                      (2,): "one number per example: the columns of H = W Xᵀ are the "
                                      "hidden vectors, not its rows",
                                      (6, 6): "sum over s in the denominator"})
    alone = call_safely(fn, {"W": torch.eye(3), "X": torch.eye(3)}, "three examples with orthogonal hidden vectors")
    if not torch.isfinite(alone).all() or (alone - 1).abs().max() > 1e-4:
        fail(f"an example whose hidden vector is orthogonal to every other has D = 1, got "
             f"{alone.tolist()}: the sum Σ_s (ĥ_t · h_s)² includes s = t")
    empty = X.clone()
    empty[2] = 0
    zero = call_safely(fn, {"W": W, "X": empty}, "example 2 empty (x_2 = 0)")
    expect_finite(zero, "example 2 empty (x_2 = 0)", "D = 0 for an example with h_t = 0, not NaN: "
                  "guard the divisions, e.g. .clamp_min(1e-12)")
    if abs(zero[2].item()) > 1e-6:
        fail(f"an empty example (h_t = 0) has D = 0, got {zero[2].item():.4g}")
    expect_finite(out, case)
    expect_nonnegative(out, case, "D is a ratio of squares")
    factor = (call_safely(fn, {"W": 2 * W, "X": X}, case + ", W doubled") / out).median().item()
    if abs(factor - 0.25) < 0.01:
        fail("doubling W divided D by 4: normalise h_t in the denominator (ĥ_t · h_s); D does not "
             "depend on the scale of W")
    if abs(factor - 0.5) < 0.01:
        fail("doubling W halved D: the numerator is the squared norm ‖h_t‖²")
    if abs(factor - 4) < 0.05:
        fail("doubling W multiplied D by 4: the denominator uses ĥ_t · h_s, h_s not normalised")
    if abs(factor - 1) > 1e-3:
        fail(f"doubling W must leave D unchanged, it multiplied it by {factor:.3g}")
    for T in (3, 5, 8):
        gon = call_safely(fn, {"W": _polygon(T), "X": torch.eye(T)}, f"{T} one-feature examples in a {T}-gon")
        expect_close(gon, torch.full((T,), 2 / T), f"{T} examples in a {T}-gon (D = 2/{T} each)", atol=1e-4)
    expect_close(out, example_dimensionality(W, X), case)
    expect_close(zero, example_dimensionality(W, empty), "example 2 empty (x_2 = 0)")


# -- storing T examples in two dimensions --------------------------------------------------------
def memorize(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights that store T training examples in two dimensions.

    X: (T, feats), T >= 2 unit-norm examples, no feature present in two
    of them. Return (W, b), W: (2, feats), b: (feats,), such that the
    model x' = ReLU(Wᵀ W x + b) gives every training example back: its
    train loss mean_t ‖x_t − x'_t‖² is below 0.01 (0 would be exact;
    predicting x' = 0 costs 1). Give example t the
    direction u_t = (cos 2πt/T, sin 2πt/T), put each of its features j
    along it, W_j = a x_tj u_t, and choose a and b so that x'_j = x_tj
    for the example's own features and 0 for every other example's.
    """
    T = X.shape[0]
    angles = 2 * torch.pi * torch.arange(T) / T
    U = torch.stack([angles.cos(), angles.sin()])  # (2, T): columns u_t
    c = torch.tensor(2 * torch.pi / T).cos().item()  # u_t · u_{t+1}
    a2 = 1 / (1 - c)  # own output a² x_tj + b_j = x_tj
    W = a2**0.5 * U @ X  # W_j = a x_tj u_t, t the example holding j
    b = -a2 * c * X.sum(0)  # cancels a neighbour's a² c x_tj
    return W, b


def _ring(T: int) -> torch.Tensor:
    return torch.stack([torch.cos(2 * torch.pi * torch.arange(T) / T), torch.sin(2 * torch.pi * torch.arange(T) / T)])


def _memorize_unit_length(X):
    W = _ring(X.shape[0]) @ (X > 0).float()
    return W, torch.zeros(X.shape[1])


def _memorize_no_bias(X):
    return _ring(X.shape[0]) @ X, torch.zeros(X.shape[1])


def _memorize_one_direction(X):
    return torch.stack([X.sum(0), torch.zeros(X.shape[1])]), torch.zeros(X.shape[1])


def _memorize_bias_not_rescaled(X):
    c = math.cos(2 * math.pi / X.shape[0])
    return _ring(X.shape[0]) @ X, -max(c, 0.0) * X.sum(0)


MEMORIZED = 0.01
"""The train loss a stored set must reach (predicting 0 costs 1). Measured on the checker's sets
of 3, 5, 8 and 12 examples: the exact construction 1e-12 or less; the mistakes at T = 5 (each
fails there) 0.095 (a bias that cuts the neighbours, W not lengthened), 0.19 (no bias), 4 (one
direction) and 7.3 (features of unit length)."""


def _disjoint_examples(T: int, seed: int, n_features: int = 40) -> torch.Tensor:
    """T unit-norm examples of 1 to 4 features each, no feature in two; some features unused."""
    g = seeded(seed)
    order = torch.randperm(n_features, generator=g)
    X = torch.zeros(T, n_features)
    start = 0
    for t in range(T):
        k = 1 + int(torch.randint(0, 4, (), generator=g)) if t else 3   # example 0 has 3 features
        X[t, order[start:start + k]] = 0.1 + 0.9 * torch.rand(k, generator=g)
        start += k
    return X / X.norm(dim=1, keepdim=True)


def _check_memorize(fn) -> None:
    for T, seed in ((5, 0), (3, 1), (8, 2), (12, 3)):
        X = _disjoint_examples(T, seed)
        case = f"{T} examples of 1 to 4 features each (40 features)"
        out = call_safely(fn, {"X": X}, case)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail(f"return the two weights (W, b) as a tuple, got {type(out).__name__}")
        W = expect_tensor(out[0], (2, 40), "2, feats", None,
                          wrong_shapes={(T, 40): "the model has d_hidden = 2 dimensions, not one per "
                                        "example (W = X would need T): W has shape (2, feats)",
                                        (40, 2): "features are columns: W has shape (2, feats)"})
        b = expect_tensor(out[1], (40,), "feats", None)
        W, b = W.float(), b.float()
        expect_finite(W, case)
        expect_finite(b, case)
        H = X @ W.T                                          # (T, 2): the hidden vectors h_t
        Y = torch.relu(H @ W + b)
        loss = ((X - Y) ** 2).sum(1).mean().item()
        if loss < MEMORIZED:
            continue
        where = f"on {case} the train loss is {loss:.3g} (predicting 0 gives 1; stored examples, < {MEMORIZED})"
        unit = H / H.norm(dim=1, keepdim=True).clamp_min(1e-12)
        cos = unit @ unit.T - 2 * torch.eye(T)
        if cos.max() > 0.999:
            t, s = divmod(int(cos.argmax()), T)
            fail(f"{where}: examples {t} and {s} have hidden vectors in the same direction, so the model "
                 f"cannot tell them apart; give each example its own direction u_t")
        own = X > 0
        first = Y[0][own[0]]                                 # example 0 has three features
        if (first.max() - first.min()).item() < 1e-5 and (X[0][own[0]].max() - X[0][own[0]].min()) > 0.05:
            fail(f"{where}: example 0's three features come back all equal ({first[0].item():.3g}) though "
                 f"x_0j differ; make W_j's length proportional to x_tj (W_j = a x_tj u_t)")
        leak = Y.masked_fill(own | (X.sum(0) == 0), 0)       # outputs of other examples' features
        if leak.max() > 1e-3:
            fail(f"{where}: features of another example leak into the output (up to "
                 f"{leak.max().item():.3g} for example {int(leak.amax(1).argmax())}): a neighbour at angle "
                 f"2π/T adds a² cos(2π/T) x_sj; a negative bias b_j must cancel it")
        ratio = (Y[own] / X[own]).median().item()
        if abs(ratio - 1) > 0.01:
            fail(f"{where}: the bias silences the neighbours but the examples' own features come back "
                 f"{ratio:.3g} × x_tj; lengthen W (W_j = a x_tj u_t, a > 1) so that a² x_tj + b_j = x_tj")
        fail(where)


# -- reading the sweep --------------------------------------------------------------------------
def peak_size(
    sizes: tuple[int, ...],
    train_loss: torch.Tensor, test_loss: torch.Tensor,
) -> tuple[int, float]:
    """Where a double-descent sweep's test loss peaks, and how high.

    sizes: the dataset sizes T, increasing; train_loss and test_loss:
    (len(sizes), seeds), one model per size and seed. Keep each size's
    model of lowest train loss and read its test loss: a curve over the
    sizes. Return (T, ratio): the size T where that curve is largest,
    and its value there divided by the larger of its two ends. Raise a
    ValueError naming test_loss if the largest value is at an end.
    """
    best = train_loss.argmin(dim=1)  # each size's seed, chosen on train
    curve = test_loss[torch.arange(len(sizes)), best]
    i = int(curve.argmax())
    if i in (0, len(sizes) - 1):
        raise ValueError(f"test_loss peaks at an end, T = {sizes[i]}")
    ends = max(curve[0].item(), curve[-1].item())
    return sizes[i], curve[i].item() / ends


def _peak_chosen_on_test(sizes, train_loss, test_loss):
    return peak_size(sizes, test_loss, test_loss)


def _peak_index(sizes, train_loss, test_loss):
    T, ratio = peak_size(sizes, train_loss, test_loss)
    return list(sizes).index(T), ratio


def _peak_first_end(sizes, train_loss, test_loss):
    T, _ = peak_size(sizes, train_loss, test_loss)
    curve = test_loss[torch.arange(len(sizes)), train_loss.argmin(dim=1)]
    return T, curve[list(sizes).index(T)].item() / curve[0].item()


def _peak_no_error(sizes, train_loss, test_loss):
    curve = test_loss[torch.arange(len(sizes)), train_loss.argmin(dim=1)]
    i = int(curve.argmax())
    return sizes[i], curve[i].item() / max(curve[0].item(), curve[-1].item())


_SIZES = (3, 5, 8, 12, 20, 30, 50, 80, 120, 200, 300, 500)


def _sweep(first_end: float, last_end: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test), each (12 sizes, 3 seeds): the lowest-train seed peaks at T = 80 (test 40);
    choosing seeds by test loss instead puts the peak at T = 50 (24 against 18 at T = 80)."""
    test = torch.tensor([1.1, 1.0, 1.2, 2.0, 5.0, 12.0, 24.0, 40.0, 16.0, 4.0, 1.5, 1.2])[:, None].repeat(1, 3)
    test[0, 0], test[-1, 0] = first_end, last_end
    test[:, 1:] *= torch.tensor([1.3, 1.6])            # the other seeds generalise worse ...
    test[7, 1:] = torch.tensor([18.0, 30.0])           # ... except at the peak
    test[6, 1:] = torch.tensor([30.0, 36.0])
    train = torch.tensor([0.0, 0.01, 0.05, 0.2, 0.4, 0.55, 0.7, 0.8, 0.85, 0.9, 0.92, 0.93])[:, None].repeat(1, 3)
    train = train + torch.tensor([0.0, 0.01, 0.02])      # seed 0 has the lowest train loss everywhere
    return train, test


def _check_peak_size(fn) -> None:
    for first, last in ((0.9, 1.25), (1.6, 0.95)):
        train, test = _sweep(first, last)
        case = f"a sweep of 12 sizes and 3 seeds (ends {first} and {last})"
        out = call_safely(fn, {"sizes": _SIZES, "train_loss": train, "test_loss": test}, case)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail(f"return (T, ratio) as a tuple, got {type(out).__name__}")
        if isinstance(out[0], torch.Tensor):
            fail("T is a tensor: return the size as a Python int, e.g. sizes[i] with i = int(curve.argmax())")
        if isinstance(out[0], bool) or not isinstance(out[0], int):
            fail(f"T must be a Python int from sizes, got {type(out[0]).__name__}")
        T, ratio = out[0], expect_float(out[1], "a Python float, the ratio")
        if T not in _SIZES:
            if 0 <= T < len(_SIZES):
                fail(f"it returned {T}, the position of the peak in sizes: return the size itself, "
                     f"sizes[{T}] = {_SIZES[T]}")
            fail(f"T = {T} is not one of the sizes {_SIZES}")
        if T == 50:
            fail("the peak is at T = 50 when each size's seed is chosen by its test loss; choose it by its "
                 "train loss, as the chapter does (the test set must not choose the model), and the peak is "
                 "at T = 80")
        if T != 80:
            fail(f"the curve of the lowest-train-loss seeds is largest at T = 80, not T = {T}: use argmax of "
                 f"that curve")
        right = 40.0 / max(first, last)
        if abs(ratio - right) > 1e-4 * right:
            if abs(ratio - 40.0 / first) < 1e-4 * right or abs(ratio - 40.0 / last) < 1e-4 * right:
                fail(f"on {case} the ratio is {ratio:.4g}, the peak over one end; divide by the larger of the "
                     f"two ends, {max(first, last)}: {right:.4g}")
            expect_close(ratio, right, case)
    train, test = _sweep(0.9, 1.25)
    test[-1] = 50.0
    at_end = "a sweep whose largest test loss is at T = 500, the last size"
    try:
        got = call_safely(fn, {"sizes": _SIZES, "train_loss": train, "test_loss": test}, at_end)
    except ExerciseFailed as err:
        if str(err).startswith(f"it raised ValueError on {at_end}"):
            return
        raise ExerciseFailed(f"{err}; raise a ValueError there") from None
    fail(f"with the largest test loss at T = 500, the last size, it returned {got}: an end is not an interior "
         f"peak, so there is no double descent to read; raise a ValueError naming test_loss")


EXERCISES = [
    exercise(
        unit_norm_dataset, chapter=CHAPTER, title="A finite dataset of unit-norm examples",
        difficulty=2, importance=4, minutes=10, check=_check_unit_norm_dataset,
        hints=["Draw the values and the coins as in chapter 3's sparse_batch, shape (T, n_features).",
               "x.norm(dim=1, keepdim=True) is each example's norm, shape (T, 1); clamp it before dividing."],
        mistakes=[Mistake(_dataset_unnormalised, "not normalised"),
                  Mistake(_dataset_per_feature, "normalise each example by its own norm"),
                  Mistake(_dataset_inverted_density, "keep a value where the coin is below density"),
                  Mistake(_dataset_nan_on_empty, "guard the division")],
    ),
    exercise(
        example_dimensionality, chapter=CHAPTER, title="The dimensionality of training examples",
        difficulty=2, importance=4, minutes=10, check=_check_example_dimensionality,
        hints=["H = W @ X.T has the hidden vectors as columns, shape (d_hidden, T).",
               "Then it is chapter 6's feature dimensionality with H in place of W."],
        mistakes=[Mistake(_exdim_without_self, "includes s = t"),
                  Mistake(_exdim_norm_not_squared, "squared norm"),
                  Mistake(_exdim_unnormalised, "normalise h_t in the denominator"),
                  Mistake(_exdim_of_features, "one number per feature")],
    ),
    exercise(
        peak_size, chapter=CHAPTER, title="Where the test loss peaks",
        difficulty=2, importance=3, minutes=10, check=_check_peak_size,
        hints=["train_loss.argmin(dim=1) picks each size's seed; index test_loss with it row by row.",
               "int(curve.argmax()) is the position of the peak; sizes[i] is its size."],
        mistakes=[Mistake(_peak_chosen_on_test, "choose it by its train loss"),
                  Mistake(_peak_index, "the position of the peak"),
                  Mistake(_peak_first_end, "the larger of the two ends"),
                  Mistake(_peak_no_error, "raise a ValueError")],
    ),
    exercise(
        memorize, chapter=CHAPTER, title="Store the training set",
        difficulty=4, importance=3, minutes=20, check=_check_memorize,
        hints=[("With W_j = a x_tj u_t, h_t = W x_t = a u_t, and a feature j of example s gets "
                "x'_j = ReLU(a² x_sj cos(θ_s − θ_t) + b_j)."),
               ("b_j = −a² cos(2π/T) x_sj silences example s's nearest neighbours (and everything "
                "farther); then pick a so that its own output a² x_sj + b_j is x_sj."),
               "a² (1 − cos(2π/T)) = 1; U @ X, with U the (2, T) matrix of the u_t, builds W."],
        mistakes=[Mistake(_memorize_unit_length, "proportional to x_tj"),
                  Mistake(_memorize_no_bias, "a negative bias b_j must cancel it"),
                  Mistake(_memorize_one_direction, "its own direction u_t"),
                  Mistake(_memorize_bias_not_rescaled, "lengthen W")],
    ),
]
