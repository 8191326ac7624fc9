"""Chapter 3's explorer: it retrains on every move and always ends on the last values."""

import base64
import time

import pytest

from conftest import bad_input
from superpos_lib import metrics
from superpos_lib.superposition import SuperpositionExplorer
from superpos_lib.training import TrainConfig

FAST = TrainConfig(steps=200)
DEFAULTS = {"density": 0.05, "importance_decay": 0.9, "n_features": 5, "d_hidden": 2, "relu": True}


@pytest.fixture(scope="module")
def explorer():
    return SuperpositionExplorer(train_config=FAST, n_seeds=2, frame_interval=0.0)


def test_explorer_shows_its_default_setting(explorer):
    assert explorer.shown == DEFAULTS and list(explorer.controls) == list(DEFAULTS)
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    assert explorer.result.W.shape == (1, 2, 5)
    geo = explorer.figure.axes[0]
    tips = [line.get_data()[0][1] for line in geo.lines]
    assert tips == pytest.approx(explorer.result.W[0, 0].tolist(), abs=1e-6), "figure shows the trained weights"
    assert "Trained 2 seeds" in explorer.status.value and explorer.error is None


def test_explorer_update_retrains_and_redraws(explorer):
    before = explorer.frames_drawn
    figure = explorer.update(density=0.5, n_features=6)
    assert figure is explorer.figure
    assert explorer.shown == {**DEFAULTS, "density": 0.5, "n_features": 6}
    assert explorer.frames_drawn >= before + 2, "live frames during training, then the final one"
    assert "1 − S = 0.5" in explorer.frame.title
    assert len(explorer.frame.ax_geo.lines) == 6
    assert explorer.controls["density"].value == pytest.approx(0.5) and explorer.controls["n_features"].value == 6


def test_explorer_linear_and_higher_dimensional(explorer):
    explorer.update(relu=False, d_hidden=3, n_features=5, density=0.05)
    assert explorer.frame.ax_geo.images, "W^T W replaces the 2-D picture when m != 2"
    norms = metrics.feature_norms(explorer.result.W)[0]
    assert (norms > 0.5).sum().item() == 3, "the linear model keeps exactly m features"
    assert "linear output" in explorer.frame.title
    explorer.update(relu=True, d_hidden=2)


def test_moving_a_slider_during_training_ends_on_the_last_values(explorer):
    explorer.submit(density=1.0)
    time.sleep(0.05)
    explorer.submit(density=0.2, importance_decay=0.8)
    explorer.controls["density"].value = 0.1  # a slider move by hand goes through the observer
    assert explorer.wait(30)
    assert explorer.shown == explorer.settings == {**DEFAULTS, "density": 0.1, "importance_decay": 0.8}
    assert "1 − S = 0.1," in explorer.frame.title


@pytest.mark.parametrize("changes, name", [({"density": 2.0}, "density"), ({"importance_decay": 0.3}, "importance_decay"),
                                           ({"n_features": 21}, "n_features"), ({"n_features": 5.5}, "n_features"),
                                           ({"relu": "yes"}, "relu"), ({"sparsity": 0.5}, "no control")])
def test_explorer_rejects_values_its_controls_cannot_show(explorer, changes, name):
    shown = dict(explorer.shown)
    with bad_input(name):
        explorer.update(**changes)
    assert explorer.shown == shown and explorer.settings == shown, "nothing moved"


def test_explorer_validates_its_arguments():
    with bad_input("n_seeds"):
        SuperpositionExplorer(n_seeds=0)
    with bad_input("density"):
        SuperpositionExplorer(density=5.0, train_config=FAST)


def test_explorer_displays_the_widget_with_a_static_fallback(explorer):
    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    assert base64.b64decode(bundle["image/png"]) == bytes(explorer.image.value)
    static = bundle["text/html"]
    assert f'src="data:image/png;base64,{bundle["image/png"]}"' in static, "the figure on display"
    assert '<a class="superpos-live" href="#">' in static and "Colab" in static, "and the way to the live version"
    assert "<input" not in static and "slider" not in static.lower(), "no controls that cannot work"
