"""The language model's corpus, tokenizer, model and training script."""

import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from conftest import bad_input
from superpos_lib import lm

SMALL = lm.LMConfig(vocab_size=12, d_model=16, n_heads=2, d_mlp=32, n_ctx=10)


# -- tokenizer and corpus ------------------------------------------------------------------------
def test_tokenizer_round_trip_and_unknown_characters():
    tok = lm.CharTokenizer.from_text("to be, or not")
    assert tok.chars[0] == lm.UNKNOWN and tok.vocab_size == len(set("to be, or not")) + 1
    ids = tok.encode("not to be")
    assert ids.dtype == torch.long and tok.decode(ids) == "not to be"
    assert tok.unseen("tax") == {"a", "x"}
    with bad_input("not seen"):
        tok.encode("tax")
    assert tok.encode("tax", unknown="replace").tolist() == [tok.index["t"], 0, 0]
    assert tok.decode([0]) == lm.UNKNOWN


@pytest.mark.parametrize("call,name", [(lambda t: t.encode(3), "text"), (lambda t: t.encode("to", unknown="drop"), "unknown"),
                                       (lambda t: t.decode([99]), "tokens"), (lambda t: lm.CharTokenizer(""), "chars"),
                                       (lambda t: lm.CharTokenizer.from_text(""), "text")])
def test_tokenizer_bad_input(call, name):
    with bad_input(name):
        call(lm.CharTokenizer.from_text("to be"))


def test_corpus_holds_out_whole_plays():
    corpus = lm.load_corpus()
    assert corpus.tokenizer.vocab_size == 82  # 81 characters in the training plays, and UNKNOWN
    assert 3_900_000 < corpus.train.numel() < 4_100_000 and 400_000 < corpus.validation.numel() < 500_000
    held_out = corpus.text("validation")
    assert held_out.startswith(lm.corpus.shakespeare_plays()["hamlet"][:200])
    assert "To be, or not to be" in held_out and "To be, or not to be" not in corpus.text("train")
    with bad_input("validation_plays"):
        lm.load_corpus(["not-a-play"])
    with bad_input("split"):
        corpus.text("test")


# -- the model -----------------------------------------------------------------------------------
def test_model_shapes_and_parameter_count():
    m = lm.OneLayerTransformer(lm.LMConfig())  # Bricken et al.'s d_model 128 and 512 neurons
    assert m.n_params == 235_904
    toks = torch.randint(82, (3, 20))
    assert m(toks).shape == (3, 20, 82)
    assert m.mlp_activations(toks).shape == (3, 20, 512) and (m.mlp_activations(toks) >= 0).all()
    assert m.loss(toks).ndim == 0


def test_causal_masking_later_characters_never_change_earlier_predictions():
    m = lm.OneLayerTransformer(SMALL, seed=3)
    toks = torch.randint(12, (2, 10), generator=torch.Generator().manual_seed(0))
    changed = toks.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 12
    a, b = m(toks), m(changed)
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-6)
    assert not torch.allclose(a[:, 6:], b[:, 6:])
    assert torch.allclose(m.mlp_activations(toks)[:, :6], m.mlp_activations(changed)[:, :6], atol=1e-6)


def test_mlp_hook_replaces_the_neurons():
    m = lm.OneLayerTransformer(SMALL, seed=1)
    toks = torch.randint(12, (2, 8))
    same = m(toks, mlp_hook=lambda acts: acts)
    assert torch.allclose(same, m(toks))
    zero = m(toks, mlp_hook=torch.zeros_like)
    assert not torch.allclose(zero, m(toks))
    with torch.no_grad():  # zeroing the neurons leaves only the output bias of the MLP
        m.W_out.bias.zero_()
        m.W_out.weight.add_(1.0)
    assert torch.allclose(m(toks, mlp_hook=torch.zeros_like), m(toks, mlp_hook=lambda a: a * 0))


@pytest.mark.parametrize("tokens,name", [(torch.zeros(2, 11, dtype=torch.long), "n_ctx"),
                                         (torch.zeros(2, 3), "int64"), (torch.full((1, 3), 12), "ids"),
                                         (torch.zeros(5, dtype=torch.long), "(batch, seq)")])
def test_model_bad_tokens(tokens, name):
    with bad_input(name):
        lm.OneLayerTransformer(SMALL)(tokens)


@pytest.mark.parametrize("kw,name", [(dict(d_model=10, n_heads=4), "n_heads"), (dict(d_mlp=0), "d_mlp")])
def test_lm_config_bad_input(kw, name):
    with bad_input(name):
        lm.LMConfig(**kw)


# -- scoring ------------------------------------------------------------------------------------
def test_token_nats_scores_every_character_once_with_enough_context():
    m = lm.OneLayerTransformer(SMALL, seed=1)
    toks = torch.randint(12, (30,), generator=torch.Generator().manual_seed(0))
    nats, targets = lm.token_nats(m, toks, stride=4)
    assert nats.shape == targets.shape == (29,) and torch.equal(targets, toks[1:])
    ref, done = torch.empty(29), 1
    with torch.no_grad():
        for s in [0, 4, 8, 12, 16, 20, 22]:  # windows of 10 ... and the last one ending at 30: 20 + 10
            lo = 1 if s == 0 else max(done, s + 10 - 4)
            for t in range(lo, min(s + 10, 30)):
                ref[t - 1] = F.cross_entropy(m(toks[None, s:t])[0, -1:], toks[t : t + 1])
            done = min(s + 10, 30)
    assert torch.allclose(nats, ref, atol=1e-5)


def test_nats_per_char_of_an_untrained_model_is_near_log_vocab_and_skips_unseen():
    tok = lm.CharTokenizer.from_text("abcdefghijk")
    m = lm.OneLayerTransformer(SMALL, seed=0)  # tiny initial weights: near-uniform predictions
    assert lm.nats_per_char(m, "abcabcabcabc", tok) == pytest.approx(math.log(12), abs=0.15)
    with_unseen = lm.nats_per_char(m, "abczzabc", tokenizer=tok)
    assert math.isfinite(with_unseen)
    for text, name in [(3, "text"), ("a", "at least 2"), ("azzz", "nothing to score")]:
        with bad_input(name):
            lm.nats_per_char(m, text, tok)
    with bad_input("tokenizer"):
        lm.nats_per_char(m, "abc")  # no tokenizer given, none attached


# -- training --------------------------------------------------------------------------------------
def test_train_lm_lowers_the_held_out_loss():
    corpus = lm.load_corpus()
    cfg = lm.LMTrainConfig(steps=60, batch_size=8, seq_len=64, warmup=10, eval_every=60, eval_chars=4096)
    run = lm.train_lm(corpus, cfg, seed=0, log=None)
    (step, seconds, train_loss, held_out), = run.history
    assert step == 60 and seconds > 0 and run.tokens_per_s > 0
    assert held_out < math.log(82) - 1.0, held_out  # far below a uniform guess (4.41 nats)


def test_training_script_runs_and_saves(tmp_path):
    out = tmp_path / "lm.safetensors"
    result = subprocess.run([sys.executable, "-m", "superpos_lib.lm", "--steps", "20", "--seed", "1", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "held-out plays" in result.stdout and "RuntimeWarning" not in result.stderr
    model = lm.load_model(out)
    assert model.metadata["seed"] == "1" and model.metadata["steps"] == "20" and model.tokenizer.vocab_size == 82
    assert "--steps 20 --seed 1" in model.metadata["command"]
    assert float(model.metadata["held_out_nats_per_char"]) == pytest.approx(lm.nats_per_char(model, lm.load_corpus().text()),
                                                                             abs=1e-3)


def test_sae_script_trains_a_relu_l1_sae_with_resampling_and_saves(tmp_path):
    out = tmp_path / "sae.safetensors"
    args = ["sae", "--kind", "relu_l1", "--sparsity", "0.05", "--d-sae", "64", "--steps", "30", "--windows", "16",
            "--seed", "2", "--out", str(out)]
    result = subprocess.run([sys.executable, "-m", "superpos_lib.lm", *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "held-out plays" in result.stdout
    sae = lm.load_sae(out)
    assert sae.kind == "relu_l1" and sae.d_sae == 64 and sae.sparsity == pytest.approx(0.05)
    assert sae.model.config.resample_every == 250  # Bricken et al.'s resampling
    assert sae.metadata["seed"] == "2" and sae.metadata["command"].endswith(" ".join(args[1:]))
    assert 0 <= float(sae.metadata["held_out_fvu"]) < 1.5


@pytest.mark.parametrize("kw,name", [(dict(steps=0), "steps"), (dict(lr=0.0), "lr"), (dict(weight_decay=-1.0), "weight_decay")])
def test_lm_train_config_bad_input(kw, name):
    with bad_input(name):
        lm.LMTrainConfig(**kw)


# -- the shipped model -------------------------------------------------------------------------------
def test_shipped_model_is_the_recorded_file_and_reaches_its_loss():
    assert lm.MODEL_FILE.is_file() and lm.file_sha256(lm.MODEL_FILE) == lm.MODEL_SHA256
    model = lm.load_model()
    assert model.n_params == 235_904 and model.tokenizer.vocab_size == 82 and not model.training
    assert model.metadata["command"] == lm.MODEL_COMMAND
    text = lm.load_corpus().text()[:20_000]  # the start of the held-out Hamlet
    assert lm.nats_per_char(model, text) < 1.75


def test_save_and_load_round_trip(tmp_path):
    m = lm.OneLayerTransformer(SMALL, seed=2)
    m.tokenizer = lm.CharTokenizer("abcdefghijk")
    lm.save_model(m, tmp_path / "m.safetensors", note="hi")
    back = lm.load_model(tmp_path / "m.safetensors")
    toks = torch.randint(12, (2, 6))
    assert torch.allclose(back(toks), m(toks)) and back.tokenizer.chars == m.tokenizer.chars and back.metadata["note"] == "hi"
    with bad_input("tokenizer"):
        lm.save_model(lm.OneLayerTransformer(SMALL), tmp_path / "x.safetensors")
    with bad_input("path"):
        lm.load_model(tmp_path / "missing.safetensors")


# -- SAEs on the model's neurons ---------------------------------------------------------------------
def _tiny_model():
    m = lm.OneLayerTransformer(SMALL, seed=0)
    m.tokenizer = lm.CharTokenizer("abcdefghijk")
    return m


def test_collect_activations_reads_every_position_of_random_windows():
    m = _tiny_model()
    toks = torch.randint(12, (200,), generator=torch.Generator().manual_seed(0))
    acts = lm.collect_activations(m, toks, 7, seed=1, batch_size=3)
    assert acts.shape == (70, 32) and (acts >= 0).all()
    again = lm.collect_activations(m, toks, 7, seed=1)
    assert torch.allclose(acts, again, atol=1e-6)  # the same windows, batched differently
    starts = torch.randint(190, (7, 1), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(acts[:10], m.mlp_activations(toks[starts[0, 0] : starts[0, 0] + 10][None])[0])
    with bad_input("n_windows"):
        lm.collect_activations(m, toks, 0)
    with bad_input("tokens"):
        lm.collect_activations(m, toks[:5], 2)


def test_evaluate_sae_reports_reconstruction_and_the_loss_recovered(tmp_path):
    from dataclasses import replace

    m = _tiny_model()
    text = "abcdefghijk" * 40
    acts = lm.collect_activations(m, m.tokenizer.encode(text), 64)
    sae = lm.train_lm_sae(acts, d_sae=64, sparsity=8, train_config=replace(lm.LM_SAE_TRAINING, steps=150, batch_size=256),
                          progress=False)
    ev = lm.evaluate_sae(m, sae, text)
    assert set(ev) == {"fvu", "l0", "dead_fraction", "ce_recovered", "nats_clean", "nats_zero", "nats_sae"}
    assert 0 <= ev["fvu"] < 1 and 0 < ev["l0"] <= 8 and 0 <= ev["dead_fraction"] < 1
    gap = ev["nats_zero"] - ev["nats_clean"]
    assert ev["ce_recovered"] == pytest.approx((ev["nats_zero"] - ev["nats_sae"]) / gap)
    assert ev["nats_clean"] == pytest.approx(lm.nats_per_char(m, text), abs=1e-5)
    assert ev["nats_sae"] == pytest.approx(lm.nats_per_char(m, text, mlp_hook=lm.sae_hook(sae)), abs=1e-5)
    lm.save_sae(sae, tmp_path / "s.safetensors", note="x")
    back = lm.load_sae(tmp_path / "s.safetensors")
    assert back.metadata["note"] == "x" and back.kind == "topk" and back.sparsity == 8
    assert torch.allclose(back.W_dec, sae.W_dec, atol=2e-3)  # stored as float16
    with bad_input("text"):
        lm.evaluate_sae(m, sae, "abc")
    with bad_input("sae"):
        lm.evaluate_sae(m, "sae", text)
    with bad_input("path"):
        lm.load_sae(tmp_path / "none.safetensors")


@pytest.mark.parametrize("kind,sparsity", [("topk", 16), ("relu_l1", 0.05)])
def test_shipped_saes_are_the_recorded_files_and_reconstruct_the_neurons(kind, sparsity):
    path = lm.SAE_FILES[kind]
    assert path.is_file() and lm.file_sha256(path) == lm.SAE_SHA256[kind]
    sae = lm.load_sae(kind=kind)
    assert sae.kind == kind and sae.d_sae == 2048 and sae.d_in == 512 and sae.sparsity == pytest.approx(sparsity)
    # the command that made it (written to a scratch folder first, then copied here)
    assert sae.metadata["command"].split(" --out")[0] == lm.SAE_COMMANDS[kind].split(" --out")[0]
    ev = lm.evaluate_sae(lm.load_model(), sae, lm.load_corpus().text()[:16_384])
    # measured on all four held-out plays when made: TopK FVU 0.050, 23.6 % dead, 0.961 of the loss
    assert ev["fvu"] < 0.15 and ev["ce_recovered"] > 0.85
    if kind == "topk":
        assert ev["fvu"] < 0.1 and ev["ce_recovered"] > 0.9 and ev["l0"] == pytest.approx(16, abs=0.01)
    with bad_input("kind"):
        lm.load_sae(kind="jumprelu")


def test_latent_densities_stream_what_collect_activations_would_give():
    from dataclasses import replace

    m = _tiny_model()
    toks = torch.randint(12, (300,), generator=torch.Generator().manual_seed(2))
    acts = lm.collect_activations(m, toks, 20, seed=3)
    sae = lm.train_lm_sae(acts, d_sae=48, sparsity=4, train_config=replace(lm.LM_SAE_TRAINING, steps=50, batch_size=64),
                          progress=False)
    dens = lm.latent_densities(m, sae, toks, 20, seed=3, batch_size=7)
    expected = (sae.encode(acts) != 0).float().mean(0)
    assert dens.shape == (48,) and torch.allclose(dens, expected, atol=1e-6)
    assert 0 < dens.sum().item() <= 4 + 1e-4  # TopK k = 4: at most four latents per position
    with bad_input("sae"):
        lm.latent_densities(m, object(), toks, 2)
    with bad_input("n_windows"):
        lm.latent_densities(m, sae, toks, 0)
