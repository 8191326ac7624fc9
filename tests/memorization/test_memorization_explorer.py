"""Chapter 8's explorer: its frame, and the explorer training one model per move."""

import numpy as np
import pytest
import torch

from conftest import assert_laid_out, assert_readable, bad_input
from superpos_lib.memorization import (EXPLORER_TRAINING, SIZES, MemorizationExplorer, MemorizationFrame,
                                       finite_datasets, memorization_title, regimes)
from superpos_lib.memorization.explorer import EXPLORER_SIZES
from superpos_lib.training import TrainConfig

FAST = TrainConfig(steps=100, batch_size=1, lr=0.05, weight_decay=1e-2, threads=1)
WHO = ("memorization", "generalization", "neither examples nor features", "examples and features both")


def test_title_names_the_setting():
    assert memorization_title({"n_examples": 5, "density": 0.05}) == "T = 5 examples, n = 200, m = 2, 1 − S = 0.05"
    assert set(EXPLORER_SIZES) <= set(SIZES) and max(EXPLORER_SIZES) == 300 and EXPLORER_TRAINING.steps > FAST.steps


def test_frame_redraws_in_place():
    frame = MemorizationFrame(6, 100)
    W = torch.tensor([[1.0, 0.0, -0.5, 0.0, 0.0, 0.2], [0.0, 0.5, 0.5, 0.0, 0.0, 0.1]])
    H = torch.tensor([[3.0, -1.0, 0.0], [0.0, 1.0, -1.0]])
    fig = frame.update(W, H, [10, 20], torch.tensor([0.5, 0.2]), title="a title")
    assert fig is frame.figure and frame.title == "a title"
    assert np.allclose(frame.ax_features.collections[1].get_offsets(), W.T.numpy())
    assert np.allclose(frame.ax_examples.collections[1].get_offsets(), H.T.numpy())
    assert frame.ax_examples.get_xlim() == pytest.approx((-3.45, 3.45)) and frame.ax_examples.texts[-1].get_text() == "max 3"
    frame.update(W, H[:, :2] / 3, [10], torch.tensor([0.5]))  # fewer examples, smaller scale
    assert len(frame.ax_examples.collections[1].get_offsets()) == 2 and frame.ax_examples.get_xlim()[1] < 1.2
    assert frame.png().startswith(b"\x89PNG")
    with bad_input("W"):
        frame.update(W[:, :5], H, [10], torch.tensor([0.5]))
    with bad_input("H"):
        frame.update(W, torch.ones(3, 3), [10], torch.tensor([0.5]))
    with bad_input("n_features"):
        MemorizationFrame(0, 100)
    with bad_input("total_steps"):
        MemorizationFrame(6, 0)


@pytest.fixture(scope="module")
def explorer():
    return MemorizationExplorer(n_examples=5, train_config=FAST, frame_interval=0.0, device="cpu")


def test_explorer_trains_and_reports_the_regime(explorer):
    assert explorer.shown == {"n_examples": 5, "density": 0.05} and explorer.error is None
    dd = explorer.result
    assert dd.W.shape == (1, 2, 200) and dd.n_examples.tolist() == [5] and dd.logged_steps[-1] == 100
    assert torch.equal(dd.X[0], finite_datasets([5], 200, 0.05, seed=0)[0][0]), "the setting's own data"
    status = explorer.status.value
    assert "Trained for 100 steps" in status and f"test loss {dd.test_loss[0].item():.3g}" in status
    r = regimes(dd)
    assert f"{int(r.example_owners[0])} examples and {int(r.feature_owners[0])} features have D &gt; 0.2" in status
    assert sum(w in status for w in WHO) == 1
    assert "memorization" not in status or bool(r.memorizing[0])
    frame = explorer.frame
    assert np.allclose(frame.ax_examples.collections[1].get_offsets(), dd.hidden()[0, :, :5].T.numpy(), atol=1e-6)
    assert "T = 5 examples" in frame.title and "test loss" in frame.title
    assert_readable(frame.figure)
    assert_laid_out(frame.figure)


def test_explorer_update_retrains(explorer):
    fig = explorer.update(n_examples=30, density=0.1)
    assert fig is explorer.figure and explorer.shown == {"n_examples": 30, "density": pytest.approx(0.1)}
    assert explorer.result.n_examples.tolist() == [30] and explorer.result.density == pytest.approx(0.1)
    assert len(explorer.frame.ax_examples.collections[1].get_offsets()) == 30
    assert "T = 30 examples" in explorer.frame.title and "1 − S = 0.1" in explorer.frame.title


@pytest.mark.parametrize("changes, name", [({"n_examples": 7}, "n_examples"), ({"n_examples": 500}, "n_examples"),
                                           ({"density": 0.9}, "density"), ({"sizes": 5}, "no control")])
def test_explorer_rejects_values_its_controls_cannot_show(explorer, changes, name):
    shown = dict(explorer.shown)
    with bad_input(name):
        explorer.update(**changes)
    assert explorer.shown == shown, "nothing moved"
    with bad_input(name):
        MemorizationExplorer(train_config=FAST, **changes)
