"""Chapter 8's exercises beyond what every exercise is tested for: the solutions agree with the
library (``superpos_lib.memorization``: the datasets of ``finite_datasets``, the examples'
dimensionality of a ``DoubleDescent``, the loss of ``FiniteDataModel``), the stored examples
form a T-gon of D = 2/T each, and correct answers written another way pass."""

import math
from dataclasses import replace

import pytest
import torch

from superpos_lib import memorization, metrics
from superpos_lib.exercises import EXERCISES, check
from superpos_lib.exercises.memorization import MEMORIZED, _disjoint_examples
from superpos_lib.memorization import FiniteDataModel


def solution(name):
    return EXERCISES[name].solution


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_unit_norm_dataset_is_the_librarys_dataset():
    for T, n, density, seed in ((50, 200, 0.05, 0), (300, 20, 0.1, 3), (7, 5, 0.5, 11)):
        X, _ = memorization.finite_datasets([T], n, density, seed=seed)
        assert torch.allclose(solution("unit_norm_dataset")(T, n, density, gen(seed)), X[0], atol=1e-6)


def test_example_dimensionality_is_the_librarys():
    dd = memorization.double_descent([3, 7], n_features=12, n_seeds=2,
                                     train_config=replace(memorization.MEMORIZATION_TRAINING, steps=50),
                                     n_test=64, progress=False)
    D = memorization.example_dimensionality(dd)
    for k in range(dd.n_inst):
        T = int(dd.n_examples[k])
        assert torch.allclose(solution("example_dimensionality")(dd.W[k], dd.examples(k)), D[k, :T], atol=1e-5)
    W, X = torch.randn(3, 8, generator=gen(1)), torch.rand(5, 8, generator=gen(2))
    X[1] = 0
    expected = metrics.feature_dimensionality((W @ X.T)[None])[0]
    assert torch.allclose(solution("example_dimensionality")(W, X), expected, atol=1e-5)


@pytest.mark.parametrize("T", [2, 3, 4, 5, 8, 20])
def test_memorize_stores_a_T_gon_with_the_librarys_loss(T):
    X = _disjoint_examples(T, seed=T, n_features=4 * T + 3)
    W, b = solution("memorize")(X)
    model = FiniteDataModel.from_weights(W[None], b[None])
    with torch.no_grad():
        loss = model.loss(X[None], torch.full((1, T), 1 / T))[0].item()
    assert loss < 1e-9 < MEMORIZED
    H = W @ X.T                                            # the hidden vectors form a T-gon
    norms = H.norm(dim=0)
    assert torch.allclose(norms, norms[0].expand(T), rtol=1e-5)
    D = solution("example_dimensionality")(W, X)
    assert torch.allclose(D, torch.full((T,), 2 / T if T > 2 else 0.5), atol=1e-5)


def test_other_correct_answers_pass():
    def unit_norm_dataset(T, n_features, density, generator=None):
        # coins first, then values, and the library trick u / p for a value: still right
        u = torch.rand(T, n_features, generator=generator)
        x = torch.where(u < density, u / density, 0.0)
        return torch.nn.functional.normalize(x, dim=1)

    def example_dimensionality(W, X):
        H = torch.einsum("hf,tf->th", W, X)
        unit = torch.nn.functional.normalize(H, dim=1)
        total = ((unit @ H.T) ** 2).sum(1)
        return torch.where(total > 0, H.square().sum(1) / total.clamp_min(1e-30), 0.0)

    def memorize(X):
        # examples in reverse order round the circle, a stronger cut and W lengthened to match
        T = X.shape[0]
        angles = -2 * math.pi * torch.arange(T) / T + 0.3
        U = torch.stack([angles.cos(), angles.sin()])
        c = math.cos(2 * math.pi / T)
        beta = c + 0.2 * (1 - c)
        a2 = 1 / (1 - beta)
        return math.sqrt(a2) * U @ X, -a2 * beta * X.sum(0)

    def peak_size(sizes, train_loss, test_loss):
        curve = test_loss.gather(1, train_loss.argmin(1, keepdim=True)).squeeze(1)
        i = curve.argmax().item()
        if i == 0 or i == len(sizes) - 1:
            raise ValueError("test_loss has no interior peak")
        return int(sizes[i]), float(curve[i] / curve[[0, -1]].max())

    for fn in (unit_norm_dataset, example_dimensionality, memorize, peak_size):
        assert check(fn.__name__, fn) is None, fn.__name__
