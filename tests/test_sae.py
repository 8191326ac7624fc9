import math
from dataclasses import replace

import pytest
import torch

from conftest import bad_input
from superpos_lib import sae as S
from superpos_lib.data import GroundTruthData
from superpos_lib.training import TrainConfig

FAST = TrainConfig(steps=150, batch_size=256, lr=1e-2, betas=(0.9, 0.999), warmup=0.02)


@pytest.fixture(scope="module")
def small_data():
    return GroundTruthData(24, 12, n_active=2, seed=3)


# -- data ------------------------------------------------------------------------------------------


def test_ground_truth_data_has_unit_features_and_the_requested_activity():
    d = GroundTruthData(64, 16, n_active=4, seed=0)
    assert d.features.shape == (64, 16)
    assert torch.allclose(d.features.norm(dim=1), torch.ones(64), atol=1e-5)
    c = d.coefficients(20000)
    assert (c > 0).sum(1).float().mean().item() == pytest.approx(4.0, rel=0.03)
    assert c.max() < 1 and c.min() >= 0
    x = d.sample(8)
    assert x.shape == (8, 16)
    batch = next(d.batches(5))
    assert batch.shape == (5, 16)


def test_ground_truth_decay_makes_early_features_common():
    d = GroundTruthData(100, 10, n_active=5, decay=0.95)
    assert d.probability.sum().item() == pytest.approx(5.0, rel=1e-4)
    assert d.probability[0] > 10 * d.probability[-1]


@pytest.mark.parametrize("kw,name", [(dict(n_features=0), "n_features"), (dict(d_in=-2), "d_in"),
                                     (dict(n_active=0.0), "n_active"), (dict(decay=1.5), "decay")])
def test_ground_truth_bad_input(kw, name):
    with bad_input(name):
        GroundTruthData(**kw)


# -- metrics ---------------------------------------------------------------------------------------


def test_l0_mse_density_by_hand():
    f = torch.tensor([[0.0, 2.0, 0.0], [1.0, 3.0, 0.0]])
    assert S.l0(f).item() == pytest.approx(1.5)
    dens = S.latent_density(f)
    assert dens.tolist() == [0.5, 1.0, 0.0]
    assert S.dead_fraction(dens).item() == pytest.approx(1 / 3)
    assert S.dense_fraction(dens, 0.6).item() == pytest.approx(1 / 3)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    x_hat = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    assert S.mse(x, x_hat).item() == pytest.approx(1.0)


def test_fvu_is_over_the_whole_set_and_broadcasts_over_instances():
    x = torch.randn(500, 4) + 3.0
    assert S.fvu(x, x).item() == 0.0
    mean_pred = x.mean(0).expand_as(x)
    assert S.fvu(x, mean_pred).item() == pytest.approx(1.0, rel=1e-5)
    both = torch.stack([x, mean_pred])
    assert S.fvu(x, both).tolist() == pytest.approx([0.0, 1.0], abs=1e-5)
    # Not a mean of per-sample ratios: one badly fit sample counts by its squared error.
    x_hat = x.clone()
    x_hat[0] += 10
    expected = 400 / (x - x.mean(0)).square().sum()
    assert S.fvu(x, x_hat).item() == pytest.approx(expected.item(), rel=1e-4)


def test_density_histogram_counts_dead_apart():
    dens = torch.tensor([0.0, 1e-3, 1e-3, 0.5, 0.0])
    counts, edges, n_dead = S.density_histogram(dens, bins=6, low=-6)
    assert n_dead == 2 and counts.sum().item() == 3
    assert edges[0].item() == -6 and edges[-1].item() == 0
    with bad_input("low"):
        S.density_histogram(dens, low=1.0)


def test_mmcs_and_matched_mmcs():
    true = torch.eye(3)
    assert S.mmcs(true, torch.eye(3) * 5) == pytest.approx(1.0)
    # One latent along feature 0 twice: MMCS forgives the duplicate, matching does not.
    dup = torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0]])
    assert S.mmcs(true, dup) == pytest.approx(2 / 3)
    assert S.matched_mmcs(true, dup) == pytest.approx(2 / 3)
    W = torch.tensor([[1.0, 0.1, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    assert S.mmcs(true, W) == pytest.approx(1.0)
    assert S.matched_mmcs(true, W) == pytest.approx(1.0)
    # Fewer latents than features: the unmatched feature scores 0.
    assert S.matched_mmcs(true, torch.eye(3)[:2]) == pytest.approx(2 / 3)
    assert S.latents_per_feature(true, W).tolist() == [2.0, 1.0, 1.0]


def test_mmcs_bad_input():
    with bad_input("W_dec"):
        S.mmcs(torch.eye(3), torch.eye(4))
    with bad_input("true_directions"):
        S.mmcs(torch.full((2, 3), float("nan")), torch.eye(3))
    with bad_input("W_dec"):
        S.mmcs(torch.eye(3), torch.zeros(0, 3))


def test_geometric_median_resists_outliers():
    x = torch.cat([torch.zeros(50, 2), torch.full((5, 2), 100.0)])
    assert S.geometric_median(x).norm().item() < 1.0
    assert x.mean(0).norm().item() > 10


def test_pca_and_ica_find_the_axes_of_independent_sparse_sources():
    gen = torch.Generator().manual_seed(0)
    src = torch.rand(4000, 3, generator=gen) * (torch.rand(4000, 3, generator=gen) < 0.2)
    mix = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])
    x = src @ mix
    ica = S.ica_directions(x, 3, seed=0)
    assert ica.shape == (3, 3)
    assert S.mmcs(mix, ica) > 0.97  # ICA unmixes non-orthogonal sources
    pca = S.pca_directions(x)
    assert torch.allclose(pca @ pca.T, torch.eye(3), atol=1e-4)
    assert S.mmcs(mix, pca) < S.mmcs(mix, ica)  # PCA's directions are orthogonal
    with bad_input("n_components"):
        S.pca_directions(x, 4)


# -- the model -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", S.KINDS)
def test_sae_shapes_scale_and_init(kind):
    x = torch.rand(300, 6) * 4
    cfg = S.SAEConfig(6, 10, kind, n_inst=3, init_b_dec="mean")
    sae = S.SAE(cfg, None, x, seed=1)
    assert sae.W_enc.shape == (3, 6, 10) and sae.W_dec.shape == (3, 10, 6)
    assert torch.allclose(sae.W_enc, sae.W_dec.mT)  # encoder = decoder transpose
    assert ((x * sae.scale).square().sum(1).mean()).item() == pytest.approx(1.0, rel=1e-4)
    assert torch.allclose(sae.b_dec[0], (x * sae.scale).mean(0), atol=1e-5)
    f = sae.encode(x[:7])
    assert f.shape == (3, 7, 10) and (f >= 0).all()
    assert sae(x[:7]).shape == (3, 7, 6)
    assert sae.loss(x[:7]).shape == (3,)
    one = sae.instance(2)
    assert one.W_dec.shape == (10, 6)
    assert torch.allclose(one(x[:7]), sae(x[:7])[2], atol=1e-5)


def test_topk_keeps_at_most_k_per_instance():
    cfg = S.SAEConfig(5, 12, "topk", n_inst=2)
    sae = S.SAE(cfg, [2, 4], torch.rand(50, 5))
    f = sae.encode(torch.rand(40, 5))
    counts = (f > 0).sum(-1)
    assert counts[0].max() <= 2 and counts[1].max() <= 4 and counts[1].max() > 2


def test_jumprelu_zeroes_below_threshold_and_learns_threshold():
    cfg = S.SAEConfig(4, 6, "jumprelu", init_threshold=0.3)
    sae = S.SAE(cfg, 2.0, torch.rand(50, 4))
    pre = sae.pre_acts(torch.rand(1, 30, 4) * sae.scale)
    f = sae.encode(torch.rand(30, 4))
    assert ((f == 0) | (f > 0.3 - 1e-6)).all()
    loss = sae.loss(torch.rand(64, 4)).sum()
    loss.backward()
    assert sae.log_threshold.grad is not None and sae.log_threshold.grad.abs().sum() > 0
    assert pre.shape == (1, 30, 6)


def test_unit_decoder_rows_after_each_step(small_data):
    cfg = S.SAEConfig(12, 30, "relu_l1", n_inst=2)
    r = S.train_saes(small_data.batches(128), cfg, [0.05, 0.2], train_config=replace(FAST, steps=20))
    assert torch.allclose(r.sae.W_dec.norm(dim=-1), torch.ones(2, 30), atol=1e-5)
    free = S.train_saes(small_data.batches(128), replace(cfg, unit_decoder=False), 0.1, train_config=replace(FAST, steps=20))
    assert not torch.allclose(free.sae.W_dec.norm(dim=-1), torch.ones(2, 30), atol=1e-3)


def test_dead_latents_are_detected_over_the_window():
    cfg = S.SAEConfig(3, 4, "relu_l1", dead_window=5)
    sae = S.SAE(cfg, 0.1, torch.rand(20, 3))
    with torch.no_grad():
        sae.b_enc[0, 0] = -100.0  # latent 0 can never fire
    for step in range(6):
        x = torch.rand(32, 3)
        sae.loss(x)
        sae.after_step(step, x, None)
    assert sae.dead[0].tolist() == [True, False, False, False]


def test_resampling_revives_dead_latents_toward_badly_fit_inputs():
    cfg = S.SAEConfig(3, 4, "relu_l1", dead_window=1)
    sae = S.SAE(cfg, 0.1, torch.rand(20, 3))
    with torch.no_grad():
        sae.b_enc[0, :2] = -100.0
    x = torch.rand(64, 3)
    sae.loss(x)
    sae.after_step(0, x, None)
    counts = sae.resample_dead(x, seed=0)
    assert counts.tolist() == [2]
    assert sae.b_enc[0, :2].tolist() == [0.0, 0.0]
    assert torch.allclose(sae.W_dec[0, :2].norm(dim=-1), torch.ones(2))
    assert not sae.dead.any() and sae.n_resampled.tolist() == [2]


@pytest.mark.parametrize("kind,sparsity,floor", [("relu_l1", 0.4, 0.95), ("topk", 2, 0.98), ("jumprelu", 2.0, 0.88)])
def test_every_kind_recovers_features_from_a_small_ground_truth(small_data, kind, sparsity, floor):
    # 24 random unit directions score about 0.57 here.
    cfg = S.SAEConfig(12, 24, kind)
    r = S.train_saes(small_data.batches(256), cfg, sparsity, train_config=replace(FAST, steps=1500), seed=0)
    score = S.mmcs(small_data.features, r.sae.W_dec[0].detach())
    assert score > floor, score
    m = S.evaluate(r.sae, small_data.sample(4000))
    assert m.fvu[0] < 0.35 and 0 < m.l0[0] < 8
    assert r.loss_history.shape == (len(r.logged_steps), 1)
    assert r.dead_history.shape == r.loss_history.shape


def test_topk_aux_loss_keeps_latents_alive():
    data = GroundTruthData(64, 32, n_active=3, seed=3)
    cfg = S.SAEConfig(32, 64, "topk", n_inst=2)
    aux = S.train_saes(data.batches(256), cfg, 3, train_config=replace(FAST, steps=500), seed=2)
    none = S.train_saes(data.batches(256), replace(cfg, aux_coeff=0.0), 3, train_config=replace(FAST, steps=500), seed=2)
    ev = data.sample(4000)
    assert S.evaluate(aux.sae, ev).dead.mean() < S.evaluate(none.sae, ev).dead.mean()


def test_evaluate_streams_and_matches_one_shot(small_data):
    r = S.train_saes(small_data.batches(128), S.SAEConfig(12, 16, "topk", n_inst=2), 3, train_config=replace(FAST, steps=30))
    x = small_data.sample(1000)
    whole = S.evaluate(r.sae, x, chunk=1000)
    streamed = S.evaluate(r.sae, iter(x.split(97)))
    assert torch.allclose(whole.fvu, streamed.fvu, rtol=1e-4)
    assert torch.allclose(whole.l0, streamed.l0)
    f, x_hat = r.sae.encode(x), r.sae(x)
    assert torch.allclose(whole.fvu, S.fvu(x, x_hat), rtol=1e-4)
    assert torch.allclose(whole.l0, S.l0(f), rtol=1e-5)
    one = S.evaluate(r.sae.instance(1), x)
    assert one.fvu.item() == pytest.approx(whole.fvu[1].item(), rel=1e-4)


def test_train_saes_from_tensor_and_callbacks(small_data):
    acts = small_data.sample(3000)
    seen = []
    r = S.train_saes(acts, S.SAEConfig(12, 16), 0.1, train_config=replace(FAST, steps=100), callbacks=[lambda s: seen.append(s.step)],
                     callback_every=40)
    assert seen == [40, 80, 100]
    stop = S.train_saes(acts, S.SAEConfig(12, 16), 0.1, train_config=replace(FAST, steps=100), callbacks=[lambda s: True], callback_every=20)
    assert stop.stopped and stop.logged_steps[-1] == 20


def test_train_sae_entry_point(small_data):
    acts = small_data.sample(5000)
    sae = S.train_sae(acts, 24, kind="topk", sparsity=2, steps=300)
    assert isinstance(sae, S.SparseAutoencoder)
    assert sae.W_dec.shape == (24, 12) and sae.W_dec.device.type == "cpu"
    f = sae.encode(acts[:10])
    assert f.shape == (10, 24) and ((f > 0).sum(1) <= 2).all()
    assert sae.decode(f).shape == (10, 12)
    assert S.mmcs(small_data.features, sae.W_dec) > 0.8


def test_train_sae_stream_runs_out():
    d = GroundTruthData(8, 4)
    with bad_input("acts"):
        S.train_saes(iter([d.sample(32)] * 3), S.SAEConfig(4, 8), 0.1, train_config=replace(FAST, steps=10))


@pytest.mark.parametrize(
    "args,kw,name",
    [
        ((torch.zeros(0, 4), 8), {}, "acts"),
        ((torch.full((10, 4), float("nan")), 8), {}, "acts"),
        ((torch.ones(10), 8), {}, "acts"),
        ((torch.ones(10, 4), 0), {}, "d_sae"),
        ((torch.ones(10, 4), -3), {}, "d_sae"),
        ((torch.ones(10, 4), 8), dict(kind="gated"), "kind"),
        ((torch.ones(10, 4), 8), dict(sparsity=-0.1), "sparsity"),
        ((torch.ones(10, 4), 8), dict(kind="topk", sparsity=9), "sparsity"),
        ((torch.ones(10, 4), 8), dict(kind="topk", sparsity=1.5), "sparsity"),
        ((torch.ones(10, 4), 8), dict(kind="jumprelu", sparsity=0.0), "sparsity"),
        ((torch.ones(10, 4), 8), dict(sparsity=math.nan), "sparsity"),
    ],
)
def test_train_sae_bad_input(args, kw, name):
    with bad_input(name):
        S.train_sae(*args, steps=5, **kw)


@pytest.mark.parametrize(
    "kw,name",
    [(dict(d_in=0), "d_in"), (dict(d_sae=-1), "d_sae"), (dict(kind="x"), "kind"), (dict(init_b_dec="max"), "init_b_dec"),
     (dict(init_encoder="x"), "init_encoder"), (dict(kind="topk", resample_every=10), "resample_every"),
     (dict(bandwidth=0.0), "bandwidth"), (dict(aux_coeff=-1.0), "aux_coeff"), (dict(dead_window=0), "dead_window")],
)
def test_sae_config_bad_input(kw, name):
    base = dict(d_in=4, d_sae=8)
    base.update(kw)
    with bad_input(name):
        S.SAEConfig(**base)


def test_sae_bad_sparsity_and_inputs():
    with bad_input("sparsity"):
        S.SAE(S.SAEConfig(4, 8, n_inst=2), [0.1, 0.2, 0.3])
    with bad_input("sparsity"):
        S.SAE(S.SAEConfig(4, 8, "topk"), 9)
    sae = S.SAE(S.SAEConfig(4, 8))
    with bad_input("x"):
        sae.encode(torch.ones(3, 5))
    with bad_input("x"):
        sae.instance(0).encode(torch.ones(3, 5))
    with bad_input("i"):
        sae.instance(1)
    with bad_input("threshold"):
        S.dense_fraction(torch.ones(3), 1.5)


def test_default_sparsity():
    assert S.default_sparsity("relu_l1", 64, 128) == 0.1
    assert S.default_sparsity("topk", 64, 128) == 16
    assert S.default_sparsity("jumprelu", 2, 5) == 1
    with bad_input("kind"):
        S.default_sparsity("nope", 2, 2)
