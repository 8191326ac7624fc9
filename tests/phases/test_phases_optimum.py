"""The exact loss and optimum of the n = 2, m = 1 model, against independent estimates."""

import pytest
import torch

from conftest import bad_input, midpoint_loss
from superpos_lib import phases
from superpos_lib.data import FeatureSampler
from superpos_lib.models import ToyModel

# Weights with every kind of ReLU piece: kinks inside the unit square, negative and positive
# overlaps and biases, a feature switched off.
SETTINGS = [
    ([0.97, -0.97], [0.10, 0.10], 1.0, 0.5),
    ([0.93, -0.40], [0.22, 0.55], 1.0, 0.9),
    ([0.6, 0.8], [-0.3, 0.2], 0.4, 0.2),
    ([1.3, -0.2], [-0.5, 0.7], 3.0, 0.7),
    ([0.0, 0.9], [0.05, -0.1], 2.0, 0.05),
]


def _exact(w, b, r, p):
    W = torch.tensor([[w]], dtype=torch.float64)
    return phases.exact_loss(W, torch.tensor([b], dtype=torch.float64), p, r).item()


@pytest.mark.parametrize("w,b,r,p", SETTINGS)
def test_exact_loss_matches_the_midpoint_rule(w, b, r, p):
    # The midpoint rule's error at a ReLU kink is O(1/n²): measured below 2e-6 relative at n = 600.
    assert _exact(w, b, r, p) == pytest.approx(midpoint_loss(w, b, r, p, n=600), rel=2e-5)


def test_exact_loss_matches_monte_carlo():
    W = torch.tensor([[s[0]] for s in SETTINGS], dtype=torch.float32)
    b = torch.tensor([s[1] for s in SETTINGS], dtype=torch.float32)
    r = torch.tensor([s[2] for s in SETTINGS])
    p = torch.tensor([s[3] for s in SETTINGS])
    exact = phases.exact_loss(W.double(), b.double(), p, r)
    n, chunks = 2**18, 8                                           # 2M samples per instance
    imp = torch.stack([torch.ones_like(r), r], -1)
    sampler = FeatureSampler(p[:, None].expand(-1, 2).contiguous(), n, seed=3)
    model = ToyModel.from_weights(W, b)
    per_chunk = torch.stack([model.loss(sampler.sample(), imp).double() for _ in range(chunks)])
    mc, se = per_chunk.mean(0), per_chunk.std(0) / chunks**0.5
    assert ((exact - mc).abs() < 4 * se + 1e-6).all(), (exact, mc, se)   # within four standard errors


@pytest.mark.parametrize("r,p", [(1.0, 0.3), (0.4, 0.05), (3.0, 0.8), (1.0, 1.0)])
def test_exact_loss_of_the_candidates_is_their_closed_form(r, p):
    W = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, -1.0]]], dtype=torch.float64)
    b = torch.tensor([[0.0, p / 2], [p / 2, 0.0], [0.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(phases.exact_loss(W, b, p, r), phases.candidate_losses(r, p), rtol=1e-12)


def test_exact_optimum_at_r_1():
    p = torch.tensor([0.3, 0.5, 0.7, 0.9])
    opt = phases.exact_optimum(p)
    assert opt.loss.shape == (4,) and opt.W.shape == (4, 1, 2) and opt.b.shape == (4, 2)
    assert (opt.grad_norm < 1e-8).all()
    # The reported loss is the loss of the reported weights.
    assert torch.allclose(phases.exact_loss(opt.W, opt.b, p), opt.loss, rtol=1e-12)
    best = phases.candidate_losses(1.0, p).min(-1).values
    assert (opt.loss < best).all()
    assert opt.loss[0] / best[0] == pytest.approx(0.977, abs=0.002)       # 2.3 % below at p = 0.3
    # p = 0.5 and 0.7: a symmetric antipodal pair, shrinking, with a positive bias.
    for i, (norm, bias, loss) in zip((1, 2), [(0.969, 0.098, 0.0381), (0.759, 0.329, 0.0541)]):
        assert opt.W[i, 0, 0] == pytest.approx(-opt.W[i, 0, 1].item(), rel=1e-6)
        assert opt.norms[i, 0].item() == pytest.approx(norm, abs=0.002)
        assert opt.b[i].tolist() == pytest.approx([bias, bias], abs=0.002)
        assert opt.loss[i].item() == pytest.approx(loss, abs=1e-4)
    # p = 0.9: a lopsided pair with negative overlap, just below keeping one feature.
    assert opt.norms[3].tolist() == pytest.approx([0.935, 0.398], abs=0.002)
    assert opt.W[3, 0, 1] < 0
    assert opt.loss[3].item() == pytest.approx(0.04855, abs=1e-4) and opt.loss[3] < best[3] - 2e-4
    assert opt.label.tolist() == [phases.SUPERPOSED] * 3 + [phases.NOT_REPRESENTED]


def test_exact_optimum_beats_a_brute_force_grid():
    """No point of a 4-D grid over the weights and biases is below the optimum (a global check
    that the starts miss no basin), and the best grid point is close to it."""
    for r, p in [(1.0, 0.72), (0.6, 0.5), (2.0, 0.4)]:
        opt = phases.exact_optimum(p, r)
        w0 = torch.linspace(0.0, 1.2, 9, dtype=torch.float64)         # W and -W are the same model
        w1 = torch.linspace(-1.2, 1.2, 17, dtype=torch.float64)
        bb = torch.linspace(-0.1, 0.7, 13, dtype=torch.float64)
        g = torch.cartesian_prod(w0, w1, bb, bb)                        # (9 · 17 · 13², 4)
        grid_loss = phases.exact_loss(g[:, None, :2], g[:, 2:], p, r)
        assert grid_loss.min() >= opt.loss - 1e-12
        assert grid_loss.min() <= opt.loss * 1.05                      # measured: 0.5-2.6 % above


def test_exact_optimum_far_from_the_switch_and_bad_input():
    # Where one candidate wins clearly the optimum is that candidate.
    opt = phases.exact_optimum([0.9, 0.9], [0.1, 10.0])
    cand = phases.candidate_losses(torch.tensor([0.1, 10.0]), 0.9)
    assert opt.label.tolist() == [phases.NOT_REPRESENTED, phases.DEDICATED]
    assert torch.allclose(opt.loss, cand.min(-1).values, rtol=1e-3)
    assert float(phases.exact_optimum(0.5).loss) == pytest.approx(0.0381, abs=1e-4)
    with bad_input("p"):
        phases.exact_optimum(0.0)
    with bad_input("r"):
        phases.exact_optimum(0.5, -1.0)
    with bad_input("n_random"):
        phases.exact_optimum(0.5, n_random=-1)
    with bad_input("W"):
        phases.exact_loss(torch.zeros(2, 2, 2), torch.zeros(2, 2), 0.5)
    with bad_input("p"):
        phases.exact_loss(torch.zeros(3, 1, 2), torch.zeros(3, 2), torch.full((2,), 0.5))
