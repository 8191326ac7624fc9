"""Chapter 8's finite datasets, the model with the paper's loss on them, and the sweep over sizes."""

import pytest
import torch

from conftest import bad_input
from superpos_lib.memorization import (BUCKET_RATIO, SIZES, DoubleDescent, FiniteDataModel, double_descent,
                                       example_dimensionality, finite_datasets, regimes)
from superpos_lib.memorization import test_loss as held_out_loss  # not named test_*: pytest would collect it
from superpos_lib.memorization.finite import _buckets
from superpos_lib.models import ToyModel, ToyModelConfig
from superpos_lib.training import TrainConfig

FAST = TrainConfig(steps=100, lr=0.05, weight_decay=0.01, batch_size=1)
N, DENSITY = 20, 0.2


def _reference_loss(W, b, x):
    """``mean_t ‖x_t − ReLU(WᵀW x_t + b)‖²`` per instance, written out."""
    out = torch.relu(torch.einsum("khf,khg,ktg->ktf", W, W, x) + b[:, None, :])
    return ((x - out) ** 2).sum(-1).mean(-1)


@pytest.fixture(scope="module")
def sweep():
    return double_descent((3, 5, 40), n_features=N, density=DENSITY, n_seeds=2, train_config=FAST, n_test=1024,
                          progress=False)


# --- finite_datasets ---------------------------------------------------------------------------

def test_datasets_are_padded_unit_norm_examples():
    X, n = finite_datasets((3, 5, 40), N, DENSITY, n_seeds=2, seed=1)
    assert X.shape == (6, 40, N) and n.tolist() == [3, 3, 5, 5, 40, 40]  # instance k: size sizes[k // n_seeds]
    for k in range(6):
        assert (X[k, n[k]:] == 0).all(), "padding is zero"
        norms = X[k, : n[k]].norm(dim=-1)
        present = norms > 0
        assert present.sum() >= n[k] - 2  # an empty example has probability 0.8 ** 20 = 1.2%
        assert torch.allclose(norms[present], torch.ones(int(present.sum())), atol=1e-6)
    assert (X >= 0).all()


def test_density_of_present_features():
    X, _ = finite_datasets([2000], 50, 0.2, seed=3)
    frac = (X > 0).float().mean().item()
    assert abs(frac - 0.2) < 0.007  # 5.5 binomial standard deviations (0.00126) of 100,000 draws
    assert abs((finite_datasets([2000], 50, 0.05, seed=3)[0] > 0).float().mean().item() - 0.05) < 0.004


def test_datasets_are_reproducible_by_seed():
    a, _ = finite_datasets((3, 5), N, DENSITY, seed=7)
    b, _ = finite_datasets((3, 5), N, DENSITY, seed=7)
    c, _ = finite_datasets((3, 5), N, DENSITY, seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("kwargs, name", [({"sizes": ()}, "sizes"), ({"sizes": (3, 0)}, "sizes"),
                                          ({"sizes": (2.5,)}, "sizes"), ({"n_features": 0}, "n_features"),
                                          ({"density": 0.0}, "density"), ({"density": 1.5}, "density"),
                                          ({"n_seeds": 0}, "n_seeds")])
def test_datasets_bad_input(kwargs, name):
    with bad_input(name):
        finite_datasets(**{"sizes": (3,), "n_features": N, "density": DENSITY, **kwargs})


# --- the model's loss and its hand-written gradients ------------------------------------------

def _model(cls, n_inst=2, d_hidden=3, n=7, **config):
    m = cls(ToyModelConfig(n, d_hidden, n_inst, **config), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        m.b_final.normal_(0, 0.2)  # some outputs below 0: the ReLU's mask matters
    return m


def _autograd(m, loss):
    return torch.autograd.grad(loss.sum(), [m.W, m.b_final])


def test_finite_model_gradients_match_autograd():
    m = _model(FiniteDataModel)
    x = torch.rand(2, 6, 7)
    weight = torch.rand(2, 6)
    weight[0, 4:] = 0
    loss = m.loss(x, weight)
    hand_loss, hand = m.loss_and_grads(x, weight)
    assert torch.allclose(hand_loss, loss, atol=1e-6)
    for g, h in zip(_autograd(m, loss), hand):
        assert torch.allclose(g, h, atol=1e-6)
    assert m.loss_and_grads(x, weight, with_loss=False)[0] is None


def test_finite_model_loss_is_the_mean_over_examples_and_ignores_padding():
    m = _model(FiniteDataModel)
    x = torch.rand(2, 4, 7)
    loss, grads = m.loss_and_grads(x, torch.full((2, 4), 0.25))
    assert torch.allclose(loss, _reference_loss(m.W.detach(), m.b_final.detach(), x), atol=1e-6)
    padded = torch.cat([x, torch.rand(2, 3, 7)], 1)  # padding that weighs 0, even if not zero
    weight = torch.cat([torch.full((2, 4), 0.25), torch.zeros(2, 3)], 1)
    loss_p, grads_p = m.loss_and_grads(padded, weight)
    assert torch.allclose(loss_p, loss, atol=1e-6) and torch.allclose(m.loss(padded, weight), loss, atol=1e-6)
    for g, h in zip(grads, grads_p):
        assert torch.allclose(g, h, atol=1e-6)


@pytest.mark.parametrize("config", [{}, {"relu": False}, {"hidden_relu": True}])
@pytest.mark.parametrize("per", ["feature", "example"])
def test_weighted_loss_and_grads_match_autograd(config, per):
    m = _model(ToyModel, **config)
    x = torch.rand(2, 5, 7) * (torch.rand(2, 5, 7) < 0.5)
    weight = torch.rand(2, 7, 1) if per == "feature" else torch.rand(2, 1, 5)
    loss = 0.3 * (weight * (m(x) - x).mT ** 2).sum((1, 2))
    hand_loss, hand = m.weighted_loss_and_grads(x, weight, 0.3)
    assert torch.allclose(hand_loss, loss, atol=1e-6)
    for g, h in zip(_autograd(m, loss), hand):
        assert torch.allclose(g, h, atol=1e-6)
    assert m.weighted_loss_and_grads(x, weight, 0.3, with_loss=False)[0] is None


def test_toy_model_loss_and_grads_is_the_importance_weighted_case():
    m = _model(ToyModel)
    x, imp = torch.rand(2, 5, 7), torch.rand(2, 7)
    loss, (dW, db) = m.loss_and_grads(x, imp)
    loss_w, (dW_w, db_w) = m.weighted_loss_and_grads(x, imp[..., None], 1 / 35)
    assert torch.allclose(loss, m.loss(x, imp), atol=1e-6) and torch.allclose(loss, loss_w)
    assert torch.allclose(dW, dW_w) and torch.allclose(db, db_w)


# --- the sweep ---------------------------------------------------------------------------------

def test_sweep_shapes_and_history(sweep):
    assert isinstance(sweep, DoubleDescent) and sweep.sizes == (3, 5, 40) and sweep.n_seeds == 2
    assert sweep.n_inst == 6 and sweep.W.shape == (6, 2, N) and sweep.b_final.shape == (6, N)
    assert sweep.X.shape == (6, 40, N) and sweep.n_examples.tolist() == [3, 3, 5, 5, 40, 40]
    assert sweep.train_loss.shape == sweep.test_loss.shape == (6,) and sweep.density == DENSITY
    assert sweep.loss_history.shape == (10, 6) and sweep.logged_steps == tuple(range(10, 101, 10))
    assert torch.isfinite(sweep.loss_history).all()
    # the last logged loss is the train loss (the cosine schedule's last step barely moves)
    assert torch.allclose(sweep.loss_history[-1], sweep.train_loss, rtol=0.02)
    assert torch.equal(sweep.X, finite_datasets((3, 5, 40), N, DENSITY, n_seeds=2, seed=0)[0])


def test_train_loss_is_the_models_loss_on_its_examples(sweep):
    for k in range(sweep.n_inst):
        x = sweep.examples(k)
        assert x.shape == (int(sweep.n_examples[k]), N) and torch.equal(x, sweep.X[k, : len(x)])
        ref = _reference_loss(sweep.W[k:k + 1], sweep.b_final[k:k + 1], x[None])
        assert ref.item() == pytest.approx(sweep.train_loss[k].item(), rel=1e-4, abs=1e-6)
    assert (sweep.train_loss < 1).all(), "training did something"


def test_training_lowers_the_train_loss_below_predicting_zero():
    fresh = double_descent((5,), n_features=N, density=DENSITY, n_seeds=2, train_config=TrainConfig(steps=1, lr=1e-9),
                           n_test=64, progress=False)
    trained = double_descent((5,), n_features=N, density=DENSITY, n_seeds=2, train_config=FAST, n_test=64,
                             progress=False)
    assert (trained.train_loss < fresh.train_loss - 0.2).all()


def test_hidden_vectors_are_W_x_and_zero_on_padding(sweep):
    H = sweep.hidden()
    assert H.shape == (6, 2, 40)
    for k in range(6):
        T = int(sweep.n_examples[k])
        assert torch.allclose(H[k, :, :T], sweep.W[k] @ sweep.examples(k).T, atol=1e-6)
        assert (H[k, :, T:] == 0).all()


def test_best_and_select(sweep):
    best = sweep.best()
    assert best.sizes == sweep.sizes and best.n_seeds == 1 and best.n_inst == 3
    groups = sweep.train_loss.view(3, 2)
    assert torch.equal(best.train_loss, groups.min(1).values)
    for i, k in enumerate(groups.argmin(1) + torch.tensor([0, 2, 4])):
        assert torch.equal(best.W[i], sweep.W[k]) and torch.equal(best.b_final[i], sweep.b_final[k])
        assert torch.equal(best.test_loss[i], sweep.test_loss[k]) and torch.equal(best.loss_history[:, i], sweep.loss_history[:, k])
    two = sweep.select([3, 0])
    assert two.sizes == (5, 3) and two.X.shape == (2, 5, N), "padding trimmed to the largest chosen size"
    assert torch.equal(two.X[1, :3], sweep.X[0, :3]) and two.n_examples.tolist() == [5, 3]
    pair = sweep.select([4, 5, 0, 1], n_seeds=2)
    assert pair.sizes == (40, 3) and pair.n_seeds == 2 and pair.loss_history.shape == (10, 4)
    assert torch.equal(pair.best().W[0], sweep.select([4, 5]).best().W[0])


def test_buckets_group_similar_sizes_once_each():
    for sizes in (SIZES, (3, 5, 40), (40, 3, 5, 3, 8), (7,), (1, 2, 3, 100, 250, 251)):
        n = torch.tensor(sizes)
        groups = _buckets(n, BUCKET_RATIO)
        assert sorted(torch.cat(groups).tolist()) == list(range(len(sizes))), "every instance once"
        for g in groups:
            assert n[g].max() <= BUCKET_RATIO * n[g].min()
        for a, b in zip(groups, groups[1:]):  # greedy: the next bucket starts above the ratio
            assert n[b].min() > BUCKET_RATIO * n[a].min() and n[b].min() >= n[a].max()
    assert len(_buckets(torch.tensor(SIZES), BUCKET_RATIO)) < len(SIZES) / 2


def test_callbacks_see_one_run_per_bucket():
    models = set()
    double_descent((3, 5, 40), n_features=N, density=DENSITY, n_seeds=1, train_config=TrainConfig(steps=20, batch_size=1),
                   n_test=64, callbacks=[lambda s: models.add(id(s.model))], callback_every=10, progress=False)
    assert len(models) == 2  # buckets {3, 5} and {40}


def test_sweep_is_reproducible_by_seed():
    kw = dict(n_features=N, density=DENSITY, n_seeds=1, train_config=TrainConfig(steps=30, batch_size=1), n_test=64,
              progress=False)
    a, b, c = double_descent((3, 5), **kw), double_descent((3, 5), **kw), double_descent((3, 5), seed=1, **kw)
    assert torch.equal(a.W, b.W) and torch.equal(a.train_loss, b.train_loss)
    assert not torch.equal(a.X, c.X) and not torch.equal(a.W, c.W)


@pytest.mark.parametrize("kwargs, name", [({"sizes": ()}, "sizes"), ({"sizes": (3, -1)}, "sizes"),
                                          ({"d_hidden": 0}, "d_hidden"), ({"n_seeds": 0}, "n_seeds"),
                                          ({"density": 2.0}, "density"), ({"n_features": 0}, "n_features")])
def test_sweep_bad_input(kwargs, name):
    with bad_input(name):
        double_descent(**{"sizes": (3,), "n_features": N, "train_config": TrainConfig(steps=2), **kwargs})


def test_three_examples_are_memorized():
    """T = 3 sparse examples, m = 2: the best of 3 seeds fits them and stores them as a triangle
    of hidden vectors. Measured over data seeds 0, 10, ..., 50: train loss <= 0.0094, every
    example's D >= 0.455 (a triangle's 2/3), every feature's D <= 0.20."""
    cfg = TrainConfig(steps=300, lr=0.05, weight_decay=0.01, batch_size=1)
    for seed in (0, 10, 20, 30, 40):
        best = double_descent((3,), n_features=100, density=0.05, n_seeds=3, train_config=cfg, seed=seed, n_test=256,
                              progress=False).best()
        De = example_dimensionality(best)[0, :3]
        r = regimes(best)
        assert best.train_loss.item() < 0.05, seed
        assert (De > 0.3).all() and r.example_owners.item() == 3, seed
        assert De.min() > r.max_feature_dim.item(), seed  # examples, not features, hold the dimensions


# --- test_loss -----------------------------------------------------------------------------------

def test_test_loss_is_the_loss_on_fresh_examples(sweep):
    tl = held_out_loss(sweep.W, sweep.b_final, DENSITY, n_test=512, seed=5)
    X, _ = finite_datasets([512], N, DENSITY, seed=5)
    ref = _reference_loss(sweep.W, sweep.b_final, X.expand(6, -1, -1))
    assert tl.shape == (6,) and torch.allclose(tl, ref, rtol=1e-5)
    # the sweep's own test loss is the same quantity on another fresh sample
    other = held_out_loss(sweep.W, sweep.b_final, DENSITY, n_test=4096, seed=99)
    assert torch.allclose(sweep.test_loss, other, rtol=0.1)
    with bad_input("n_test"):
        held_out_loss(sweep.W, sweep.b_final, DENSITY, n_test=0)


def test_the_zero_model_has_test_loss_one():
    zero = held_out_loss(torch.zeros(3, 2, 50), torch.zeros(3, 50), 0.2, n_test=1024)
    assert torch.allclose(zero, torch.ones(3), atol=1e-3)  # unit-norm examples (empty: 0.8 ** 50)
