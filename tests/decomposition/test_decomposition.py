"""Chapter 4's figures and explorer: call them, check what they draw."""

import math

import pytest
import torch
from matplotlib.text import Text

from conftest import assert_readable, bad_input
from superpos_lib import decomposition
from superpos_lib.decomposition import DecompositionExplorer
from superpos_lib.metrics import LossTerms


def test_interference_vs_angle_and_loss_terms():
    fig = decomposition.plot_interference_vs_angle()
    lin, relu = fig.axes[0].lines[:2]
    assert lin.get_ydata()[-1] == pytest.approx(1.0) and relu.get_ydata()[-1] == 0.0
    terms = LossTerms(torch.tensor([0.1, 0.002]), torch.tensor([0.0, 0.0005]), torch.zeros(2))
    fig = decomposition.plot_loss_terms(["a", "b"], terms, measured=torch.tensor([0.1, 0.0025]))
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights[:4] == pytest.approx([0.1, 0.002, 0.0, 0.0005], rel=1e-5)
    low, high = ax.get_ylim()
    assert ax.get_yscale() == "log" and low < 0.002 and high > 0.1, "a log axis shows both losses, neither clipped"
    with bad_input("labels"):
        decomposition.plot_loss_terms(["a"], terms)
    with bad_input("terms"):
        decomposition.plot_loss_terms(["a", "b"], LossTerms(torch.zeros(2), torch.zeros(2), torch.zeros(2)))


def test_decomposition_frame_updates_bars():
    frame = decomposition.DecompositionFrame(3)
    W = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    fig = frame.update(W, [0.0, 0.3, 0.3, 0.01], title="t")
    assert [b.get_height() for b in frame._pair_lin] == pytest.approx([1.0, 0.0, 0.0])
    assert [b.get_height() for b in frame._pair_relu] == pytest.approx([0.0, 0.0, 0.0])
    assert [b.get_width() for b in frame._loss_bars] == pytest.approx([0.0, 0.3, 0.3, 0.01])
    assert [t.get_text() for t in frame.ax_loss.get_yticklabels()] == list(frame.names)
    tips = [label.get_position() for label in frame._labels]   # each feature's number beyond its tip
    assert tips[0][0] > 1.0 and tips[1][0] < -1.0 and tips[2][1] > 1.0
    assert_readable(fig, dpi=frame.DPI)  # exported at its own dpi, shown one to one
    for static in (decomposition.plot_interference_vs_angle(), decomposition.plot_loss_terms(["a"], LossTerms(
            torch.ones(1), torch.zeros(1), torch.zeros(1)))):
        static.canvas.draw()
        sizes = [t.get_fontsize() for t in static.findobj(Text) if t.get_visible() and t.get_text()]
        assert min(sizes) >= decomposition.figures.FONT >= 9
    assert fig is frame.figure and frame.png()[:4] == b"\x89PNG"
    with bad_input("W"):
        frame.update(torch.zeros(2, 4), [0, 0, 0, 0])


def test_decomposition_explorer_callbacks():
    ex = DecompositionExplorer(n_samples=2**13)
    ex.update(angle_1=0, angle_2=120, angle_3=240, length_1=1, length_2=1, length_3=1, density=0.02)
    tri = ex.losses
    assert tri["benefit"] == pytest.approx(0.0, abs=1e-7)
    assert tri["linear_total"] == pytest.approx(tri["interference"])
    assert tri["relu_total"] < 0.1 * tri["linear_total"]
    ex.controls["angle_2"].value = 30.0                           # a reader's slider move redraws
    assert ex.losses["relu_total"] > tri["relu_total"]
    assert ex.frame._pair_relu[0].get_height() == pytest.approx(math.cos(math.radians(30)) ** 2, rel=1e-5)
    assert "image/png" in ex._repr_mimebundle_()
    # ipywidgets' own slider width and short readouts, so that no readout is cut off
    assert {c.layout.width for c in ex.controls.values()} == {"300px"}
    assert ex.controls["angle_2"].readout_format == ".0f" and ex.controls["density"].readout_format == ".3f"
    rows = ex.widget.children[0].children
    assert [c.description for c in rows[0].children] == ["angle 1 (°)", "length 1"]
    with pytest.raises(ValueError, match="angles"):
        DecompositionExplorer(angles=(0, 1))
    with pytest.raises(ValueError, match="density"):
        ex.update(density=2.0)
    with pytest.raises(ValueError, match="angle_1"):
        ex.update(angle_1=400)
