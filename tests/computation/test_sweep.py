"""Chapter 7's sweep and training options: warm starts, the activation penalty, hand gradients."""

import pytest
import torch

from conftest import bad_input
from superpos_lib.computation import (AbsoluteValueModel, AbsoluteValueModels, ComputationSweep, computation_sweep,
                                      train_absolute_value)
from superpos_lib.data import FeatureSampler
from superpos_lib.training import TrainConfig

FAST = TrainConfig(steps=300, batch_size=256, lr=0.01)


@pytest.fixture(scope="module")
def small():
    return computation_sweep(6, 4, (1.0, 0.03), decay=0.9, n_seeds=2, train_config=TrainConfig(steps=1500, batch_size=512, lr=0.01))


def test_sweep_reads_out_every_density(small):
    assert isinstance(small, ComputationSweep) and small.density.tolist() == pytest.approx([1.0, 0.03])
    assert small.sides.shape == (2, 6, 2) and small.monosemanticity.shape == (2, 4) and small.primary.shape == (2, 6)
    assert small.models.n_seeds == 1 and small.d_hidden == 4 and len(small.motifs) == 2
    # dense: at most one side per neuron, each computed feature on two neurons, monosemantic
    assert small.n_sides[0] <= 4 and small.n_polysemantic[0] == 0 and not small.motifs[0]
    assert small.n_full[0] >= 1 and small.neurons_per_full_feature()[0] == 2
    # sparse: more sides than neurons, on shared neurons
    assert small.n_sides[1] > 4 and small.n_polysemantic[1] >= 2
    assert small.sides_per_neuron.tolist() == pytest.approx((small.n_sides / 4).tolist())
    base = small.attack_base()
    assert set(base.unique().tolist()) <= {-0.5, 0.0, 0.5} and ((base != 0) == small.sides.any(-1)).all()


def test_vulnerability_of_computed_features(small):
    v = small.vulnerability("linf", steps=10, bisections=8)
    assert v.shape == (2, 6)
    assert torch.isnan(v[~small.sides.any(-1)]).all()
    assert (v[0][small.sides[0].any(-1)] - 1).abs().max() < 0.1  # dense: only the feature itself moves its output
    assert torch.nanmedian(v[1]) > torch.nanmedian(v[0])


def test_of_reads_any_models_and_checks_its_input():
    r = train_absolute_value(4, 3, [[1.0], [0.2]], train_config=FAST)
    read = ComputationSweep.of(r)
    assert read.density.tolist() == pytest.approx([1.0, 0.2]) and read.alive.shape == (2, 3)
    with bad_input("models"):
        ComputationSweep.of(r.W1)


def test_hand_gradients_match_autograd():
    m = AbsoluteValueModel(7, 3, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        m.b.normal_()
    x = FeatureSampler(torch.full((2, 7), 0.4), 64, seed=0, signed=True).sample()
    imp, pen = torch.rand(2, 7), torch.tensor([0.0, 0.01])
    for args in ((imp,), (imp, pen)):
        loss = m.loss(x, *args)
        grads = torch.autograd.grad(loss.sum(), list(m.parameters()))
        hand_loss, hand = m.loss_and_grads(x, *args, with_loss=True)
        assert torch.allclose(hand_loss, loss, atol=1e-7)
        for g, h in zip(grads, hand):
            assert torch.allclose(g, h, atol=1e-6)
        assert m.loss_and_grads(x, *args, with_loss=False)[0] is None


def test_warm_start_and_penalty():
    dense = train_absolute_value(4, 4, 1.0, train_config=FAST, n_inst=1)
    warm = train_absolute_value(4, 4, 1.0, init=dense, train_config=TrainConfig(steps=1, lr=1e-9), n_inst=2)
    assert torch.allclose(warm.W1, dense.W1.expand(2, -1, -1), atol=1e-5)
    assert warm.loss_history.shape == (0, 2) or warm.loss_history.shape[1] == 2
    penalised = train_absolute_value(6, 6, 0.1, n_inst=2, activation_penalty=torch.tensor([0.0, 0.05]), train_config=FAST)
    h = [torch.relu(FeatureSampler(torch.full((1, 6), 0.1), 2048, seed=3, signed=True).sample() @ W.mT).mean()
         for W in penalised.W1]
    assert h[1] < h[0]  # the penalty makes the neurons fire less


def test_loss_history_is_recorded():
    r = train_absolute_value(3, 2, 0.5, n_inst=2, train_config=TrainConfig(steps=100, log_every=10))
    assert r.loss_history.shape == (10, 2) and r.logged_steps == tuple(range(10, 101, 10))
    assert r.best().loss_history.shape == (10, 1)


def test_bad_input_names_the_argument():
    with bad_input("activation_penalty"):
        train_absolute_value(3, 2, 0.5, activation_penalty=-1.0)
    with bad_input("activation_penalty"):
        train_absolute_value(3, 2, 0.5, n_inst=2, activation_penalty=[0.0, 0.1, 0.2])
    with bad_input("init"):
        train_absolute_value(3, 2, 0.5, init=torch.zeros(1))
    other = train_absolute_value(4, 2, 0.5, train_config=TrainConfig(steps=5))
    with bad_input("init"):
        train_absolute_value(3, 2, 0.5, init=other)
    with bad_input("densities"):
        computation_sweep(4, 2, densities=())
    with bad_input("densities"):
        computation_sweep(4, 2, densities=["dense"])
    with bad_input("decay"):
        computation_sweep(4, 2, decay=1.5)
    with bad_input("n_seeds"):
        computation_sweep(4, 2, n_seeds=0)


def test_select_and_cat():
    r = train_absolute_value(4, 3, [[1.0], [0.2], [0.05]], train_config=TrainConfig(steps=20, log_every=10))
    two = r.select([2, 0])
    assert two.W1.shape == (2, 3, 4) and torch.equal(two.W1[0], r.W1[2]) and two.loss_history.shape == (2, 2)
    both = AbsoluteValueModels.cat([two, r.select([1])])
    assert both.W1.shape == (3, 3, 4) and torch.equal(both.b[2], r.b[1]) and both.n_seeds == 1
    assert both.loss_history.shape == (2, 3) and both.logged_steps == (10, 20)
    with bad_input("idx"):
        r.select([3])
    with bad_input("models"):
        AbsoluteValueModels.cat([])
    other = train_absolute_value(5, 3, 0.5, train_config=TrainConfig(steps=5))
    with bad_input("models"):
        AbsoluteValueModels.cat([r, other])
