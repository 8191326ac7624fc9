import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from conftest import bad_input
from superpos_lib import metrics, plotting

W2 = torch.tensor([[[1.0, 0.0, -0.5], [0.0, 1.0, 0.2]], [[0.3, -1.0, 0.0], [0.9, 0.0, 0.0]]])  # (2, 2, 3)


def _png(fig: Figure) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    return buf.getvalue()


def test_plot_features_in_2d_draws_each_direction():
    fig = plotting.plot_features_in_2d(W2, importance=torch.tensor([1.0, 0.5, 0.1]), titles=["a", "b"])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    for k, ax in enumerate(fig.axes):
        assert ax.get_title() == "ab"[k]
        assert len(ax.lines) == 3
        for i, line in enumerate(ax.lines):
            x, y = line.get_data()
            assert (x[1], y[1]) == pytest.approx((W2[k, 0, i].item(), W2[k, 1, i].item()))
    colours = [tuple(line.get_color()) for line in fig.axes[0].lines]
    assert len(set(colours)) == 3, "features are coloured by importance"
    assert _png(fig).startswith(b"\x89PNG")


def test_plot_features_in_2d_grid_and_errors():
    fig = plotting.plot_features_in_2d(W2.repeat(3, 1, 1), n_cols=4)
    assert len(fig.axes) == 8 and sum(ax.axison for ax in fig.axes) == 6
    with bad_input("W"):
        plotting.plot_features_in_2d(torch.ones(1, 3, 4))
    with bad_input("titles"):
        plotting.plot_features_in_2d(W2, titles=["only one"])
    with bad_input("W"):
        plotting.plot_features_in_2d(torch.ones(2, 3))


def test_plot_superposition_shows_gram_and_norms():
    W = torch.randn(3, 2, 4)
    fig = plotting.plot_superposition(W, titles=["x", "y", "z"])
    data_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(data_axes) == 6 and len(fig.axes) == 8, "two colour bars"
    for k in range(3):
        gram_ax, bar_ax = data_axes[k], data_axes[3 + k]
        assert np.allclose(gram_ax.images[0].get_array(), (W[k].T @ W[k]).numpy(), atol=1e-6)
        widths = [p.get_width() for p in bar_ax.patches]
        assert np.allclose(widths, metrics.feature_norms(W)[k].numpy(), atol=1e-6)
    assert _png(fig).startswith(b"\x89PNG")


def test_plot_superposition_wraps_into_rows():
    W = torch.randn(5, 2, 3)
    fig = plotting.plot_superposition(W, n_cols=3)
    data_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(data_axes) == 12, "two rows of (gram, bars) pairs, three columns"
    assert sum(bool(ax.images) for ax in data_axes) == 5 and sum(bool(ax.patches) for ax in data_axes) == 5
    assert sum(not ax.axison for ax in data_axes) == 2, "the unused slots are blank"


def test_plot_represented_vs_density():
    p = torch.tensor([1.0, 0.1, 0.01])
    fig = plotting.plot_represented_vs_density(p, torch.tensor([5, 8, 11]), d_hidden=5, n_features=20)
    ax = fig.axes[0]
    x, y = ax.lines[0].get_data()
    assert list(y) == [5, 8, 11] and np.allclose(x, p.numpy())
    assert ax.get_xscale() == "log" and ax.xaxis_inverted()
    with bad_input("n_represented"):
        plotting.plot_represented_vs_density(p, torch.tensor([1, 2]), d_hidden=5, n_features=20)


def test_explorer_frame_updates_in_place():
    frame = plotting.ExplorerFrame(3, 2, total_steps=100)
    fig = frame.update(W2[0], torch.ones(3), [10, 20], torch.tensor([0.5, 0.25]), title="hello")
    assert fig is frame.figure
    geo, bars, loss = fig.axes
    assert [tuple(line.get_data()[0]) for line in geo.lines] == [(0, 1.0), (0, 0.0), (0, -0.5)]
    assert np.allclose([p.get_width() for p in bars.patches], metrics.feature_norms(W2)[0].numpy())
    assert list(loss.lines[0].get_data()[1]) == [0.5, 0.25] and loss.get_yscale() == "log"
    assert fig.texts[0].get_text() == "hello"
    frame.update(W2[1], torch.ones(3), [10, 20, 30], torch.tensor([0.5, 0.25, 0.1]))
    assert geo.lines[1].get_data()[0][1] == pytest.approx(-1.0), "same artists, new data"
    assert frame.png().startswith(b"\x89PNG")
    with bad_input("W"):
        frame.update(torch.ones(3, 3), torch.ones(3), [], torch.zeros(0))


def test_explorer_frame_uses_gram_when_not_2d():
    frame = plotting.ExplorerFrame(4, 3, total_steps=10)
    W = torch.randn(3, 4)
    frame.update(W, torch.ones(4), [1], torch.tensor([1.0]))
    assert np.allclose(frame.ax_geo.images[0].get_array(), (W.T @ W).numpy(), atol=1e-6)
    with bad_input("n_features"):
        plotting.ExplorerFrame(0, 2, 10)


def test_plot_explorer_frame_builds_a_new_figure():
    a = plotting.plot_explorer_frame(W2[0], torch.ones(3), [1, 2], torch.tensor([1.0, 0.5]), total_steps=2, title="t")
    b = plotting.plot_explorer_frame(W2[0], torch.ones(3), [1, 2], torch.tensor([1.0, 0.5]), total_steps=2)
    assert a is not b and a.texts[0].get_text() == "t"
    with bad_input("W"):
        plotting.plot_explorer_frame(W2, torch.ones(3), [], torch.zeros(0), total_steps=1)


def test_draw_features_rejects_wrong_shape():
    ax = Figure().add_subplot()
    with bad_input("W"):
        plotting.draw_features_2d(ax, torch.ones(3, 4))


# -- plotly: the static site's interactive figures -------------------------------------------------
def test_plot_features_sweep_has_a_frame_per_model_and_a_slider():
    W = torch.randn(4, 2, 3)
    fig = plotting.plot_features_sweep(W, ["a", "b", "c", "d"], importance=torch.tensor([1.0, 0.5, 0.2]), active=2)
    assert len(fig.frames) == 4 and [f.name for f in fig.frames] == ["0", "1", "2", "3"]
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["a", "b", "c", "d"] and fig.layout.sliders[0].active == 2
    assert all(s.method == "animate" and list(s.args[0]) == [str(k)] for k, s in enumerate(steps))
    for k, frame in enumerate(fig.frames):
        lines, bars = frame.data[:3], frame.data[3]
        for i, line in enumerate(lines):
            assert list(line.x) == pytest.approx([0.0, W[k, 0, i].item()]) and list(line.y) == pytest.approx([0.0, W[k, 1, i].item()])
        assert list(bars.x) == pytest.approx(metrics.feature_norms(W)[k].tolist())
    assert list(fig.data[0].x) == pytest.approx([0.0, W[2, 0, 0].item()]), "the figure opens on `active`"


def test_plot_features_sweep_rejects_bad_input():
    with bad_input("W"):
        plotting.plot_features_sweep(torch.randn(3, 3, 4), ["a", "b", "c"])
    with bad_input("labels"):
        plotting.plot_features_sweep(torch.randn(3, 2, 4), ["a", "b"])
    with bad_input("active"):
        plotting.plot_features_sweep(torch.randn(3, 2, 4), ["a", "b", "c"], active=3)


def test_plotly_div_is_stable_and_self_contained():
    fig = plotting.plot_features_sweep(torch.randn(2, 2, 3), ["x", "y"])
    html = plotting.plotly_div(fig)
    assert html == plotting.plotly_div(fig), "same figure, same bytes"
    assert 'class="plotly-graph-div"' in html and "Plotly.newPlot" in html
    assert "cdn" not in html.lower() and len(html) < 200_000, "plotly.js is not inlined or fetched"
    assert "addFrames" in html and "Plotly.animate" not in html, "frames wait for the reader"
    other = plotting.plot_features_sweep(torch.randn(2, 2, 3), ["x", "y"])
    assert plotting.plotly_div(other).split('id="')[1][:20] != html.split('id="')[1][:20]


def test_static_renderer_is_switched_on_only_by_the_book_build(monkeypatch):
    import plotly.io as pio

    before = pio.renderers.default
    try:
        monkeypatch.delenv(plotting.BOOK_BUILD_ENV, raising=False)
        plotting.plot_features_sweep(torch.randn(2, 2, 3), ["x", "y"])
        assert pio.renderers.default == before, "Colab's and Jupyter's renderers stay"
        monkeypatch.setenv(plotting.BOOK_BUILD_ENV, "1")
        fig = plotting.plot_features_sweep(torch.randn(2, 2, 3), ["x", "y"])
        assert pio.renderers.default == plotting.STATIC_RENDERER
        bundle = fig._repr_mimebundle_()
        assert list(bundle) == ["text/html"] and bundle["text/html"] == plotting.plotly_div(fig)
    finally:
        pio.renderers.default = before


# -- neurons --------------------------------------------------------------------------------------
WN = torch.tensor([[[0.5, -0.2, 0.3], [0.0, 0.4, -0.1]]])  # (1, 2 neurons, 3 features)


def test_neuron_bars_stack_positives_up_and_negatives_down():
    fig = plotting.plot_neuron_weights(WN.repeat(3, 1, 1), importance=torch.tensor([1.0, 0.5, 0.2]), titles=["a", "b", "c"], n_cols=2)
    axes = [ax for ax in fig.axes if ax.axison]
    assert len(axes) == 3 and axes[0].get_title() == "a"
    rects = axes[0].patches  # feature-major: feature 0 (neuron 0, 1), feature 1 (...), feature 2 (...)
    spans = [(r.get_y(), r.get_y() + r.get_height()) for r in rects]
    assert spans[0] == pytest.approx((0.0, 0.5)) and spans[2] == pytest.approx((0.0, -0.2))   # neuron 0
    assert spans[4] == pytest.approx((0.5, 0.8)), "feature 2 stacks on feature 0 in neuron 0"
    assert spans[3] == pytest.approx((0.0, 0.4)) and spans[5] == pytest.approx((0.0, -0.1))  # neuron 1
    with bad_input("W"):
        plotting.draw_neuron_bars(Figure().add_subplot(), torch.ones(1, 2, 3))


def test_plot_alignment_vs_density():
    p = torch.tensor([0.75, 0.1, 0.01])
    fig = plotting.plot_alignment_vs_density(p, torch.tensor([1.0, 0.6, 0.5]), torch.tensor([1.0, 0.5, 0.4]), d_hidden=5)
    lines = fig.axes[0].lines
    assert list(lines[0].get_ydata()) == pytest.approx([1.0, 0.6, 0.5]) and list(lines[1].get_ydata()) == pytest.approx([1.0, 0.5, 0.4])
    with bad_input("feature_alignment"):
        plotting.plot_alignment_vs_density(p, torch.ones(2), torch.ones(3), d_hidden=5)


def test_neuron_frame_updates_in_place():
    frame = plotting.NeuronFrame(3, 2, total_steps=10)
    fig = frame.update(WN[0], torch.ones(3), [5, 10], torch.tensor([0.2, 0.1]), title="t")
    assert fig is frame.figure and fig.texts[0].get_text() == "t"
    assert [r.get_height() for r in frame._align] == pytest.approx([1.0, 0.8, 0.9], abs=1e-6)
    assert frame.png().startswith(b"\x89PNG")
    with bad_input("W"):
        frame.update(torch.ones(3, 3), torch.ones(3), [], torch.zeros(0))
    with bad_input("n_features"):
        plotting.NeuronFrame(0, 2, 10)


def test_plot_neuron_sweep():
    W = torch.randn(4, 2, 3)
    fig = plotting.plot_neuron_sweep(W, ["a", "b", "c", "d"], importance=torch.ones(3), active=1)
    assert len(fig.frames) == 4 and fig.layout.barmode == "relative" and fig.layout.sliders[0].active == 1
    for i, trace in enumerate(fig.frames[3].data):
        assert list(trace.y) == pytest.approx(W[3, :, i].tolist())
    assert list(fig.data[0].y) == pytest.approx(W[1, :, 0].tolist())
    with bad_input("labels"):
        plotting.plot_neuron_sweep(W, ["a"])
    with bad_input("W"):
        plotting.plot_neuron_sweep(torch.ones(2, 3), ["a", "b"])
    with bad_input("active"):
        plotting.plot_neuron_sweep(W, ["a", "b", "c", "d"], active=4)


# -- features and linearity -----------------------------------------------------------------------
def test_plot_readout_scatter():
    true = torch.rand(50, 2)
    fig = plotting.plot_readout_scatter(true, true * 0.5, titles=["a", "b"], r2=[1.0, 0.25])
    assert len(fig.axes) == 2 and "R² = 0.250" in fig.axes[1].get_title()
    offsets = fig.axes[0].collections[0].get_offsets()
    assert np.allclose(offsets[:, 1], 0.5 * offsets[:, 0])
    with bad_input("titles"):
        plotting.plot_readout_scatter(true, true, titles=["a"], r2=[1.0, 1.0])
    with bad_input("read"):
        plotting.plot_readout_scatter(true, torch.rand(50, 3), titles=["a", "b"], r2=[1.0, 1.0])


def test_composition_frame():
    frame = plotting.CompositionFrame(3, 3)
    readouts = {"true value": torch.tensor([0.1, 0.2, 0.3]), "decoding packed z": torch.tensor([0.1, 0.2, float("nan")])}
    fig = frame.update(torch.tensor([1.0, -0.5, 0.25]), readouts)
    assert [b.get_height() for b in frame._rep] == pytest.approx([1.0, -0.5, 0.25])
    true_bars, _, _, decoded = frame._series
    assert [b.get_height() for b in true_bars] == pytest.approx([0.1, 0.2, 0.3])
    assert [b.get_visible() for b in decoded] == [True, True, False], "NaN: no bar"
    assert not any(b.get_visible() for b in frame._series[1]), "series not given are hidden"
    assert frame.png().startswith(b"\x89PNG") and fig is frame.figure


def test_plot_readout_sweep():
    readouts = {"true": torch.rand(4, 3), "probe": torch.rand(4, 3)}
    readouts["probe"][:, 2] = float("nan")
    fig = plotting.plot_readout_sweep(readouts, ["a", "b", "c", "d"], feature_names=["x1", "x2", "x3"])
    assert len(fig.frames) == 4 and fig.layout.barmode == "group"
    assert list(fig.frames[2].data[0].y) == pytest.approx(readouts["true"][2].tolist())
    assert fig.frames[1].data[1].y[2] is None
    with bad_input("readouts"):
        plotting.plot_readout_sweep({}, [], feature_names=[])
    with bad_input("labels"):
        plotting.plot_readout_sweep(readouts, ["a"], feature_names=["x1", "x2", "x3"])


def test_interference_vs_angle_and_loss_terms():
    from superpos_lib.metrics import LossTerms

    fig = plotting.plot_interference_vs_angle()
    lin, relu = fig.axes[0].lines[:2]
    assert lin.get_ydata()[-1] == pytest.approx(1.0) and relu.get_ydata()[-1] == 0.0
    terms = LossTerms(torch.tensor([0.1, 0.2]), torch.tensor([0.0, 0.05]), torch.zeros(2))
    fig = plotting.plot_loss_terms(["a", "b"], terms, measured=torch.tensor([0.1, 0.25]))
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights[:4] == pytest.approx([0.1, 0.2, 0.0, 0.05])
    with pytest.raises(ValueError, match="labels"):
        plotting.plot_loss_terms(["a"], terms)


def test_decomposition_frame_updates_bars():
    frame = plotting.DecompositionFrame(3)
    W = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    fig = frame.update(W, [0.0, 0.3, 0.3, 0.01], title="t")
    assert [b.get_height() for b in frame._pair_lin] == pytest.approx([1.0, 0.0, 0.0])
    assert [b.get_height() for b in frame._pair_relu] == pytest.approx([0.0, 0.0, 0.0])
    assert fig is frame.figure and frame.png()[:4] == b"\x89PNG"
    with bad_input("W"):
        frame.update(torch.zeros(2, 4), [0, 0, 0, 0])


def test_phase_diagrams_and_candidates():
    from superpos_lib import phases

    r, p = torch.logspace(-1, 1, 5), torch.logspace(0, -2, 4)
    pp, rr = torch.meshgrid(p, r, indexing="ij")
    analytic = phases.analytic_phase(rr, pp)
    labels = analytic.clone()
    labels[0, 0] = phases.SUPERPOSED
    grid = phases.PhaseGrid(r, p, labels, analytic, torch.zeros(20, 1, 2), torch.zeros(20, 2), torch.zeros(20), 2, 0.0)
    fig = plotting.plot_phase_diagrams(grid)
    assert len(fig.axes) == 2
    assert len(fig.axes[1].collections[-1].get_offsets()) == 1      # one disagreement marked
    with pytest.raises(ValueError, match="labels"):
        plotting.draw_phase_diagram(fig.axes[0], r, p, labels.T)
    fig = plotting.plot_candidate_losses(1.0, torch.logspace(-1, 0, 6), trained=torch.full((6,), 0.03))
    assert len(fig.axes[0].lines) == 5


def test_phase_frame_and_kgon_dynamics():
    from superpos_lib import phases

    r, p = torch.logspace(-1, 1, 5), torch.logspace(-2, 0, 5)
    pp, rr = torch.meshgrid(p, r, indexing="ij")
    frame = plotting.PhaseFrame(r, p, phases.analytic_phase(rr, pp))
    frame.update(1.0, 0.3, torch.tensor([[1.0, -1.0]]), phases.SUPERPOSED, phases.candidate_losses(1.0, 0.3).float(), 0.02)
    assert [b.get_height() for b in frame._w] == pytest.approx([1.0, -1.0])
    assert frame._marker.get_xdata()[0] == 1.0
    with bad_input("W"):
        frame.update(1.0, 0.3, torch.zeros(2, 2), 0, torch.zeros(3), 0.0)
    T = 6
    W = torch.zeros(T, 1, 2, 3)
    for t in range(T):
        W[t, 0, 0, 0] = t / 5
        W[t, 0, 1, 1] = max(0, t - 2) / 3
    traj = phases.Trajectory(torch.arange(T) * 10, W, torch.zeros(T, 1, 3), torch.linspace(0.05, 0.01, T)[:, None])
    fig = plotting.plot_kgon_dynamics(traj, 0, {1: 0.03, 2: 0.015})
    titles = [ax.get_title() for ax in fig.axes]
    assert any("1 features" in t for t in titles) and any("2 features" in t for t in titles)
