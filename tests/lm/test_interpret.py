"""Reading the language model's units: rules learned and scored (autointerp), the feature
browser's data and page, and generation with a latent ablated or steered."""

import json
import re

import pytest
import torch

from conftest import bad_input
from superpos_lib import lm
from superpos_lib.lm import autointerp, browser, steer
from superpos_lib.sae import SAE, SAEConfig, SparseAutoencoder

TEXT = ("the cat sat on the mat; the dog ate the hat.\nQueen: that is the thing!\n" * 30)[:1920]


@pytest.fixture(scope="module")
def small():
    tok = lm.CharTokenizer.from_text(TEXT)
    model = lm.OneLayerTransformer(lm.LMConfig(vocab_size=tok.vocab_size, d_model=16, n_heads=2, d_mlp=24,
                                               n_ctx=32), seed=0)
    model.tokenizer = tok
    sae = SparseAutoencoder(SAE(SAEConfig(24, 40, "topk"), 4, seed=0))
    return model, sae


# -- autointerp ----------------------------------------------------------------------------------
def _acts_for(text, *fns):
    return torch.tensor([[float(fn(text, i)) for fn in fns] for i in range(len(text))])


def test_explain_units_finds_the_rule_behind_a_unit_and_scores_it_on_held_out_text():
    tok = lm.CharTokenizer.from_text(TEXT)
    acts = _acts_for(TEXT,
                     lambda t, i: t[i] == "t",                                 # a character
                     lambda t, i: t[i] in "aeiou" and i % 7 != 0,              # a vowel (mostly)
                     lambda t, i: t[i - 4 : i] in (" cat", " hat"),            # just after two words
                     lambda t, i: i % 5 == 0)                                   # nothing about the text
    r = autointerp.explain_units(acts, TEXT, tok)
    assert r.rules[0] == "the character is 't'" and r.f1[0] == 1.0 and r.precision[0] == 1.0
    assert "vowel" in r.rules[1] and 0.8 < r.f1[1] < 1.0
    assert r.rules[2] == "just after the word 'cat' or 'hat'" and r.f1[2] == 1.0
    assert r.f1[3] < 0.5
    assert r.scored.all() and (r.fires > 0).all()
    s = r.summary()
    assert s["scored"] == 4 and s["units"] == 4 and abs(s["f1"] - float(r.f1.mean())) < 1e-6


def test_explain_units_does_not_score_units_that_rarely_fire():
    tok = lm.CharTokenizer.from_text(TEXT)
    acts = torch.zeros(len(TEXT), 2)
    acts[::200, 0] = 1.0  # about five strong activations on each half
    acts[:, 1] = torch.tensor([c == "a" for c in TEXT], dtype=torch.float)
    r = autointerp.explain_units(acts, TEXT, tok, min_fires=10)
    assert r.scored.tolist() == [False, True]
    assert r.f1[0].isnan() and not r.f1[1].isnan()
    assert autointerp.explain_units(acts, TEXT, tok, min_fires=3).scored.tolist() == [True, True]


def test_a_rule_joins_at_most_max_terms_values():
    tok = lm.CharTokenizer.from_text(TEXT)
    acts = _acts_for(TEXT, lambda t, i: t[i] in "cdgm")
    assert autointerp.explain_units(acts, TEXT, tok, max_terms=3).rules[0].count(" or ") == 2
    one = autointerp.explain_units(acts, TEXT, tok, max_terms=1)
    assert " or " not in one.rules[0] and one.f1[0] < 0.6


def test_context_classes_and_keys():
    c = autointerp.context_classes("Ab c.\nD")
    col = {name: c[:, i].tolist() for i, name in enumerate(autointerp.CLASSES)}
    assert col["an upper-case letter"] == [True, False, False, False, False, False, True]
    assert col["the first letter of a word"] == [True, False, False, True, False, False, True]
    assert col["inside a capitalised word"] == [True, True, False, False, False, False, True]
    assert col["the start of a line"] == [False, False, False, False, False, False, True]  # none seen before 0
    assert col["just after punctuation"] == [False, False, False, False, False, True, False]
    keys = autointerp._context_keys("To be, or")
    assert keys["word"] == ["T", "To", "", "b", "be", "", "", "o", "or"]
    assert keys["prev_word"] == ["", "", "To", "", "", "be", "", "", ""]
    # read in windows of 4 characters ("To b", "e, o", "r"): nothing reaches back past a window
    windowed = autointerp._context_keys("To be, or", n_ctx=4)
    assert windowed["word"] == ["T", "To", "", "b", "e", "", "", "o", "r"]
    assert windowed["bigram"] == ["", "To", "o ", " b", "", "e,", ", ", " o", ""]
    assert windowed["trigram"][4:7] == ["", "", "e, "] and windowed["prev_word"][5] == "e"
    c4 = autointerp.context_classes("ab\ncd", n_ctx=3)  # windows "ab\n", "cd"
    after_newline = c4[:, autointerp.CLASSES.index("the start of a line")].tolist()
    assert after_newline == [False, False, False, False, False]  # the "c" after "\n" starts a window
    assert autointerp.context_classes("ab\ncd")[:, autointerp.CLASSES.index("the start of a line")].tolist()[3]


@pytest.mark.parametrize("args,name", [
    ((torch.zeros(5), TEXT[:5]), "acts"), ((torch.zeros(300, 2), TEXT[:299]), "text"),
    ((torch.zeros(100, 2), TEXT[:100]), "text"), ((torch.zeros(300, 2, dtype=torch.long), TEXT[:300]), "acts"),
])
def test_explain_units_bad_input(args, name):
    with bad_input(name):
        autointerp.explain_units(*args, lm.CharTokenizer.from_text(TEXT))
    with bad_input("text"):
        autointerp.context_classes("")


# -- browser -------------------------------------------------------------------------------------
def test_unit_activations_of_each_kind(small):
    model, sae = small
    neurons = browser.unit_activations(model, TEXT, "neuron")
    assert neurons.shape == (1920, 24) and (neurons >= 0).all()
    assert torch.allclose(browser.unit_activations(model, TEXT, "latent", sae), sae.encode(neurons), atol=1e-5)
    rnd = browser.unit_activations(model, TEXT, "random", n_random=7, seed=3)
    assert torch.allclose(rnd, neurons @ browser.unit_directions("random", model, n_random=7, seed=3).T, atol=1e-5)
    assert browser.unit_activations(model, TEXT[:100], "neuron").shape == (96, 24)  # whole windows only
    with bad_input("kind"):
        browser.unit_activations(model, TEXT, "head")
    with bad_input("sae"):
        browser.unit_activations(model, TEXT, "latent")
    with bad_input("text"):
        browser.unit_activations(model, TEXT[:10], "neuron")


def test_logit_effects_are_the_direct_path_to_the_logits(small):
    model, sae = small
    d = browser.unit_directions("neuron", model)[:3]
    eff = browser.logit_effects(model, d)
    assert eff.shape == (3, model.config.vocab_size) and torch.allclose(eff.mean(1), torch.zeros(3), atol=1e-6)
    r = model.W_out.weight[:, 1]
    want = model.W_U.weight @ ((r - r.mean()) * model.ln_f.weight)  # the LayerNorm centres, then scales
    assert torch.allclose(eff[1], (want - want.mean()).detach(), atol=1e-5)
    with bad_input("directions"):
        browser.logit_effects(model, torch.zeros(3, 5))


def test_browse_cards_hold_the_top_contexts_with_the_activating_character(small):
    model, sae = small
    b = browser.browse(model, sae, TEXT, latents=[0, 5], neurons=torch.tensor([1, 2]), n_top=4, n_samples=2)
    assert [(c.kind, c.index) for c in b.cards] == [("latent", 0), ("latent", 5), ("neuron", 1), ("neuron", 2)]
    acts = browser.unit_activations(model, TEXT, "neuron")[:, 1]
    card = b.card("neuron", 1)
    assert card.max_activation == round(float(acts.max()), 3)
    assert abs(card.density - float((acts > 0).float().mean())) < 1e-9
    assert len(card.top) == 4 and card.top[0][2] == pytest.approx(float(acts.max()), abs=1e-3)
    for text, levels, value, after in card.top:
        assert len(levels) == len(text) and levels[len(text) - after - 1] in "56789"
        assert text in TEXT
    values = [c[2] for c in card.top]
    assert values == sorted(values, reverse=True)
    assert [label for label, _ in card.samples] == ["0.5–0.75 of max", "0.25–0.5 of max", "0–0.25 of max"]
    assert len(card.promotes) == 6 and card.promotes[0][1] >= card.promotes[-1][1]
    assert len(card.nearest) == 4 and all(i != 1 for i, _ in card.nearest)
    with bad_input("kind"):
        b.card("neuron", 7)
    with bad_input("latents"):
        browser.browse(model, sae, TEXT, latents=[40])
    with bad_input("n_top"):
        browser.browse(model, sae, TEXT, latents=[0], n_top=0)


def test_browser_html_is_self_contained_and_small(small):
    model, sae = small
    b = browser.browse(model, sae, TEXT, latents=range(10), neurons=range(5))
    page = b._repr_html_()
    assert "http" not in page and "<script" in page and "spb-q" in page
    data = json.loads(re.search(r'class="spb-data">(.*?)</script>', page, re.S).group(1).replace("<\\/", "</"))
    assert len(data["units"]) == 15 and data["chars"] == 1920
    assert b.nbytes == len(page.encode()) < 2_000_000 * 15 / 100
    assert b.html().startswith("<!DOCTYPE html>") and page in b.html()


# -- generation and steering ---------------------------------------------------------------------
def test_generate_is_seeded_and_a_zero_value_on_a_silent_latent_changes_nothing(small):
    model, sae = small
    a = steer.generate(model, "the ", 20, n_samples=2, seed=1)
    assert len(a) == 2 and all(len(s) == 20 for s in a)
    assert a == steer.generate(model, "the ", 20, n_samples=2, seed=1)
    assert a != steer.generate(model, "the ", 20, n_samples=2, seed=2)
    x = model.mlp_activations(model.tokenizer.encode(TEXT[:32])[None])
    silent = int((sae.encode(x[0]) > 0).sum(0).argmin())
    assert torch.allclose(steer.latent_hook(sae, silent, 0.0)(x), x, atol=1e-5)


def test_latent_hook_moves_the_neurons_along_the_latents_decoder_direction(small):
    model, sae = small
    x = model.mlp_activations(model.tokenizer.encode(TEXT[:32])[None])
    f = sae.encode(x[0])
    j = int((f > 0).sum(0).argmax())
    out = steer.latent_hook(sae, j, 5.0)(x)[0]
    w = sae.decode(torch.eye(sae.d_sae)[j : j + 1]) - sae.decode(torch.zeros(1, sae.d_sae))
    assert torch.allclose(out - x[0], (5.0 - f[:, j : j + 1]) * w, atol=1e-4)
    steered = steer.generate(model, "the ", 30, seed=0, mlp_hook=steer.latent_hook(sae, j, 50.0))
    assert steered != steer.generate(model, "the ", 30, seed=0)


@pytest.mark.parametrize("kw,name", [({"latent": 40}, "latent"), ({"latent": True}, "latent"),
                                     ({"value": float("nan")}, "value"), ({"value": "big"}, "value")])
def test_latent_hook_bad_input(small, kw, name):
    _, sae = small
    with bad_input(name):
        steer.latent_hook(sae, **{"latent": 0, "value": 1.0, **kw})


@pytest.mark.parametrize("kw,name", [({"prompt": ""}, "prompt"), ({"n_chars": 0}, "n_chars"),
                                     ({"temperature": 0}, "temperature"), ({"n_samples": 0}, "n_samples")])
def test_generate_bad_input(small, kw, name):
    model, _ = small
    with bad_input(name):
        steer.generate(model, **{"prompt": "the", "n_chars": 5, **kw})


def test_browse_shows_rules_learned_before(small):
    model, sae = small
    acts = browser.unit_activations(model, TEXT, "neuron")
    learned = autointerp.explain_units(acts, TEXT, model.tokenizer)
    b = browser.browse(model, sae, TEXT, latents=[0], neurons=[3], scores={"neuron": learned})
    assert b.card("neuron", 3).rule == learned.rules[3]
    assert b.card("latent", 0).rule == browser.browse(model, sae, TEXT, latents=[0]).card("latent", 0).rule
    with bad_input("scores"):
        browser.browse(model, sae, TEXT, latents=[0], scores={"latent": learned})


def test_unit_activations_of_some_columns_and_in_half_precision(small):
    model, sae = small
    full = browser.unit_activations(model, TEXT, "latent", sae)
    some = browser.unit_activations(model, TEXT, "latent", sae, columns=[3, 0, 7])
    assert torch.equal(some, full[:, [3, 0, 7]])
    half = browser.unit_activations(model, TEXT, "neuron", dtype=torch.float16)
    assert half.dtype == torch.float16
    assert torch.allclose(half.float(), browser.unit_activations(model, TEXT, "neuron"), atol=1e-2, rtol=1e-2)
    with bad_input("columns"):
        browser.unit_activations(model, TEXT, "neuron", columns=[24])
    with bad_input("dtype"):
        browser.unit_activations(model, TEXT, "neuron", dtype=torch.int64)


def test_explain_units_reads_half_precision_as_it_reads_full_and_reports_each_peak():
    tok = lm.CharTokenizer.from_text(TEXT)
    acts = _acts_for(TEXT, lambda t, i: (t[i] == "t") * 0.75, lambda t, i: t[i] in "aeiou")
    r32 = autointerp.explain_units(acts, TEXT, tok)
    r16 = autointerp.explain_units(acts.half(), TEXT, tok)
    assert r32.rules == r16.rules and torch.equal(r32.f1, r16.f1)
    assert r32.peak.tolist() == [0.75, 1.0]


def test_a_latents_direction_is_in_the_neurons_units(small):
    model, sae = small
    d = browser.unit_directions("latent", model, sae)
    one = sae.decode(torch.eye(sae.d_sae)[:2]) - sae.decode(torch.zeros(2, sae.d_sae))
    assert torch.allclose(d[:2], one, atol=1e-5)


def test_rules_do_not_read_across_windows():
    tok = lm.CharTokenizer.from_text(TEXT)
    # a unit firing on every 'e' after an 'h': at a window's start no rule can know the 'h'
    acts = _acts_for(TEXT, lambda t, i: i > 0 and t[i] == "e" and t[i - 1] == "h")
    whole = autointerp.explain_units(acts, TEXT, tok)
    windowed = autointerp.explain_units(acts, TEXT, tok, n_ctx=32)
    assert whole.rules[0] == "the last two characters are 'he'" and whole.f1[0] == 1.0
    assert 0.8 < windowed.f1[0] < 1.0  # an 'he' split by a window's start cannot be told apart
    with bad_input("n_ctx"):
        autointerp.explain_units(acts, TEXT, tok, n_ctx=0)
