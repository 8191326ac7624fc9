import math

import pytest
import torch

from conftest import bad_input
from superpos_lib import metrics
from superpos_lib.data import generate_batch, importance_decay
from superpos_lib.models import ToyModel, ToyModelConfig, ToyModels, evaluate_loss, fit_toy_models, train_toy_models


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


# -- training toy models: the learner's entry point and the full-control one --------------------
def test_evaluate_loss_is_deterministic_per_seed():
    model = ToyModel(ToyModelConfig(5, 2, 2))
    p, imp = torch.full((2, 5), 0.3), torch.ones(2, 5)
    a = evaluate_loss(model, p, imp, n_samples=4096, seed=1)
    assert torch.equal(a, evaluate_loss(model, p, imp, n_samples=4096, seed=1))
    assert not torch.equal(a, evaluate_loss(model, p, imp, n_samples=4096, seed=2))
    assert a.shape == (2,)


def test_train_toy_models_shapes_and_cpu_outputs():
    res = train_toy_models(5, 2, 0.1, steps=50)
    assert isinstance(res, ToyModels)
    assert res.W.shape == (1, 2, 5) and res.b_final.shape == (1, 5) and res.loss.shape == (1,)
    assert res.W.device.type == res.loss.device.type == "cpu"
    assert not res.W.requires_grad


@pytest.mark.parametrize(
    "p, imp, n_inst, expected",
    [(0.1, 1.0, None, (1, 1)), (torch.full((5,), 0.2), importance_decay(5, 0.9), None, (1, 1)),
     (torch.tensor([[1.0], [0.1], [0.01]]), 1.0, None, (3, 1)), (0.1, torch.rand(4, 5), None, (4, 1)),
     (torch.tensor([[1.0], [0.1]]), importance_decay(5, 0.9), 6, (6, 3)), (0.3, 1.0, 4, (4, 4))],
)
def test_train_toy_models_infers_instances(p, imp, n_inst, expected):
    res = train_toy_models(5, 2, p, imp, n_inst=n_inst, steps=20)
    assert (res.n_inst, res.n_seeds) == expected
    assert res.feature_probability.shape == res.importance.shape == (expected[0], 5)


@pytest.mark.parametrize(
    "args, kwargs, name",
    [((0, 2, 0.1), {}, "n_features"), ((-5, 2, 0.1), {}, "n_features"), ((5, 0, 0.1), {}, "d_hidden"),
     ((5, 2, 0.0), {}, "feature_probability"), ((5, 2, 1.2), {}, "feature_probability"),
     ((5, 2, float("nan")), {}, "feature_probability"), ((5, 2, 0.1, -1.0), {}, "importance"),
     ((5, 2, 0.1, [1.0, float("nan")] * 2 + [1.0]), {}, "importance"),
     ((5, 2, torch.full((3, 5), 0.1), torch.ones(2, 5)), {}, "does not broadcast"),
     ((5, 2, torch.full((4,), 0.1)), {}, "feature_probability"),
     ((5, 2, torch.full((2, 5), 0.1)), {"n_inst": 3}, "n_inst"), ((5, 2, 0.1), {"n_inst": 0}, "n_inst"),
     ((5, 2, 0.1), {"steps": 0}, "steps"), ((5, 2, 0.1), {"device": "tpu"}, "device")],
)
def test_train_toy_models_rejects_bad_input(args, kwargs, name):
    with bad_input(name):
        train_toy_models(*args, **kwargs)


def test_best_keeps_the_lowest_loss_seed_per_configuration():
    res = train_toy_models(5, 2, torch.tensor([[1.0], [0.05]]), importance_decay(5, 0.9), n_inst=6, steps=100)
    best = res.best()
    assert best.n_inst == 2 and best.n_seeds == 1 and best.config.n_inst == 2
    for k in range(2):
        group = res.loss[3 * k: 3 * k + 3]
        assert best.loss[k] == group.min()
        assert torch.equal(best.W[k], res.W[3 * k + int(group.argmin())])
    assert best.loss_history.shape == (res.loss_history.shape[0], 2)


def test_to_model_round_trip():
    res = train_toy_models(4, 2, 0.5, n_inst=2, steps=20)
    model = res.to_model()
    assert torch.equal(model.W.detach(), res.W)
    again = evaluate_loss(model, res.feature_probability, res.importance, n_samples=2**15, seed=1_000_003)
    assert torch.allclose(again, res.loss)


def test_same_seed_same_models():
    a = train_toy_models(5, 2, 0.1, n_inst=2, steps=50, seed=4)
    b = train_toy_models(5, 2, 0.1, n_inst=2, steps=50, seed=4)
    assert torch.equal(a.W, b.W)


def test_fit_toy_models_checks_shapes():
    with bad_input("feature_probability"):
        fit_toy_models(ToyModelConfig(5, 2, 2), torch.full((3, 5), 0.1), torch.ones(2, 5))


def test_dense_model_reaches_the_closed_form_loss():
    imp = importance_decay(5, 0.9)
    res = train_toy_models(5, 2, 1.0, imp, n_inst=4).best()
    assert res.loss.item() == pytest.approx(metrics.dense_optimal_loss(imp, 2).item(), rel=0.02)
    assert metrics.n_represented(res.W).item() == 2


def test_linear_model_is_pca_like():
    res = train_toy_models(6, 3, 0.05, importance_decay(6, 0.8), relu=False, n_inst=2).best()
    norms = metrics.feature_norms(res.W)[0]
    assert (res.W**2).sum().item() == pytest.approx(3.0, abs=0.05)
    assert torch.all(norms[:3] > 0.95) and torch.all(norms[3:] < 0.1)


def test_from_weights_builds_the_model_that_holds_them():
    W, b = torch.randn(3, 2, 4), torch.randn(3, 4)
    model = ToyModel.from_weights(W, b, relu=False)
    assert torch.equal(model.W.detach(), W) and torch.equal(model.b_final.detach(), b) and not model.config.relu
    assert torch.equal(ToyModel.from_weights(W).b_final.detach(), torch.zeros(3, 4))
    with bad_input("b_final"):
        ToyModel.from_weights(W, torch.zeros(3, 5))
    with bad_input("W"):
        ToyModel.from_weights(torch.ones(2, 3))


def test_signed_features_and_the_neuron_model_through_the_learners_call():
    signed = train_toy_models(6, 2, 0.5, relu=False, signed=True, steps=30)
    assert signed.config.relu is False and signed.loss.item() > 0
    neuron = train_toy_models(6, 2, 0.5, hidden_relu=True, steps=30)
    assert neuron.config.hidden_relu and neuron.to_model().config.hidden_relu


def test_evaluating_many_models_draws_a_bounded_batch(monkeypatch):
    from superpos_lib import models

    drawn = []
    real = models.FeatureSampler

    def spy(p, batch_size, **kwargs):
        drawn.append(p.shape[0] * p.shape[1] * batch_size)
        return real(p, batch_size, **kwargs)

    monkeypatch.setattr(models, "FeatureSampler", spy)
    many = ToyModel(ToyModelConfig(3, 2, 1600))
    loss = evaluate_loss(many, torch.full((1600, 3), 0.1), torch.ones(1600, 3), n_samples=2**14)
    few = ToyModel(ToyModelConfig(5, 2, 40))
    evaluate_loss(few, torch.full((40, 5), 0.1), torch.ones(40, 5), n_samples=2**14)
    assert drawn[0] <= models.EVAL_ELEMENTS and loss.shape == (1600,) and torch.isfinite(loss).all()
    assert drawn[1] == 40 * 5 * 2**13, "small sweeps keep their samples"


def test_a_stopped_run_is_not_evaluated():
    res = fit_toy_models(ToyModelConfig(5, 2, 2), torch.full((2, 5), 0.1), torch.ones(2, 5),
                         callbacks=[lambda s: True], callback_every=10)
    assert torch.isnan(res.loss).all() and res.logged_steps[-1] == 10
