"""Chapter 7's absolute-value model: shapes, the dense two-neuron solution, seeds, bad input."""

import pytest
import torch

from conftest import bad_input
from superpos_lib.computation import AbsoluteValueModel, AbsoluteValueModels, train_absolute_value
from superpos_lib.training import TrainConfig


def test_forward_is_relu_of_relu_and_loss_targets_abs():
    m = AbsoluteValueModel(2, 4, n_inst=1)
    with torch.no_grad():
        # the exact dense solution: two neurons per feature, |x| = ReLU(x) + ReLU(-x)
        m.W1.copy_(torch.tensor([[[1.0, 0], [-1, 0], [0, 1], [0, -1]]]))
        m.W2.copy_(torch.tensor([[[1.0, 1, 0, 0], [0, 0, 1, 1]]]))
    x = torch.tensor([[[0.5, -0.25], [-1.0, 0.0]]])
    assert torch.allclose(m(x), x.abs())
    assert m.loss(x, torch.ones(1, 2)).item() == pytest.approx(0.0, abs=1e-12)
    assert m.hidden(x).shape == (1, 2, 4)
    m.b.data.fill_(0.5)
    assert m.loss(x, torch.ones(1, 2)).item() == pytest.approx(0.25)


def test_dense_training_finds_the_exact_solution():
    r = train_absolute_value(3, 6, 1.0, n_inst=2, seed=0, device="cpu")
    assert isinstance(r, AbsoluteValueModels) and r.W1.shape == (2, 6, 3) and r.W2.shape == (2, 3, 6)
    assert (r.loss < 1e-4).all(), r.loss
    best = r.best()
    assert best.n_seeds == 1 and best.W1.shape == (1, 6, 3) and best.loss[0] == r.loss.min()


def test_seeds_are_consecutive_and_settings_broadcast():
    r = train_absolute_value(4, 2, [[1.0], [0.1]], n_inst=4, train_config=TrainConfig(steps=20), device="cpu")
    assert r.n_seeds == 2 and r.feature_probability[:, 0].tolist() == pytest.approx([1.0, 1.0, 0.1, 0.1])
    assert r.best().W1.shape == (2, 2, 4)


def test_bad_input_names_the_argument():
    with bad_input("n_features"):
        AbsoluteValueModel(0, 2)
    with bad_input("feature_probability"):
        train_absolute_value(3, 2, 1.5)
    with bad_input("importance"):
        train_absolute_value(3, 2, 0.5, -1.0)
    with bad_input("eval_samples"):
        train_absolute_value(3, 2, 0.5, eval_samples=0)
