"""The expected loss by active-feature count: against closed forms, plain Monte Carlo, and
the sparse tail where Monte Carlo cannot tell models apart."""

import math

import pytest
import torch

from conftest import bad_input
from superpos_lib import importance_decay, train_toy_models
from superpos_lib.models import ToyModel, evaluate_loss
from superpos_lib.phases import one_hot_loss
from superpos_lib.superposition import active_count_probabilities, expected_loss, with_expected_loss

IMP = importance_decay(20, 0.7)
DENSITIES = torch.tensor([[1.0], [0.3], [0.1], [0.01], [0.001]])


def test_active_count_probabilities_are_the_binomial():
    prob = active_count_probabilities(4, torch.tensor([0.5, 1.0, 0.1]))
    assert prob.shape == (3, 5) and torch.allclose(prob.sum(1), torch.ones(3, dtype=torch.float64))
    assert prob[0].tolist() == pytest.approx([1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16])
    assert prob[1].tolist() == [0, 0, 0, 0, 1], "p = 1: every feature active"
    assert prob[2, 1].item() == pytest.approx(4 * 0.1 * 0.9**3)
    with bad_input("feature_probability"):
        active_count_probabilities(4, torch.tensor([0.0]))


@pytest.mark.parametrize("c", [0.0, 0.2])
def test_a_model_that_ignores_its_input_has_the_closed_form_loss(c):
    """W = 0, b = c: E[(x_i − c)²] = p/3 − c p + c² (x_i uniform on [0, 1) with probability p);
    what every stratum of two or more features costs must integrate almost exactly."""
    inst = len(DENSITIES)
    W, b = torch.zeros(inst, 5, 20), torch.full((inst, 20), c)
    p = DENSITIES[:, 0].double()
    exact = IMP.double().sum() / 20 * (p / 3 - c * p + c**2)
    got = expected_loss(W, b, DENSITIES, IMP)
    assert got.dtype == torch.float64 and got.shape == (inst,)
    assert torch.allclose(got, exact, rtol=3e-4), (got, exact)   # measured: within 1e-4
    linear = expected_loss(W, b, DENSITIES, IMP, relu=False)
    assert torch.allclose(linear, exact, rtol=3e-4)


def test_it_agrees_with_plain_monte_carlo_where_that_is_accurate():
    """At dense p Monte Carlo sees every stratum often, and there the sampled strata of four
    or more active features make the expected loss no better than it: measured over four point
    seeds, within 1.3 % of MC on 2^21 samples (whose own error is about 0.3 %)."""
    res = train_toy_models(20, 5, [[0.3], [0.1]], IMP, n_inst=2, steps=200)
    mc = evaluate_loss(res.to_model(), res.feature_probability, res.importance, n_samples=2**21, seed=3)
    exact = expected_loss(res.W, res.b_final, res.feature_probability, res.importance)
    assert torch.allclose(exact.float(), mc, rtol=0.03), (exact, mc)
    linear = ToyModel.from_weights(res.W, res.b_final, relu=False)
    mc_lin = evaluate_loss(linear, res.feature_probability, res.importance, n_samples=2**21, seed=3)
    exact_lin = expected_loss(res.W, res.b_final, res.feature_probability, res.importance, relu=False)
    assert torch.allclose(exact_lin.float(), mc_lin, rtol=0.03), (exact_lin, mc_lin)


def test_one_active_feature_is_the_closed_form_and_two_match_a_fine_grid():
    """p → 0: the loss per active feature is chapter 5's one-feature-at-a-time loss, exactly.
    p = 1 with n = 2 (both always active): a 1000² midpoint grid integrates the
    piecewise-quadratic loss to about 1e-6."""
    res = train_toy_models(20, 5, 0.01, IMP, n_inst=2, steps=100)
    p = 1e-9
    alone = (torch.relu(res.b_final.double()) ** 2 * IMP).mean(-1)
    per_feature = (expected_loss(res.W, res.b_final, p, IMP, tail=1e-30) - (1 - p) ** 20 * alone) / (20 * p)
    one_hot = one_hot_loss(res.W.double(), res.b_final.double(), IMP.double().expand(2, 20)) * (1 - p) ** 19
    assert torch.allclose(per_feature, one_hot, rtol=1e-6), (per_feature, one_hot)

    W = torch.tensor([[[0.93, -0.25]]], dtype=torch.float64)
    b = torch.tensor([[0.02, 0.4]], dtype=torch.float64)
    g = (torch.arange(1000, dtype=torch.float64) + 0.5) / 1000
    x = torch.cartesian_prod(g, g)                                   # (10^6, 2)
    grid = ((x - torch.relu(x @ (W[0].T @ W[0]) + b[0])) ** 2).mean().item()
    assert expected_loss(W, b, 1.0).item() == pytest.approx(grid, abs=1e-6)


def test_the_sparse_tail_is_accurate_where_monte_carlo_is_not():
    """At p = 0.001 two Monte-Carlo losses on 2^15 samples differ by several percent; the
    expected loss on other points agrees with itself to 2e-4 (measured over point seeds:
    2e-5; its agreement with MC is the test above, at dense p)."""
    res = train_toy_models(20, 5, 0.001, IMP, n_inst=3, steps=300)
    a = expected_loss(res.W, res.b_final, res.feature_probability, res.importance, seed=0)
    b = expected_loss(res.W, res.b_final, res.feature_probability, res.importance, seed=1)
    assert torch.allclose(a, b, rtol=2e-4), (a, b)


def test_it_is_differentiable():
    W = torch.randn(2, 2, 5, requires_grad=True)
    b = torch.zeros(2, 5, requires_grad=True)
    expected_loss(W, b, [[0.05], [0.5]], 1.0, n_samples=2**10).sum().backward()
    assert torch.isfinite(W.grad).all() and W.grad.abs().sum() > 0 and b.grad.abs().sum() > 0


def test_with_expected_loss_rescores_so_best_picks_by_it():
    res = train_toy_models(5, 2, [[0.05], [0.5]], importance_decay(5, 0.9), n_inst=6, steps=100)
    scored = with_expected_loss(res)
    assert scored.W is res.W and scored.loss.shape == (6,)
    assert torch.allclose(scored.loss, expected_loss(res.W, res.b_final, res.feature_probability, res.importance))
    best = scored.best()
    for k in range(2):
        assert best.loss[k] == scored.loss[3 * k:3 * k + 3].min()
    with bad_input("models"):
        with_expected_loss(res.W)


def test_bad_input_names_the_argument():
    W, b = torch.zeros(2, 2, 5), torch.zeros(2, 5)
    with bad_input("feature_probability"):
        expected_loss(W, b, torch.tensor([[0.1, 0.2, 0.1, 0.1, 0.1]] * 2))   # not one density per model
    with bad_input("feature_probability"):
        expected_loss(W, b, 0.0)
    with bad_input("feature_probability"):
        expected_loss(W, b, torch.full((3, 1), 0.1))                         # 3 densities for 2 models
    with bad_input("importance"):
        expected_loss(W, b, 0.1, -1.0)
    with bad_input("b_final"):
        expected_loss(W, torch.zeros(2, 4), 0.1)
    with bad_input("W"):
        expected_loss(torch.zeros(2, 5), b, 0.1)
    with bad_input("n_samples"):
        expected_loss(W, b, 0.1, n_samples=0)
    with bad_input("tail"):
        expected_loss(W, b, 0.1, tail=0.0)
    assert not math.isnan(expected_loss(W, b, 0.1).sum().item())
