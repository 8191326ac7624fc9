"""Chapter 7's adversarial measurements: the exact law of the ReLU-output model and the search."""

import pytest
import torch

from conftest import bad_input
from superpos_lib.computation import NORMS, min_perturbation, relu_output_min_perturbation, single_feature_inputs
from superpos_lib.metrics import feature_dimensionality, feature_norms


def _model(W, b):
    return lambda x: torch.relu(x @ (W.mT @ W) + b[:, None, :])


def test_exact_answers_on_hand_built_models():
    eye = torch.eye(3)[None]
    out = relu_output_min_perturbation(eye, torch.zeros(1, 3), delta=0.25, base=0.5)
    assert torch.allclose(out["l2"], torch.full((1, 3), 0.25)) and torch.allclose(out["linf"], torch.full((1, 3), 0.25))
    pair = torch.tensor([[[1.0, -1.0]]])  # an antipodal pair: a = (1, -1)
    out = relu_output_min_perturbation(pair, torch.zeros(1, 2), delta=0.25)
    assert out["l2"][0, 0].item() == pytest.approx(0.25 / 2**0.5) and out["linf"][0, 0].item() == pytest.approx(0.125)
    off = relu_output_min_perturbation(eye, torch.full((1, 3), -1.0), delta=0.25, base=0.5)  # starts at z = -0.5
    assert torch.allclose(off["l2"], torch.full((1, 3), 0.75))
    dropped = torch.tensor([[[1.0, 0.0]]])
    assert torch.isinf(relu_output_min_perturbation(dropped, torch.zeros(1, 2))["l2"][0, 1])


def test_l2_answer_is_set_by_the_dimensionality():
    W = torch.randn(4, 3, 8, generator=torch.Generator().manual_seed(0))
    out = relu_output_min_perturbation(W, torch.zeros(4, 8), delta=0.25, base=0.5)
    law = 0.25 * feature_dimensionality(W).sqrt() / feature_norms(W) ** 2
    assert torch.allclose(out["l2"], law, rtol=1e-4)


@pytest.mark.parametrize("norm", NORMS)
def test_search_matches_the_exact_answer(norm):
    g = torch.Generator().manual_seed(1)
    W = torch.randn(3, 2, 6, generator=g) * 0.8
    b = -0.1 * torch.rand(3, 6, generator=g)
    exact = relu_output_min_perturbation(W, b, delta=0.25, base=0.5)[norm]
    found = min_perturbation(_model(W, b), torch.full((3, 6), 0.5), delta=0.25, norm=norm)
    active = 0.5 * (W**2).sum(dim=1) + b > 0  # the search follows gradients: outputs on at the start
    ok = (exact < 1.5) & active
    assert ok.sum() > 10
    ratio = found[ok] / exact[ok]
    assert ratio.min() > 1 - 1e-3 and ratio.max() < 1.01, ratio


def test_search_reports_inf_when_the_output_cannot_move():
    W = torch.tensor([[[1.0, 0.0]]])
    found = min_perturbation(_model(W, torch.zeros(1, 2)), torch.full((1, 2), 0.5), norm="l2", max_eps=1.0)
    assert found[0, 0].item() == pytest.approx(0.25, rel=1e-3) and torch.isinf(found[0, 1])


def test_single_feature_inputs():
    x = single_feature_inputs(2, 3, torch.tensor([[0.5, -0.5, 0.0], [1.0, 1.0, 1.0]]))
    assert x.shape == (2, 3, 3) and x[0, 1, 1] == -0.5 and x[0, 0, 1] == 0 and torch.equal(x[1], torch.eye(3))


def test_bad_input_names_the_argument():
    W, b = torch.eye(2)[None], torch.zeros(1, 2)
    with bad_input("b"):
        relu_output_min_perturbation(W, b[0])
    with bad_input("delta"):
        relu_output_min_perturbation(W, b, delta=0)
    with bad_input("norm"):
        min_perturbation(_model(W, b), b + 0.5, norm="l1")
    with bad_input("base"):
        min_perturbation(_model(W, b), torch.zeros(2))
    with bad_input("steps"):
        min_perturbation(_model(W, b), b + 0.5, steps=0)
    with bad_input("restarts"):
        min_perturbation(_model(W, b), b + 0.5, restarts=0)
    with bad_input("max_eps"):
        min_perturbation(_model(W, b), b + 0.5, max_eps=-1)
    with bad_input("n_inst"):
        single_feature_inputs(0, 2, 0.5)
