"""Exercises of chapter 11, a miniature Towards Monosemanticity: the share of the loss an SAE
recovers, a unit's direct effect on the logits, the best one-character rule for a unit, the
contexts the model really saw, and steering the neurons along one latent."""

from __future__ import annotations

import torch

from .core import Mistake, call_safely, exercise, expect_close, expect_float, expect_tensor, fail, seeded

CHAPTER = "11_monosemanticity"


# -- the loss recovered --------------------------------------------------------------------------
def loss_recovered(clean: float, zero: float, spliced: float) -> float:
    """The share of the loss gap an SAE keeps when it replaces the neurons.

    clean: the model's loss (nats per character); zero: its loss with the
    MLP's neurons set to zero; spliced: its loss with the SAE's
    reconstruction in their place. Returns
    (zero - spliced) / (zero - clean): 1 when the SAE loses nothing, 0
    when it is no better than zeros.
    """
    return (zero - spliced) / (zero - clean)


def _lr_flipped(clean, zero, spliced):
    return (spliced - clean) / (zero - clean)


def _lr_ratio(clean, zero, spliced):
    return clean / spliced


def _lr_wrong_base(clean, zero, spliced):
    return (zero - spliced) / zero


def _check_loss_recovered(fn) -> None:
    cases = {"clean 1.5, zero 3.5, spliced 1.6": (1.5, 3.5, 1.6, 0.95),
             "clean 1.5, zero 3.5, spliced 1.5": (1.5, 3.5, 1.5, 1.0),
             "clean 2.0, zero 3.0, spliced 3.0": (2.0, 3.0, 3.0, 0.0)}
    for case, (clean, zero, spliced, want) in cases.items():
        got = expect_float(call_safely(fn, {"clean": clean, "zero": zero, "spliced": spliced}, case))
        if abs(got - (1 - want)) < 1e-9 and want != 0.5:
            fail(f"on {case} it returned {got:.4g}, the share of the gap the SAE loses: measure what it keeps, "
                 f"(zero - spliced) / (zero - clean)")
        if abs(got - clean / spliced) < 1e-9 and abs(clean / spliced - want) > 1e-9:
            fail(f"on {case} it returned {got:.4g}, clean / spliced: that ratio ignores what zeroing costs; "
                 f"compare the spliced loss with both ends, (zero - spliced) / (zero - clean)")
        if abs(got - (zero - spliced) / zero) < 1e-9 and abs((zero - spliced) / zero - want) > 1e-9:
            fail(f"on {case} it returned {got:.4g}: divide by the gap between zeroing and the clean model, "
                 f"zero - clean, not by the zero-ablated loss")
        expect_close(got, want, case)


# -- logit effects -------------------------------------------------------------------------------
def logit_effect(
    direction: torch.Tensor, W_out: torch.Tensor, ln_gain: torch.Tensor,
    W_U: torch.Tensor,
) -> torch.Tensor:
    """What a unit writes does to the next-character logits, directly.

    direction: (d_mlp,), the unit's direction among the MLP's neurons (a
    neuron: one-hot; a latent: its decoder row). W_out: (d_model, d_mlp),
    the MLP's output weights (nn.Linear's layout). ln_gain: (d_model,), the
    final LayerNorm's gain. W_U: (vocab, d_model), the unembedding.
    The unit writes r = W_out direction into the residual stream; the final
    LayerNorm subtracts r's mean over d_model and multiplies by ln_gain
    (its division by the stream's spread depends on the input: leave it
    out). Returns (vocab,): W_U applied to that, minus its mean over the
    vocabulary (a logit shared by every character changes nothing).
    """
    r = W_out @ direction
    logits = W_U @ (ln_gain * (r - r.mean()))
    return logits - logits.mean()


def _le_uncentred(direction, W_out, ln_gain, W_U):
    r = W_out @ direction
    return W_U @ (ln_gain * (r - r.mean()))


def _le_no_gain(direction, W_out, ln_gain, W_U):
    r = W_out @ direction
    logits = W_U @ (r - r.mean())
    return logits - logits.mean()


def _le_no_ln_mean(direction, W_out, ln_gain, W_U):
    logits = W_U @ (ln_gain * (W_out @ direction))
    return logits - logits.mean()


def _le_probs(direction, W_out, ln_gain, W_U):
    r = W_out @ direction
    return torch.softmax(W_U @ (ln_gain * (r - r.mean())), 0)


def _check_logit_effect(fn) -> None:
    g = seeded(0)
    args = {"direction": torch.rand(6, generator=g), "W_out": torch.randn(4, 6, generator=g),
            "ln_gain": 1 + torch.rand(4, generator=g), "W_U": torch.randn(5, 4, generator=g)}
    case = "6 neurons, d_model 4, 5 characters"
    out = expect_tensor(call_safely(fn, args, case), (5,), "vocab")
    want = logit_effect(**args)
    if (out >= 0).all() and abs(float(out.sum()) - 1) < 1e-4:
        fail(f"on {case} the output is a probability distribution: return logits (centred), not a softmax")
    if torch.allclose(out, _le_uncentred(**args), atol=1e-5) and not torch.allclose(out, want, atol=1e-5):
        fail(f"on {case} the logits are not centred: subtract their mean over the vocabulary")
    if torch.allclose(out, _le_no_gain(**args), atol=1e-5):
        fail(f"on {case} the final LayerNorm's gain is missing: scale the residual direction by ln_gain "
             f"before the unembedding")
    if torch.allclose(out, _le_no_ln_mean(**args), atol=1e-5):
        fail(f"on {case} the LayerNorm's own centring is missing: subtract r's mean over d_model (r = W_out "
             f"direction) before the gain; the LayerNorm does that to whatever the unit writes")
    expect_close(out, want, case)
    one_hot = dict(args, direction=torch.eye(6)[2])
    expect_close(expect_tensor(call_safely(fn, one_hot, "neuron 2 (one-hot)"), (5,), "vocab"),
                 logit_effect(**one_hot), "neuron 2 (one-hot)")


# -- the best one-character rule -----------------------------------------------------------------
def best_char_rule(
    fires: torch.Tensor, tokens: torch.Tensor, vocab_size: int,
) -> tuple[int, float]:
    """The character whose rule "the character is c" best predicts a unit.

    fires: (n,) bool, where the unit fires; tokens: (n,) int64, the
    character at each position, ids in [0, vocab_size). The rule's
    precision is the share of positions with character c where the unit
    fires, its recall the share of the unit's firings at c; F1 is their
    harmonic mean, 2·hits / (count of c + count of firings).
    Returns (c, its F1) for the c with the best F1, as a Python int and
    a float.
    """
    hits = torch.bincount(tokens[fires], minlength=vocab_size).float()
    size = torch.bincount(tokens, minlength=vocab_size).float()
    f1 = 2 * hits / (size + fires.sum()).clamp_min(1)
    best = int(f1.argmax())
    return best, float(f1[best])


def _bc_precision(fires, tokens, vocab_size):
    hits = torch.bincount(tokens[fires], minlength=vocab_size).float()
    prec = hits / torch.bincount(tokens, minlength=vocab_size).float().clamp_min(1)
    best = int(prec.argmax())
    return best, float(2 * hits[best] / ((tokens == best).sum() + fires.sum()))


def _bc_recall(fires, tokens, vocab_size):
    hits = torch.bincount(tokens[fires], minlength=vocab_size).float()
    best = int(hits.argmax())
    return best, float(2 * hits[best] / ((tokens == best).sum() + fires.sum()))


def _bc_no_two(fires, tokens, vocab_size):
    hits = torch.bincount(tokens[fires], minlength=vocab_size).float()
    f1 = hits / (torch.bincount(tokens, minlength=vocab_size).float() + fires.sum())
    best = int(f1.argmax())
    return best, float(f1[best])


def _check_best_char_rule(fn) -> None:
    # character 1 is common and the unit fires on most of it; character 3 is rare and the unit
    # always fires on it; character 2 is where the unit fires most often in all
    tokens = torch.tensor([1] * 10 + [2] * 40 + [3] * 2 + [0] * 8)
    fires = torch.zeros(60, dtype=torch.bool)
    fires[:8] = True        # 8 of the 10 ones
    fires[10:22] = True     # 12 of the 40 twos
    fires[50:52] = True     # both threes
    case = "a unit firing on 8 of 10 '1's, 12 of 40 '2's and both '3's (60 positions, 4 characters)"
    out = call_safely(fn, {"fires": fires, "tokens": tokens, "vocab_size": 4}, case)
    if not isinstance(out, tuple) or len(out) != 2:
        fail(f"it returned {type(out).__name__}, expected a tuple (character id, F1)")
    c, f1 = out
    if not isinstance(c, int) or isinstance(c, bool):
        fail(f"the character it returned is a {type(c).__name__}: return a Python int (int(...))")
    f1 = expect_float(f1, "a Python float for the F1")
    if c == 3:
        fail(f"on {case} it chose character 3, which the unit always fires on: that picks by precision, but "
             f"3 explains only 2 of 22 firings. Pick by F1, which weighs precision and recall")
    if c == 2:
        fail(f"on {case} it chose character 2, where the unit fires most: that picks by recall (hits), but "
             f"only 12 of the 40 '2's fire. Pick by F1")
    if abs(f1 - 8 / 32) < 1e-6:
        fail(f"on {case} it returned F1 {f1:.4g}: F1 = 2·hits / (count of c + count of firings); the 2 is missing")
    expect_close(float(c), 1.0, case + ", the character")
    expect_close(f1, 16 / 32, case + ", its F1")
    g = seeded(3)
    for i in range(3):
        toks = torch.randint(6, (80,), generator=g)
        fi = torch.rand(80, generator=g) < 0.2 + 0.6 * (toks == i).float()
        name = f"80 random positions, 6 characters (draw {i})"
        c, f1 = call_safely(fn, {"fires": fi, "tokens": toks, "vocab_size": 6}, name)
        want_c, want_f1 = best_char_rule(fi, toks, 6)
        expect_close(float(f1), want_f1, name + ", the F1")
        if c != want_c:
            fail(f"on {name} it chose character {c}, the solution {want_c}")


# -- the contexts the model saw ------------------------------------------------------------------
def top_contexts(
    acts: torch.Tensor, n_ctx: int, k: int, before: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where a unit fires most, and where the context to show starts.

    acts: (n,), the unit's activation at each character of a text that was
    read in consecutive windows of n_ctx characters (so position p was
    predicted from window start p // n_ctx * n_ctx up to p). Returns
    (positions, starts), both (k,) int64: the k positions with the largest
    activations, largest first, and for each the first character to show,
    up to `before` characters back but never before its window's start.
    """
    positions = acts.topk(k).indices
    window_start = positions // n_ctx * n_ctx
    starts = torch.maximum(positions - before, window_start)
    return positions, starts


def _tc_no_window(acts, n_ctx, k, before):
    positions = acts.topk(k).indices
    return positions, (positions - before).clamp_min(0)


def _tc_smallest(acts, n_ctx, k, before):
    positions = acts.topk(k, largest=False).indices
    return positions, torch.maximum(positions - before, positions // n_ctx * n_ctx)


def _tc_window_only(acts, n_ctx, k, before):
    positions = acts.topk(k).indices
    return positions, positions // n_ctx * n_ctx


def _check_top_contexts(fn) -> None:
    acts = torch.zeros(40)
    acts[[3, 17, 21, 33]] = torch.tensor([1.0, 4.0, 3.0, 2.0])
    case = "40 characters in windows of 10, k = 3, before = 5 (the largest at 17, 21 and 33)"
    args = {"acts": acts, "n_ctx": 10, "k": 3, "before": 5}
    out = call_safely(fn, args, case)
    if not isinstance(out, tuple) or len(out) != 2:
        fail(f"it returned {type(out).__name__}, expected a tuple (positions, starts)")
    pos = expect_tensor(out[0], (3,), "k", torch.int64)
    starts = expect_tensor(out[1], (3,), "k", torch.int64)
    if pos.min() >= 0 and pos.max() < 40 and float(acts[pos].max()) < 2.0:
        fail(f"on {case} it returned positions {pos.tolist()}: take the largest activations (topk), not the "
             f"smallest")
    expect_close(pos, torch.tensor([17, 21, 33]), case + ", the positions (largest first)")
    if starts.tolist() == [12, 16, 28]:
        fail(f"on {case} the starts are {starts.tolist()}: 16 is in the window 10-19, before position 21's "
             f"window (20-29) began. The model saw nothing before its window: never start before "
             f"p // n_ctx * n_ctx")
    if starts.tolist() == [10, 20, 30]:
        fail(f"on {case} the starts are {starts.tolist()}: every context starts at its window's start; show at "
             f"most `before` characters back (position 17 starts at 12)")
    expect_close(starts, torch.tensor([12, 20, 30]), case + ", the starts")
    g = seeded(5)
    for i in range(3):
        a = {"acts": torch.rand(64, generator=g), "n_ctx": 16, "k": 5, "before": 6}
        name = f"64 random activations in windows of 16, k = 5 (draw {i})"
        p, s = call_safely(fn, a, name)
        want_p, want_s = top_contexts(**a)
        expect_close(p, want_p, name + ", the positions")
        expect_close(s, want_s, name + ", the starts")


# -- steering ------------------------------------------------------------------------------------
def steer_neurons(
    x: torch.Tensor, f: torch.Tensor, W_dec: torch.Tensor, latent: int,
    value: float,
) -> torch.Tensor:
    """The neurons with one SAE latent set to `value`, all else kept.

    x: (batch, d_mlp), the neurons; f: (batch, d_sae), the SAE's latents
    on them; W_dec: (d_sae, d_mlp), what one unit of each latent adds to
    the reconstruction, in the neurons' units. Move each input
    along the latent's decoder row by (value - its current activation), so
    the latent reads `value` and everything else x carried, the SAE's
    reconstruction error included, stays. Returns (batch, d_mlp).
    """
    return x + (value - f[:, latent])[:, None] * W_dec[latent]


def _sn_add(x, f, W_dec, latent, value):
    return x + value * W_dec[latent]


def _sn_reconstruction(x, f, W_dec, latent, value):
    g = f.clone()
    g[:, latent] = value
    return g @ W_dec


def _sn_scale_all(x, f, W_dec, latent, value):
    return x + (value - f[:, latent]).mean() * W_dec[latent]


def _check_steer_neurons(fn) -> None:
    g = seeded(6)
    x = torch.randn(4, 5, generator=g)
    W_dec = torch.randn(7, 5, generator=g)
    f = torch.rand(4, 7, generator=g) * (torch.rand(4, 7, generator=g) < 0.5)
    f[:, 2] = torch.tensor([0.0, 1.0, 0.5, 2.0])
    case = "4 inputs, 5 neurons, 7 latents, latent 2 set to 3.0 (it reads 0, 1, 0.5 and 2 now)"
    args = {"x": x, "f": f, "W_dec": W_dec, "latent": 2, "value": 3.0}
    out = expect_tensor(call_safely(fn, args, case), (4, 5), "batch, d_mlp")
    if torch.allclose(out, _sn_add(**args), atol=1e-5):
        fail(f"on {case} it adds value·W_dec[latent] to every input: that sets the latent to its activation + "
             f"value. Move by (value - f[:, latent]), so it reads value")
    if torch.allclose(out, _sn_reconstruction(**args), atol=1e-5):
        fail(f"on {case} it returns the SAE's reconstruction: that drops what the SAE misses. Keep x and move it "
             f"along the latent's decoder row")
    if torch.allclose(out, _sn_scale_all(**args), atol=1e-5):
        fail(f"on {case} every input moved by the same amount: each input moves by its own "
             f"(value - f[i, latent])")
    expect_close(out, steer_neurons(**args), case)
    off = dict(args, value=0.0)
    expect_close(expect_tensor(call_safely(fn, off, "the same latent ablated (value 0)"), (4, 5), "batch, d_mlp"),
                 steer_neurons(**off), "the same latent ablated (value 0)")


EXERCISES = [
    exercise(
        loss_recovered, chapter=CHAPTER, title="The loss recovered",
        difficulty=1, importance=4, minutes=4, check=_check_loss_recovered,
        hints=["Zeroing the neurons is the worst case, the clean model the best: measure where the spliced "
               "loss sits between them."],
        mistakes=[Mistake(_lr_flipped, "what it keeps"), Mistake(_lr_ratio, "ignores what zeroing costs"),
                  Mistake(_lr_wrong_base, "zero - clean")],
    ),
    exercise(
        best_char_rule, chapter=CHAPTER, title="The best one-character rule",
        difficulty=2, importance=4, minutes=10, check=_check_best_char_rule,
        hints=["torch.bincount(tokens[fires], minlength=vocab_size) counts the hits of every character at once.",
               "torch.bincount(tokens, minlength=vocab_size) counts each character; F1 = 2·hits / (that + firings)."],
        mistakes=[Mistake(_bc_precision, "by precision"), Mistake(_bc_recall, "by recall"),
                  Mistake(_bc_no_two, "the 2 is missing")],
    ),
    exercise(
        logit_effect, chapter=CHAPTER, title="A unit's logit effect",
        difficulty=1, importance=4, minutes=6, check=_check_logit_effect,
        hints=["r = W_out @ direction is what the unit adds to the residual stream (d_model,).",
               "W_U @ (ln_gain * (r - r.mean())), then subtract the logits' mean."],
        mistakes=[Mistake(_le_uncentred, "not centred"), Mistake(_le_no_gain, "gain is missing"),
                  Mistake(_le_no_ln_mean, "own centring"), Mistake(_le_probs, "not a softmax")],
    ),
    exercise(
        top_contexts, chapter=CHAPTER, title="The contexts the model saw",
        difficulty=1, importance=3, minutes=6, check=_check_top_contexts,
        hints=["acts.topk(k).indices gives the positions, largest first.",
               "torch.maximum(positions - before, positions // n_ctx * n_ctx) keeps each start in its window."],
        mistakes=[Mistake(_tc_no_window, "saw nothing before its window"), Mistake(_tc_smallest, "not the smallest"),
                  Mistake(_tc_window_only, "at most `before`")],
    ),
    exercise(
        steer_neurons, chapter=CHAPTER, title="Steering along one latent",
        difficulty=2, importance=5, minutes=8, check=_check_steer_neurons,
        hints=["f[:, latent] is the latent's activation on each input, (batch,).",
               "(value - f[:, latent])[:, None] * W_dec[latent] is each input's move, (batch, d_mlp)."],
        mistakes=[Mistake(_sn_add, "(value - f[:, latent])"), Mistake(_sn_reconstruction, "drops what the SAE misses"),
                  Mistake(_sn_scale_all, "its own")],
    ),
]
