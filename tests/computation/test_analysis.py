"""Chapter 7's read-outs: single-feature responses, sides, primary neurons, the asymmetric motif."""

import pytest
import torch

from conftest import bad_input
from superpos_lib.computation import (AsymmetricMotif, check_absolute_weights, computed_sides, feature_response,
                                      find_asymmetric_motifs, primary_neurons)


def _exact(n_extra: int = 0):
    """Two features computed exactly by four neurons, plus ``n_extra`` features ignored."""
    n = 2 + n_extra
    W1 = torch.zeros(1, 4, n)
    W1[0, :, :2] = torch.tensor([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    W2 = torch.zeros(1, n, 4)
    W2[0, :2] = torch.tensor([[1.0, 1, 0, 0], [0, 0, 1, 1]])
    return W1, W2, torch.zeros(1, n)


def _motif_model():
    """A hand-built asymmetric motif: neuron 0 = ReLU(2 x_s - x_w / 2) shared by s = 0 and w = 1,
    neuron 1 = ReLU(x_s); output w reads neuron 0 with 2 and neuron 1 with -4, output s reads
    neuron 1 with 1 and neuron 0 with 0.1."""
    W1 = torch.tensor([[[2.0, -0.5], [1.0, 0.0]]])
    W2 = torch.tensor([[[0.1, 1.0], [2.0, -4.0]]])
    return W1, W2, torch.zeros(1, 2)


def test_feature_response_is_the_exact_single_feature_output():
    W1, W2, b = _exact(1)
    v = torch.tensor([-1.0, -0.3, 0.0, 0.4, 1.0])
    y = feature_response(W1, W2, b, v)
    assert y.shape == (1, 3, 5)
    assert torch.allclose(y[0, :2], v.abs().expand(2, 5)) and (y[0, 2] == 0).all()
    # against the model itself: feature i alone at v
    x = torch.zeros(5, 3)
    x[:, 1] = v
    direct = torch.relu(torch.relu(x @ W1[0].T) @ W2[0].T + b[0])[:, 1]
    assert torch.allclose(direct, y[0, 1])


def test_computed_sides_reads_full_half_and_flat_features():
    W1, W2, b = _exact(2)
    W1[0, 1, 0] = 0.0  # feature 0 loses its negative side
    b[0, 3] = 0.5      # feature 3 flat at the dense mean 1/2: computes neither side
    sides = computed_sides(W1, W2, b)
    assert sides[0].tolist() == [[False, True], [True, True], [False, False], [False, False]]
    # tolerance: a slope of 0.7 is within 0.5 but not within 0.2
    W2[0, 1, 2:] = 0.7
    assert computed_sides(W1, W2, b)[0, 1].tolist() == [False, False]
    assert computed_sides(W1, W2, b, tol=0.5)[0, 1].tolist() == [True, True]


def test_primary_neurons_counts_live_neurons_per_feature():
    W1, _, _ = _exact(1)
    W1 = torch.cat([W1, torch.zeros(1, 1, 3)], dim=1)  # a dead neuron
    assert primary_neurons(W1)[0].tolist() == [2, 2, 0]


def test_asymmetric_motif_is_found_with_its_exact_account():
    W1, W2, b = _motif_model()
    (motifs,) = find_asymmetric_motifs(W1, W2, b)
    assert len(motifs) == 1
    m = motifs[0]
    assert isinstance(m, AsymmetricMotif)
    assert (m.neuron, m.strong, m.weak, m.strong_sign, m.weak_sign) == (0, 0, 1, 1, -1)
    assert m.strong_weight == pytest.approx(2) and m.weak_weight == pytest.approx(0.5) and m.read == pytest.approx(2)
    assert m.push == pytest.approx(4) and m.inhibition == pytest.approx(-4) and m.inhibitors == (1,)
    assert m.output == pytest.approx(0) and m.reverse_push == pytest.approx(0.05)
    # the account is the model's own output
    y = torch.relu(torch.relu(torch.tensor([1.0, 0.0]) @ W1[0].T) @ W2[0].T + b[0])
    assert y[1].item() == pytest.approx(max(0.0, m.push + m.inhibition + m.bias))


def test_no_motif_without_cancellation_or_in_monosemantic_models():
    W1, W2, b = _motif_model()
    W2[0, 1, 1] = -1.0  # inhibition too weak: output w is not cleaned up
    assert find_asymmetric_motifs(W1, W2, b) == [[]]
    assert find_asymmetric_motifs(*_exact(3)) == [[]]
    W1, W2, b = _motif_model()
    assert find_asymmetric_motifs(W1, W2, b, ratio=5.0) == [[]]  # 2 / 0.5 = 4 is not asymmetric enough


def test_bad_input_names_the_argument():
    W1, W2, b = _exact()
    with bad_input("W1"):
        check_absolute_weights(W1[0], W2, b)
    with bad_input("W2"):
        check_absolute_weights(W1, W2.mT, b)
    with bad_input("b"):
        check_absolute_weights(W1, W2, b[0])
    with bad_input("W1"):
        check_absolute_weights([[1.0]], W2, b)
    with bad_input("values"):
        feature_response(W1, W2, b, torch.tensor([[0.5]]))
    with bad_input("tol"):
        computed_sides(W1, W2, b, tol=0)
    with bad_input("n_values"):
        computed_sides(W1, W2, b, n_values=0)
    with bad_input("W1"):
        primary_neurons(W1[0])
    with bad_input("ratio"):
        find_asymmetric_motifs(W1, W2, b, ratio=0.5)
    with bad_input("min_push"):
        find_asymmetric_motifs(W1, W2, b, min_push=0)
    with bad_input("max_output"):
        find_asymmetric_motifs(W1, W2, b, max_output=-1)
