import math

import pytest
import torch

from conftest import bad_input
from superpos_lib import metrics


def polygon(k: int, radius: float = 1.0) -> torch.Tensor:
    """A regular k-gon of feature directions in 2-D, shaped (1, 2, k)."""
    theta = torch.arange(k) * 2 * math.pi / k
    return (radius * torch.stack([theta.cos(), theta.sin()]))[None]


TETRAHEDRON = torch.tensor([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float32).T[None] / math.sqrt(3)


def test_norms_and_gram():
    W = torch.tensor([[[3.0, 0.0], [4.0, 1.0]]])
    assert torch.allclose(metrics.feature_norms(W), torch.tensor([[5.0, 1.0]]))
    assert torch.allclose(metrics.gram(W), torch.tensor([[[25.0, 4.0], [4.0, 1.0]]]))


@pytest.mark.parametrize(
    "W, superposition, dimensionality",
    [(torch.eye(3)[None], 0.0, 1.0), (polygon(2), 1.0, 1 / 2), (polygon(3), 0.5, 2 / 3),
     (polygon(4), 1.0, 1 / 2), (polygon(5), 1.5, 2 / 5), (TETRAHEDRON, 1 / 3, 3 / 4)],
)
def test_superposition_and_dimensionality_of_ideal_structures(W, superposition, dimensionality):
    assert torch.allclose(metrics.superposition(W), torch.full(W.shape[::2], superposition), atol=1e-5)
    assert torch.allclose(metrics.feature_dimensionality(W), torch.full(W.shape[::2], dimensionality), atol=1e-5)


def test_k_gon_dimensionality_is_2_over_k():
    for k in range(3, 9):
        assert metrics.feature_dimensionality(polygon(k))[0, 0].item() == pytest.approx(2 / k, abs=1e-5)


def test_dropped_features_have_zero_dimensionality():
    W = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    assert metrics.feature_dimensionality(W)[0].tolist() == pytest.approx([1, 1, 0], abs=1e-6)
    assert metrics.superposition(W)[0].tolist() == pytest.approx([0, 0, 0], abs=1e-6)


def test_dimensions_per_feature_and_represented():
    assert metrics.dimensions_per_feature(polygon(5)).item() == pytest.approx(2 / 5)
    assert metrics.dimensions_per_feature(torch.eye(2)[None]).item() == pytest.approx(1.0)
    W = torch.tensor([[[1.0, 0.3, 0.0], [0.0, 0.3, 0.9]]])
    assert metrics.n_represented(W).tolist() == [2]
    assert metrics.n_represented(W, threshold=0.1).tolist() == [3]


def test_angles_and_gaps():
    W = polygon(5).roll(2, dims=2)
    angles = metrics.feature_angles(polygon(4))[0] % 360  # (-180, 180]: -180 and 180 are the same
    assert angles.tolist() == pytest.approx([0, 90, 180, 270], abs=1e-4)
    gaps = metrics.angular_gaps(W)
    assert len(gaps) == 1 and gaps[0].tolist() == pytest.approx([72] * 5, abs=1e-3)
    lonely = torch.tensor([[[1.0, 0.1], [0.0, 0.0]]])
    assert metrics.angular_gaps(lonely)[0].numel() == 0
    with bad_input("W"):
        metrics.feature_angles(torch.ones(1, 3, 4))


def test_dense_optimal_loss_matches_targets():
    imp = 0.7 ** torch.arange(20, dtype=torch.float32)
    assert metrics.dense_optimal_loss(imp, 5).item() == pytest.approx(0.0023232, rel=1e-4)
    imp5 = 0.9 ** torch.arange(5, dtype=torch.float32)
    assert metrics.dense_optimal_loss(imp5, 2).item() == pytest.approx(0.036585, rel=1e-4)
    both = metrics.dense_optimal_loss(torch.stack([imp5, imp5.flip(0)]), 2)
    assert torch.allclose(both, torch.tensor([0.036585, 0.036585]), rtol=1e-4), "sorted by importance"
    assert metrics.dense_optimal_loss(imp5, 5).item() == 0.0


def test_metrics_reject_bad_input():
    with bad_input("W"):
        metrics.feature_norms(torch.ones(2, 3))
    with bad_input("NaN"):
        metrics.superposition(torch.full((1, 2, 3), float("nan")))
    with bad_input("d_hidden"):
        metrics.dense_optimal_loss(torch.ones(4), 0)
    with bad_input("importance"):
        metrics.dense_optimal_loss(torch.tensor([1.0, -1.0]), 1)


def test_loss_decomposition_matches_the_measured_loss():
    from superpos_lib.models import ToyModel, ToyModelConfig
    from superpos_lib.models import evaluate_loss

    model = ToyModel(ToyModelConfig(8, 3, 2, relu=False), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        model.b_final.normal_(0, 0.1)
    p = torch.tensor([[0.2] * 8, [0.9] * 8])
    imp = (0.8 ** torch.arange(8.0)).expand(2, 8).contiguous()
    terms = metrics.loss_decomposition(model.W.detach(), p, imp, model.b_final.detach())
    measured = evaluate_loss(model, p, imp, n_samples=2**19, signed=True)
    assert torch.allclose(terms.total, measured, rtol=0.01)
    assert (terms.benefit > 0).all() and (terms.interference > 0).all() and (terms.bias > 0).all()


def test_loss_decomposition_terms_by_hand():
    # Two unit features at 60 degrees in 2-D, one shrunk: benefit from the short one, interference cos^2.
    W = torch.tensor([[[1.0, 0.25], [0.0, 0.25 * math.sqrt(3)]]])    # |W_1| = 0.5
    p = torch.full((1, 2), 0.3)
    imp = torch.ones(1, 2)
    t = metrics.loss_decomposition(W, p, imp)
    assert t.benefit.item() == pytest.approx((0.1 * (1 - 0.25) ** 2) / 2, rel=1e-5)
    dot = 0.25
    assert t.interference.item() == pytest.approx(2 * 0.1 * dot**2 / 2, rel=1e-5)
    assert t.bias.item() == 0
    with bad_input("feature_probability"):
        metrics.loss_decomposition(W, torch.full((1, 3), 0.3), imp)
    with bad_input("feature_probability"):
        metrics.loss_decomposition(W, torch.full((1, 2), 1.5), imp)


def test_pairwise_interference_relu_drops_negative_overlaps():
    W = torch.tensor([[[1.0, -1.0, 0.6], [0.0, 0.0, 0.8]]])
    lin = metrics.pairwise_interference(W)
    relu = metrics.pairwise_interference(W, relu=True)
    assert lin[0, 0, 1].item() == pytest.approx(1.0) and relu[0, 0, 1].item() == 0
    assert relu[0, 0, 2].item() == pytest.approx(0.36) and torch.diagonal(lin[0]).abs().sum() == 0
