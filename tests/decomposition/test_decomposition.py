"""Chapter 4's figures and explorer: call them, check what they draw."""

import math

import pytest
import torch

from conftest import bad_input
from superpos_lib import decomposition
from superpos_lib.decomposition import DecompositionExplorer


def test_interference_vs_angle_and_loss_terms():
    from superpos_lib.metrics import LossTerms

    fig = decomposition.plot_interference_vs_angle()
    lin, relu = fig.axes[0].lines[:2]
    assert lin.get_ydata()[-1] == pytest.approx(1.0) and relu.get_ydata()[-1] == 0.0
    terms = LossTerms(torch.tensor([0.1, 0.2]), torch.tensor([0.0, 0.05]), torch.zeros(2))
    fig = decomposition.plot_loss_terms(["a", "b"], terms, measured=torch.tensor([0.1, 0.25]))
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights[:4] == pytest.approx([0.1, 0.2, 0.0, 0.05])
    with pytest.raises(ValueError, match="labels"):
        decomposition.plot_loss_terms(["a"], terms)


def test_decomposition_frame_updates_bars():
    frame = decomposition.DecompositionFrame(3)
    W = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    fig = frame.update(W, [0.0, 0.3, 0.3, 0.01], title="t")
    assert [b.get_height() for b in frame._pair_lin] == pytest.approx([1.0, 0.0, 0.0])
    assert [b.get_height() for b in frame._pair_relu] == pytest.approx([0.0, 0.0, 0.0])
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
    with pytest.raises(ValueError, match="angles"):
        DecompositionExplorer(angles=(0, 1))
    with pytest.raises(ValueError, match="density"):
        ex.update(density=2.0)
    with pytest.raises(ValueError, match="angle_1"):
        ex.update(angle_1=400)
