"""SAE metrics, baselines and data: each checked by hand on cases with a known answer."""

import pytest
import torch

from conftest import bad_input
from superpos_lib import sae as S
from superpos_lib.sae import GroundTruthData


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


def test_recovery_scores_every_instance():
    true = torch.eye(3)
    W = torch.stack([torch.eye(3), torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0]])])  # (2, 3, 3)
    r = S.recovery(true, W)
    assert r.mmcs.tolist() == pytest.approx([1.0, 2 / 3]) and r.matched_mmcs.tolist() == pytest.approx([1.0, 2 / 3])
    one = S.recovery(true, torch.eye(3))
    assert one.mmcs.shape == (1,)
    with bad_input("W_dec"):
        S.recovery(true, torch.ones(2, 2, 2, 3))


def test_n_recovered_counts_features_with_a_close_latent():
    true = torch.eye(3)
    W = torch.stack([torch.eye(3), torch.tensor([[1.0, 0, 0], [1.0, 0.1, 0], [0, 0.5, 0.5]])])
    assert S.n_recovered(true, W).tolist() == [3, 1]
    assert S.n_recovered(true, W, threshold=0.6).tolist() == [3, 3]
    assert S.n_recovered(true, torch.eye(3)).tolist() == [3]
    with bad_input("threshold"):
        S.n_recovered(true, W, threshold=1.0)


def test_evaluate_scores_recovery_when_given_the_true_directions():
    data = GroundTruthData(12, 6, n_active=2, seed=0)
    sae = S.SAE(S.SAEConfig(6, 12, n_inst=2), 0.1, data.sample(500))
    x = data.sample(800)
    plain = S.evaluate(sae, x)
    scored = S.evaluate(sae, x, true_directions=data.features)
    assert plain.mmcs is None and scored.mmcs.shape == (2,)
    assert scored.mmcs[1].item() == pytest.approx(S.mmcs(data.features, sae.W_dec[1]), abs=1e-6)
    assert torch.equal(scored.fvu, plain.fvu) and scored.n_dead.dtype == torch.long
    one = S.evaluate(sae.instance(1), x, true_directions=data.features)
    assert one.mmcs.item() == pytest.approx(scored.mmcs[1].item(), abs=1e-6) and one.fvu.ndim == 0


def test_rescale_factor_is_the_best_single_factor_on_the_latent_part():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 3, generator=gen)
    b = torch.tensor([1.0, -2.0, 0.5])
    assert S.rescale_factor(x, x / 2).item() == pytest.approx(2.0, rel=1e-5)  # shrunk by half
    assert S.rescale_factor(x + b, x / 2 + b, b).item() == pytest.approx(2.0, rel=1e-5)  # the bias is not scaled
    x_hat = x + 0.3 * torch.randn(200, 3, generator=gen)
    gamma = S.rescale_factor(x, x_hat).item()

    def err(g):
        return (x - g * x_hat).square().sum().item()

    assert err(gamma) <= min(err(gamma - 1e-3), err(gamma + 1e-3))  # the minimiser
    both = S.rescale_factor(x, torch.stack([x, x / 4]))
    assert both.tolist() == pytest.approx([1.0, 4.0], rel=1e-5)
    with pytest.raises(ValueError, match="x_hat"):
        S.rescale_factor(x, torch.zeros(200, 3))


def test_evaluate_measures_the_rescale_factor_of_each_instance():
    data = GroundTruthData(12, 6, n_active=2, seed=0)
    sae = S.SAE(S.SAEConfig(6, 12, n_inst=2), 0.1, data.sample(500))
    x = data.sample(800)
    m = S.evaluate(sae, iter(x.split(300)))
    bias = sae.b_dec.detach() / sae.scale
    assert torch.allclose(m.rescale, S.rescale_factor(x, sae(x).detach(), bias), rtol=1e-4)
    assert S.evaluate(sae.instance(1), x).rescale.item() == pytest.approx(m.rescale[1].item(), rel=1e-4)


# -- structured ground truth -------------------------------------------------------------------------
def test_hierarchy_children_fire_only_with_their_parent_and_frequencies_hold():
    h = S.Hierarchy(3, 2, 0.6)
    d = GroundTruthData(20, 10, n_active=2, hierarchy=h, zipf=1.0, values=(0.5, 1.0), seed=0)
    c = d.coefficients(60000)
    active = c > 0
    assert active.sum(1).float().mean().item() == pytest.approx(2.0, rel=0.03)
    assert torch.allclose(active.float().mean(0), d.probability, atol=0.006)
    for child in range(3, 9):
        p = h.parent_of(child)
        assert not (active[:, child] & ~active[:, p]).any()
        assert d.probability[child].item() == pytest.approx(d.probability[p].item() * 0.3, rel=1e-5)
    kids = active[:, 3:9].view(-1, 3, 2)
    assert kids.sum(-1).max() == 1, "at most one child of a parent at a time"
    assert (kids.any(-1) & active[:, :3]).sum(0).float().div(active[:, :3].sum(0)).sub(0.6).abs().max() < 0.02
    assert c[active].min() >= 0.5 and c.max() < 1
    assert list(h.child_features(1)) == [5, 6] and h.n_structured == 9
    assert d.probability[9] > d.probability[19], "zipf: earlier features more frequent"


def test_values_range_without_hierarchy():
    d = GroundTruthData(30, 10, n_active=3, values=(0.25, 0.5), seed=0)
    c = d.coefficients(5000)
    assert c[c > 0].min() >= 0.25 and c.max() < 0.5
    assert (c > 0).sum(1).float().mean().item() == pytest.approx(3.0, rel=0.05)


@pytest.mark.parametrize("kw,name", [(dict(zipf=-1.0), "zipf"), (dict(zipf=1.0, decay=0.9), "zipf"),
                                     (dict(values=(0.5, 0.2)), "values"), (dict(values=(-1.0, 1.0)), "values"),
                                     (dict(hierarchy=S.Hierarchy(10, 8)), "hierarchy"), (dict(hierarchy=3), "hierarchy"),
                                     (dict(n_active=20.0, zipf=2.0), "n_active")])
def test_structured_ground_truth_bad_input(kw, name):
    with bad_input(name):
        GroundTruthData(40, 8, **kw)


@pytest.mark.parametrize("kw,name", [(dict(n_parents=0, children=2), "n_parents"), (dict(n_parents=2, children=0), "children"),
                                     (dict(n_parents=2, children=2, child_probability=1.5), "child_probability")])
def test_hierarchy_bad_input(kw, name):
    with bad_input(name):
        S.Hierarchy(**kw)
    h = S.Hierarchy(2, 2)
    with bad_input("child"):
        h.parent_of(1)
    with bad_input("parent"):
        h.child_features(2)


# -- firing scores, uniqueness, absorption, seed stability: exact values on hand-built cases ---------
def test_firing_scores_by_hand():
    # 4 inputs; latent 0 fires on inputs 0, 1; latent 1 on 2; latent 2 never.
    f = torch.tensor([[1.0, 0, 0], [2.0, 0, 0], [0, 3.0, 0], [0, 0, 0]])
    # feature 0 active on inputs 0, 2; feature 1 on 1, 2, 3.
    c = torch.tensor([[0.5, 0], [0, 0.2], [0.1, 0.3], [0, 0.9]])
    s = S.firing_scores(f, c)
    assert s.precision.tolist() == [[0.5, 0.5], [1.0, 1.0], [0.0, 0.0]]
    assert torch.allclose(s.recall, torch.tensor([[0.5, 1 / 3], [0.5, 1 / 3], [0.0, 0.0]]))
    assert torch.allclose(s.f1, torch.tensor([[0.5, 0.4], [2 / 3, 0.5], [0.0, 0.0]]))
    feature, f1 = s.best()
    assert feature.tolist() == [0, 0, 0] and f1.tolist() == pytest.approx([0.5, 2 / 3, 0.0])
    one = s.of(torch.tensor([1, 1, 0]))
    assert one.precision.tolist() == [0.5, 1.0, 0.0] and one.f1.tolist() == pytest.approx([0.4, 0.5, 0.0])
    with bad_input("c"):
        S.firing_scores(f, c[:3])
    with bad_input("f"):
        S.firing_scores(torch.ones(4), c)
    with bad_input("feature"):
        s.of(torch.tensor([0, 2, 0]))
    with bad_input("feature"):
        s.of(torch.tensor([0.0, 1.0, 0.0]))


def test_uniqueness_by_hand():
    true = torch.eye(3)
    W = torch.tensor([[1.0, 0, 0], [0.9, 0.1, 0], [0, 0, 1], [0, 0.2, 0.9]])
    assert S.uniqueness(true, W) == pytest.approx(2 / 4)
    assert S.uniqueness(true, W, torch.tensor([True, False, True, False])) == 1.0
    with bad_input("alive"):
        S.uniqueness(true, W, torch.tensor([True, False]))
    with bad_input("alive"):
        S.uniqueness(true, W, torch.zeros(4, dtype=torch.bool))


def test_absorption_by_hand():
    h = S.Hierarchy(1, 2)  # feature 0 the parent, 1 and 2 its children, 3 independent
    c = torch.tensor([[1.0, 0, 0, 0], [1.0, 0, 0, 1], [1.0, 1, 0, 0], [1.0, 0, 1, 0], [1.0, 1, 0, 0], [0, 0, 0, 1]])
    # the parent's latent (1) fires on 0 and 2 of them; silent on 1 (parent alone) and 3, 4 (with a child)
    f = torch.tensor([[0, 1.0], [0, 0], [0, 1.0], [2.0, 0], [2.0, 0], [0, 0]])
    ab = S.absorption(f, c, h, torch.tensor([1]))
    assert ab.rate.tolist() == pytest.approx([2 / 3]) and ab.recall_alone.tolist() == pytest.approx([1 / 2])
    assert ab.with_child.tolist() == [3] and ab.alone.tolist() == [2]
    none = S.absorption(f[:2], c[:2], h, torch.tensor([1]))
    assert none.rate.isnan().all(), "no input with a child: the rate is undefined, not 0"
    with bad_input("parent_latent"):
        S.absorption(f, c, h, torch.tensor([2]))
    with bad_input("c"):
        S.absorption(f, c[:, :2], h, torch.tensor([1]))


def test_shared_latents_by_hand():
    a = torch.eye(4)
    b = torch.tensor([[0, 1.0, 0, 0], [1.0, 0, 0, 0], [0, 0, 0.6, 0.8], [0, 0, 0.8, -0.6]])
    # matched: 0-1 (1.0), 1-0 (1.0), 2-3 and 3-2 at 0.8 or 2-2 and 3-3 at 0.6/-0.6: the best is 0.8 twice
    assert S.shared_latents(a, b) == 1.0
    assert S.shared_latents(a, b, threshold=0.9) == 0.5
    assert S.shared_latents(a, a[:2]) == 0.5, "latents without a partner are not shared"
    with bad_input("threshold"):
        S.shared_latents(a, b, threshold=2.0)


# -- correlated groups and hedging -------------------------------------------------------------------
def test_correlation_keeps_frequencies_and_correlates_groups():
    corr = S.Correlation(4, 2, 0.9)
    d = GroundTruthData(12, 8, n_active=2, decay=0.8, correlation=corr, values=(0.5, 1.0), seed=0)
    assert list(corr.members(1)) == [1, 5] and corr.n_correlated == 8 and list(corr.members(0, first=3)) == [3, 7]
    active = d.coefficients(80000) > 0
    assert torch.allclose(active.float().mean(0), d.probability, atol=0.006), "each feature keeps its frequency"
    fc = torch.corrcoef(active.float().T)
    assert min(float(fc[g, g + 4]) for g in range(4)) > 0.25, "pairs fire together"
    assert fc[0, 1].abs() < 0.02 and fc[0, 8].abs() < 0.02 and fc[5, 9].abs() < 0.02, "other features independent"
    independent = GroundTruthData(12, 8, n_active=2, decay=0.8, correlation=S.Correlation(4, 2, 0.0), seed=0)
    fi = torch.corrcoef((independent.coefficients(80000) > 0).float().T)
    assert fi[0, 4].abs() < 0.02


def test_correlation_after_a_hierarchy_leaves_the_hierarchy_alone():
    h, corr = S.Hierarchy(2, 2, 0.5), S.Correlation(3, 2, 0.8)
    d = GroundTruthData(14, 8, n_active=2, hierarchy=h, correlation=corr, seed=0)
    active = d.coefficients(40000) > 0
    for child in range(2, 6):
        assert not (active[:, child] & ~active[:, h.parent_of(child)]).any()
    fc = torch.corrcoef(active.float().T)
    assert min(float(fc[6 + g, 9 + g]) for g in range(3)) > 0.2  # groups start after the 6 structured features
    assert d.with_activity(1.0).correlation is corr


@pytest.mark.parametrize("kw,name", [(dict(n_groups=0, size=2, correlation=0.5), "n_groups"),
                                     (dict(n_groups=2, size=0, correlation=0.5), "size"),
                                     (dict(n_groups=2, size=2, correlation=1.0), "correlation"),
                                     (dict(n_groups=2, size=2, correlation=-0.1), "correlation")])
def test_correlation_bad_input(kw, name):
    with bad_input(name):
        S.Correlation(**kw)
    with bad_input("group"):
        S.Correlation(2, 2, 0.5).members(2)


def test_ground_truth_rejects_too_many_correlated_features():
    with bad_input("correlation"):
        GroundTruthData(10, 4, hierarchy=S.Hierarchy(2, 1), correlation=S.Correlation(4, 2, 0.5))
    with bad_input("correlation"):
        GroundTruthData(10, 4, correlation=0.5)


def test_hedging_by_hand():
    F = torch.eye(3)  # features 0, 1, 2 along the axes
    W = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # latent 0 = feature 0 blended with 1
    h = S.hedging(F, W, [[0, 1], [2, 0]])
    assert torch.allclose(h, torch.tensor([2**-0.5, 0.0]))  # 0 + cos 45°; latent 1 is feature 2 alone
    F2 = torch.tensor([[1.0, 0.0], [0.6, 0.8]])  # features at cosine 0.6
    assert S.hedging(F2, F2[:1], [[0, 1]]).item() == pytest.approx(0.0, abs=1e-6), "the feature's own overlap is not hedging"


@pytest.mark.parametrize("groups", [[], [[0]], [[0, 3]], "01", [[0, 1.0]]])
def test_hedging_bad_groups(groups):
    with bad_input("groups"):
        S.hedging(torch.eye(3), torch.eye(3), groups)
