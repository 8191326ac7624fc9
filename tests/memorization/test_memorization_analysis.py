"""Chapter 8's analysis: the dimensionality of training examples and features, and who holds the
hidden dimensions, on hand-built models whose answers are known."""

import math

import pytest
import torch

from conftest import bad_input
from superpos_lib import metrics
from superpos_lib.memorization import (OWNS, DoubleDescent, Regimes, dimension_owners, example_dimensionality,
                                       feature_dims, regimes)
from superpos_lib.training import TrainConfig


def polygon(T: int) -> torch.Tensor:
    """``(2, T)``: the unit vectors of a regular ``T``-gon."""
    angle = 2 * math.pi * torch.arange(T) / T
    return torch.stack([angle.cos(), angle.sin()])


def hand_built(W, X, n_examples) -> DoubleDescent:
    """A DoubleDescent holding given weights and training sets, one seed per size."""
    n_inst = W.shape[0]
    zeros = torch.zeros(n_inst)
    return DoubleDescent(sizes=tuple(int(t) for t in n_examples), n_seeds=1, W=W, b_final=torch.zeros(n_inst, W.shape[2]),
                         X=X, n_examples=torch.as_tensor(n_examples), train_loss=zeros, test_loss=zeros, density=0.1,
                         train_config=TrainConfig(steps=10), loss_history=torch.zeros(1, n_inst), logged_steps=(10,))


def polygon_of_examples(sizes, t_max):
    """Instance k: ``sizes[k]`` one-feature examples whose features (and so hidden vectors) form
    a regular ``sizes[k]``-gon, zero-padded to ``t_max``; ``t_max`` features."""
    W = torch.zeros(len(sizes), 2, t_max)
    X = torch.zeros(len(sizes), t_max, t_max)
    for k, T in enumerate(sizes):
        W[k, :, :T] = polygon(T)
        X[k, :T, :T] = torch.eye(T)
    return hand_built(W, X, sizes)


def test_examples_in_a_T_gon_have_m_over_T_dimensions_each():
    dd = polygon_of_examples((3, 5, 8), 8)
    De = example_dimensionality(dd)
    assert De.shape == (3, 8)
    for k, T in enumerate((3, 5, 8)):
        assert torch.allclose(De[k, :T], torch.full((T,), 2 / T), atol=1e-5)
        assert (De[k, T:] == 0).all(), "padding has no dimensionality"
    # an antipodal pair shares one dimension: 1/2 each (the T-gon's m/T holds from T = 3)
    assert torch.allclose(example_dimensionality(polygon_of_examples((2,), 2)), torch.full((1, 2), 0.5), atol=1e-5)


def test_example_dimensionality_uses_hidden_vectors_not_features():
    """Ten features per example all along one triangle vertex: the examples have 2/3 each, the
    features 1/15 (ten share a direction, and a third of each other vertex's ten interferes)."""
    W = polygon(3).repeat_interleave(10, dim=1)[None] / math.sqrt(10)  # (1, 2, 30)
    X = torch.zeros(1, 3, 30)
    for t in range(3):
        X[0, t, 10 * t:10 * (t + 1)] = 1 / math.sqrt(10)
    dd = hand_built(W, X, (3,))
    assert torch.allclose(example_dimensionality(dd), torch.full((1, 3), 2 / 3), atol=1e-5)
    assert torch.allclose(feature_dims(dd), torch.full((1, 30), 1 / 15), atol=1e-5)
    r = regimes(dd)
    assert r.example_owners.tolist() == [3] and r.feature_owners.tolist() == [0]
    assert r.memorizing.tolist() == [True] and r.generalizing.tolist() == [False]
    assert r.max_example_dim.item() == pytest.approx(2 / 3, abs=1e-5) and r.max_feature_dim.item() == pytest.approx(1 / 15, abs=1e-5)


def test_a_generalizing_model():
    """Five features in a pentagon (D = 2/5 each) and 40 examples, 8 on each feature: each
    example's hidden vector shares its direction with 7 others, D = 1/20."""
    W = polygon(5)[None]
    X = torch.eye(5).repeat(8, 1)[None]  # (1, 40, 5)
    dd = hand_built(W, X, (40,))
    assert torch.allclose(example_dimensionality(dd), torch.full((1, 40), 1 / 20), atol=1e-5)
    r = regimes(dd)
    assert isinstance(r, Regimes) and r.example_owners.tolist() == [0] and r.feature_owners.tolist() == [5]
    assert r.generalizing.tolist() == [True] and r.memorizing.tolist() == [False]
    assert regimes(dd, threshold=0.5).feature_owners.tolist() == [0], "the threshold is used"
    assert regimes(dd, threshold=0.04).example_owners.tolist() == [40]


def test_regimes_per_instance_and_the_zero_model():
    dd = polygon_of_examples((3, 8), 8)  # examples and features coincide: both hold dimensions
    r = regimes(dd)
    assert r.example_owners.tolist() == [3, 8] and r.feature_owners.tolist() == [3, 8]  # 2/3 and 2/8 > 0.2
    assert r.memorizing.tolist() == [False, False] and r.generalizing.tolist() == [False, False]
    zero = hand_built(torch.zeros(1, 2, 4), torch.eye(4)[None], (4,))
    rz = regimes(zero)
    assert rz.example_owners.tolist() == [0] and rz.feature_owners.tolist() == [0]
    assert not rz.memorizing.item() and not rz.generalizing.item()


def test_feature_dims_is_tms_feature_dimensionality():
    W = torch.randn(3, 2, 6, generator=torch.Generator().manual_seed(1))
    dd = hand_built(W, torch.rand(3, 4, 6), (4, 4, 4))
    assert torch.equal(feature_dims(dd), metrics.feature_dimensionality(W))


def test_dimension_owners_counts_and_checks():
    D = torch.tensor([[0.5, 0.2, 0.1, 0.0], [0.9, 0.4, 0.3, 0.25]])
    assert dimension_owners(D).tolist() == [1, 4]  # strictly above OWNS = 0.2
    assert dimension_owners(D, 0.35).tolist() == [1, 2]
    assert OWNS == 0.2
    with bad_input("threshold"):
        dimension_owners(D, 0.0)
    with bad_input("threshold"):
        dimension_owners(D, -1.0)
    with bad_input("D"):
        dimension_owners(torch.ones(4))


def test_feature_alignment_reads_features_along_their_examples():
    from superpos_lib.memorization import feature_alignment

    # 3 examples in a triangle; features 0-2 one per example, feature 3 shares example 0 with
    # feature 0 but points elsewhere, feature 4 occurs nowhere (length 0.3).
    W = torch.zeros(1, 2, 5)
    W[0, :, :3] = polygon(3)
    W[0, :, 3] = torch.tensor([0.0, 0.1])
    W[0, :, 4] = torch.tensor([0.3, 0.0])
    X = torch.zeros(1, 3, 5)
    X[0, 0, 0], X[0, 0, 3] = 0.99, 0.1
    X[0, 1, 1] = X[0, 2, 2] = 1.0
    a = feature_alignment(hand_built(W, X, [3]))
    h0 = W[0] @ X[0, 0]
    expected_3 = float(W[0, :, 3] @ h0 / (W[0, :, 3].norm() * h0.norm()))
    assert a.cosine[0, :3].tolist() == pytest.approx([1.0, 1.0, 1.0], abs=1e-3)
    assert a.cosine[0, 3].item() == pytest.approx(expected_3, abs=1e-5) and expected_3 < 0.9
    assert math.isnan(a.cosine[0, 4].item()) and a.absent_norm[0].item() == pytest.approx(0.3)
    assert a.share_aligned()[0].item() == pytest.approx(3 / 4)
    assert a.share_aligned(-1.0)[0].item() == pytest.approx(1.0)
    with bad_input("threshold"):
        a.share_aligned(2.0)
