"""Exercises of chapter 3, demonstrating superposition (TMS §2): sparse features, the toy
model's forward pass, its importance-weighted loss, and the superposition measure."""

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
from .privileged import check_relu_model

CHAPTER = "03_superposition"


# -- sparse features ----------------------------------------------------------------------------
def sparse_batch(
    feature_probability: torch.Tensor, batch: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A batch of sparse features for every instance.

    feature_probability: (inst, feats), the density p of each feature in
    each instance. Each entry of the batch is present with probability p
    (its own coin, for every input) and then uniform on [0, 1);
    otherwise 0.
    Draw every random number with `generator`.
    Returns (inst, batch, feats).
    """
    inst, feats = feature_probability.shape
    shape = (inst, batch, feats)
    values = torch.rand(shape, generator=generator)
    coins = torch.rand(shape, generator=generator)
    present = coins < feature_probability[:, None, :]
    return values * present


_P = torch.tensor([[1.0, 0.5, 0.1, 0.02], [0.3, 0.3, 0.3, 0.3], [0.05, 0.9, 0.6, 0.2]])
_BATCH = 20_000


def _check_sparse_batch(fn) -> None:
    case = f"3 instances of 4 features, batch {_BATCH:,}"
    args = {"feature_probability": _P, "batch": _BATCH, "generator": seeded(0)}
    x = expect_tensor(call_safely(fn, args, case), (3, _BATCH, 4), "inst, batch, feats",
                      wrong_shapes={(3, 4, _BATCH): "the batch axis comes before the features"})
    expect_finite(x, case)
    if (x < 0).any() or (x > 1).any():
        fail(f"values must lie in [0, 1), got {x.min().item():.3g} to {x.max().item():.3g}")
    again = call_safely(fn, dict(args, generator=seeded(0)), case)
    if not torch.equal(x, again):
        fail("two calls with generators of the same seed gave different batches: draw every "
             "random number with generator=generator")
    present = x != 0
    if (present.all(1) | ~present.any(1)).all():
        fail("every input of the batch has the same features present: flip a coin for every "
             "input, shape (inst, batch, feats)")
    density = present.float().mean(1)                               # (inst, feats)
    off = (density - _P).abs()
    if off.max() > 0.02:
        i, f = divmod(int(off.argmax()), 4)
        if (density - (1 - _P)).abs().max() < 0.02:
            fail("features are present with probability 1 − p: keep a value where the coin is "
                 "below p (u < p), set it to 0 otherwise")
        fail(f"feature {f} of instance {i} is present in {density[i, f]:.1%} of the inputs, "
             f"but its density is feature_probability[{i}, {f}] = {_P[i, f]:.3g}: each instance "
             f"uses its own row of feature_probability")
    for i, f in ((1, 0), (0, 2), (2, 3)):                          # densities 0.3, 0.1, 0.2
        values = x[i, :, f][present[i, :, f]]
        if abs(values.mean().item() - 0.5) > 0.05:
            fail(f"present values of a feature of density {_P[i, f]:.2g} have mean "
                 f"{values.mean().item():.2f}, but a present feature is uniform on [0, 1) "
                 f"(mean 0.5): draw its value apart from its coin (or rescale u / p)")


# -- the toy model ------------------------------------------------------------------------------
def toy_forward(
    W: torch.Tensor, b: torch.Tensor, x: torch.Tensor,
) -> torch.Tensor:
    """The toy model's output, ReLU(Wᵀ W x + b), for every instance.

    W: (inst, d_hidden, feats), b: (inst, feats), x: (inst, batch, feats).
    Returns (inst, batch, feats).
    """
    h = x @ W.mT  # (inst, batch, d_hidden)
    return torch.relu(h @ W + b[:, None, :])


def _check_toy_forward(fn) -> None:
    check_relu_model(fn, toy_forward, hidden_relu=False)


# -- the loss -----------------------------------------------------------------------------------
def weighted_mse(
    x: torch.Tensor, x_hat: torch.Tensor, importance: torch.Tensor,
) -> torch.Tensor:
    """The importance-weighted squared error, one loss per instance.

    x, x_hat: (inst, batch, feats); importance: (inst, feats).
    The mean over the batch and over the features of I_i (x_i − x̂_i)².
    Returns (inst,).
    """
    err = importance[:, None, :] * (x - x_hat) ** 2
    return err.mean(dim=(1, 2))


def _loss_inputs(seed: int, inst: int = 3, batch: int = 6, feats: int = 4) -> dict:
    g = seeded(seed)
    return {"x": torch.rand(inst, batch, feats, generator=g), "x_hat": torch.rand(inst, batch, feats, generator=g),
            "importance": 0.9 ** torch.arange(feats).float().expand(inst, feats) * (1 + torch.rand(inst, 1, generator=g))}


def _check_weighted_mse(fn) -> None:
    args = _loss_inputs(0)
    case = "3 instances, 6 inputs, 4 features"
    wrong = {(): "one loss per instance: average over the batch and the features only",
             (3, 4): "average over the batch as well", (3, 6): "average over the features as well"}
    out = expect_tensor(call_safely(fn, args, case), (3,), "inst", wrong_shapes=wrong)
    expect_finite(out, case)
    expect_nonnegative(out, case, "a weighted squared error cannot be negative")
    imp = args["importance"].clone()
    imp[:, 0] = 0
    zero = dict(args, importance=imp)
    x_hat = args["x_hat"].clone()
    x_hat[:, :, 0] += 1
    if not torch.allclose(call_safely(fn, zero, case), call_safely(fn, dict(zero, x_hat=x_hat), case)):
        fail("the loss changed when only a feature of importance 0 changed: weight each "
             "feature's squared error by its importance")
    ratio = (call_safely(fn, dict(args, importance=2 * args["importance"]), case) / out).mean().item()
    if abs(ratio - 4) < 0.01:
        fail("doubling the importances multiplied the loss by 4: weight the squared error, "
             "I_i (x_i − x̂_i)², not (I_i (x_i − x̂_i))²")
    twice = {k: torch.cat([v, v], dim=1) if k != "importance" else v for k, v in args.items()}
    if not torch.allclose(call_safely(fn, twice, case + ", batch repeated twice"), out):
        fail("repeating the batch twice changed the loss: average over the batch, do not sum")
    wide = {k: torch.cat([v, v], dim=-1) for k, v in args.items()}
    if not torch.allclose(call_safely(fn, wide, case + ", features repeated twice"), out):
        fail("repeating every feature twice changed the loss: average over the features (the "
             "1/n of the loss), do not sum")
    expect_instances_independent(fn, args, ("x", "x_hat", "importance"), case)
    for name, a in {case: args, "2 instances, 10 inputs, 7 features": _loss_inputs(1, 2, 10, 7)}.items():
        expect_close(call_safely(fn, a, name), weighted_mse(**a), name)


# -- the superposition measure ------------------------------------------------------------------
def superposition(W: torch.Tensor) -> torch.Tensor:
    """How much the other features project onto each feature's direction.

    W: (inst, d_hidden, feats), column i is feature i's direction W_i.
    Returns (inst, feats): Σ_{j≠i} (Ŵ_i · W_j)², with Ŵ_i = W_i / ‖W_i‖
    (0 for a feature with W_i = 0).
    """
    norms = W.norm(dim=1, keepdim=True)  # (inst, 1, feats)
    W_hat = W / norms.clamp_min(1e-12)
    sq = (W_hat.mT @ W) ** 2             # (inst, i, j): (Ŵ_i · W_j)²
    return sq.sum(dim=2) - torch.diagonal(sq, dim1=1, dim2=2)


def _pentagon_W() -> torch.Tensor:
    angles = torch.arange(5) * 2 * math.pi / 5
    return torch.stack([angles.cos(), angles.sin()])[None]


def _check_superposition(fn) -> None:
    W = torch.randn(3, 2, 5, generator=seeded(5))
    case = "3 instances of 5 features in 2 dimensions"
    out = expect_tensor(call_safely(fn, {"W": W}, case), (3, 5), "inst, feats",
                        wrong_shapes={(3, 5, 5): "sum the (Ŵ_i · W_j)² over j"})
    expect_finite(out, case)
    expect_nonnegative(out, case, "a sum of squares cannot be negative")
    own = torch.diag(torch.tensor([1.0, 2.0, 0.5]))[None]
    got = call_safely(fn, {"W": own}, "three orthogonal features")
    if got.abs().max() > 1e-5:
        fail("features with orthogonal directions must score 0: the sum is over the other "
             "features, j ≠ i (leave out j = i)")
    dropped = W.clone()
    dropped[:, :, 0] = 0
    zero = call_safely(fn, {"W": dropped}, "feature 0 dropped (W_0 = 0)")
    expect_finite(zero, "feature 0 dropped (W_0 = 0)", "a dropped feature must score 0, not NaN: "
                  "guard the division, e.g. .clamp_min(1e-12)")
    factor = (call_safely(fn, {"W": 2 * W}, case + ", W doubled") / out).median().item()
    if abs(factor - 1) < 0.01:
        fail("doubling W changed nothing: only W_i is normalised (Ŵ_i · W_j), not W_j, so the "
             "measure grows with the other features' lengths")
    if abs(factor - 16) < 0.1:
        fail("doubling W multiplied the values by 16: normalise W_i (Ŵ_i = W_i / ‖W_i‖)")
    if abs(factor - 4) > 0.01:
        fail(f"doubling W must multiply each value by 4 (Σ (Ŵ_i · W_j)² is quadratic in W_j); "
             f"it multiplied them by {factor:.3g}")
    cases = {case: W, "a pentagon (each feature scores 1.5)": _pentagon_W(),
             "feature 0 dropped (W_0 = 0)": dropped, "6 features in 3 dimensions": torch.randn(2, 3, 6, generator=seeded(6))}
    expect_instances_independent(fn, {"W": W}, ("W",), case)
    for name, x in cases.items():
        expect_close(call_safely(fn, {"W": x}, name), superposition(x), name)


# -- mistakes -----------------------------------------------------------------------------------
def _inverted_coin(feature_probability, batch, generator=None):
    shape = (feature_probability.shape[0], batch, feature_probability.shape[1])
    values = torch.rand(shape, generator=generator)
    return values * (torch.rand(shape, generator=generator) > feature_probability[:, None, :])


def _value_from_coin(feature_probability, batch, generator=None):
    shape = (feature_probability.shape[0], batch, feature_probability.shape[1])
    u = torch.rand(shape, generator=generator)
    return u * (u < feature_probability[:, None, :])


def _one_coin_per_instance(feature_probability, batch, generator=None):
    inst, feats = feature_probability.shape
    values = torch.rand(inst, batch, feats, generator=generator)
    return values * (torch.rand(inst, 1, feats, generator=generator) < feature_probability[:, None, :])


def _first_row_density(feature_probability, batch, generator=None):
    inst, feats = feature_probability.shape
    values = torch.rand(inst, batch, feats, generator=generator)
    return values * (torch.rand(inst, batch, feats, generator=generator) < feature_probability[0])


def _hidden_only(W, b, x):
    return x @ W.mT


def _no_relu(W, b, x):
    return x @ W.mT @ W + b[:, None, :]


def _relu_before_bias(W, b, x):
    return torch.relu(x @ W.mT @ W) + b[:, None, :]


def _instances_summed(W, b, x):
    h = torch.einsum("ibf,jhf->ibh", x, W)
    return torch.relu(torch.einsum("ibh,jhf->ibf", h, W) + b[:, None, :])


def _summed(x, x_hat, importance):
    return (importance[:, None, :] * (x - x_hat) ** 2).sum(dim=(1, 2))


def _importance_inside(x, x_hat, importance):
    return ((importance[:, None, :] * (x - x_hat)) ** 2).mean(dim=(1, 2))


def _unweighted(x, x_hat, importance):
    return ((x - x_hat) ** 2).mean(dim=(1, 2))


def _mean_over_everything(x, x_hat, importance):
    return (importance[:, None, :] * (x - x_hat) ** 2).mean()


def _including_self(W):
    W_hat = W / W.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return ((W_hat.mT @ W) ** 2).sum(dim=2)


def _unnormalised(W):
    sq = (W.mT @ W) ** 2
    return sq.sum(dim=2) - torch.diagonal(sq, dim1=1, dim2=2)


def _cosines(W):
    W_hat = W / W.norm(dim=1, keepdim=True).clamp_min(1e-12)
    sq = (W_hat.mT @ W_hat) ** 2
    return sq.sum(dim=2) - torch.diagonal(sq, dim1=1, dim2=2)


def _unguarded(W):
    W_hat = W / W.norm(dim=1, keepdim=True)
    sq = (W_hat.mT @ W) ** 2
    return sq.sum(dim=2) - torch.diagonal(sq, dim1=1, dim2=2)


EXERCISES = [
    exercise(
        sparse_batch, chapter=CHAPTER, title="Sparse features",
        difficulty=2, importance=4, minutes=10, check=_check_sparse_batch,
        hints=["One uniform number decides presence (u < p), another gives the value.",
               "feature_probability[:, None, :] broadcasts the densities over the batch."],
        mistakes=[Mistake(_inverted_coin, "probability 1 − p"),
                  Mistake(_value_from_coin, "uniform on [0, 1) (mean 0.5)"),
                  Mistake(_one_coin_per_instance, "flip a coin for every input"),
                  Mistake(_first_row_density, "its own row of feature_probability")],
    ),
    exercise(
        toy_forward, chapter=CHAPTER, title="The toy model's forward pass",
        difficulty=2, importance=5, minutes=10, check=_check_toy_forward,
        hints=["The hidden layer is h = x @ W.mT, shape (inst, batch, d_hidden).",
               "b has no batch axis: add b[:, None, :], then apply the ReLU."],
        mistakes=[Mistake(_hidden_only, "hidden layer's shape"),
                  Mistake(_no_relu, "did you apply the ReLU to the output"),
                  Mistake(_relu_before_bias, "bias seems to be added after the ReLU"),
                  Mistake(_instances_summed, "each instance must be computed from its own")],
    ),
    exercise(
        weighted_mse, chapter=CHAPTER, title="The importance-weighted loss",
        difficulty=1, importance=4, minutes=5, check=_check_weighted_mse,
        hints=["importance[:, None, :] broadcasts the importances over the batch.",
               "Average over dims 1 and 2, the batch and the features."],
        mistakes=[Mistake(_summed, "average over the batch, do not sum"),
                  Mistake(_importance_inside, "not (I_i (x_i − x̂_i))²"),
                  Mistake(_unweighted, "weight each feature's squared error"),
                  Mistake(_mean_over_everything, "one loss per instance")],
    ),
    exercise(
        superposition, chapter=CHAPTER, title="Measuring superposition",
        difficulty=3, importance=4, minutes=15, check=_check_superposition,
        hints=["W_hat.mT @ W gives every Ŵ_i · W_j as an (inst, feats, feats) matrix.",
               "Sum the squares over j, then subtract the j = i term (the diagonal)."],
        mistakes=[Mistake(_including_self, "leave out j = i"),
                  Mistake(_unnormalised, "normalise W_i"),
                  Mistake(_cosines, "only W_i is normalised"),
                  Mistake(_unguarded, "not NaN")],
    ),
]
