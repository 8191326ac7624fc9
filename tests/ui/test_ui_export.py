"""Slide-ready export: files at slide size, named, readable, and the figures left as they were."""

import json
import re
import xml.etree.ElementTree as ET

import plotly.graph_objects as go
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from conftest import bad_input
from superpos_lib import ui
from superpos_lib.ui import export


def _figure(width=6.0, height=3.0, title="Loss: WᵀW at p = 0.1", fontsize=9):
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.set_title("a panel", fontsize=fontsize)
    ax.tick_params(labelsize=fontsize)
    if title:
        fig.suptitle(title, fontsize=fontsize)
    return fig


def _font_sizes(fig):
    fig.draw_without_rendering()
    return sorted(t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip())


def _svg_size(path):
    root = ET.parse(path).getroot()  # parses: a well-formed SVG
    assert root.tag.endswith("svg")
    return root.get("width"), root.get("height"), root.get("viewBox")


def test_a_figure_becomes_a_slide_png_and_svg_named_after_its_title(tmp_path):
    paths = ui.export_figures(_figure(), tmp_path / "slides")
    assert [p.name for p in paths] == ["loss-wtw-at-p-0-1.png", "loss-wtw-at-p-0-1.svg"]
    assert all(p.exists() and p.stat().st_size > 1000 for p in paths)
    assert Image.open(paths[0]).size == (1920, 1080), "16:9 at 144 dpi"
    width, height, view = _svg_size(paths[1])
    assert (width, height) == ("960.00pt", "540.00pt"), "13.33 x 7.5 in"
    vw, vh = (float(v) for v in view.split()[2:])
    assert vw / vh == pytest.approx(16 / 9, rel=1e-3), "the drawing keeps the slide's shape"


def test_names_come_from_keys_then_titles_then_places_and_stay_unique(tmp_path):
    paths = ui.export_figures({"Fig. 3: the pentagon": _figure()}, tmp_path, formats="png")
    assert [p.name for p in paths] == ["fig-3-the-pentagon.png"]
    figs = [_figure(title=""), _figure(title="same"), _figure(title="same")]
    names = [p.name for p in ui.export_figures(figs, tmp_path, formats=["svg"])]
    assert names == ["figure-1.svg", "same.svg", "same-2.svg"]


def test_the_figure_is_left_as_it_was(tmp_path):
    fig = _figure(fontsize=6)
    before_size, before_fonts = tuple(fig.get_size_inches()), _font_sizes(fig)
    ui.export_figures(fig, tmp_path, size=(40 / 3, 7.5), min_font=14)
    assert tuple(fig.get_size_inches()) == before_size and _font_sizes(fig) == before_fonts


def _fonts_when_saved(fig, monkeypatch):
    """The figure's font sizes at each of its ``savefig`` calls."""
    seen, save = [], fig.savefig

    def spy(*args, **kwargs):
        seen.append(_font_sizes(fig))
        return save(*args, **kwargs)

    monkeypatch.setattr(fig, "savefig", spy)
    return seen


def test_small_text_is_enlarged_to_min_font_on_the_slide(tmp_path, monkeypatch):
    wide = _figure(width=40 / 3, height=7.5, fontsize=6)              # slide-sized: not scaled
    seen = _fonts_when_saved(wide, monkeypatch)
    ui.export_figures(wide, tmp_path, formats="png", min_font=14)
    assert seen and min(seen[0]) == pytest.approx(14), "6-pt text written at 14 pt"
    ui.export_figures(wide, tmp_path, formats="png", min_font=0)
    assert min(seen[1]) == pytest.approx(6), "min_font=0 leaves the text alone"
    small = _figure(width=20 / 3, height=3.75, fontsize=9)             # scaled by 2: 9 pt -> 18 pt
    seen = _fonts_when_saved(small, monkeypatch)
    ui.export_figures(small, tmp_path, formats="png", min_font=14)
    assert min(seen[0]) == pytest.approx(9), "text large enough on the slide is kept"


def test_native_and_custom_sizes(tmp_path):
    png = ui.export_figures(_figure(5, 2), tmp_path, formats="png", size="native", dpi=100)[0]
    assert Image.open(png).size == (500, 200)
    png, svg = ui.export_figures(_figure(5, 2), tmp_path, size=(10, 10), dpi=50)
    assert Image.open(png).size == (500, 500)
    assert _svg_size(svg)[:2] == ("720.00pt", "720.00pt")


def test_a_book_figure_exports(tmp_path):
    import torch

    from superpos_lib import superposition

    W = torch.randn(3, 2, 5, generator=torch.Generator().manual_seed(0))
    fig = superposition.plot_superposition(W, titles=["a", "b", "c"])
    paths = ui.export_figures({"gram": fig}, tmp_path)
    assert [p.name for p in paths] == ["gram.png", "gram.svg"] and Image.open(paths[0]).size == (1920, 1080)


def _plotly_figure():
    fig = go.Figure(go.Bar(x=[1, 2], y=[3, 4]))
    fig.update_layout(title="A slider", height=400, width=600, margin={"l": 20, "r": 20, "t": 40, "b": 20},
                      xaxis={"tickfont": {"size": 10}})
    return fig


def _plotly_json(html):
    return json.loads(re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*(\{.*?\}),\s*\{", html, re.DOTALL).group(2))


def test_a_plotly_figure_is_written_as_offline_html_at_slide_size(tmp_path):
    fig = _plotly_figure()
    before = fig.to_dict()
    (path,) = ui.export_figures(fig, tmp_path, formats="html")
    html = path.read_text()
    assert path.name == "a-slider.html" and not re.search(r"<script[^>]*src=", html) and len(html) > 1_000_000, "plotly.js inside"
    layout = _plotly_json(html)
    scale = min(1280 / 600, 720 / 400)
    assert (layout["width"], layout["height"]) == (1280, 720)
    assert layout["xaxis"]["tickfont"]["size"] == pytest.approx(max(10 * scale, 14 * 96 / 72))
    assert layout["margin"]["l"] == pytest.approx(20 * scale)
    assert fig.to_dict() == before, "the figure itself is unchanged"


def test_formats_that_cannot_be_written_are_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "has_kaleido", lambda: False)
    with bad_input("formats"):
        ui.export_figures([_figure(), _plotly_figure()], tmp_path / "a")          # png of a plotly figure
    with bad_input("formats"):
        ui.export_figures([_figure(), _plotly_figure()], tmp_path / "b", formats="html")  # html of matplotlib
    with bad_input("formats"):
        ui.export_figures(_figure(), tmp_path / "c", formats=("png", "html"))   # html of no figure
    assert not any((tmp_path / d).exists() for d in "abc")


def test_a_chapters_mixed_figures_go_in_one_call(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "has_kaleido", lambda: False)
    paths = ui.export_figures([_figure(title="m"), _plotly_figure()], tmp_path, formats=("png", "svg", "html"))
    assert [p.name for p in paths] == ["m.png", "m.svg", "a-slider.html"]


def test_plotly_images_go_through_kaleido_at_slide_size(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(export, "has_kaleido", lambda: True)
    monkeypatch.setattr(go.Figure, "write_image", lambda self, path, **kw: calls.append((path.name, kw)))
    ui.export_figures(_plotly_figure(), tmp_path, formats=("png",))
    assert calls == [("a-slider.png", {"format": "png", "width": 1280, "height": 720, "scale": 1.5})]


def test_figures_in_picks_the_figures_of_a_notebook(tmp_path):
    import ipywidgets as W

    class _Shown(ui.Explorer):
        trains = False

        def __init__(self):
            super().__init__({"n": W.IntSlider(1, min=1, max=2)})

        def run(self, settings, job):
            return settings["n"]

        def draw(self, settings, result):
            frame = ui.Frame()
            frame.figure = _figure(2, 1, title="explorer")
            return frame

        def status_line(self, settings, result, seconds):
            return ""

    fig, plot = _figure(title=""), _plotly_figure()
    found = ui.figures_in({3: "a table", 4: fig, 12: plot, 5: None, 7: _Shown()})
    assert list(found) == ["cell-04", "cell-07-explorer", "cell-12-a-slider"]
    assert found["cell-04"] is fig and found["cell-12-a-slider"] is plot
    with bad_input("outputs"):
        ui.figures_in([fig])


@pytest.mark.parametrize("name, call", [
    ("figures", lambda d: ui.export_figures([], d)),
    ("figures", lambda d: ui.export_figures([_figure(), "not a figure"], d)),
    ("figures", lambda d: ui.export_figures("fig.png", d)),
    ("figures", lambda d: ui.export_figures({"": _figure()}, d)),
    ("directory", lambda d: ui.export_figures(_figure(), 5)),
    ("directory", lambda d: ui.export_figures(_figure(), d / "file.txt")),
    ("formats", lambda d: ui.export_figures(_figure(), d, formats=())),
    ("formats", lambda d: ui.export_figures(_figure(), d, formats=("jpg",))),
    ("size", lambda d: ui.export_figures(_figure(), d, size="a4")),
    ("size", lambda d: ui.export_figures(_figure(), d, size=(0, 7.5))),
    ("min_font", lambda d: ui.export_figures(_figure(), d, min_font=-1)),
    ("dpi", lambda d: ui.export_figures(_figure(), d, dpi=0)),
])
def test_bad_input_names_the_argument(tmp_path, name, call):
    (tmp_path / "file.txt").write_text("x")
    with bad_input(name):
        call(tmp_path)
