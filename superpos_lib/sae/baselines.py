"""The baselines an SAE must beat, and the statistics it starts from.

PCA and ICA find at most ``d_in`` directions, so on data with more features than dimensions
(superposition) they cannot recover them all: :func:`pca_directions` (orthogonal, by variance),
:func:`ica_directions` (scikit-learn's FastICA: independent, not necessarily orthogonal) and
:func:`pca_fvu`, the best dense reconstruction with ``L`` numbers per input, the dense curve on
an L0–FVU plot. :func:`geometric_median` sets an SAE's ``b_dec`` at initialisation (Bricken et al.).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from ..checks import check_matrix

__all__ = ["geometric_median", "pca_directions", "pca_fvu", "ica_directions"]


def geometric_median(x: Float[Tensor, "n d"], *, iters: int = 100, tol: float = 1e-6) -> Float[Tensor, "d"]:
    """The point minimising the summed distances to the rows of ``x`` (Weiszfeld's iteration)."""
    x = check_matrix(x, "x").double()
    y = x.mean(0)
    for _ in range(iters):
        d = (x - y).norm(dim=1).clamp(min=1e-12)
        w = 1 / d
        new = (w[:, None] * x).sum(0) / w.sum()
        if (new - y).norm() < tol * (1 + y.norm()):
            y = new
            break
        y = new
    return y.float()


def pca_directions(acts: Float[Tensor, "n d_in"], n_components: int | None = None) -> Float[Tensor, "n_components d_in"]:
    """Principal directions of ``acts`` (rows, by decreasing variance): the best a linear,
    orthogonal, at-most-``d_in`` dictionary can do."""
    acts = check_matrix(acts, "acts").float()
    d = acts.shape[1]
    n_components = d if n_components is None else n_components
    if not 0 < n_components <= d:
        raise ValueError(f"n_components must be in [1, d_in={d}], got {n_components!r}")
    centred = acts - acts.mean(0)
    _, _, Vh = torch.linalg.svd(centred, full_matrices=False)
    return Vh[:n_components]


def pca_fvu(acts: Float[Tensor, "n d_in"]) -> Float[Tensor, "d_in"]:
    """FVU of the best rank-``L`` linear reconstruction (the top ``L`` principal components),
    for ``L = 1 .. d_in``: the dense baseline on an L0–FVU plot (it uses ``L`` numbers per input)."""
    acts = check_matrix(acts, "acts").double()
    centred = acts - acts.mean(0)
    var = torch.linalg.svdvals(centred).square()
    return (1 - var.cumsum(0) / var.sum()).clamp(min=0).float()


def ica_directions(
    acts: Float[Tensor, "n d_in"], n_components: int | None = None, *, seed: int = 0, max_iter: int = 400
) -> Float[Tensor, "n_components d_in"]:
    """Independent directions of ``acts`` by scikit-learn's FastICA: the columns of its mixing
    matrix, as rows of unit norm. At most ``d_in`` of them, so it cannot find more features than
    dimensions."""
    from sklearn.decomposition import FastICA  # imported here: scikit-learn takes a second to load
    from sklearn.exceptions import ConvergenceWarning

    acts = check_matrix(acts, "acts").float()
    d = acts.shape[1]
    n_components = d if n_components is None else n_components
    if not 0 < n_components <= d:
        raise ValueError(f"n_components must be in [1, d_in={d}], got {n_components!r}")
    ica = FastICA(n_components=n_components, whiten="unit-variance", random_state=seed, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ica.fit(acts.double().numpy())
    mix = torch.from_numpy(np.asarray(ica.mixing_)).float().T  # (n_components, d_in)
    # A component's sign is arbitrary: flip each so its source is skewed positive, as sparse
    # non-negative features are.
    sources = torch.from_numpy(ica.transform(acts.double().numpy())).float()
    sign = torch.where(sources.pow(3).mean(0) >= 0, 1.0, -1.0)
    mix = mix * sign[:, None]
    return mix / mix.norm(dim=1, keepdim=True).clamp(min=1e-12)
