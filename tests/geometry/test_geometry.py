"""Chapter 6's library: fractions, the uniform sweep, the graph, configurations, figures, explorer."""

import math

import pytest
import torch

from conftest import assert_laid_out, assert_readable, bad_input
from superpos_lib import metrics
from superpos_lib.data import FeatureGroups
from superpos_lib.geometry import (
    FRACTIONS,
    GeometryExplorer,
    OneFeatureSweep,
    UniformSweep,
    component_order,
    components,
    cosine_similarity,
    count_near,
    ideal_structure,
    one_feature_sweep,
    plot_configuration_losses,
    plot_cosine_blocks,
    plot_dimensionality_sweep,
    plot_strong_graph,
    regular_polygon,
    strong_connections,
    tegum_product,
    uniform_sweep,
    within_group_cosines,
)
from superpos_lib.geometry.explorer import GeometryFrame, GeometryFrame3D
from superpos_lib.training import TrainConfig

FAST = TrainConfig(steps=150, batch_size=256)


# -- fractions -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FRACTIONS))
def test_ideal_structures_have_their_fraction_exactly(name):
    W = ideal_structure(name)
    assert torch.allclose(W.norm(dim=0), torch.ones(W.shape[1]), atol=1e-6)
    D = metrics.feature_dimensionality(W[None])[0]
    assert (D - FRACTIONS[name]).abs().max() < 1e-6


@pytest.mark.parametrize("k", range(3, 11))
def test_regular_polygon_gives_two_over_k(k):
    D = metrics.feature_dimensionality(regular_polygon(k)[None])[0]
    assert (D - 2 / k).abs().max() < 1e-6


def test_square_antiprism_has_no_antipodal_pair_and_is_turned():
    W = ideal_structure("square antiprism")
    cos = cosine_similarity(W[None])[0] - torch.eye(8)
    assert cos.min() > -0.95  # unlike a cube
    assert sorted(round(v, 3) for v in (W[2] ** 2).tolist()) == [round(1 / 3, 3)] * 8


def test_tegum_product_keeps_each_factor_and_its_dimensionality():
    T = tegum_product(ideal_structure("pentagon"), ideal_structure("antipodal pair"), torch.zeros(1, 1))
    assert T.shape == (4, 8)
    assert torch.equal(T[:2, :5], ideal_structure("pentagon")) and (T[2:, :5] == 0).all()
    D = metrics.feature_dimensionality(T[None])[0]
    assert torch.allclose(D, torch.tensor([0.4] * 5 + [0.5] * 2 + [0.0]), atol=1e-6)


def test_count_near_counts_represented_features_only():
    W = tegum_product(ideal_structure("pentagon"), 0.3 * ideal_structure("antipodal pair"))[None]
    assert count_near(W, 0.4).item() == 5
    assert count_near(W, 0.5).item() == 0                   # the pair is too short to count
    assert count_near(W, 0.5, min_norm=0.2).item() == 2


def test_fraction_errors():
    with bad_input("name"):
        ideal_structure("cube")
    with bad_input("k"):
        regular_polygon(2)
    with bad_input("factors"):
        tegum_product()
    with bad_input("factors[1]"):
        tegum_product(torch.ones(1, 1), torch.ones(3))
    with bad_input("fraction"):
        count_near(torch.ones(1, 2, 2), 1.5)


# -- the graph -------------------------------------------------------------------------------------
def test_strong_connections_and_components_of_a_tegum_product():
    W = tegum_product(ideal_structure("pentagon"), ideal_structure("antipodal pair"), torch.ones(1, 1),
                      torch.zeros(1, 1))
    adj = strong_connections(W[None])[0]
    assert torch.equal(adj, adj.T) and not adj.diagonal().any()
    assert adj[5, 6] and not adj[4, 5] and not adj[7].any() and not adj[8].any()
    labels = components(adj)
    assert labels.tolist() == [0, 0, 0, 0, 0, 1, 1, 2, 3]
    order, kept_labels = component_order(W)
    assert kept_labels.tolist() == [0, 0, 0, 0, 0, 1, 1, 2, -1]
    assert order.tolist()[-1] == 8  # the dropped feature last


def test_strong_connections_threshold_and_errors():
    W = torch.tensor([[[1.0, 0.2], [0.0, 1.0]]])
    assert strong_connections(W, 0.1)[0, 0, 1] and not strong_connections(W, 0.5)[0, 0, 1]
    with bad_input("threshold"):
        strong_connections(W, -1.0)
    with bad_input("adjacency"):
        components(torch.ones(2, 3, dtype=torch.bool))
    with bad_input("W"):
        component_order(W)


# -- the uniform sweep -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sweep():
    return uniform_sweep(24, 4, n_densities=6, min_density=0.1, train_config=FAST, device="cpu")


def test_uniform_sweep_shapes_and_plateau(sweep):
    assert isinstance(sweep, UniformSweep)
    assert sweep.dimensionality.shape == (6, 24) and sweep.models.n_inst == 6
    assert torch.allclose(sweep.inverse_density, 1 / sweep.density)
    assert abs(sweep.dims_per_feature[0].item() - 1) < 0.1  # dense: about a dimension each
    counts = sweep.count_near(0.5, tol=0.05)
    plateau = sweep.plateau(0.5, tol=0.05, min_features=1)
    if counts.max() >= 1:
        lo, hi = plateau
        assert lo <= hi and lo in sweep.inverse_density.tolist()
    assert sweep.plateau(0.5, min_features=25) is None  # more features than the model has


def test_uniform_sweep_errors():
    with bad_input("n_densities"):
        uniform_sweep(n_densities=0)
    with bad_input("min_density"):
        uniform_sweep(min_density=0.0)
    with bad_input("min_features"):
        UniformSweep.plateau(None, min_features=0)


# -- configurations -------------------------------------------------------------------------------
def test_one_feature_sweep_groups_configurations():
    s = one_feature_sweep(torch.tensor([1.0, 20.0]), n_seeds=3, density=0.05, seed=0)
    assert isinstance(s, OneFeatureSweep) and s.loss.shape == (2, 3)
    assert s.models.importance[3:, 0].eq(20).all() and s.models.importance[:, 1:].eq(1).all()
    assert s.best().shape == (2, 2, 5)
    losses = s.configuration_losses()
    for c, loss in losses.items():
        assert loss.shape == (2,)
        found = (s.n_represented == c).any(1)
        assert torch.equal(torch.isfinite(loss), found)
    d = one_feature_sweep(torch.tensor([0.5]), vary="density", n_seeds=1)
    assert d.models.feature_probability[0].tolist() == pytest.approx([0.5, 0.05, 0.05, 0.05, 0.05])


def test_one_feature_sweep_errors():
    with bad_input("vary"):
        one_feature_sweep(torch.ones(2), vary="sparsity")
    with bad_input("values"):
        one_feature_sweep(torch.tensor([2.0]), vary="density")
    with bad_input("values"):
        one_feature_sweep(torch.tensor([-1.0]))


def test_within_group_cosines():
    W = torch.zeros(1, 2, 5)
    W[0, :, 0], W[0, :, 1] = torch.tensor([1.0, 0]), torch.tensor([0.0, 1])
    W[0, :, 2], W[0, :, 3] = torch.tensor([1.0, 0]), torch.tensor([-1.0, 0])
    cos = within_group_cosines(W, FeatureGroups(correlated=1, anticorrelated=1))
    assert cos.shape == (1, 2, 1) and cos.flatten().tolist() == pytest.approx([0.0, -1.0])
    with bad_input("groups"):
        within_group_cosines(W, "pairs")
    with bad_input("groups"):
        within_group_cosines(W, FeatureGroups(correlated=3))


# -- figures ----------------------------------------------------------------------------------------
def test_dimensionality_sweep_figure(sweep):
    fig = plot_dimensionality_sweep(sweep)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert len(ax.lines) == len(FRACTIONS) + 1  # the fraction lines and the model's line
    assert ax.lines[-1].get_ydata().tolist() == pytest.approx(sweep.dims_per_feature.tolist())
    assert_readable(fig)
    assert_laid_out(fig)
    with bad_input("sweep"):
        plot_dimensionality_sweep(sweep.models)


def test_cosine_blocks_and_graph_figures():
    W = tegum_product(ideal_structure("pentagon"), ideal_structure("antipodal pair"), torch.zeros(1, 1))
    fig = plot_cosine_blocks(W)
    left, right = fig.axes[0].images[0].get_array(), fig.axes[1].images[0].get_array()
    assert left.shape == right.shape == (8, 8)
    assert right[5, 6] == pytest.approx(-1.0) and right[7, 7] == 0  # the pair together, the dropped last
    assert_readable(fig)
    assert_laid_out(fig)
    g = plot_strong_graph(W)
    texts = [t.get_text() for t in g.axes[0].texts]
    assert texts == ["5", "2"]  # one ring per component, labelled with its size
    assert g.axes[0].get_title() == "2 components, largest first"
    assert plot_strong_graph(W, max_components=1).axes[0].get_title() == "the 1 largest of 2 components, largest first"
    assert_readable(g)
    assert_laid_out(g)
    with bad_input("W"):
        plot_cosine_blocks(W[None])
    with bad_input("W"):
        plot_strong_graph(W[None])


def test_configuration_losses_figure():
    s = one_feature_sweep(torch.tensor([1.0, 20.0]), n_seeds=2)
    fig = plot_configuration_losses(s)
    assert len(fig.axes[0].lines) == len(s.configuration_losses())
    assert_readable(fig)
    assert_laid_out(fig)
    with bad_input("sweep"):
        plot_configuration_losses(None)


# -- the explorer -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def explorer():
    return GeometryExplorer(train_config=FAST, n_seeds=2, frame_interval=0.0, device="cpu")


def test_explorer_default_and_first_importance(explorer):
    assert list(explorer.controls) == ["density", "first_importance", "n_features", "d_hidden"]
    assert explorer.result.importance[0].tolist() == [1.0] * 5
    explorer.update(first_importance=8.0)
    assert explorer.result.importance[0].tolist() == [8.0, 1, 1, 1, 1]
    assert "I₀ = 8" in explorer.frame.title
    bars = [b.get_width() for b in explorer.frame._bars]
    D = metrics.feature_dimensionality(explorer.result.W)[0]
    assert bars == pytest.approx(D.tolist(), abs=1e-6)


def test_explorer_three_dimensions_and_bounds(explorer):
    explorer.update(d_hidden=3, n_features=6)
    assert explorer.result.W.shape == (1, 3, 6)
    assert explorer.frame.ax_geo.name == "3d"
    assert_readable(explorer.figure)
    with bad_input("d_hidden"):
        explorer.update(d_hidden=1)
    explorer.update(d_hidden=2, n_features=5)
    assert explorer.frame.ax_geo.name == "rectilinear"
    assert math.isfinite(explorer.result.loss[0])


@pytest.mark.parametrize("frame_class", [GeometryFrame, GeometryFrame3D])
@pytest.mark.parametrize("step_counts", [(150, 1000), (1000, 150)])
def test_frame_layout_fits_every_step_count(frame_class, step_counts, monkeypatch):
    # a layout frozen for 150 steps (last tick 160 outside the view) left no room for "1000"
    monkeypatch.setattr("superpos_lib.ui.frame._LAYOUTS", {})  # as if no frame had been built yet
    m = 3 if frame_class.projection == "3d" else 2
    for steps in step_counts:
        frame = frame_class(5, m, steps)
        logged = list(range(0, steps + 1, steps // 10))
        fig = frame.update(torch.randn(m, 5), torch.ones(5), logged, torch.logspace(-0.5, -4, len(logged)), title="t")
        assert frame.ax_loss.get_xlim() == (0, steps)
        assert_readable(fig)
        assert_laid_out(fig)
