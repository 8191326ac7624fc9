"""The contract every explorer keeps (``superpos_lib.widgets.EXPLORERS``), checked on each one.

``Cls.demo()`` builds it at its chapter's defaults; ``ex.controls`` are its ipywidgets; a reader's
moves, however fast, end with the figure made from the final control values (``ex.shown``), every
number on it finite; a value a control cannot show is refused, naming the control.
"""

import math
import random
import re
import time

import ipywidgets as W
import numpy as np
import pytest

from conftest import bad_input
from superpos_lib.ui import control_range
from superpos_lib.widgets import EXPLORERS


def _draw_value(control, rng):
    """A value the control allows, often one of its ends."""
    if hasattr(control, "options"):
        return rng.choice([o[1] if isinstance(o, tuple) else o for o in control.options])
    low, high = control_range(control)
    if isinstance(control, W.IntSlider):
        return rng.choice([low, high, rng.randint(low, high)])
    if isinstance(control, W.FloatLogSlider):
        return rng.choice([low, high, control.base ** rng.uniform(control.min, control.max)])
    return rng.choice([low, high, rng.uniform(low, high)])


def assert_figure_is_finite(fig):
    """Every number drawn is finite: line data, bar sizes, images, and the numbers in texts."""
    for ax in fig.axes:
        for line in ax.lines:
            assert np.isfinite(np.asarray(line.get_xydata(), float)).all(), ax.get_title()
        for patch in ax.patches:
            if hasattr(patch, "get_height"):
                assert math.isfinite(patch.get_height()) and math.isfinite(patch.get_width()), ax.get_title()
        for image in ax.images:
            assert np.isfinite(np.asarray(image.get_array(), float)).all(), ax.get_title()
    texts = [t.get_text() for t in fig.texts] + [t.get_text() for ax in fig.axes for t in (*ax.texts, ax.title)]
    for text in texts:
        assert not re.search(r"\b(nan|inf)\b", text.lower()), text


@pytest.fixture(scope="module", params=EXPLORERS, ids=lambda cls: cls.__name__)
def explorer(request):
    return request.param.demo(device="cpu")


def test_explorer_keys():
    assert [cls.key() for cls in EXPLORERS] == ["composition_explorer", "neuron_explorer", "superposition_explorer",
                                                "decomposition_explorer", "phase_explorer", "geometry_explorer", "computation_explorer",
                                                "memorization_explorer", "sae_explorer", "practice_explorer"]


def test_demo_shows_its_chapters_default(explorer):
    assert explorer.controls and all(isinstance(c, W.ValueWidget) for c in explorer.controls.values())
    assert explorer.shown == explorer.settings and explorer.error is None
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    assert_figure_is_finite(explorer.figure)


def test_a_storm_of_moves_ends_on_the_final_values(explorer):
    rng = random.Random(f"storm {type(explorer).__name__}")
    names = list(explorer.controls)
    for _ in range(25):
        control = explorer.controls[rng.choice(names)]
        control.value = _draw_value(control, rng)   # as a reader drags it
        time.sleep(rng.uniform(0, 0.05))
    assert explorer.wait(120), "the last move finishes"
    assert explorer.error is None, explorer.error
    assert explorer.shown == explorer.settings, "the figure is made from the final control values"
    assert_figure_is_finite(explorer.figure)


def test_update_returns_the_figure_and_refuses_what_a_control_cannot_show(explorer):
    name, control = next((n, c) for n, c in explorer.controls.items() if control_range(c) is not None)
    low, high = control_range(control)
    assert explorer.update(**{name: low}) is explorer.figure and explorer.shown[name] == low
    shown = dict(explorer.shown)
    with bad_input(name):
        explorer.update(**{name: high * 2 + 1})
    with bad_input(name):
        explorer.update(**{name: "a string"})
    assert explorer.shown == shown and explorer.settings == shown, "a refused move changes nothing"
