"""Chapter 10's experiments: the structured ground truth, the scorecard, the comparisons."""

from dataclasses import replace

import pytest
import torch

from conftest import bad_input
from superpos_lib import sae as S
from superpos_lib.sae import practice as P

SHORT = replace(P.PRACTICE_TRAINING, steps=300)


def test_structured_truth_is_as_documented():
    d = P.structured_truth(child_probability=0.6)
    assert d.features.shape == (64, 32) and d.hierarchy == S.Hierarchy(8, 3, 0.6)
    assert d.probability.sum().item() == pytest.approx(P.TRUE_L0, rel=1e-5)
    assert (d.probability[:8] > d.probability[32:].max()).all(), "the parents are the most frequent"
    c = d.coefficients(2000)
    assert c[c > 0].min() >= 0.5
    with bad_input("child_probability"):
        P.structured_truth(child_probability=1.2)


def test_feature_quality_of_a_perfect_dictionary():
    """A hand-built SAE whose decoder rows are the true features and whose encoder reads them
    exactly (orthogonal features, TopK with k = the number active): every score is perfect."""
    data = S.GroundTruthData(6, 6, n_active=2, seed=0)
    data.features = torch.eye(6)
    sae = S.SAE(S.SAEConfig(6, 6, "topk", init_b_dec="zero"), 6)
    with torch.no_grad():
        sae.W_dec[0] = torch.eye(6)
        sae.W_enc[0] = torch.eye(6)
    q = P.feature_quality(sae, data, 4000)
    assert q.fvu[0] < 1e-6 and q.mcc[0] == pytest.approx(1.0) and q.f1[0] == pytest.approx(1.0)
    assert q.uniqueness[0] == 1.0 and q.absorption.isnan().all()
    assert q.l0[0] == pytest.approx(2.0, rel=0.05)
    assert q.row(0)["f1"] == pytest.approx(1.0) and q[0:1].fvu.shape == (1,)
    with bad_input("n_inputs"):
        P.feature_quality(sae, data, 0)


def test_compare_kinds_scores_every_kind_on_the_same_inputs():
    data = P.structured_truth()
    cmp = P.compare_kinds(data, {"topk": 3, "relu_l1": 0.3}, n_seeds=2, train_config=SHORT)
    out = cmp.quality
    assert list(out) == ["topk", "relu_l1"] and cmp.saes["topk"].n_inst == 2
    assert cmp.mean("fvu")["topk"] == pytest.approx(float(out["topk"].fvu.mean()))
    with bad_input("score"):
        cmp.mean("nope")
    for q in out.values():
        assert q.l0.shape == (2,) and (q.fvu < 1).all() and (q.mcc > 0.3).all() and (q.absorption >= 0).all()
    assert (out["topk"].l0 <= 3 + 1e-6).all() and (out["topk"].l0 > 2.5).all(), "TopK: at most k"
    with bad_input("sparsity"):
        P.compare_kinds(data, {"nope": 3})
    with bad_input("sparsity"):
        P.compare_kinds(data, {})
    with bad_input("n_seeds"):
        P.compare_kinds(data, {"topk": 3}, n_seeds=0)


def test_l0_sweep_gives_one_sae_per_k():
    q = P.l0_sweep(P.structured_truth(), [1, 3, 8], kind="topk", train_config=SHORT)
    k = torch.tensor([1.0, 3.0, 8.0])
    assert q.l0.shape == (3,) and (q.l0 <= k + 1e-6).all() and (q.l0 > k - 0.5).all(), q.l0
    assert q.fvu[0] > q.fvu[1] > q.fvu[2], "more latents, better reconstruction"
    with bad_input("kind"):
        P.l0_sweep(P.structured_truth(), [1, 2], kind="relu_l1")
    with bad_input("ks"):
        P.l0_sweep(P.structured_truth(), [])


def test_seed_stability_counts_each_pair():
    W = torch.stack([torch.eye(4), torch.eye(4)[[1, 0, 2, 3]], -torch.eye(4)])
    assert P.seed_stability(W).tolist() == [1.0, 0.0, 0.0]
    with bad_input("W_dec"):
        P.seed_stability(torch.eye(4)[None])


def test_parent_share_by_hand():
    data = S.GroundTruthData(6, 6, n_active=1, hierarchy=S.Hierarchy(2, 1), seed=0)
    data.features = torch.eye(6)  # parents 0, 1; child 2 of parent 0, child 3 of parent 1
    W = torch.eye(6)
    W[2] = torch.tensor([0.6, 0, 0.8, 0, 0, 0])  # child 2's latent carries its parent
    assert torch.allclose(P.parent_share(W, data), torch.tensor([0.6, 0.0]))
    with bad_input("W_dec"):
        P.parent_share(torch.eye(5), data)
    with bad_input("data"):
        P.parent_share(W, S.GroundTruthData(6, 6, n_active=1))


# -- figures and the explorer -------------------------------------------------------------------------
def _q(n, seed=0):
    r = torch.rand(7, n, generator=torch.Generator().manual_seed(seed))
    return P.FeatureQuality(*r)


def test_scorecard_draws_a_dot_per_seed_and_a_bar_per_kind():
    results = {"topk": _q(3), "matryoshka": _q(3, 1)}
    fig = S.plot_scorecard(results, scores=("fvu", "absorption"))
    axes = fig.axes
    assert len(axes) == 2 and [t.get_text() for t in axes[0].get_yticklabels()] == ["TopK", "Matryoshka"]
    bars = [p.get_width() for p in axes[1].patches]
    assert bars == pytest.approx([float(results["topk"].absorption.mean()), float(results["matryoshka"].absorption.mean())])
    assert sum(len(line.get_xdata()) for line in axes[0].lines) == 6
    with bad_input("scores"):
        S.plot_scorecard(results, scores=("nope",))
    with bad_input("results"):
        S.plot_scorecard({})


def test_l0_sweep_figure_plots_each_score_against_k():
    q = _q(4)
    fig = S.plot_l0_sweep([1, 2, 4, 8], q, true_l0=3)
    left, right = fig.axes
    assert list(left.lines[0].get_xdata()) == [1, 2, 4, 8]
    assert list(left.lines[0].get_ydata()) == pytest.approx(q.fvu.tolist())
    assert list(right.lines[0].get_ydata()) == pytest.approx(q.f1.tolist())
    with bad_input("ks"):
        S.plot_l0_sweep([1, 2], q, true_l0=3)


def test_absorption_map_of_a_perfect_dictionary_is_the_identity():
    data = P.structured_truth()
    fig = S.plot_absorption_map({"true": data.features.cpu()}, data, parents=(0,))
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (4, 4) and torch.allclose(torch.tensor(shown.diagonal().data), torch.ones(4), atol=1e-5)
    with bad_input("parents"):
        S.plot_absorption_map({"true": data.features}, data, parents=(8,))
    with bad_input("data"):
        S.plot_absorption_map({"true": data.features}, S.GroundTruthData(64, 32))


def test_practice_explorer_retrains_and_reads_out():
    from superpos_lib import widgets

    ex = widgets.PracticeExplorer(n_seeds=1, train_config=replace(S.PRACTICE_EXPLORER_TRAINING, steps=100), device="cpu")
    assert ex.error is None and ex.shown["kind"] == "topk" and 0 < ex.metrics["l0"] <= 3 + 1e-6
    assert ex.result.cos.shape == (8, 8) and "TopK, k = 3" in ex.frame.title
    ex.update(kind="relu_l1", lam=0.1, child_probability=0.0)
    assert ex.error is None and "λ = 0.1" in ex.frame.title and "n/a (no child fires)" in ex.frame.title
    assert ex.sparsity(ex.shown) == pytest.approx(0.1)
    assert len(ex._data) == 2, "one ground truth per child probability, built once"
    with bad_input("d_sae"):
        ex.update(d_sae=7)


def test_with_activity_keeps_features_and_scales_frequencies():
    data = P.structured_truth()
    denser = data.with_activity(6.0, seed=3)
    assert torch.equal(denser.features, data.features) and denser.hierarchy == data.hierarchy
    assert torch.allclose(denser.probability, data.probability * 2, rtol=1e-5)
    c = denser.coefficients(20000)
    assert (c > 0).sum(1).float().mean().item() == pytest.approx(6.0, rel=0.03)
    assert torch.equal(data.probability.sum().round(), torch.tensor(3.0)), "the original is unchanged"
    with bad_input("n_active"):
        data.with_activity(40.0)  # the most frequent feature past probability 1
    with bad_input("n_active"):
        data.with_activity(0.0)


def test_probe_shift_reads_parents_from_activations_and_latents():
    """A dictionary that is the true features read exactly (an identity SAE on orthogonal features)
    gives its probes the same F1 as the activations' probes."""
    data = S.GroundTruthData(32, 32, n_active=3, hierarchy=S.Hierarchy(4, 2), values=(0.5, 1.0), seed=0)
    data.features = torch.eye(32)
    sae = S.SAE(S.SAEConfig(32, 32, "relu_l1", init_b_dec="zero"), 0.1)
    with torch.no_grad():
        sae.W_dec[0] = torch.eye(32)
        sae.W_enc[0] = torch.eye(32)
    out = P.probe_shift(data, {"identity": sae.instance(0)}, [3, 6], n_inputs=4000)
    assert set(out) == {"activations", "identity"} and out["activations"].shape == (2,)
    assert torch.allclose(out["activations"], out["identity"], atol=1e-4)
    assert (out["activations"] > 0.99).all(), "orthogonal parents are read perfectly"
    with bad_input("data"):
        P.probe_shift(S.GroundTruthData(8, 8), {}, [3])
    with bad_input("saes"):
        P.probe_shift(data, {"x": sae}, [3])
    with bad_input("n_active"):
        P.probe_shift(data, {}, [])


def test_sparsity_sweep_takes_any_kind_and_frontiers_plot_by_l0():
    q = P.sparsity_sweep(P.structured_truth(), [0.05, 0.5], kind="relu_l1", train_config=SHORT)
    assert q.l0.shape == (2,) and q.l0[0] > q.l0[1], "a larger λ, a sparser code"
    with bad_input("kind"):
        P.sparsity_sweep(P.structured_truth(), [1], kind="nope")
    with bad_input("values"):
        P.sparsity_sweep(P.structured_truth(), [], kind="topk")
    fig = S.plot_frontiers({"relu_l1": q}, scores=("fvu",))
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == pytest.approx(sorted(q.l0.tolist()))
    assert list(line.get_ydata()) == pytest.approx(q.fvu[q.l0.argsort()].tolist())
    with bad_input("scores"):
        S.plot_frontiers({"relu_l1": q}, scores=("x",))
    with bad_input("results"):
        S.plot_frontiers({})


def test_correlated_truth_pairs_a_frequent_feature_with_a_rarer_partner():
    d = S.correlated_truth(0.9)
    assert d.features.shape == (32, 32) and d.correlation == S.Correlation(16, 2, 0.9)
    assert list(d.correlation.members(3)) == [3, 19]
    assert d.probability[3] / d.probability[19] == pytest.approx(0.9**-16, rel=1e-4)
    with bad_input("correlation"):
        S.correlated_truth(1.0)


def test_hedging_sweep_scores_each_sae_at_each_correlation():
    fast = replace(S.HEDGING_TRAINING, steps=150)
    out = S.hedging_sweep([0.0, 0.9], {"narrow": ("topk", 2, 16), "wide": ("relu_l1", 0.1, 32)}, n_seeds=2,
                          train_config=fast)
    assert set(out) == {"narrow", "wide"} and out["narrow"].shape == (2, 2)
    assert out["narrow"][0].abs().max() < 0.1, "no correlation, no hedging"
    assert out["narrow"][1].mean() > out["narrow"][0].mean() + 0.05, "correlated pairs: the narrow latents tilt"
    for bad, name in [(([], {"a": ("topk", 2, 16)}), "correlations"), (([0.5], {}), "saes"),
                      (([0.5], {"a": ("nope", 2, 16)}), "saes"), (([0.5], {"a": ("topk", 2, 0)}), "saes")]:
        with bad_input(name):
            S.hedging_sweep(*bad)
