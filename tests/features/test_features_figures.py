"""Chapter 1's figures and explorer: call them, check what they draw."""

import numpy as np
import pytest
import torch

from conftest import assert_readable, bad_input
from superpos_lib import features
from superpos_lib.features import CompositionExplorer


def test_plot_readout_scatter():
    true = torch.rand(50, 2)
    fig = features.plot_readout_scatter(true, true * 0.5, titles=["a", "b"], r2=[1.0, 0.25])
    assert len(fig.axes) == 2 and "R² = 0.250" in fig.axes[1].get_title()
    offsets = fig.axes[0].collections[0].get_offsets()
    assert np.allclose(offsets[:, 1], 0.5 * offsets[:, 0])
    five = features.plot_readout_scatter(torch.rand(50, 5), torch.rand(50, 5), titles=["x1 from r"] * 5, r2=[0.5] * 5)
    assert_readable(five)
    with bad_input("titles"):
        features.plot_readout_scatter(true, true, titles=["a"], r2=[1.0, 1.0])
    with bad_input("read"):
        features.plot_readout_scatter(true, torch.rand(50, 3), titles=["a", "b"], r2=[1.0, 1.0])


def test_composition_frame():
    frame = features.CompositionFrame(3, 3)
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
    fig = features.plot_readout_sweep(readouts, ["a", "b", "c", "d"], feature_names=["x1", "x2", "x3"])
    assert len(fig.frames) == 4 and fig.layout.barmode == "group"
    assert list(fig.frames[2].data[0].y) == pytest.approx(readouts["true"][2].tolist())
    assert fig.frames[1].data[1].y[2] is None
    # The same colours as the explorer's bars (matplotlib's C0, C1, ...), in every frame: blue, then orange.
    assert [t.marker.color for t in fig.frames[3].data] == ["rgb(31,119,180)", "rgb(255,127,14)"]
    with bad_input("readouts"):
        features.plot_readout_sweep({}, [], feature_names=[])
    with bad_input("labels"):
        features.plot_readout_sweep(readouts, ["a"], feature_names=["x1", "x2", "x3"])


def test_composition_explorer_redraws_on_each_slider():
    explorer = CompositionExplorer()
    before = bytes(explorer.image.value)
    explorer.update(x1=0.2, x2=0.9, x3=0.5)
    assert torch.allclose(explorer.readouts["probe on linear r"], torch.tensor([0.2, 0.9, 0.5]), atol=1e-3)
    assert bytes(explorer.image.value) != before and bytes(explorer.image.value).startswith(b"\x89PNG")
    explorer.controls["x3"].value = 0.1  # a slider move redraws through the observer
    assert explorer.readouts["true value"][2].item() == pytest.approx(0.1)
    assert "image/png" in explorer._repr_mimebundle_()
    with bad_input("x3"):
        explorer.update(x3=1.0)
    assert explorer.readouts["true value"][2].item() == pytest.approx(0.1), "a rejected value changes nothing"
    with bad_input("values"):
        CompositionExplorer(values=(0.1,))
