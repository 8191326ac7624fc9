import math
import threading
import time

import pytest
import torch

from conftest import bad_input
from superpos_lib import metrics
from superpos_lib.training import TrainConfig
from superpos_lib import privileged
from superpos_lib.widgets import ExplorerSettings, LatestOnlyWorker, NeuronExplorer, SuperpositionExplorer

FAST = TrainConfig(steps=200)


def test_worker_supersedes_a_running_job():
    log, started = [], threading.Event()

    def job(name, is_stale):
        started.set()
        for _ in range(200):
            if is_stale():
                log.append((name, "stopped"))
                return
            time.sleep(0.005)
        log.append((name, "done"))

    worker = LatestOnlyWorker(job)
    worker.submit("first")
    started.wait(2)
    worker.submit("second")
    worker.submit("third")
    assert worker.wait(10)
    assert log == [("first", "stopped"), ("third", "done")], "a queued job is dropped, a running one stopped"


def test_worker_reraises_job_errors():
    def job(_, __):
        raise RuntimeError("boom")

    worker = LatestOnlyWorker(job)
    worker.submit(1)
    with pytest.raises(RuntimeError, match="boom"):
        worker.wait(5)
    assert worker.wait(1), "the error is reported once"


def test_settings_validate():
    with bad_input("density"):
        ExplorerSettings(density=0.0)
    with bad_input("importance_decay"):
        ExplorerSettings(importance_decay=1.5)
    with bad_input("n_features"):
        ExplorerSettings(n_features=0)
    assert "ReLU" in ExplorerSettings().title() and "linear" in ExplorerSettings(relu=False).title()


@pytest.fixture(scope="module")
def explorer():
    return SuperpositionExplorer(train_config=FAST, n_seeds=2, frame_interval=0.0)


def test_explorer_shows_its_default_setting(explorer):
    assert explorer.shown == ExplorerSettings()
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    assert explorer.result.W.shape == (1, 2, 5)
    geo = explorer.figure.axes[0]
    tips = [line.get_data()[0][1] for line in geo.lines]
    assert tips == pytest.approx(explorer.result.W[0, 0].tolist(), abs=1e-6), "figure shows the trained weights"
    assert "Trained 2 seeds" in explorer.status.value


def test_explorer_update_retrains_and_redraws(explorer):
    before = explorer.frames_drawn
    frame = explorer.update(density=0.5, n_features=6)
    assert explorer.shown == ExplorerSettings(density=0.5, n_features=6)
    assert explorer.frames_drawn >= before + 2, "live frames during training, then the final one"
    assert "1 − S = 0.5" in frame.figure.texts[0].get_text()
    assert len(frame.ax_geo.lines) == 6
    assert explorer.widgets["density"].value == pytest.approx(0.5) and explorer.widgets["n_features"].value == 6


def test_explorer_linear_and_higher_dimensional(explorer):
    frame = explorer.update(relu=False, d_hidden=3, n_features=5, density=0.05)
    assert frame.ax_geo.images, "W^T W replaces the 2-D picture when m != 2"
    norms = metrics.feature_norms(explorer.result.W)[0]
    assert (norms > 0.5).sum().item() == 3, "the linear model keeps exactly m features"
    assert "linear output" in frame.figure.texts[0].get_text()
    explorer.update(relu=True, d_hidden=2)


def test_moving_a_slider_during_training_ends_on_the_last_values(explorer):
    explorer.submit(density=1.0)
    time.sleep(0.05)
    explorer.submit(density=0.2, importance_decay=0.8)
    explorer.widgets["density"].value = 0.1  # a slider move by hand goes through the observer
    assert explorer.wait(30)
    assert explorer.shown == explorer.settings == ExplorerSettings(density=0.1, importance_decay=0.8)
    assert "1 − S = 0.1," in explorer.figure.texts[0].get_text()


def test_explorer_rejects_bad_values(explorer):
    with bad_input("density"):
        explorer.update(density=2.0)
    with pytest.raises(TypeError):
        explorer.update(sparsity=0.5)
    with bad_input("n_seeds"):
        SuperpositionExplorer(n_seeds=0)


def test_explorer_displays_the_widget_with_a_static_fallback(explorer):
    import base64

    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    assert base64.b64decode(bundle["image/png"]) == bytes(explorer.image.value)


def test_neuron_explorer_trains_the_neuron_model_and_draws_its_neurons():
    explorer = NeuronExplorer(train_config=FAST, n_seeds=2, frame_interval=0.0)
    assert set(explorer.widgets) == {"density", "importance_decay", "n_features", "d_hidden"}
    assert explorer.shown == ExplorerSettings(density=0.1, importance_decay=0.75, n_features=10, d_hidden=5)
    frame = explorer.update(density=0.5, d_hidden=3, n_features=6)
    W = explorer.result.W[0]
    assert W.shape == (3, 6)
    heights = torch.tensor([[rect.get_height() for rect in container] for container in frame._stacks])  # per feature
    assert torch.allclose(heights, W.T, atol=1e-6), "the stacked bars are the trained weights"
    alignment = [rect.get_height() for rect in frame._align]
    assert alignment == pytest.approx(privileged.basis_alignment(W[None])[0].tolist(), abs=1e-6)
    with pytest.raises(ValueError, match="no control for"):
        explorer.update(relu=False)


def test_composition_explorer_redraws_on_each_slider():
    from superpos_lib.widgets import CompositionExplorer

    explorer = CompositionExplorer()
    before = bytes(explorer.image.value)
    out = explorer.update(0.2, 0.9, 0.5)
    assert torch.allclose(out["probe on linear r"], torch.tensor([0.2, 0.9, 0.5]), atol=1e-3)
    assert bytes(explorer.image.value) != before and bytes(explorer.image.value).startswith(b"\x89PNG")
    explorer.sliders[2].value = 0.1  # a slider move redraws through the observer
    assert explorer.readouts["true value"][2].item() == pytest.approx(0.1)
    assert "image/png" in explorer._repr_mimebundle_()
    with bad_input("values"):
        explorer.update(0.2, 0.3)
    with bad_input("feature values"):
        explorer.update(0.2, 0.3, 1.0)
    with bad_input("values"):
        CompositionExplorer(values=(0.1,))


def test_decomposition_explorer_callbacks():
    from superpos_lib.widgets import DecompositionExplorer

    ex = DecompositionExplorer(n_samples=2**13)
    tri = ex.update(angles=(0, 120, 240), lengths=(1, 1, 1), density=0.02)
    assert tri["benefit"] == pytest.approx(0.0, abs=1e-7)
    assert tri["linear_total"] == pytest.approx(tri["interference"])
    assert tri["relu_total"] < 0.1 * tri["linear_total"]
    ex.angle_sliders[1].value = 30.0                              # a reader's slider move redraws
    assert ex.values["relu_total"] > tri["relu_total"]
    assert ex.frame._pair_relu[0].get_height() == pytest.approx(math.cos(math.radians(30)) ** 2, rel=1e-5)
    assert "image/png" in ex._repr_mimebundle_()
    with pytest.raises(ValueError, match="angles"):
        ex.update(angles=(0, 1))
    with pytest.raises(ValueError, match="density"):
        ex.update(density=2.0)


def test_phase_explorer_retrains_on_slider_moves():
    from superpos_lib import phases
    from superpos_lib.widgets import PhaseExplorer

    ex = PhaseExplorer(r=1.0, p=0.05, n_seeds=4, train_config=TrainConfig(steps=300, batch_size=256), device="cpu")
    assert ex.label == phases.SUPERPOSED
    ex.update(r=5.0, p=0.9)
    assert ex.label == phases.DEDICATED
    assert "dedicated" in ex.figure.texts[0].get_text()
    ex.p_slider.value = 0.02                                      # as a reader would
    ex.wait()
    assert ex.label == phases.SUPERPOSED
    with bad_input("p"):
        ex.update(p=0.0)
