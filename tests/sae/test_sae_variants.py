"""The newer SAE variants (gated, BatchTopK, Matryoshka) on the shared base, each checked on
cases with a known answer and then trained on a small ground truth."""

from dataclasses import replace

import pytest
import torch

from conftest import bad_input
from superpos_lib import sae as S
from superpos_lib.sae import GroundTruthData
from superpos_lib.sae.batchtopk import THRESHOLD_RATE, batch_topk
from superpos_lib.sae.matryoshka import default_prefixes
from superpos_lib.training import TrainState

FAST = replace(S.SAE_TRAIN_CONFIG, steps=1500, batch_size=256)


@pytest.fixture(scope="module")
def small_data():
    return GroundTruthData(24, 12, n_active=2, seed=3)


def test_every_kind_is_registered_once_in_order():
    assert S.KINDS == ("relu_l1", "topk", "jumprelu", "gated", "batchtopk", "matryoshka")
    for kind, cls in [("gated", S.GatedSAE), ("batchtopk", S.BatchTopKSAE), ("matryoshka", S.MatryoshkaSAE)]:
        sae = S.SAE(S.SAEConfig(4, 8, kind), 2)
        assert type(sae) is cls and sae.kind == kind and S.sae_class(kind) is cls
    assert S.default_sparsity("gated", 64, 128) == 0.1
    assert S.default_sparsity("batchtopk", 64, 128) == S.default_sparsity("matryoshka", 64, 128) == 16


# -- gated ------------------------------------------------------------------------------------------
def test_gated_latents_are_the_gate_times_the_magnitude():
    sae = S.SAE(S.SAEConfig(3, 5, "gated", n_inst=2), 0.1, torch.rand(40, 3))
    with torch.no_grad():
        sae.r_mag.normal_()
        sae.b_mag.normal_()
        sae.b_enc.normal_()
    x = torch.rand(7, 3)
    xs = sae._inputs(x)
    z = torch.einsum("ibd,ids->ibs", (xs - sae.b_dec[:, None]).expand(2, -1, -1), sae.W_enc)
    gate = z + sae.b_enc[:, None]
    mag = z * sae.r_mag.exp()[:, None] + sae.b_mag[:, None]
    expected = (gate > 0) * mag.relu()
    assert torch.allclose(sae.encode(x), expected, atol=1e-5)
    assert torch.allclose(sae.instance(1).encode(x), expected[1], atol=1e-5)


def test_gated_loss_terms_by_hand_and_the_aux_term_leaves_the_decoder_alone():
    x = torch.rand(32, 3)
    sae = S.SAE(S.SAEConfig(3, 5, "gated", n_inst=1), 0.25, x)
    xs = sae._inputs(x)
    pre, f = sae._latents(xs, train=True)
    err = torch.baddbmm(sae.b_dec[:, None, :], f, sae.W_dec) - xs
    gate = pre.relu()
    aux = (torch.baddbmm(sae.b_dec[:, None, :], gate, sae.W_dec) - xs).square().sum(-1).mean(-1)
    expected = 0.25 * gate.sum(-1).mean(-1) + aux
    extra = sae.sparsity_loss(f, pre, err, xs)
    assert torch.allclose(extra, expected, rtol=1e-5)
    extra.sum().backward()
    assert sae.W_dec.grad is None or sae.W_dec.grad.abs().sum() == 0, "the aux term uses a detached decoder"
    assert sae.W_enc.grad.abs().sum() > 0, "the penalty and aux term train the gate"
    assert sae.r_mag.grad is None or sae.r_mag.grad.abs().sum() == 0, "they never reach the magnitudes"


def test_gated_bad_sparsity():
    with bad_input("sparsity"):
        S.SAE(S.SAEConfig(3, 5, "gated"), -0.1)


# -- batchtopk ---------------------------------------------------------------------------------------
def test_batch_topk_keeps_k_times_batch_over_the_whole_batch():
    pre = torch.tensor([[[5.0, 4.0, 0.1], [0.2, 0.3, 0.0]], [[1.0, -2.0, 3.0], [-1.0, 2.0, 0.5]]])
    f = batch_topk(pre, torch.tensor([1.0, 1.5]))
    # instance 0: k·B = 2, both from the first input; instance 1: 3 entries, the third is 1.0
    assert f[0].tolist() == [[5.0, 4.0, 0.0], [0.0, 0.0, 0.0]]
    assert f[1].tolist() == [[1.0, 0.0, 3.0], [0.0, 2.0, 0.0]]
    assert (batch_topk(-pre.abs(), torch.tensor([1.0, 1.0])) == 0).all(), "a ReLU after the choice"


def test_batchtopk_threshold_follows_the_smallest_kept_activation_and_is_used_at_inference():
    x = torch.rand(64, 4)
    sae = S.SAE(S.SAEConfig(4, 10, "batchtopk", n_inst=2), [2, 3], x)
    assert sae.threshold.isnan().all()
    f = sae.encode(x)  # before training: the batch's top k·B
    assert (f != 0).sum((-1, -2)).tolist() == [128, 192]
    state = TrainState(sae, 1, 10, torch.zeros(2), torch.zeros(0, 2))
    _, fired = sae.step_loss(x)
    kept = batch_topk(sae.pre_acts(sae._inputs(x)), sae.sparsity).detach()
    smallest = kept.masked_fill(kept <= 0, float("inf")).amin((-1, -2))
    sae.after_step(state, x, fired)
    assert torch.allclose(sae.threshold, smallest)
    _, fired = sae.step_loss(x * 0.5)
    kept = batch_topk(sae.pre_acts(sae._inputs(x * 0.5)), sae.sparsity).detach()
    second = kept.masked_fill(kept <= 0, float("inf")).amin((-1, -2))
    sae.after_step(state, x, fired)
    assert torch.allclose(sae.threshold, smallest + THRESHOLD_RATE * (second - smallest))
    pre = sae.pre_acts(sae._inputs(x))
    assert torch.equal(sae.encode(x), pre * (pre > sae.threshold[:, None, None]))
    one = sae.instance(1)
    assert torch.allclose(one.encode(x[:5]), sae.encode(x[:5])[1]), "one input at a time, by θ"


# -- matryoshka --------------------------------------------------------------------------------------
def test_default_prefixes_and_bad_prefixes():
    assert default_prefixes(64) == (4, 8, 16, 32, 64)
    assert default_prefixes(10) == (1, 2, 5, 10)
    assert default_prefixes(1) == (1,)
    assert S.SAE(S.SAEConfig(4, 64, "matryoshka"), 2).prefixes == (4, 8, 16, 32, 64)
    assert S.SAE(S.SAEConfig(4, 12, "matryoshka", prefixes=(3, 12)), 2).prefixes == (3, 12)
    for bad in [(3, 10), (6, 3, 12), (0, 12), (3.0, 12), [3, 12], ()]:
        with bad_input("prefixes"):
            S.SAEConfig(4, 12, "matryoshka", prefixes=bad)
    with bad_input("prefixes"):
        S.SAEConfig(4, 12, "batchtopk", prefixes=(3, 12))


def test_matryoshka_loss_is_the_mean_of_every_prefix_reconstruction():
    x = torch.rand(50, 4)
    sae = S.SAE(S.SAEConfig(4, 8, "matryoshka", prefixes=(2, 5, 8), aux_coeff=0.0), 3, x)
    xs = sae._inputs(x)
    pre, f = sae._latents(xs, train=True)
    errors = [(torch.baddbmm(sae.b_dec[:, None, :], f[..., :m], sae.W_dec[:, :m]) - xs).square().sum(-1).mean(-1)
              for m in (2, 5, 8)]
    assert torch.allclose(sae.loss(x), torch.stack(errors).mean(0), rtol=1e-5)
    err = torch.baddbmm(sae.b_dec[:, None, :], f, sae.W_dec) - xs
    assert torch.allclose(sae.prefix_errors(f, err), torch.stack(errors), rtol=1e-5)


# Absorption (Chanin et al. 2024) on a hierarchy: 4 parents, 3 children each, a child with 80 % of
# its parent's firings; measured over seeds 0-3, three SAEs each (1,000 steps of 256, k = 2): the
# parent latent is silent when a child fires on 0.69-0.72 of those inputs for TopK (single SAEs
# 0.64-0.76), 0.09-0.27 for Matryoshka (single SAEs 0.04-0.44); alone, TopK's parent latents fire on
# 0.53-0.60 of the parent's inputs, Matryoshka's on 0.78-0.92.
def test_matryoshka_absorbs_far_less_than_topk():
    h = S.Hierarchy(4, 3, 0.8)
    data = GroundTruthData(24, 16, n_active=2, hierarchy=h, zipf=0.5, values=(0.5, 1.0), seed=1)
    c = data.coefficients(8000, generator=torch.Generator().manual_seed(5))
    x = c @ data.features
    rate, alone = {}, {}
    for kind in ("topk", "matryoshka"):
        r = S.train_saes(data.batches(256), S.SAEConfig(16, 24, kind, n_inst=3), 2, train_config=replace(FAST, steps=1000),
                         seed=0)
        scores = []
        for i in range(3):
            one = r.instance(i)
            parent_latent = S.cosine_matrix(data.features[:4], one.W_dec).argmax(1)
            ab = S.absorption(one.encode(x), c, h, parent_latent)
            scores.append((float(ab.rate.mean()), float(ab.recall_alone.mean())))
        rate[kind], alone[kind] = (sum(v) / 3 for v in zip(*scores))
    assert rate["topk"] > 0.5 and rate["matryoshka"] < 0.35 and rate["topk"] - rate["matryoshka"] > 0.3, rate
    assert alone["matryoshka"] > 0.7, alone


# -- all three, trained ------------------------------------------------------------------------------
# Measured over seeds 0-2 (1,500 steps of 256; true L0 2): gated λ 0.4: MMCS 0.85-0.87, L0 2.8-2.9,
# rescale 0.999-1.001; batchtopk k 2: MMCS 0.92-0.94, L0 2.00-2.03, FVU 0.071-0.080 (topk's 0.125-
# 0.134); matryoshka k 2: MMCS 0.82-0.83, L0 1.93-1.99.
@pytest.mark.parametrize("kind,sparsity,floor,l0_range", [("gated", 0.4, 0.8, (2.3, 3.5)),
                                                          ("batchtopk", 2, 0.88, (1.8, 2.2)),
                                                          ("matryoshka", 2, 0.75, (1.8, 2.2))])
def test_new_kinds_recover_features_from_a_small_ground_truth(small_data, kind, sparsity, floor, l0_range):
    r = S.train_saes(small_data.batches(256), S.SAEConfig(12, 24, kind), sparsity, train_config=FAST, seed=0)
    m = S.evaluate(r.sae, small_data.sample(4000), true_directions=small_data.features)
    assert m.mmcs[0] > floor, m.mmcs
    assert l0_range[0] < m.l0[0] < l0_range[1], m.l0
    assert abs(m.rescale[0] - 1) < 0.05, "no L1 on the magnitudes: no shrinkage"
    one = S.evaluate(r.sae.instance(0), small_data.sample(4000))
    assert l0_range[0] < one.l0 < l0_range[1], "a single SAE encodes as at inference"


def test_batchtopk_reconstructs_better_than_topk_at_the_same_l0(small_data):
    runs = {kind: S.train_saes(small_data.batches(256), S.SAEConfig(12, 24, kind, n_inst=2), 2,
                               train_config=replace(FAST, steps=1000), seed=1) for kind in ("topk", "batchtopk")}
    ev = small_data.sample(4000)
    fvu = {k: S.evaluate(r.sae, ev).fvu for k, r in runs.items()}
    assert (fvu["batchtopk"] < 0.85 * fvu["topk"]).all(), fvu


def test_select_copies_one_instance_of_any_kind():
    x = torch.rand(30, 4)
    for kind in S.KINDS:
        sae = S.SAE(S.SAEConfig(4, 6, kind, n_inst=3), None, x, seed=2)
        for p in sae.parameters():
            p.data.add_(torch.randn_like(p) * 0.1)
        one = sae.select(2)
        assert one.n_inst == 1 and type(one) is type(sae)
        assert torch.allclose(one(x), sae(x)[2:3], atol=1e-5), kind
        with bad_input("i"):
            sae.select(3)
    with bad_input("model"):
        S.SparseAutoencoder(S.SAE(S.SAEConfig(4, 6, n_inst=2)))


@pytest.mark.parametrize("unit", [True, False])
@pytest.mark.parametrize("shared", [True, False])
def test_relu_l1_hand_gradients_match_autograd(unit, shared):
    x = torch.rand(40, 5) * 2
    sae = S.SAE(S.SAEConfig(5, 9, "relu_l1", n_inst=3, unit_decoder=unit), [0.0, 0.1, 0.7], x, seed=1)
    with torch.no_grad():
        sae.b_enc.normal_(0, 0.3)
        sae.W_dec.mul_(torch.rand(3, 9, 1) + 0.5)
    inputs = x[:17] if shared else torch.rand(3, 17, 5)
    loss, fired = sae.step_loss(inputs)
    expected = torch.autograd.grad(loss.sum(), list(sae.parameters()))
    hand_loss, grads, hand_fired = sae.loss_and_grads(inputs, with_loss=True)
    assert torch.allclose(hand_loss, loss, rtol=1e-5)
    assert torch.equal(hand_fired, fired)
    for name, a, b in zip(("W_enc", "b_enc", "W_dec", "b_dec"), grads, expected):
        assert a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-6), name
    assert sae.loss_and_grads(inputs, with_loss=False)[0] is None


def test_only_relu_l1_has_hand_gradients():
    from superpos_lib.training import HandGradients

    for kind in S.KINDS:
        assert isinstance(S.SAE(S.SAEConfig(4, 6, kind), 2), HandGradients) == (kind == "relu_l1"), kind
