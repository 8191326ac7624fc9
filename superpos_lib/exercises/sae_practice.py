"""Exercises of chapter 10, SAEs in practice: BatchTopK's activation (Bussmann et al. 2024),
the Matryoshka loss (Bussmann et al. 2025), a latent's precision, recall and F1 against a true
feature, and the absorption rate (Chanin et al. 2024)."""

from __future__ import annotations

import torch

from .core import Mistake, call_safely, exercise, expect_close, expect_float, expect_nonnegative, expect_tensor, fail, seeded

CHAPTER = "10_sae_practice"


# -- BatchTopK ----------------------------------------------------------------------------------
def batch_topk(pre: torch.Tensor, k: float) -> torch.Tensor:
    """BatchTopK latents: the k·batch largest pre-activations of a batch.

    pre: (batch, d_sae). k is the mean number of latents per input, so
    round(k · batch) entries are kept, wherever they are in the batch
    (then a ReLU: a kept negative entry becomes 0); every other entry is 0.
    Returns (batch, d_sae).
    """
    batch, d_sae = pre.shape
    n_keep = round(k * batch)
    flat = pre.flatten()                         # (batch · d_sae,)
    values, idx = flat.topk(n_keep)
    out = torch.zeros_like(flat)
    out[idx] = values.relu()
    return out.view(batch, d_sae)


def _btk_per_row(pre, k):
    values, idx = pre.topk(round(k), dim=1)
    return torch.zeros_like(pre).scatter(1, idx, values.relu())


def _btk_no_relu(pre, k):
    flat = pre.flatten()
    values, idx = flat.topk(round(k * pre.shape[0]))
    out = torch.zeros_like(flat)
    out[idx] = values
    return out.view_as(pre)


def _btk_k_total(pre, k):
    flat = pre.flatten()
    values, idx = flat.topk(round(k))
    out = torch.zeros_like(flat)
    out[idx] = values.relu()
    return out.view_as(pre)


def _btk_per_column(pre, k):
    values, idx = pre.topk(max(1, round(k * pre.shape[0] / pre.shape[1])), dim=0)
    return torch.zeros_like(pre).scatter(0, idx, values.relu())


def _check_batch_topk(fn) -> None:
    g = seeded(0)
    # input 0 has large pre-activations everywhere, input 2 only small ones
    pre = torch.randn(4, 6, generator=g) + torch.tensor([3.0, 0.0, -1.0, 0.5])[:, None]
    case = "4 inputs, 6 latents, k = 2 (8 kept)"
    out = expect_tensor(call_safely(fn, {"pre": pre, "k": 2.0}, case), (4, 6), "batch, d_sae")
    expect_nonnegative(out, case, "a kept negative pre-activation becomes 0: apply a ReLU to the kept values")
    kept, right = int((out != 0).sum()), int((batch_topk(pre, 2.0) != 0).sum())
    if kept <= 2:
        fail(f"on {case} it kept {kept} entries in all: k is per input on average, so keep the round(k · batch) "
             f"= 8 largest entries of the whole batch")
    if (out != 0).sum(1).max() <= 2:
        fail(f"on {case} no input kept more than 2 latents: that is TopK. BatchTopK takes the 8 largest "
             f"entries of the whole batch, so a busy input may keep more and a quiet one fewer")
    if kept != right:
        fail(f"on {case} it kept {kept} entries in all: k is per input on average, so keep the round(k · batch) "
             f"= 8 largest entries of the whole batch")
    for name, args in {case: {"pre": pre, "k": 2.0},
                       "8 inputs, 10 latents, k = 1.5 (12 kept)": {"pre": torch.randn(8, 10, generator=g), "k": 1.5},
                       "4 inputs, 6 latents, k = 1.45 (5.8: 6 kept)": {"pre": torch.randn(4, 6, generator=g), "k": 1.45},
                       "4 inputs, 6 latents, k = 1.3 (5.2: 5 kept)": {"pre": torch.randn(4, 6, generator=g), "k": 1.3},
                       "3 inputs, 5 latents, all pre-activations negative, k = 2":
                           {"pre": -torch.rand(3, 5, generator=g) - 0.1, "k": 2.0}}.items():
        got = expect_tensor(call_safely(fn, args, name), tuple(args["pre"].shape), "batch, d_sae")
        expect_nonnegative(got, name, "a kept negative pre-activation becomes 0: apply a ReLU to the kept values")
        expect_close(got, batch_topk(**args), name)


# -- the Matryoshka loss ------------------------------------------------------------------------
def matryoshka_loss(
    x: torch.Tensor, f: torch.Tensor, W_dec: torch.Tensor,
    b_dec: torch.Tensor, prefixes: list[int],
) -> torch.Tensor:
    """The Matryoshka SAE's reconstruction loss, a 0-d tensor.

    x: (batch, d_in); f: (batch, d_sae); W_dec: (d_sae, d_in); b_dec:
    (d_in,); prefixes: increasing dictionary sizes, the last d_sae. For
    each size m, reconstruct x from the first m latents alone,
    x̂_m = f[:, :m] @ W_dec[:m] + b_dec, and take the squared error
    ‖x − x̂_m‖² (summed over d_in, averaged over the batch). Return the
    mean of these errors over the prefixes.
    """
    errors = []
    for m in prefixes:
        x_hat = f[:, :m] @ W_dec[:m] + b_dec          # (batch, d_in)
        errors.append(((x - x_hat) ** 2).sum(dim=1).mean())
    return torch.stack(errors).mean()


def _mat_whole_only(x, f, W_dec, b_dec, prefixes):
    return ((x - f @ W_dec - b_dec) ** 2).sum(1).mean()


def _mat_sum(x, f, W_dec, b_dec, prefixes):
    return matryoshka_loss(x, f, W_dec, b_dec, prefixes) * len(prefixes)


def _mat_last_latents(x, f, W_dec, b_dec, prefixes):
    errors = [((x - f[:, -m:] @ W_dec[-m:] - b_dec) ** 2).sum(1).mean() for m in prefixes]
    return torch.stack(errors).mean()


def _mat_no_bias(x, f, W_dec, b_dec, prefixes):
    return torch.stack([((x - f[:, :m] @ W_dec[:m]) ** 2).sum(1).mean() for m in prefixes]).mean()


def _check_matryoshka_loss(fn) -> None:
    g = seeded(1)
    args = {"x": torch.randn(6, 3, generator=g), "f": torch.rand(6, 8, generator=g),
            "W_dec": torch.randn(8, 3, generator=g), "b_dec": torch.randn(3, generator=g) * 0.5, "prefixes": [2, 4, 8]}
    case = "6 inputs, d_in = 3, 8 latents, prefixes [2, 4, 8]"
    out = expect_tensor(call_safely(fn, args, case), (), "a scalar",
                        wrong_shapes={(3,): "one loss per prefix: take their mean", (6,): "average over the batch"})
    right = matryoshka_loss(**args)
    whole = ((args["x"] - args["f"] @ args["W_dec"] - args["b_dec"]) ** 2).sum(1).mean()
    if torch.isclose(out, whole, rtol=1e-4) and not torch.isclose(right, whole, rtol=1e-4):
        fail(f"on {case} it returned the whole dictionary's error only: reconstruct from the first m latents for "
             f"every m in prefixes, and average those errors")
    if torch.isclose(out, right * 3, rtol=1e-4):
        fail(f"on {case} the answer is 3 times the solution's: average the prefixes' errors, do not add them")
    for name, a in {case: args,
                    "b_dec = 0, prefixes [8]": dict(args, b_dec=torch.zeros(3), prefixes=[8]),
                    "prefixes [1, 3, 8]": dict(args, prefixes=[1, 3, 8])}.items():
        got = expect_tensor(call_safely(fn, a, name), (), "a scalar")
        right = matryoshka_loss(**a)
        if torch.isclose(got, _mat_no_bias(**a), rtol=1e-4) and not torch.isclose(got, right, rtol=1e-4):
            fail(f"on {name} the answer is {float(got):.5g}, the solution's {float(right):.5g}: each prefix's "
                 f"reconstruction needs the decoder bias too, x̂_m = f[:, :m] @ W_dec[:m] + b_dec")
        if torch.isclose(got, _mat_last_latents(**a), rtol=1e-4) and not torch.isclose(got, right, rtol=1e-4):
            fail(f"on {name} the answer is {float(got):.5g}, the solution's {float(right):.5g}: a prefix is the "
                 f"first m latents, f[:, :m] and W_dec[:m]")
        expect_close(got, right, name)


# -- precision, recall and F1 of one latent -----------------------------------------------------
def latent_scores(
    fires: torch.Tensor, active: torch.Tensor,
) -> tuple[float, float, float]:
    """A latent as a detector of a true feature: (precision, recall, F1).

    fires, active: (batch,) booleans: where the latent is non-zero and
    where the feature is active. Precision: of the inputs the latent fires
    on, the share where the feature is active. Recall: of the inputs where
    the feature is active, the share the latent fires on. F1: their
    harmonic mean, 2PR / (P + R). A share with nothing to count is 0.
    """
    both = (fires & active).sum().item()
    n_fires, n_active = fires.sum().item(), active.sum().item()
    precision = both / n_fires if n_fires else 0.0
    recall = both / n_active if n_active else 0.0
    total = precision + recall
    f1 = 2 * precision * recall / total if total else 0.0
    return float(precision), float(recall), float(f1)


def _ls_swapped(fires, active):
    p, r, f = latent_scores(fires, active)
    return r, p, f


def _ls_arithmetic(fires, active):
    p, r, _ = latent_scores(fires, active)
    return p, r, (p + r) / 2


def _ls_accuracy(fires, active):
    p, r, f = latent_scores(fires, active)
    return float((fires == active).float().mean()), r, f


def _ls_nan(fires, active):
    both = (fires & active).sum().item()
    p = both / fires.sum().item() if fires.any() else float("nan")
    r = both / active.sum().item() if active.any() else float("nan")
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def _check_latent_scores(fn) -> None:
    fires = torch.tensor([True, True, True, True, False, False, False, False, False, False])
    active = torch.tensor([True, True, True, False, True, True, True, True, True, False])
    case = "10 inputs: the latent fires on 4, the feature is active on 8, both on 3"
    out = call_safely(fn, {"fires": fires, "active": active}, case)
    if not isinstance(out, tuple) or len(out) != 3:
        fail(f"it returned a {type(out).__name__}: return the triple (precision, recall, F1)")
    p, r, f1 = (expect_float(v) for v in out)
    if abs(p - 3 / 8) < 1e-6 and abs(r - 3 / 4) < 1e-6:
        fail(f"on {case} precision and recall are swapped: precision divides by the inputs the latent fires on "
             f"(3/4), recall by those where the feature is active (3/8)")
    if abs(p - 0.4) < 1e-6:
        fail(f"on {case} precision is 0.4, the share of inputs where latent and feature agree (accuracy): "
             f"precision is (fires & active) / fires = 3/4")
    if abs(f1 - (0.75 + 0.375) / 2) < 1e-6:
        fail(f"on {case} F1 is {f1:.4g}, the arithmetic mean: F1 is the harmonic mean, 2PR / (P + R) = 0.5")
    expect_close(p, 0.75, case)
    expect_close(r, 0.375, case)
    expect_close(f1, 0.5, case)
    silent = "a latent that never fires (precision has nothing to count: 0)"
    vals = call_safely(fn, {"fires": torch.zeros(10, dtype=torch.bool), "active": active}, silent)
    for v, right in zip(vals, (0.0, 0.0, 0.0)):
        got = expect_float(v)
        if got != got:
            fail(f"on {silent} it returned NaN: a share with nothing to count is 0, not 0/0")
        expect_close(got, right, silent)
    g = seeded(3)
    for i in range(3):
        a, b = torch.rand(50, generator=g) < 0.3, torch.rand(50, generator=g) < 0.4
        name = f"50 random inputs (draw {i})"
        for got, right in zip(call_safely(fn, {"fires": a, "active": b}, name), latent_scores(a, b)):
            expect_close(expect_float(got), right, name)


# -- the absorption rate ------------------------------------------------------------------------
def absorption_rate(
    parent_fires: torch.Tensor, parent_active: torch.Tensor,
    child_active: torch.Tensor,
) -> float:
    """How often a parent's latent is silent when a child fires with it.

    parent_fires: (batch,) booleans, where the parent's latent is non-zero;
    parent_active, child_active: (batch,) booleans, where the parent
    feature and (any of) its children are active. Of the inputs where the
    parent and a child are both active, the share where the parent's
    latent is silent (0.0 when there is no such input).
    """
    both = parent_active & child_active
    n = int(both.sum())
    if n == 0:
        return 0.0
    return float((both & ~parent_fires).sum()) / n


def _ar_all_parent(parent_fires, parent_active, child_active):
    n = int(parent_active.sum())
    return float((parent_active & ~parent_fires).sum()) / n if n else 0.0


def _ar_recall(parent_fires, parent_active, child_active):
    return 1.0 - absorption_rate(parent_fires, parent_active, child_active)


def _ar_child_only(parent_fires, parent_active, child_active):
    n = int(child_active.sum())
    return float((child_active & ~parent_fires).sum()) / n if n else 0.0


def _ar_alone(parent_fires, parent_active, child_active):
    alone = parent_active & ~child_active
    n = int(alone.sum())
    return float((alone & ~parent_fires).sum()) / n if n else 0.0


def _check_absorption_rate(fn) -> None:
    # 8 inputs: parent active on 0-5, a child on 2-5 and on 7 (a child without its parent: not
    # possible in the book's data, here to tell the cases apart); the latent fires on 0 and 2.
    parent_active = torch.tensor([1, 1, 1, 1, 1, 1, 0, 0], dtype=torch.bool)
    child_active = torch.tensor([0, 0, 1, 1, 1, 1, 0, 1], dtype=torch.bool)
    parent_fires = torch.tensor([1, 0, 1, 0, 0, 0, 0, 0], dtype=torch.bool)
    args = {"parent_fires": parent_fires, "parent_active": parent_active, "child_active": child_active}
    case = "8 inputs: parent with a child on 4 of them, the latent silent on 3 of those 4"
    got = expect_float(call_safely(fn, args, case))
    if abs(got - 0.25) < 1e-9:
        fail(f"on {case} it returned 0.25, the share where the latent fires: the rate counts where it is silent")
    if abs(got - 4 / 6) < 1e-9:
        fail(f"on {case} it returned {got:.4g}: that divides by every input where the parent is active; count only "
             f"those where a child is active too")
    if abs(got - 0.5) < 1e-9 and _ar_alone(**args) == 0.5:
        fail(f"on {case} it returned 0.5, the silence on parent-alone inputs (the control): count the inputs "
             f"where the parent and a child are both active")
    if abs(got - 0.8) < 1e-9:
        fail(f"on {case} it returned 0.8: it counts inputs where a child is active without the parent; the "
             f"parent must be active too")
    expect_close(got, 0.75, case)
    none = "no input with both parent and child active"
    out = expect_float(call_safely(fn, dict(args, child_active=torch.zeros(8, dtype=torch.bool)), none))
    if out != out:
        fail(f"on {none} it returned NaN: return 0.0 when there is nothing to count")
    expect_close(out, 0.0, none)
    g = seeded(4)
    for i in range(3):
        pa = torch.rand(40, generator=g) < 0.5
        a = {"parent_fires": torch.rand(40, generator=g) < 0.6, "parent_active": pa,
             "child_active": pa & (torch.rand(40, generator=g) < 0.5)}
        name = f"40 random inputs (draw {i})"
        expect_close(expect_float(call_safely(fn, a, name)), absorption_rate(**a), name)


EXERCISES = [
    exercise(
        batch_topk, chapter=CHAPTER, title="BatchTopK's activation",
        difficulty=2, importance=4, minutes=10, check=_check_batch_topk,
        hints=["pre.flatten() puts the whole batch in one row; .topk(n) then chooses across inputs.",
               "Scatter the kept values (after a ReLU) into zeros of the flattened shape, then .view(batch, d_sae)."],
        mistakes=[Mistake(_btk_per_row, "that is TopK"), Mistake(_btk_no_relu, "apply a ReLU"),
                  Mistake(_btk_k_total, "round(k · batch)"), Mistake(_btk_per_column, "whole batch")],
    ),
    exercise(
        matryoshka_loss, chapter=CHAPTER, title="The Matryoshka loss",
        difficulty=2, importance=4, minutes=10, check=_check_matryoshka_loss,
        hints=["Loop over prefixes; f[:, :m] @ W_dec[:m] + b_dec is the reconstruction from the first m latents.",
               "torch.stack(errors).mean() averages the prefixes' errors."],
        mistakes=[Mistake(_mat_whole_only, "whole dictionary's error only"), Mistake(_mat_sum, "do not add them"),
                  Mistake(_mat_last_latents, "first m latents"), Mistake(_mat_no_bias, "decoder bias")],
    ),
    exercise(
        latent_scores, chapter=CHAPTER, title="Precision, recall and F1 of a latent",
        difficulty=1, importance=4, minutes=8, check=_check_latent_scores,
        hints=["(fires & active).sum() counts the true positives.",
               "Guard each division: a share with nothing to count is 0."],
        mistakes=[Mistake(_ls_swapped, "swapped"), Mistake(_ls_arithmetic, "harmonic mean"),
                  Mistake(_ls_accuracy, "accuracy"), Mistake(_ls_nan, "not 0/0")],
    ),
    exercise(
        absorption_rate, chapter=CHAPTER, title="The absorption rate",
        difficulty=1, importance=5, minutes=8, check=_check_absorption_rate,
        hints=["parent_active & child_active marks the inputs that count.",
               "Of those, count where ~parent_fires, and divide."],
        mistakes=[Mistake(_ar_all_parent, "every input where the parent is active"), Mistake(_ar_recall, "silent"),
                  Mistake(_ar_child_only, "the parent must be active too"), Mistake(_ar_alone, "the control")],
    ),
]
