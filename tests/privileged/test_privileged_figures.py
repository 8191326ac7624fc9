"""Chapter 2's figures and explorer: call them, check what they draw."""

import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.text import Text

from conftest import assert_readable, bad_input
from superpos_lib import privileged
from superpos_lib.privileged import NeuronExplorer
from superpos_lib.training import TrainConfig

FAST = TrainConfig(steps=200)


WN = torch.tensor([[[0.5, -0.2, 0.3], [0.0, 0.4, -0.1]]])  # (1, 2 neurons, 3 features)


def test_neuron_bars_stack_positives_up_and_negatives_down():
    fig = privileged.plot_neuron_weights(WN.repeat(3, 1, 1), importance=torch.tensor([1.0, 0.5, 0.2]), titles=["a", "b", "c"], n_cols=2)
    axes = [ax for ax in fig.axes if ax.axison]
    assert len(axes) == 3 and axes[0].get_title() == "a"
    rects = axes[0].patches  # feature-major: feature 0 (neuron 0, 1), feature 1 (...), feature 2 (...)
    spans = [(r.get_y(), r.get_y() + r.get_height()) for r in rects]
    assert spans[0] == pytest.approx((0.0, 0.5)) and spans[2] == pytest.approx((0.0, -0.2))   # neuron 0
    assert spans[4] == pytest.approx((0.5, 0.8)), "feature 2 stacks on feature 0 in neuron 0"
    assert spans[3] == pytest.approx((0.0, 0.4)) and spans[5] == pytest.approx((0.0, -0.1))  # neuron 1
    with bad_input("W"):
        privileged.draw_neuron_bars(Figure().add_subplot(), torch.ones(1, 2, 3))


def test_plot_alignment_vs_density():
    p = torch.tensor([0.75, 0.1, 0.01])
    fig = privileged.plot_alignment_vs_density(p, torch.tensor([1.0, 0.6, 0.5]), torch.tensor([1.0, 0.5, 0.4]), d_hidden=5)
    lines = fig.axes[0].lines
    assert list(lines[0].get_ydata()) == pytest.approx([1.0, 0.6, 0.5]) and list(lines[1].get_ydata()) == pytest.approx([1.0, 0.5, 0.4])
    with bad_input("feature_alignment"):
        privileged.plot_alignment_vs_density(p, torch.ones(2), torch.ones(3), d_hidden=5)


def test_plot_alignment_vs_density_shows_every_seed_and_follows_the_best():
    p = torch.tensor([0.75, 0.1, 0.01])
    feats = torch.tensor([[1.0, 1.0], [0.6, 0.4], [0.5, 0.7]])   # (dens, seeds)
    neurons = torch.tensor([[1.0, 0.9], [0.5, 0.3], [0.4, 0.2]])
    fig = privileged.plot_alignment_vs_density(p, feats, neurons, d_hidden=5, best=torch.tensor([0, 1, 1]))
    ax = fig.axes[0]
    dots = [line for line in ax.lines if line.get_linestyle() == "None"]
    through = [line for line in ax.lines if line.get_linestyle() in ("-", "--")]
    assert sorted(dots[0].get_ydata().tolist()) == sorted(feats.ravel().tolist()), "every seed is a dot"
    assert list(through[0].get_ydata()) == pytest.approx([1.0, 0.4, 0.7]), "the line follows the best seed"
    assert list(through[1].get_ydata()) == pytest.approx([1.0, 0.3, 0.2])
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(0.4) and band.max() == pytest.approx(1.0), "the band spans the seeds"
    median = privileged.plot_alignment_vs_density(p, feats, neurons, d_hidden=5).axes[0]
    assert list(next(ln for ln in median.lines if ln.get_linestyle() == "-").get_ydata()) == pytest.approx([1.0, 0.5, 0.6])
    with bad_input("best"):
        privileged.plot_alignment_vs_density(p, feats, neurons, d_hidden=5, best=torch.tensor([0, 2, 0]))


def test_static_figures_text_is_at_least_nine_points():
    W = torch.randn(7, 5, 10)
    figs = [privileged.plot_neuron_weights(W, importance=torch.ones(10), titles=list("abcdefg"), n_cols=4),
            privileged.plot_alignment_vs_density(torch.tensor([0.5, 0.1]), torch.rand(2, 3), torch.rand(2, 3), d_hidden=5)]
    for fig in figs:
        fig.canvas.draw()
        sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
        assert min(sizes) >= privileged.figures.FONT >= 9
    assert figs[0].get_figwidth() * 100 <= 672, "four panels fit the page at 100 dpi, unshrunk"
    frame = privileged.NeuronFrame(10, 5, total_steps=1000)
    frame.update(W[0], torch.ones(10), [500, 1000], torch.tensor([0.2, 0.1]), title="t")
    assert_readable(frame.figure, dpi=frame.DPI)  # exported at its own dpi, shown one to one


def test_neuron_frame_updates_in_place():
    frame = privileged.NeuronFrame(3, 2, total_steps=10)
    fig = frame.update(WN[0], torch.ones(3), [5, 10], torch.tensor([0.2, 0.1]), title="t")
    assert fig is frame.figure and fig.texts[0].get_text() == "t"
    # the neuron model's alignment counts positive weights only: each feature fires one neuron
    assert [r.get_height() for r in frame._align] == pytest.approx([1.0, 1.0, 1.0], abs=1e-6)
    assert frame.png().startswith(b"\x89PNG")
    with bad_input("W"):
        frame.update(torch.ones(3, 3), torch.ones(3), [], torch.zeros(0))
    with bad_input("n_features"):
        privileged.NeuronFrame(0, 2, 10)


def test_plot_neuron_sweep():
    W = torch.randn(4, 2, 3)
    fig = privileged.plot_neuron_sweep(W, ["a", "b", "c", "d"], importance=torch.ones(3), active=1)
    assert len(fig.frames) == 4 and fig.layout.barmode == "relative" and fig.layout.sliders[0].active == 1
    for i, trace in enumerate(fig.frames[3].data):
        assert list(trace.y) == pytest.approx(W[3, :, i].tolist())
    assert list(fig.data[0].y) == pytest.approx(W[1, :, 0].tolist())
    with bad_input("labels"):
        privileged.plot_neuron_sweep(W, ["a"])
    with bad_input("W"):
        privileged.plot_neuron_sweep(torch.ones(2, 3), ["a", "b"])
    with bad_input("active"):
        privileged.plot_neuron_sweep(W, ["a", "b", "c", "d"], active=4)


def test_neuron_explorer_trains_the_neuron_model_and_draws_its_neurons():
    explorer = NeuronExplorer(train_config=FAST, n_seeds=2, frame_interval=0.0)
    assert explorer.shown == {"density": 0.1, "importance_decay": 0.75, "n_features": 10, "d_hidden": 5}
    explorer.update(density=0.5, d_hidden=3, n_features=6)
    frame = explorer.frame
    W = explorer.result.W[0]
    assert W.shape == (3, 6)
    heights = torch.tensor([[rect.get_height() for rect in container] for container in frame._stacks])  # per feature
    assert torch.allclose(heights, W.T, atol=1e-6), "the stacked bars are the trained weights"
    alignment = [rect.get_height() for rect in frame._align]
    assert alignment == pytest.approx(privileged.basis_alignment(W[None], hidden_relu=True)[0].tolist(), abs=1e-6)
    with pytest.raises(ValueError, match="no control for"):
        explorer.update(relu=False)
    with pytest.raises(ValueError, match="no control for"):
        NeuronExplorer(relu=False)
