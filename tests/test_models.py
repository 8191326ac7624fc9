import math

import pytest
import torch

from conftest import bad_input
from superpos_lib.data import generate_batch
from superpos_lib.models import ToyModel, ToyModelConfig


@pytest.mark.parametrize("field, value", [("n_features", 0), ("n_features", -3), ("d_hidden", 0), ("n_inst", 0), ("d_hidden", 2.5)])
def test_config_rejects_bad_sizes(field, value):
    kwargs = dict(n_features=5, d_hidden=2, n_inst=1)
    kwargs[field] = value
    with bad_input(field):
        ToyModelConfig(**kwargs)


def test_init_is_xavier_normal_per_instance():
    m = ToyModel(ToyModelConfig(20, 5, 200), generator=torch.Generator().manual_seed(0))
    assert m.W.shape == (200, 5, 20) and m.b_final.shape == (200, 20)
    assert m.W.std().item() == pytest.approx(math.sqrt(2 / 25), rel=0.03)
    assert torch.count_nonzero(m.b_final) == 0


def test_forward_matches_the_formula():
    m = ToyModel(ToyModelConfig(4, 2, 3))
    with torch.no_grad():
        m.b_final.normal_()
    x = torch.rand(3, 7, 4)
    expected = torch.relu(torch.einsum("ihf,ibf->ibh", m.W, x) @ m.W + m.b_final[:, None])
    assert torch.allclose(m(x), expected, atol=1e-6)
    assert m.hidden(x).shape == (3, 7, 2)
    linear = ToyModel(ToyModelConfig(4, 2, 3, relu=False))
    with torch.no_grad():
        linear.b_final.fill_(-5)
    assert (linear(x) < 0).any(), "the linear model has no output ReLU"


def test_loss_is_importance_weighted_mse_per_instance():
    m = ToyModel(ToyModelConfig(3, 2, 2))
    x = torch.rand(2, 5, 3)
    imp = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    err = (x - m(x)) ** 2
    expected = torch.stack([err[0, :, 0].sum() / 15, 2 * err[1, :, 2].sum() / 15])
    assert torch.allclose(m.loss(x, imp), expected, atol=1e-7)


@pytest.mark.parametrize("relu, hidden_relu", [(True, False), (False, False), (True, True), (False, True)])
@pytest.mark.parametrize("layout", ["batch_last", "batch_major"])
def test_analytic_gradients_match_autograd(relu, hidden_relu, layout):
    torch.manual_seed(1)
    m = ToyModel(ToyModelConfig(6, 3, 4, relu=relu, hidden_relu=hidden_relu))
    with torch.no_grad():
        m.b_final.normal_(0, 0.3)
    x = generate_batch(torch.rand(4, 6) * 0.8 + 0.1, 64, signed=hidden_relu)
    if layout == "batch_major":
        x = x.contiguous()
    imp = torch.rand(4, 6)
    loss = m.loss(x, imp)
    gW, gb = torch.autograd.grad(loss.sum(), [m.W, m.b_final])
    loss2, (dW, db) = m.loss_and_grads(x, imp)
    assert torch.allclose(loss, loss2, rtol=1e-5, atol=1e-8)
    assert torch.allclose(gW, dW, rtol=1e-4, atol=1e-7)
    assert torch.allclose(gb, db, rtol=1e-4, atol=1e-7)
    no_loss, (dW2, _) = m.loss_and_grads(x, imp, with_loss=False)
    assert no_loss is None and torch.allclose(dW, dW2)


def test_instances_are_independent():
    m = ToyModel(ToyModelConfig(5, 2, 3))
    x = generate_batch(0.3, 32, 5, generator=torch.Generator().manual_seed(0)).expand(3, 32, 5)
    _, (dW, _) = m.loss_and_grads(x, torch.ones(3, 5))
    single = ToyModel(ToyModelConfig(5, 2, 1))
    with torch.no_grad():
        single.W.copy_(m.W[1:2])
    _, (dW1, _) = single.loss_and_grads(x[1:2], torch.ones(1, 5))
    assert torch.allclose(dW[1:2], dW1, atol=1e-7)
