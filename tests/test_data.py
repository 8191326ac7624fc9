
import numpy as np
import pytest
import torch

from conftest import bad_input
from superpos_lib import data
from superpos_lib.data import FeatureGroups, FeatureSampler, generate_batch
from superpos_lib.models import train_toy_models


def test_importance_decay():
    assert torch.allclose(data.importance_decay(4, 0.5), torch.tensor([1, 0.5, 0.25, 0.125]))
    with pytest.raises(ValueError, match="n_features"):
        data.importance_decay(0, 0.9)
    with pytest.raises(ValueError, match="decay"):
        data.importance_decay(3, -0.1)
    with pytest.raises(ValueError, match="decay"):
        data.importance_decay(3, float("nan"))


def test_log_densities_match_tms_sweep():
    p = data.log_densities()
    expected = torch.tensor([20 ** (-k / 9) for k in range(10)])
    assert torch.allclose(p, expected, rtol=1e-6)
    assert data.log_densities(1).tolist() == [1.0]
    with pytest.raises(ValueError, match="min_density"):
        data.log_densities(5, 0.0)
    with pytest.raises(ValueError, match="n must"):
        data.log_densities(0)


@pytest.mark.parametrize(
    "value, shape",
    [(0.5, (1, 4)), ([0.1, 0.2, 0.3, 0.4], (1, 4)), (torch.full((3, 4), 0.2), (3, 4)),
     (np.full((3, 1), 0.2), (3, 4)), ([[0.5]], (1, 4))],
)
def test_as_inst_feats_broadcasts(value, shape):
    out = data.as_inst_feats(value, "feature_probability", 4, low=0.0, high=1.0, low_inclusive=False)
    assert out.shape == shape and out.dtype == torch.float32 and out.is_contiguous()


@pytest.mark.parametrize(
    "value, message",
    [(0.0, r"must lie in \(0, 1\]"), (1.5, r"must lie in \(0, 1\]"), (-0.1, r"must lie in \(0, 1\]"),
     (float("nan"), "contains NaN"), ([0.1, 0.2, 0.3], "does not broadcast"),
     (torch.ones(2, 2, 4), "shape"), ("dense", "must be a number")],
)
def test_as_inst_feats_rejects_bad_density(value, message):
    with pytest.raises(ValueError, match="feature_probability") as err:
        data.as_inst_feats(value, "feature_probability", 4, low=0.0, high=1.0, low_inclusive=False)
    assert err.match(message)


def test_broadcast_instances_infers_and_repeats_seeds():
    p = torch.tensor([[0.1], [0.5]]).expand(2, 3)
    imp = torch.ones(1, 3)
    out, n_inst, n_seeds = data.broadcast_instances({"p": p, "imp": imp}, None)
    assert (n_inst, n_seeds) == (2, 1) and out["imp"].shape == (2, 3)
    out, n_inst, n_seeds = data.broadcast_instances({"p": p, "imp": imp}, 6)
    assert (n_inst, n_seeds) == (6, 3)
    assert out["p"][:, 0].tolist() == pytest.approx([0.1, 0.1, 0.1, 0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="multiple"):
        data.broadcast_instances({"p": p, "imp": imp}, 5)
    with pytest.raises(ValueError, match="does not broadcast"):
        data.broadcast_instances({"p": p, "imp": torch.ones(3, 3)}, None)
    with pytest.raises(ValueError, match="n_inst"):
        data.broadcast_instances({"p": p}, 0)


def test_generate_batch_statistics():
    p = torch.tensor([[1.0, 0.5, 0.05], [0.2, 0.2, 0.2]])
    x = data.generate_batch(p, 200_000, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, 200_000, 3)
    density = (x != 0).float().mean(1)
    assert torch.allclose(density, p, atol=0.005)
    assert x.min() >= 0 and x.max() < 1
    present = x[x != 0]
    assert present.mean().item() == pytest.approx(0.5, abs=0.005)  # U[0, 1) given present
    assert present.var().item() == pytest.approx(1 / 12, abs=0.002)


def test_generate_batch_signed_and_reproducible():
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    x = data.generate_batch(0.3, 50_000, 4, signed=True, generator=g())
    assert x.min() >= -1 and x.max() < 1
    present = x[x != 0]
    assert present.mean().item() == pytest.approx(0.0, abs=0.01)
    assert present.var().item() == pytest.approx(1 / 3, abs=0.01)
    assert torch.equal(x, data.generate_batch(0.3, 50_000, 4, signed=True, generator=g()))
    with pytest.raises(ValueError, match="n_features"):
        data.generate_batch(0.3, 10)
    with pytest.raises(ValueError, match="batch_size"):
        data.generate_batch(0.3, 0, 4)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_feature_sampler(backend):
    p = torch.tensor([[1.0, 0.25], [0.1, 0.5]])
    s = data.FeatureSampler(p, 100_000, seed=1, backend=backend)
    x = s.sample()
    assert x.shape == (2, 100_000, 2)
    assert x.mT.is_contiguous(), "batch-last storage keeps the matrix products fast"
    assert torch.allclose((x != 0).float().mean(1), p, atol=0.006)
    kept = x.clone()
    assert not torch.equal(s.sample(), kept), "each call draws a fresh batch"
    again = data.FeatureSampler(p, 100_000, seed=1, backend=backend).sample()
    assert torch.equal(again, kept), "same seed, same batches"


def test_feature_sampler_signed_and_errors():
    x = data.FeatureSampler(torch.full((1, 3), 0.5), 40_000, signed=True).sample()
    present = x[x != 0]
    assert present.min() >= -1 and present.max() < 1 and abs(present.mean().item()) < 0.02
    with bad_input("feature_probability"):
        data.FeatureSampler(torch.full((3,), 0.5), 10)
    with pytest.raises(ValueError, match="feature_probability"):
        data.FeatureSampler(torch.full((1, 3), 0.0), 10)
    with pytest.raises(ValueError, match="backend"):
        data.FeatureSampler(torch.full((1, 3), 0.5), 10, backend="jax")
    with pytest.raises(ValueError, match="batch_size"):
        data.FeatureSampler(torch.full((1, 3), 0.5), -1)


def test_one_hot_sampler_has_one_active_feature():
    from superpos_lib.data import OneHotSampler

    s = OneHotSampler(3, 6, 4096, seed=0)
    x = s.sample()
    assert x.shape == (3, 4096, 6)
    assert ((x > 0).sum(-1) == 1).all()
    assert 0.45 < x.sum(-1).mean() < 0.55                       # values uniform on [0, 1)
    counts = (x > 0).sum((0, 1)).float()
    assert (counts / counts.mean() - 1).abs().max() < 0.1        # features equally often
    with bad_input("n_features"):
        OneHotSampler(3, 0, 16)


# -- correlated and anticorrelated groups ----------------------------------------------------------
def _presence(x):
    return (x != 0).float()


@pytest.mark.parametrize("p", [0.1, 0.5, 0.7, 0.95])
def test_feature_groups_keep_every_density_and_set_the_overlap(p):
    groups = FeatureGroups(correlated=1, anticorrelated=1, size=2)
    x = generate_batch(torch.full((1, 5), p), 100_000, groups=groups, generator=torch.Generator().manual_seed(0))[0]
    on = _presence(x)
    assert torch.allclose(on.mean(0), torch.full((5,), p), atol=0.006)       # every marginal is p
    assert abs((on[:, 0] * on[:, 1]).mean() - p) < 0.006                      # together: P(both) = p
    assert abs((on[:, 2] * on[:, 3]).mean() - max(0.0, 2 * p - 1)) < 0.006    # apart: the least overlap
    assert abs((on[:, 1] * on[:, 4]).mean() - p * p) < 0.006                  # independent of the rest
    assert abs(x[x != 0].mean() - 0.5) < 0.01                                 # values stay uniform


def test_anticorrelated_group_of_three_with_unequal_densities():
    groups = FeatureGroups(anticorrelated=1, size=3)
    p = torch.tensor([[0.2, 0.3, 0.4]])
    on = _presence(generate_batch(p, 100_000, groups=groups, generator=torch.Generator().manual_seed(1))[0])
    assert torch.allclose(on.mean(0), p[0], atol=0.006)
    assert on.sum(1).max() == 1  # Σ p <= 1: never two at once


def test_feature_sampler_with_groups_on_both_backends():
    groups = FeatureGroups(correlated=2)
    for backend in ("numpy", "torch"):
        s = FeatureSampler(torch.full((3, 6), 0.3), 50_000, groups=groups, signed=True, backend=backend)
        on = _presence(s.sample())
        assert torch.allclose(on.mean((0, 1)), torch.full((6,), 0.3), atol=0.01)
        assert torch.equal(on[..., 0], on[..., 1]) and torch.equal(on[..., 2], on[..., 3])
        assert not torch.equal(on[..., 4], on[..., 5])


def test_feature_sampler_without_groups_draws_what_it_always_drew():
    p = torch.full((2, 4), 0.2)
    a = FeatureSampler(p, 64, seed=3).sample().clone()
    b = FeatureSampler(p, 64, seed=3, groups=FeatureGroups()).sample()
    assert torch.equal(a, b)


def test_feature_groups_labels_and_errors():
    g = FeatureGroups(correlated=1, anticorrelated=2, size=2)
    assert g.n_grouped == 6
    assert g.group_of(7).tolist() == [0, 0, 1, 1, 2, 2, -1]
    assert g.labels(7)[:3] == ["correlated 1", "correlated 1", "anticorrelated 1"]
    with bad_input("correlated"):
        FeatureGroups(correlated=-1)
    with bad_input("size"):
        FeatureGroups(size=1)
    with bad_input("groups"):
        generate_batch(torch.full((1, 3), 0.1), 8, groups=g)
    with bad_input("groups"):
        FeatureSampler(torch.full((1, 3), 0.1), 8, groups="pairs")


def test_train_toy_models_with_groups_records_them():
    g = FeatureGroups(anticorrelated=1)
    r = train_toy_models(3, 2, 0.2, n_inst=2, groups=g, steps=20, device="cpu")
    assert r.groups == g and torch.isfinite(r.loss).all()


def test_instance_settings_and_best_of_seeds():
    p, imp, n_inst, n_seeds = data.instance_settings([[0.1], [0.5]], 1.0, 3, 4)
    assert p.shape == imp.shape == (4, 3) and (n_inst, n_seeds) == (4, 2)
    assert p[:, 0].tolist() == pytest.approx([0.1, 0.1, 0.5, 0.5])
    assert data.best_of_seeds(torch.tensor([3.0, 1.0, 0.5, 2.0]), 2).tolist() == [1, 2]
    with bad_input("importance"):
        data.instance_settings(0.1, -1.0, 3, None)
