"""Chapter 7's figures and explorer frame: what they draw, and bad input."""

import matplotlib
import pytest
import torch

from conftest import bad_input
from superpos_lib.computation import (AsymmetricMotif, ComputationFrame, computation_title, find_asymmetric_motifs,
                                      plot_motif, plot_responses, plot_sides_vs_density, plot_vulnerability)


def _motif_model():
    W1 = torch.tensor([[[2.0, -0.5], [1.0, 0.0]]])
    W2 = torch.tensor([[[0.1, 1.0], [2.0, -4.0]]])
    return W1, W2, torch.zeros(1, 2)


def test_plot_responses_draws_one_line_per_feature_and_the_target():
    W1 = torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]]).expand(2, -1, -1)
    W2 = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]]).expand(2, -1, -1)
    fig = plot_responses(W1, W2, torch.zeros(2, 2), titles=["a", "b"])
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and [a.get_title() for a in fig.axes] == ["a", "b"]
    x, y = ax.lines[1].get_data()
    assert abs(y[-1] - 1) < 1e-6 and abs(y[0] - 1) < 1e-6  # feature 0 traces the V
    assert max(abs(v) for v in ax.lines[2].get_ydata()) == 0  # feature 1 is flat


def test_plot_sides_vs_density_marks_the_neuron_limit():
    fig = plot_sides_vs_density(torch.tensor([1.0, 0.1]), torch.tensor([36, 80]), torch.tensor([18, 1]),
                                torch.tensor([0, 40]), d_hidden=40)
    ax, ax2 = fig.axes
    assert list(ax.lines[0].get_ydata()) == [36, 80] and list(ax.lines[1].get_ydata()) == [36, 2]
    assert any("m = 40" in t.get_text() for t in ax.texts) and list(ax2.lines[0].get_ydata()) == [0, 40]
    with bad_input("n_full"):
        plot_sides_vs_density(torch.tensor([1.0, 0.1]), torch.tensor([36, 80]), torch.tensor([18]),
                              torch.tensor([0, 40]), d_hidden=40)
    with bad_input("d_hidden"):
        plot_sides_vs_density(torch.tensor([1.0]), torch.tensor([36]), torch.tensor([18]), torch.tensor([0]), d_hidden=0)


def test_plot_motif_sums_to_the_output():
    W1, W2, b = _motif_model()
    (motif,), = find_asymmetric_motifs(W1, W2, b)
    fig = plot_motif(motif, W1[0], W2[0], b[0])
    ax2 = fig.axes[1]
    widths = [p.get_width() for p in ax2.patches]
    assert widths[0] == pytest.approx(4) and widths[1] == pytest.approx(-4)  # push, then the inhibitor
    assert widths[-1] == pytest.approx(0)  # the output
    assert ax2.get_yticklabels()[-1].get_text().startswith("output")
    with bad_input("motif"):
        plot_motif("motif", W1[0], W2[0], b[0])


def test_plot_vulnerability_skips_nan_and_draws_medians():
    v = {"l2": torch.tensor([[1.0, float("nan")], [2.0, 3.0]]), "linf": torch.tensor([[1.0, 1.0], [4.0, 8.0]])}
    fig = plot_vulnerability(torch.tensor([1.0, 2.0]), v, xlabel="x", labels=["a", "b"],
                             reference={"l2": (torch.arange(3.0).numpy(), torch.arange(3.0).numpy())})
    ax = fig.axes[0]
    assert len(ax.collections) == 4 and len(ax.collections[0].get_offsets()) == 1  # nan skipped
    assert ax.collections[3].get_offsets()[0][1] == pytest.approx(2.5)  # median of model b
    assert len(fig.axes) == 2 and ax.get_yscale() == "log"
    with bad_input("vulnerability"):
        plot_vulnerability(torch.ones(2), {}, xlabel="x")
    with bad_input("superposition"):
        plot_vulnerability(torch.ones(3), v, xlabel="x")
    with bad_input("labels"):
        plot_vulnerability(torch.ones(2), v, xlabel="x", labels=["a"])


def test_frame_redraws_in_place():
    frame = ComputationFrame(2, 2, 100)
    W1, W2, b = _motif_model()
    fig = frame.update(W1[0], W2[0], b[0], torch.ones(2), [10, 20], torch.tensor([0.1, 0.05]),
                       title=computation_title({"n_features": 2, "d_hidden": 2, "density": 0.03, "importance_decay": 0.9}))
    assert fig is frame.figure and "|x| model, n = 2, m = 2" in frame.title
    assert frame.png().startswith(b"\x89PNG")
    with bad_input("W1"):
        frame.update(W1[0].T[:1], W2[0], b[0], torch.ones(2), [10], torch.tensor([0.1]))
    with bad_input("n_features"):
        ComputationFrame(0, 2, 100)
