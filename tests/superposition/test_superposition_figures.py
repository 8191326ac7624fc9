"""Chapter 3's figures: call them, check what they draw."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from conftest import assert_readable, bad_input
from superpos_lib import metrics
from superpos_lib import superposition as sup


W2 = torch.tensor([[[1.0, 0.0, -0.5], [0.0, 1.0, 0.2]], [[0.3, -1.0, 0.0], [0.9, 0.0, 0.0]]])  # (2, 2, 3)


def _png(fig: Figure) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    return buf.getvalue()


def test_plot_features_in_2d_draws_each_direction():
    fig = sup.plot_features_in_2d(W2, importance=torch.tensor([1.0, 0.5, 0.1]), titles=["a", "b"])
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
    fig = sup.plot_features_in_2d(W2.repeat(3, 1, 1), n_cols=4)
    assert len(fig.axes) == 8 and sum(ax.axison for ax in fig.axes) == 6
    titles = [f"1 − S = {p:.3g}" for p in torch.logspace(0, -1.3, 10).tolist()]
    assert_readable(sup.plot_features_in_2d(W2.repeat(5, 1, 1), titles=titles, n_cols=5, panel_size=1.3))
    with bad_input("W"):
        sup.plot_features_in_2d(torch.ones(1, 3, 4))
    with bad_input("titles"):
        sup.plot_features_in_2d(W2, titles=["only one"])
    with bad_input("W"):
        sup.plot_features_in_2d(torch.ones(2, 3))


def test_plot_superposition_shows_gram_and_norms():
    W = torch.randn(3, 2, 4)
    fig = sup.plot_superposition(W, titles=["x", "y", "z"])
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
    fig = sup.plot_superposition(W, n_cols=3)
    data_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(data_axes) == 12, "two rows of (gram, bars) pairs, three columns"
    assert sum(bool(ax.images) for ax in data_axes) == 5 and sum(bool(ax.patches) for ax in data_axes) == 5
    assert sum(not ax.axison for ax in data_axes) == 2, "the unused slots are blank"


def test_plot_superposition_colour_bars_do_not_overlap_and_text_is_readable():
    """Two rows of panels: each colour bar sits beside its own row (bars spanning every row
    interleaved and overlapped); no text below 9 pt on the site at chapter 3's sizes."""
    fig = sup.plot_superposition(torch.randn(10, 2, 5), n_cols=5, panel_width=1.05)
    _png(fig)                                            # lay the figure out
    bars = [ax.get_position() for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 2
    top, bottom = sorted(bars, key=lambda b: -b.y0)
    assert top.y0 >= bottom.y1, "the colour bars overlap"
    assert_readable(fig)
    assert_readable(sup.plot_superposition(torch.randn(7, 5, 20), n_cols=4, panel_width=1.35))
    assert_readable(sup.plot_superposition(torch.randn(4, 5, 20), panel_width=1.35))


def test_plot_represented_vs_density():
    p = torch.tensor([1.0, 0.1, 0.01])
    fig = sup.plot_represented_vs_density(p, torch.tensor([5, 8, 11]), d_hidden=5, n_features=20)
    ax = fig.axes[0]
    x, y = ax.lines[0].get_data()
    assert list(y) == [5, 8, 11] and np.allclose(x, p.numpy())
    assert ax.get_xscale() == "log" and ax.xaxis_inverted()
    with bad_input("n_represented"):
        sup.plot_represented_vs_density(p, torch.tensor([1, 2]), d_hidden=5, n_features=20)


def test_plot_represented_vs_density_shows_every_seed():
    p = torch.tensor([1.0, 0.1])
    per_seed = torch.tensor([[5, 5, 5], [8, 9, 8]])
    fig = sup.plot_represented_vs_density(p, torch.tensor([5, 8]), d_hidden=5, n_features=20,
                                          per_seed=per_seed, label="lowest-loss seed")
    ax = fig.axes[0]
    dots = [c for c in ax.collections if len(c.get_offsets())]
    points = sorted((float(x), float(y), float(s)) for c in dots for (x, y), s in zip(c.get_offsets(), c.get_sizes()))
    assert np.allclose(points, [(0.1, 8.0, 50.0), (0.1, 9.0, 25.0), (1.0, 5.0, 75.0)]), "a dot per count, area per seed"
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["each of 3 seeds", "lowest-loss seed"]
    assert_readable(fig)
    with bad_input("per_seed"):
        sup.plot_represented_vs_density(p, torch.tensor([5, 8]), d_hidden=5, n_features=20,
                                        per_seed=torch.ones(3, 2))


def test_explorer_frame_updates_in_place():
    frame = sup.ExplorerFrame(3, 2, total_steps=100)
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
    frame = sup.ExplorerFrame(4, 3, total_steps=10)
    W = torch.randn(3, 4)
    frame.update(W, torch.ones(4), [1], torch.tensor([1.0]))
    assert np.allclose(frame.ax_geo.images[0].get_array(), (W.T @ W).numpy(), atol=1e-6)
    with bad_input("n_features"):
        sup.ExplorerFrame(0, 2, 10)


def test_plot_explorer_frame_builds_a_new_figure():
    a = sup.plot_explorer_frame(W2[0], torch.ones(3), [1, 2], torch.tensor([1.0, 0.5]), total_steps=2, title="t")
    b = sup.plot_explorer_frame(W2[0], torch.ones(3), [1, 2], torch.tensor([1.0, 0.5]), total_steps=2)
    assert a is not b and a.texts[0].get_text() == "t"
    with bad_input("W"):
        sup.plot_explorer_frame(W2, torch.ones(3), [], torch.zeros(0), total_steps=1)


def test_plot_features_sweep_has_a_frame_per_model_and_a_slider():
    W = torch.randn(4, 2, 3)
    fig = sup.plot_features_sweep(W, ["a", "b", "c", "d"], importance=torch.tensor([1.0, 0.5, 0.2]), active=2)
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
        sup.plot_features_sweep(torch.randn(3, 3, 4), ["a", "b", "c"])
    with bad_input("labels"):
        sup.plot_features_sweep(torch.randn(3, 2, 4), ["a", "b"])
    with bad_input("active"):
        sup.plot_features_sweep(torch.randn(3, 2, 4), ["a", "b", "c"], active=3)
