"""Exercises of chapter 9, sparse autoencoders (Bricken et al. 2023, Gao et al. 2024): the
SAE's forward pass, the ReLU + L1 objective, the TopK activation and dead latents. The
recovery scores (MMCS, matched MMCS) and FVU are in :mod:`.sae_recovery`."""

from __future__ import annotations

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

CHAPTER = "09_sparse_autoencoders"


# -- the forward pass ---------------------------------------------------------------------------
def sae_forward(
    x: torch.Tensor, W_enc: torch.Tensor, b_enc: torch.Tensor,
    W_dec: torch.Tensor, b_dec: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A ReLU SAE's latents and reconstruction.

    x: (batch, d_in); W_enc: (d_in, d_sae); b_enc: (d_sae,);
    W_dec: (d_sae, d_in), row j is latent j's direction; b_dec: (d_in,).
    f = ReLU(W_encᵀ (x − b_dec) + b_enc) and x̂ = W_decᵀ f + b_dec.
    Returns (f, x_hat): (batch, d_sae) and (batch, d_in).
    """
    f = torch.relu((x - b_dec) @ W_enc + b_enc)  # (batch, d_sae)
    x_hat = f @ W_dec + b_dec                    # (batch, d_in)
    return f, x_hat


def _sae_inputs(seed: int, batch: int = 6, d_in: int = 3, d_sae: int = 5) -> dict:
    g = seeded(seed)
    return {"x": torch.randn(batch, d_in, generator=g), "W_enc": torch.randn(d_in, d_sae, generator=g),
            "b_enc": torch.randn(d_sae, generator=g) * 0.3, "W_dec": torch.randn(d_sae, d_in, generator=g),
            "b_dec": torch.randn(d_in, generator=g) * 0.5}


def _pair(fn, args: dict, case: str) -> tuple[torch.Tensor, torch.Tensor]:
    out = call_safely(fn, args, case)
    if not isinstance(out, tuple) or len(out) != 2:
        fail(f"it returned a {type(out).__name__}: return the pair (f, x_hat)")
    batch, d_in = args["x"].shape
    d_sae = args["W_dec"].shape[0]
    f = expect_tensor(out[0], (batch, d_sae), "batch, d_sae")
    x_hat = expect_tensor(out[1], (batch, d_in), "batch, d_in")
    return f, x_hat


def _check_sae_forward(fn) -> None:
    args = _sae_inputs(0)
    case = "6 inputs, d_in = 3, d_sae = 5"
    f, x_hat = _pair(fn, args, case)
    expect_finite(f, case)
    expect_finite(x_hat, case)
    positive = dict(args, b_enc=torch.full((5,), 0.1))
    pos_case = "a positive encoder bias b_enc = 0.1"
    f_pos = _pair(fn, positive, pos_case)[0]
    expect_nonnegative(f_pos, pos_case, "the latents are a ReLU: did you apply it?")
    if (f_pos >= 0.1 - 1e-6).all():
        fail(f"on {pos_case} no latent is below b_enc = 0.1: the bias seems to be added after the "
             f"ReLU; compute ReLU(W_encᵀ (x − b_dec) + b_enc)")
    expect_nonnegative(f, case, "the latents are a ReLU: did you apply it (after adding b_enc)?")
    t = torch.tensor([1.0, -2.0, 0.5])
    f_moved, x_hat_moved = _pair(fn, dict(args, x=args["x"] + t, b_dec=args["b_dec"] + t),
                                 case + ", x and b_dec moved by the same vector")
    if not torch.allclose(f_moved, f, atol=1e-5):
        fail("the latents changed when x and b_dec moved together: subtract b_dec from x before "
             "encoding, f = ReLU(W_encᵀ (x − b_dec) + b_enc)")
    if not torch.allclose(x_hat_moved, x_hat + t, atol=1e-5):
        fail("the reconstruction did not move with b_dec: add b_dec back, x̂ = W_decᵀ f + b_dec")
    for name, a in {case: args, pos_case: positive, "10 inputs, d_in = 4, d_sae = 12": _sae_inputs(1, 10, 4, 12)}.items():
        for got, right in zip(_pair(fn, a, name), sae_forward(**a)):
            expect_close(got, right, name)


# -- the ReLU + L1 objective --------------------------------------------------------------------
def l1_objective(
    x: torch.Tensor, x_hat: torch.Tensor, f: torch.Tensor,
    W_dec: torch.Tensor, lam: float,
) -> torch.Tensor:
    """The ReLU + L1 SAE's training objective, a 0-d tensor.

    x, x_hat: (batch, d_in); f: (batch, d_sae); W_dec: (d_sae, d_in).
    The squared error ‖x − x̂‖² (summed over d_in) plus the penalty
    lam · Σ_j f_j ‖W_dec,j‖ (with unit-norm decoder rows, lam · ‖f‖₁),
    each averaged over the inputs of the batch.
    """
    reconstruction = ((x - x_hat) ** 2).sum(dim=1).mean()
    penalty = (f * W_dec.norm(dim=1)).sum(dim=1).mean()
    return reconstruction + lam * penalty


def _objective_inputs(seed: int, batch: int = 6, d_in: int = 3, d_sae: int = 5) -> dict:
    g = seeded(seed)
    return {"x": torch.randn(batch, d_in, generator=g), "x_hat": torch.randn(batch, d_in, generator=g),
            "f": torch.rand(batch, d_sae, generator=g), "W_dec": torch.randn(d_sae, d_in, generator=g),
            "lam": 0.3}


def _check_l1_objective(fn) -> None:
    args = _objective_inputs(0)
    case = "6 inputs, d_in = 3, d_sae = 5, lam = 0.3"
    out = expect_tensor(call_safely(fn, args, case), (), "a scalar",
                        wrong_shapes={(6,): "average over the inputs of the batch (.mean())"})
    expect_finite(out, case)

    def value(**changes) -> float:
        return float(call_safely(fn, dict(args, **changes), case))

    only_error = {"lam": 0.0}
    base = value(**only_error)
    twice = {"x": torch.cat([args["x"]] * 2), "x_hat": torch.cat([args["x_hat"]] * 2), "f": torch.cat([args["f"]] * 2)}
    if abs(value(**only_error, **twice) - base) > 1e-5 * abs(base):
        fail("with lam = 0, repeating the batch twice changed the objective: average the squared "
             "error over the inputs, do not sum")
    wider = {"x": torch.cat([args["x"], torch.zeros(6, 3)], 1), "x_hat": torch.cat([args["x_hat"], torch.zeros(6, 3)], 1),
             "W_dec": torch.cat([args["W_dec"], torch.zeros(5, 3)], 1)}
    if abs(value(**only_error, **wider) - base) > 1e-5 * abs(base):
        fail("with lam = 0, adding input dimensions that are reconstructed exactly changed the "
             "objective: the squared error is ‖x − x̂‖², summed over d_in (then averaged over "
             "inputs), not a mean over d_in")
    exact = {"x_hat": args["x"]}
    pen = value(**exact)
    if abs(value(**dict(twice, x_hat=twice["x"])) - pen) > 1e-5 * abs(pen):
        fail("with x̂ = x, repeating the batch twice changed the objective: average the penalty "
             "over the inputs, do not sum")
    if abs(value(**exact, f=2 * args["f"]) / pen - 4) < 1e-3:
        fail("doubling f multiplied the penalty by 4: the L1 penalty is Σ_j f_j ‖W_dec,j‖, "
             "not squared (f_j ≥ 0)")
    if abs(value(**exact, W_dec=2 * args["W_dec"]) - pen) < 1e-6 * abs(pen):
        fail("doubling the decoder rows left the penalty unchanged: weight each f_j by its "
             "decoder row's norm ‖W_dec,j‖ (with unit-norm rows this is lam · ‖f‖₁)")
    for name, a in {case: args, "12 inputs, d_in = 4, d_sae = 9, lam = 0.05": dict(_objective_inputs(1, 12, 4, 9), lam=0.05)}.items():
        expect_close(call_safely(fn, a, name), l1_objective(**a), name)


# -- the TopK activation ------------------------------------------------------------------------
def topk_activation(pre: torch.Tensor, k: int) -> torch.Tensor:
    """TopK SAE latents: keep each input's k largest pre-activations.

    pre: (batch, d_sae). In each row keep the k largest entries (then a
    ReLU: a kept negative entry becomes 0); every other entry is 0.
    Returns (batch, d_sae).
    """
    values, indices = pre.topk(k, dim=-1)
    f = torch.zeros_like(pre)
    return f.scatter(-1, indices, torch.relu(values))


def _check_topk_activation(fn) -> None:
    pre = torch.randn(6, 8, generator=seeded(19))
    pre[0] = torch.tensor([-3.0, -2.5, -2.0, 0.1, 0.2, -0.1, 0.3, 0.05])   # large negative entries
    pre[1] = -pre[1].abs() - 0.1                                           # every entry negative
    case = "6 inputs, d_sae = 8, k = 3"
    out = expect_tensor(call_safely(fn, {"pre": pre, "k": 3}, case), (6, 8), "batch, d_sae",
                        wrong_shapes={(6, 3): "return all d_sae latents, 0 outside the top k "
                                      "(scatter the values back to their indices)"})
    expect_finite(out, case)
    expect_nonnegative(out, case, "the kept latents go through a ReLU")
    active = (out != 0).sum(dim=1)
    if (active > 3).any():
        fail(f"an input has {int(active.max())} active latents for k = 3: keep the top k of each "
             f"input, along its latents (dim=-1), not along the batch")
    kept = out != 0
    if not torch.equal(out[kept], pre[kept]):
        fail("the kept latents must keep their pre-activation values")
    expected = topk_activation(pre, 3) != 0
    if not torch.equal(kept, expected):
        row = int((kept != expected).any(1).nonzero()[0])
        fail(f"input {row} keeps latents {kept[row].nonzero().flatten().tolist()}, but its 3 "
             f"largest positive pre-activations are latents {expected[row].nonzero().flatten().tolist()}: "
             f"keep the largest values (not the largest magnitudes)")
    for name, (x, k) in {case: (pre, 3), "k = 1": (pre, 1), "k = d_sae": (pre, 8),
                         "20 inputs, d_sae = 16, k = 4": (torch.randn(20, 16, generator=seeded(20)), 4)}.items():
        expect_close(call_safely(fn, {"pre": x, "k": k}, name), topk_activation(x, k), name)


# -- dead latents -------------------------------------------------------------------------------
def dead_latents(f: torch.Tensor) -> torch.Tensor:
    """Which latents are dead: they fire on none of the inputs.

    f: (batch, d_sae), the latents of a set of inputs. A latent fires on
    an input where it is not 0. Returns a boolean tensor (d_sae,).
    """
    return (f == 0).all(dim=0)


def _check_dead_latents(fn) -> None:
    g = seeded(21)
    f = torch.rand(1000, 6, generator=g) * (torch.rand(1000, 6, generator=g) < 0.3)
    f[:, 1] = 0                                                  # dead
    f[:, 4] = 0
    f[17, 4] = 0.2                                              # fires once: alive
    f[:, 5] = 0.5                                                # fires on every input
    case = "1,000 inputs, 6 latents"
    out = expect_tensor(call_safely(fn, {"f": f}, case), (6,), "d_sae", None,
                        wrong_shapes={(1000,): "one entry per latent: reduce over the inputs (dim=0)",
                                      (): "one entry per latent, not a count or a fraction"})
    if out.dtype != torch.bool:
        fail(f"it returned a tensor of {out.dtype}: return a boolean mask, e.g. (f == 0).all(dim=0)")
    if out[5] or not out[1]:
        fail("a latent that fires on every input is alive and one that never fires is dead: "
             "dead means it fires on none of the inputs")
    if out[4]:
        fail("latent 4 fires on one input of 1,000: it is rare, but alive (dead means it fires "
             "on none of the inputs)")
    for name, x in {case: f, "an SAE with no dead latent": torch.rand(50, 9, generator=g) + 0.01,
                    "an SAE whose latents never fire": torch.zeros(20, 4)}.items():
        expect_close(call_safely(fn, {"f": x}, name), dead_latents(x), name)


# -- mistakes -----------------------------------------------------------------------------------
def _no_b_dec_subtracted(x, W_enc, b_enc, W_dec, b_dec):
    f = torch.relu(x @ W_enc + b_enc)
    return f, f @ W_dec + b_dec


def _no_relu(x, W_enc, b_enc, W_dec, b_dec):
    f = (x - b_dec) @ W_enc + b_enc
    return f, f @ W_dec + b_dec


def _b_dec_not_added(x, W_enc, b_enc, W_dec, b_dec):
    f = torch.relu((x - b_dec) @ W_enc + b_enc)
    return f, f @ W_dec


def _b_enc_after_relu(x, W_enc, b_enc, W_dec, b_dec):
    f = torch.relu((x - b_dec) @ W_enc) + b_enc
    return f, f @ W_dec + b_dec


def _mse_over_everything(x, x_hat, f, W_dec, lam):
    return ((x - x_hat) ** 2).mean() + lam * (f * W_dec.norm(dim=1)).sum(1).mean()


def _penalty_summed(x, x_hat, f, W_dec, lam):
    return ((x - x_hat) ** 2).sum(1).mean() + lam * (f * W_dec.norm(dim=1)).sum()


def _unweighted_penalty(x, x_hat, f, W_dec, lam):
    return ((x - x_hat) ** 2).sum(1).mean() + lam * f.sum(1).mean()


def _squared_penalty(x, x_hat, f, W_dec, lam):
    return ((x - x_hat) ** 2).sum(1).mean() + lam * (f**2 * W_dec.norm(dim=1)).sum(1).mean()


def _topk_over_batch(pre, k):
    values, indices = pre.topk(k, dim=0)
    return torch.zeros_like(pre).scatter(0, indices, torch.relu(values))


def _topk_no_relu(pre, k):
    values, indices = pre.topk(k, dim=-1)
    return torch.zeros_like(pre).scatter(-1, indices, values)


def _topk_magnitudes(pre, k):
    indices = pre.abs().topk(k, dim=-1).indices
    return torch.zeros_like(pre).scatter(-1, indices, torch.relu(pre.gather(-1, indices)))


def _topk_values_only(pre, k):
    return torch.relu(pre.topk(k, dim=-1).values)


def _dead_per_input(f):
    return (f == 0).all(dim=1)


def _rare_is_dead(f):
    return (f != 0).float().mean(dim=0) < 0.01


def _alive_only_if_always(f):
    return ~(f > 0).all(dim=0)


def _dead_fraction(f):
    return (f == 0).all(dim=0).float().mean()


EXERCISES = [
    exercise(
        sae_forward, chapter=CHAPTER, title="The sparse autoencoder's forward pass",
        difficulty=2, importance=5, minutes=10, check=_check_sae_forward,
        hints=["With inputs as rows, W_encᵀ (x − b_dec) is (x - b_dec) @ W_enc.",
               "Row j of W_dec is latent j's direction: x̂ = f @ W_dec + b_dec."],
        mistakes=[Mistake(_no_b_dec_subtracted, "subtract b_dec from x before encoding"),
                  Mistake(_no_relu, "did you apply it"),
                  Mistake(_b_dec_not_added, "add b_dec back"),
                  Mistake(_b_enc_after_relu, "bias seems to be added after the ReLU")],
    ),
    exercise(
        l1_objective, chapter=CHAPTER, title="The ReLU + L1 objective",
        difficulty=2, importance=4, minutes=10, check=_check_l1_objective,
        hints=["‖x − x̂‖² of each input: ((x - x_hat) ** 2).sum(dim=1); then .mean().",
               "W_dec.norm(dim=1) holds the d_sae row norms; it broadcasts against f."],
        mistakes=[Mistake(_mse_over_everything, "not a mean over d_in"),
                  Mistake(_penalty_summed, "average the penalty over the inputs"),
                  Mistake(_unweighted_penalty, "decoder row's norm"),
                  Mistake(_squared_penalty, "not squared")],
    ),
    exercise(
        topk_activation, chapter=CHAPTER, title="The TopK activation",
        difficulty=2, importance=3, minutes=10, check=_check_topk_activation,
        hints=["pre.topk(k, dim=-1) gives the values and indices of each row's k largest.",
               "torch.zeros_like(pre).scatter(-1, indices, values) puts them back."],
        mistakes=[Mistake(_topk_over_batch, "not along the batch"),
                  Mistake(_topk_no_relu, "through a ReLU"),
                  Mistake(_topk_magnitudes, "not the largest magnitudes"),
                  Mistake(_topk_values_only, "return all d_sae latents")],
    ),
    exercise(
        dead_latents, chapter=CHAPTER, title="Dead latents",
        difficulty=1, importance=3, minutes=5, check=_check_dead_latents,
        hints=["A latent is dead when f == 0 on every input: .all(dim=0)."],
        mistakes=[Mistake(_dead_per_input, "reduce over the inputs"),
                  Mistake(_rare_is_dead, "rare, but alive"),
                  Mistake(_alive_only_if_always, "dead means it fires on none"),
                  Mistake(_dead_fraction, "one entry per latent")],
    ),
]
