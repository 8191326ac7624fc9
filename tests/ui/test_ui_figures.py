"""What every chapter's figures share: style, drawers, frames, sliders, tables, and no global state."""

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from conftest import bad_input
from superpos_lib import ui


def test_style_helpers():
    assert ui.rgb((1.0, 0.5, 0.0, 1.0)) == "rgb(255,128,0)"
    colours = ui.importance_colours(torch.tensor([1.0, 0.5, 0.1]), 3)
    assert colours.shape == (3, 4) and not np.allclose(colours[0], colours[2])
    assert np.allclose(ui.importance_colours(None, 2)[0], ui.importance_colours(None, 2)[1])
    assert ui.panel_titles(None, 2) == ["", ""] and ui.panel_titles(["a"], 1) == ["a"]
    with bad_input("titles"):
        ui.panel_titles(["a"], 2)
    assert ui.to_numpy(torch.ones(2, dtype=torch.float64)).dtype == np.float32


def test_draw_features_rejects_wrong_shape():
    ax = Figure().add_subplot()
    with bad_input("W"):
        ui.draw_features_2d(ax, torch.ones(3, 4))


def test_drawers_draw_what_they_are_given():
    fig = Figure()
    a, b, c = fig.subplots(1, 3)
    W = torch.tensor([[1.0, 0.0, -0.6], [0.0, 0.4, 0.0]])
    ui.draw_features_2d(a, W)
    assert [float(v) for line in a.lines for v in line.get_xydata()[1]] == pytest.approx([1.0, 0.0, 0.0, 0.4, -0.6, 0.0])
    bars = ui.draw_norm_bars(b, W)
    assert [r.get_width() for r in bars] == pytest.approx([1.0, 0.4, 0.6])
    im = ui.draw_gram(c, W)
    assert np.allclose(im.get_array(), (W.T @ W).numpy())
    ui.draw_loss(a, [10, 20], torch.tensor([1.0, 0.1]), total_steps=30)
    assert a.get_yscale() == "log"


def test_frame_draws_a_loss_panel_and_exports_png():
    class Demo(ui.Frame):
        def __init__(self):
            self.figure = Figure(figsize=(3, 2))
            self.ax_loss = self.figure.add_subplot()
            self._init_loss(100)

    frame = Demo()
    frame._set_loss([10, 20, 30], torch.tensor([1.0, 0.5, 0.25]), "a title")
    assert frame.title == "a title" and list(frame.ax_loss.lines[0].get_xdata()) == [10, 20, 30]
    assert frame.ax_loss.get_ylim()[0] < 0.25 and frame.png().startswith(b"\x89PNG")
    frame._set_loss([10, 20], torch.tensor([0.0, 0.0]), "very sparse: batches without a feature")
    assert frame.png().startswith(b"\x89PNG"), "a loss of exactly 0 cannot break the log axis"
    frame._set_loss([10, 20, 30], torch.tensor([0.0, 0.02, 0.02]), "")
    low, high = frame.ax_loss.get_ylim()
    assert 0 < low < 0.02 < high and frame.png().startswith(b"\x89PNG")


def test_frame_slider_and_sweep_checks():
    slider = ui.frame_slider(["a", "b", "c"], 1, prefix="p = ")
    assert slider["active"] == 1 and [s["label"] for s in slider["steps"]] == ["a", "b", "c"]
    assert slider["steps"][2]["args"][0] == ["2"] and slider["currentvalue"]["prefix"] == "p = "
    with bad_input("labels"):
        ui.check_sweep(["a"], 0, 2)
    with bad_input("active"):
        ui.check_sweep(["a", "b"], 2, 2)


def test_table_prints_narrow_and_renders_html():
    table = ui.Table(["method", "MMCS", "L0"], [["PCA <64>", 0.35712, None], ["topk (5)", 0.98, 4.85]])
    text = str(table)
    assert text.splitlines()[0].split() == ["method", "MMCS", "L0"]
    assert "0.357" in text and "–" in text and max(len(line) for line in text.splitlines()) < 40
    html = table._repr_html_()
    assert html.count("<tr>") == 3 and "PCA &lt;64&gt;" in html and 'text-align:right">0.980</td>' in html
    assert 'text-align:left">topk (5)</td>' in html, "numbers align right, names left"
    assert "4.85" in str(ui.Table(["L0"], [[4.8512]], formats={"L0": ".2f"}))
    with bad_input("formats"):
        ui.Table(["a"], [[1.0]], formats={"b": ".1f"})
    assert table.column("MMCS") == [0.35712, 0.98]
    with bad_input("name"):
        table.column("FVU")
    with bad_input("rows"):
        ui.Table(["a", "b"], [[1]])


def test_figure_builders_change_no_global_state():
    import plotly.io as pio

    from superpos_lib import features, privileged, superposition

    renderer, rc = pio.renderers.default, dict(matplotlib.rcParams)
    superposition.plot_features_sweep(torch.randn(2, 2, 3), ["a", "b"])
    privileged.plot_neuron_sweep(torch.randn(2, 2, 3), ["a", "b"])
    features.plot_readout_sweep({"x": torch.rand(2, 3)}, ["a", "b"], feature_names=["1", "2", "3"])
    superposition.plot_superposition(torch.randn(2, 2, 3))
    assert pio.renderers.default == renderer, "plotly's renderer is the front end's to choose"
    assert dict(matplotlib.rcParams) == rc
