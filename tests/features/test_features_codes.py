import pytest
import torch

from conftest import bad_input
from superpos_lib import features


def test_pack_and_unpack():
    x1, x2 = torch.tensor([0.37, 0.0, 0.99]), torch.tensor([0.25, 0.5, 0.01])
    z = features.pack_two(x1, x2)
    assert z.tolist() == pytest.approx([0.325, 0.05, 0.901])
    tenths, back = features.unpack_two(z)
    assert tenths.tolist() == pytest.approx([0.3, 0.0, 0.9]) and back.tolist() == pytest.approx(x2.tolist(), abs=1e-6)
    with bad_input("x1"):
        features.pack_two(torch.tensor([1.0]), torch.tensor([0.5]))
    with bad_input("x2"):
        features.pack_two(torch.tensor([0.5]), torch.tensor([float("nan")]))


def test_random_directions():
    d = features.random_directions(4, 6, generator=torch.Generator().manual_seed(0))
    assert d.shape == (4, 6) and torch.allclose(d.norm(dim=1), torch.ones(4), atol=1e-6)
    o = features.random_directions(4, 6, orthogonal=True, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(o @ o.T, torch.eye(4), atol=1e-5)
    with bad_input("orthogonal"):
        features.random_directions(5, 3, orthogonal=True)
    with bad_input("n_features"):
        features.random_directions(0, 3)


def test_regular_polygon():
    P = features.regular_polygon(4, radius=2.0)
    assert P.shape == (2, 4) and torch.allclose(P.norm(dim=0), torch.full((4,), 2.0))
    assert torch.allclose(P[:, 1], torch.tensor([0.0, 2.0]), atol=1e-6)


def test_compose_and_probes():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2000, 3, generator=g)
    D = features.random_directions(3, 3, generator=g)
    r = features.compose(x, D)
    assert torch.allclose(r, x @ D)
    probe = features.fit_probe(r, x[:, 1])
    assert torch.allclose(probe(r), x[:, 1], atol=1e-4)
    assert features.probe_r2(r, x[:, 2]) > 0.9999
    z = features.pack_two(x[:, 0], x[:, 1])[:, None]
    assert features.probe_r2(z, x[:, 1]) < 0.1, "the packed value is invisible to a linear probe"
    with bad_input("directions"):
        features.compose(x, torch.ones(2, 3))
    with bad_input("more samples"):
        features.fit_probe(torch.ones(3, 5), torch.ones(3))
    with bad_input("NaN"):
        features.fit_probe(torch.full((10, 2), float("nan")), torch.ones(10))
    with bad_input("train_fraction"):
        features.probe_r2(r, x[:, 0], train_fraction=1.0)


def test_r_squared():
    y = torch.tensor([1.0, 2.0, 3.0])
    assert features.r_squared(y, y) == pytest.approx(1.0)
    assert features.r_squared(torch.full((3,), 2.0), y) == pytest.approx(0.0)
    with bad_input("target"):
        features.r_squared(torch.ones(2), y)


def test_superposition_and_alignment_tests():
    assert features.gram_is_invertible(torch.eye(3))
    assert not features.gram_is_invertible(features.regular_polygon(5)), "5 directions in 2-D"
    assert not features.gram_is_invertible(torch.tensor([[1.0, 0.0], [0.0, 0.0]])), "a dropped feature"
    assert not features.in_superposition(torch.tensor([[1.0, 0.0], [0.0, 0.0]])), "dropping a feature is not superposing it"
    assert features.in_superposition(features.regular_polygon(5))
    assert not features.in_superposition(torch.eye(3)) and not features.in_superposition(torch.zeros(2, 3))
    weak = torch.cat([torch.eye(2), 0.3 * features.regular_polygon(3)], dim=1)  # two features kept, three barely
    assert not features.in_superposition(weak), "below the represented norm, weak columns do not count"
    assert features.in_superposition(weak, min_norm=0.0), "with every column kept: 5 in 2-D"
    assert features.is_basis_aligned(torch.diag(torch.tensor([2.0, 0.5])))
    assert features.is_basis_aligned(torch.tensor([[0.0, 1.0], [3.0, 0.0]])), "a permutation is aligned"
    assert not features.is_basis_aligned(torch.tensor([[1.0, 1.0], [-1.0, 1.0]]))
    assert not features.is_basis_aligned(torch.tensor([[1.0, 1.0], [0.0, 0.0]])), "two features on one neuron"
    with bad_input("W"):
        features.gram_is_invertible(torch.ones(1, 2, 3))
    with bad_input("W"):
        features.is_basis_aligned(torch.ones(1, 2, 3))
    with bad_input("W"):
        features.in_superposition(torch.ones(1, 2, 3))
    with bad_input("min_norm"):
        features.in_superposition(torch.eye(2), min_norm=-1.0)


def test_composition_demo_reads_back_exactly_and_packed_fails():
    demo = features.CompositionDemo.make(n_samples=2000)
    x = torch.tensor([0.2, 0.9, 0.5])
    rep, out = demo.read(x)
    assert torch.allclose(rep, x @ demo.directions, atol=1e-6)
    assert torch.allclose(out["true value"], x)
    assert torch.allclose(out["probe on linear r"], x, atol=1e-3)
    assert torch.allclose(out["decoding packed z"][:2], torch.tensor([0.2, 0.9]), atol=1e-5)
    assert torch.isnan(out["decoding packed z"][2]) and torch.isnan(out["probe on packed z"][2])
    assert abs(out["probe on packed z"][1] - 0.9) > 0.2, "no linear readout of x2 from z"
    with bad_input("x"):
        demo.read(torch.tensor([0.2, 0.3]))
    with bad_input("x"):
        demo.read(torch.tensor([0.2, 0.3, 1.5]))
