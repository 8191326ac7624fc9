"""Data for sparse autoencoders with a known answer: ground truth, and a toy model's activations.

* :class:`GroundTruthData` (Sharkey et al. 2022): random unit feature directions, more of
  them than dimensions, each switched on at random and summed;
* :func:`hidden_activations`: a trained TMS model's hidden activations ``h = W x`` and its
  feature directions in that space (chapter 9's first SAE and its explorer).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from jaxtyping import Float
from torch import Tensor

from ..checks import check_number, check_positive_int
from ..data import generate_batch
from ..runtime import get_device

__all__ = ["GroundTruthData", "hidden_activations"]


class GroundTruthData:
    """Sharkey et al.'s ground-truth data for sparse autoencoders: known features, mixed.

    ``n_features`` random unit directions in ``d_in`` dimensions (more features than
    dimensions); each sample switches feature ``i`` on with probability ``p_i`` (on average
    ``n_active`` per sample), gives it a value uniform on ``[0, 1)``, and sums the active
    directions: ``x = Σ_i c_i f_i``. An SAE trained on ``x`` is scored by how well its decoder
    rows recover the rows of :attr:`features`.

    Args:
        n_features: number of true features.
        d_in: dimension of the data.
        n_active: mean number of active features per sample.
        decay: ``None`` for equally frequent features; otherwise feature ``i``'s frequency is
            proportional to ``decay ** i`` (rare features are the hard ones).
        seed: seeds the directions; sampling uses its own generator (``sample(..., generator)``).
        device: where directions live and samples are drawn.

    Attributes:
        features: ``(feats, d_in)`` unit rows, the true directions.
        probability: ``(feats,)`` each feature's chance of being active.
    """

    def __init__(
        self,
        n_features: int = 512,
        d_in: int = 256,
        *,
        n_active: float = 5.0,
        decay: float | None = None,
        seed: int = 0,
        device: str | torch.device | None = "cpu",
    ):
        check_positive_int(n_features, "n_features")
        check_positive_int(d_in, "d_in")
        check_number(n_active, "n_active", low=0, high=n_features, low_open=True)
        if decay is not None:
            check_number(decay, "decay", low=0, high=1, low_open=True)
        self.device = get_device(device)
        gen = torch.Generator().manual_seed(seed)
        f = torch.randn(n_features, d_in, generator=gen)
        self.features = (f / f.norm(dim=1, keepdim=True)).to(self.device)
        rel = torch.ones(n_features) if decay is None else decay ** torch.arange(n_features, dtype=torch.float32)
        self.probability = (rel * (n_active / rel.sum())).clamp(max=1.0).to(self.device)
        self._gen = torch.Generator(device=self.device).manual_seed(seed + 1)

    @property
    def n_features(self) -> int:
        return self.features.shape[0]

    @property
    def d_in(self) -> int:
        return self.features.shape[1]

    def coefficients(self, batch_size: int, generator: torch.Generator | None = None) -> Float[Tensor, "batch feats"]:
        """Feature values ``c``: active with probability ``p_i``, then uniform on ``[0, 1)``."""
        check_positive_int(batch_size, "batch_size")
        u = torch.rand(batch_size, self.n_features, generator=generator or self._gen, device=self.device)
        x = u.mul_(1 / self.probability)  # present iff u < p, then u / p is uniform on [0, 1)
        return x.mul_(x < 1)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Float[Tensor, "batch d_in"]:
        """A batch of data ``x = c @ features``."""
        return self.coefficients(batch_size, generator) @ self.features

    def batches(self, batch_size: int) -> Iterator[Float[Tensor, "batch d_in"]]:
        """An endless stream of fresh batches (what an SAE trains on)."""
        while True:
            yield self.sample(batch_size)


@torch.no_grad()
def hidden_activations(
    W: Float[Tensor, "d_hidden feats"],
    feature_probability: float,
    n_samples: int,
    *,
    seed: int = 0,
) -> tuple[Float[Tensor, "n d_hidden"], Float[Tensor, "feats d_hidden"]]:
    """A TMS model's hidden activations ``h = W x`` on fresh sparse features, and the true
    feature directions in that hidden space (the columns of ``W``, as rows): an SAE's data and
    its answer key. Inputs on which no feature is active give ``h = 0``; they are kept (an SAE
    must learn to stay silent on them)."""
    if W.ndim != 2:
        raise ValueError(f"W must be (d_hidden, feats), got {tuple(W.shape)}")
    check_positive_int(n_samples, "n_samples")
    gen = torch.Generator().manual_seed(seed)
    x = generate_batch(feature_probability, n_samples, W.shape[1], generator=gen)[0]
    W = W.detach().float().cpu()
    return x @ W.T, W.T.clone()
