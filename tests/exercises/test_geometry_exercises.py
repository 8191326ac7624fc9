"""Chapter 6's exercises beyond what every exercise is tested for: the solutions agree with the
library (``superpos_lib.geometry``, the anticorrelated generator with ``FeatureGroups.present_``,
the square antiprism's D = 3/8 with ``metrics.feature_dimensionality``), the graph's components
are the tegum factors, and correct answers written another way pass."""

import math

import torch

from superpos_lib import geometry, metrics
from superpos_lib.data import FeatureGroups
from superpos_lib.exercises import EXERCISES, check
from superpos_lib.features import regular_polygon


def solution(name):
    return EXERCISES[name].solution


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_chapter_6_solutions_match_the_library():
    W = torch.randn(3, 2, 6, generator=gen(1))
    W[1, :, 2] = 0
    assert torch.allclose(solution("feature_dimensionality")(W), metrics.feature_dimensionality(W), atol=1e-5)
    for t in (0.1, 0.5, 1.2):
        assert torch.equal(solution("strong_connections")(W, t), geometry.strong_connections(W, t))
    factors = [regular_polygon(5), torch.tensor([[1.0, -1.0]]), torch.randn(3, 4, generator=gen(2))]
    assert torch.equal(solution("tegum_product")(factors), geometry.tegum_product(*factors))
    assert torch.allclose(solution("square_antiprism")(), geometry.ideal_structure("square antiprism"), atol=1e-6)


def test_anticorrelated_present_is_the_library_generator():
    for p in ([[0.1, 0.3, 0.2], [0.7, 0.2, 0.05], [0.6, 0.5, 0.4], [0.9, 0.8, 0.3]],
              [[0.7, 0.7], [0.95, 0.2]], [[0.25, 0.25, 0.25, 0.25], [0.5, 0.6, 0.7, 0.9]]):
        p = torch.tensor(p)
        inst, k = p.shape
        g = torch.rand(inst, 5000, generator=gen(k))
        library = FeatureGroups(anticorrelated=1, size=k).present_(g[:, None, :].clone(), p[:, :, None])
        assert torch.equal(solution("anticorrelated_present")(g, p), library.transpose(1, 2))


def test_the_square_antiprism_shares_three_dimensions_equally():
    W = solution("square_antiprism")()
    assert W.shape == (3, 8) and torch.allclose(W.norm(dim=0), torch.ones(8), atol=1e-6)
    D = metrics.feature_dimensionality(W[None].double())[0]
    assert torch.allclose(D, torch.full((8,), 3 / 8, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(W @ W.T, torch.eye(3) * 8 / 3, atol=1e-5)      # a tight frame
    cos = W.T @ W
    assert cos.min() > -1 + 0.1                                          # no antipodal pair


def test_a_tegum_product_keeps_each_factors_dimensionality():
    pentagon, pair = regular_polygon(5), torch.tensor([[1.0, -1.0]])
    W = solution("tegum_product")([pentagon, pair])
    D = metrics.feature_dimensionality(W[None])[0]
    assert torch.allclose(D, torch.tensor([0.4] * 5 + [0.5] * 2), atol=1e-5)


def test_the_graphs_components_are_the_tegum_factors():
    # a pentagon ⊕ an antipodal pair ⊕ a triangle, then rotated: the graph does not see the basis
    factors = [regular_polygon(5), torch.tensor([[1.0, -1.0]]), regular_polygon(3)]
    Q, _ = torch.linalg.qr(torch.randn(5, 5, generator=gen(0)))
    W = (Q @ solution("tegum_product")(factors))[None]
    edges = solution("strong_connections")(W, 0.3)[0]
    reach = torch.linalg.matrix_power((edges | torch.eye(10, dtype=torch.bool)).double(), 10) > 0
    factor = torch.tensor([0] * 5 + [1] * 2 + [2] * 3)
    assert torch.equal(reach, factor[:, None] == factor[None, :])


def test_other_correct_answers_pass():
    def strong_connections(W, threshold):
        unit = torch.nn.functional.normalize(W, dim=1)
        proj = torch.einsum("ihf,ihg->ifg", unit, W).abs()
        joined = (proj > threshold) | (proj > threshold).transpose(1, 2)
        return joined.logical_and(~torch.eye(W.shape[2], dtype=torch.bool))

    def anticorrelated_present(g, p):
        start = torch.cat([torch.zeros_like(p[:, :1]), p.cumsum(1)[:, :-1]], dim=1)
        return torch.remainder(g.unsqueeze(2) - start.unsqueeze(1), 1.0) <= p.unsqueeze(1)  # either edge

    def tegum_product(factors):
        out = torch.zeros(sum(f.shape[0] for f in factors), sum(f.shape[1] for f in factors))
        row = col = 0
        for f in factors:
            out[row : row + f.shape[0], col : col + f.shape[1]] = f
            row, col = row + f.shape[0], col + f.shape[1]
        return out

    def square_antiprism():
        # the lower square first, at z = -h, and both turned 10° about z: still the antiprism
        k = torch.arange(8, dtype=torch.float64)
        angle = torch.deg2rad(10 + 45 * k)
        z = torch.where(k % 2 == 0, -1.0, 1.0) / math.sqrt(3)
        return torch.stack([angle.cos(), angle.sin(), torch.zeros(8)]) * math.sqrt(2 / 3) + torch.stack(
            [torch.zeros(8), torch.zeros(8), z])

    for fn in (strong_connections, anticorrelated_present, tegum_product, square_antiprism):
        check(fn.__name__, fn)
