"""Chapter 6's 3-D polytope viewer: call it, check the figure it returns."""

import math

import plotly.graph_objects as go
import pytest
import torch

from conftest import bad_input
from superpos_lib import metrics
from superpos_lib.geometry.viewer import polytope_viewer

OCTAHEDRON = torch.cat([torch.eye(3), -torch.eye(3)], 1)  # three antipodal pairs: every D = 1/2
TETRAHEDRON = torch.tensor([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float).T / math.sqrt(3)
PAIR_AND_TWO = torch.tensor([[1.0, -1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])  # D = 1/2, 1/2, 1, 1


def _per_model(fig):
    """The figure's traces grouped by the scene they are drawn in."""
    scenes = {}
    for trace in fig.data:
        scenes.setdefault(trace.scene, []).append(trace)
    return scenes


def test_one_scene_per_model_with_lines_tips_and_hull():
    fig = polytope_viewer([TETRAHEDRON, OCTAHEDRON, PAIR_AND_TWO], ["tetrahedron", "octahedron", "pair + two"], cols=2)
    assert isinstance(fig, go.Figure)
    scenes = _per_model(fig)
    assert list(scenes) == ["scene", "scene2", "scene3"]
    for traces, n in zip(scenes.values(), (4, 6, 4)):
        assert [t.type for t in traces] == ["scatter3d", "scatter3d", "mesh3d"]
        lines, tips, hull = traces
        assert lines.mode == "lines" and tips.mode == "markers" and len(tips.x) == n
        assert sum(x is None for x in lines.x) == n  # one segment per feature, origin to tip
        assert hull.alphahull == 0 and 0 < hull.opacity < 1 and len(hull.x) == n
    assert [a.text for a in fig.layout.annotations] == ["tetrahedron", "octahedron", "pair + two"]
    assert all(a.font.size >= 12 for a in fig.layout.annotations) and fig.layout.font.size >= 12
    # a grid of 2 columns: scenes 1 and 2 share a row, scene 3 starts the next one
    assert fig.layout.scene.domain.y == fig.layout.scene2.domain.y
    assert fig.layout.scene3.domain.x[0] == 0 and fig.layout.scene3.domain.y[1] < fig.layout.scene.domain.y[0]
    assert not fig.layout.showlegend and not any(t.showlegend for t in fig.data)


def test_scenes_are_equal_cubes_with_hidden_axes():
    fig = polytope_viewer([OCTAHEDRON, 0.5 * TETRAHEDRON], ["a", "b"])
    ranges = set()
    for name in ("scene", "scene2"):
        scene = fig.layout[name]
        assert scene.aspectmode == "cube"
        for axis in (scene.xaxis, scene.yaxis, scene.zaxis):
            assert axis.visible is False
            ranges.add(tuple(axis.range))
    (low, high), = ranges  # one range for every axis of every scene
    assert low == -high and high >= 1.0
    assert fig.layout.scene.camera.eye.x > 0


def test_hover_reads_norm_and_dimensionality():
    fig = polytope_viewer([PAIR_AND_TWO], ["pair + two"])
    tips = fig.data[1]
    assert tips.hovertemplate == "%{text}<extra></extra>"
    assert len(tips.text) == 4
    for i, (text, d) in enumerate(zip(tips.text, ("0.50", "0.50", "1.00", "1.00"))):
        assert text.startswith(f"feature {i} · ") and "‖ = 1.00" in text and f"D<sub>{i}</sub> = {d}" in text
    assert fig.data[0].hoverinfo == "skip" and fig.data[2].hoverinfo == "skip"


def test_features_are_coloured_by_dimensionality_on_one_fixed_scale():
    fig = polytope_viewer([PAIR_AND_TWO, OCTAHEDRON], ["a", "b"])
    tips = [t for t in fig.data if t.type == "scatter3d" and t.mode == "markers"]
    expected = metrics.feature_dimensionality(PAIR_AND_TWO[None])[0]
    assert torch.allclose(torch.tensor(tips[0].marker.color), expected, atol=1e-6)
    for t in tips:
        assert (t.marker.cmin, t.marker.cmax) == (0.0, 1.0)
    assert [t.marker.showscale for t in tips] == [True, False]  # one colour bar, labelled
    assert "dimensionality" in tips[0].marker.colorbar.title.text
    assert "1/2" in tips[0].marker.colorbar.ticktext


def test_given_dimensionality_is_shown():
    d = torch.tensor([0.1, 0.2, 0.3, 0.4])
    fig = polytope_viewer([PAIR_AND_TWO], ["x"], dimensionality=[d])
    assert fig.data[1].marker.color == pytest.approx(d.tolist())
    assert "D<sub>3</sub> = 0.40" in fig.data[1].text[3]


def test_models_of_different_sizes_and_no_hull_when_tips_span_no_solid():
    flat = torch.tensor([[1.0, 0, -1], [0, 1, 0], [0, 0, 0]])  # three coplanar tips
    dropped = torch.cat([OCTAHEDRON, torch.zeros(3, 2)], 1)  # two features not represented
    fig = polytope_viewer([flat, dropped], ["flat", "dropped"])
    scenes = _per_model(fig)
    assert [t.type for t in scenes["scene"]] == ["scatter3d", "scatter3d"]
    assert len(scenes["scene2"][1].x) == 8 and len(scenes["scene2"][2].x) == 6  # the hull of the six kept


def test_layout_fits_a_page():
    one = polytope_viewer([OCTAHEDRON] * 3, list("abc"))
    two = polytope_viewer([OCTAHEDRON] * 4, list("abcd"))
    assert one.layout.width is None  # the page's width (plotly's responsive config)
    assert 250 <= one.layout.height < two.layout.height <= 800


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"weights": []}, "weights"),
        ({"weights": OCTAHEDRON}, "weights"),
        ({"weights": [torch.ones(2, 4)]}, "weights[0]"),
        ({"weights": [OCTAHEDRON, torch.ones(3, 4, 1)]}, "weights[1]"),
        ({"weights": [torch.ones(3, 0)]}, "weights[0]"),
        ({"weights": [torch.full((3, 2), float("nan"))]}, "weights[0]"),
        ({"titles": ["only one"]}, "titles"),
        ({"titles": "ab"}, "titles"),
        ({"dimensionality": [torch.ones(6)]}, "dimensionality"),
        ({"dimensionality": [torch.ones(6), torch.ones(5)]}, "dimensionality[1]"),
        ({"cols": 0}, "cols"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    args = {"weights": [OCTAHEDRON, PAIR_AND_TWO], "titles": ["a", "b"]} | kwargs
    with bad_input(name):
        polytope_viewer(args.pop("weights"), args.pop("titles"), **args)
