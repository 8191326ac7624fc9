"""The Matryoshka SAE (Bussmann et al. 2025, "Learning multi-level features with Matryoshka
sparse autoencoders"; Nabeshima 2024), on BatchTopK.

A plain SAE has no reason to keep a general feature in its own latent: when a specific child
feature always comes with its parent, one latent pointing along *child + parent* reconstructs
both with a single active latent, and the parent's latent stops firing whenever the child is
there (*feature absorption*, Chanin et al. 2024). A Matryoshka SAE trains nested dictionaries:
the first ``m₁`` latents alone must reconstruct ``x``, so must the first ``m₂ > m₁``, and so on up
to all ``d_sae``::

    L = mean over prefixes m of ‖x − (W_dec[:m]ᵀ f[:m] + b_dec)‖²   (+ the auxiliary loss)

The small prefixes cannot afford to spend latents on specific children, so the general features
settle early in the dictionary, and the later latents add only what the children add. The
latents are chosen by BatchTopK over the whole dictionary (:class:`BatchTopKSAE`); the prefix
sizes are :attr:`SAEConfig.prefixes`. Bussmann et al. sum the prefixes' losses; the mean used
here keeps the reconstruction term on the same scale as the other variants'. (The dead-latent
auxiliary loss keeps its weight α, so against the reconstruction it weighs ``len(prefixes)``
times what it would under the sum.)
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from .base import SAEConfig
from .batchtopk import BatchTopKSAE

__all__ = ["MatryoshkaSAE", "default_prefixes"]


def default_prefixes(d_sae: int) -> tuple[int, ...]:
    """``d_sae`` halved until below ``d_sae / 16``: ``64 → (4, 8, 16, 32, 64)``."""
    sizes = [d_sae]
    while sizes[-1] // 2 >= max(1, d_sae // 16):
        sizes.append(sizes[-1] // 2)
    return tuple(sorted(set(sizes)))


class MatryoshkaSAE(BatchTopKSAE, kind="matryoshka"):
    """BatchTopK latents, trained so that every prefix of the dictionary reconstructs on its own
    (``sparsity`` is k, the mean L0)."""

    sparsity_name = "k for matryoshka"

    @property
    def prefixes(self) -> tuple[int, ...]:
        """The nested dictionary sizes, increasing, the last ``d_sae``."""
        c: SAEConfig = self.config
        return c.prefixes if c.prefixes is not None else default_prefixes(c.d_sae)

    def prefix_errors(self, f: Float[Tensor, "inst batch d_sae"], err: Float[Tensor, "inst batch d_in"]
                      ) -> Float[Tensor, "prefixes inst"]:
        """Each prefix's reconstruction error ``‖x − x̂_{≤m}‖²`` (batch mean), from the whole
        dictionary's error ``err = x̂ − x``: leaving out latents ``m..`` subtracts their part."""
        out, tail, prev = [], err, self.config.d_sae
        for m in reversed(self.prefixes):
            if m < prev:
                tail = tail - torch.bmm(f[..., m:prev], self.W_dec[:, m:prev])
                prev = m
            out.append(tail.square().sum(-1).mean(-1))
        return torch.stack(out[::-1])

    def sparsity_loss(self, f: Tensor, pre: Tensor, err: Tensor, xs: Tensor) -> Float[Tensor, "inst"]:
        """The prefixes' mean error, less the whole dictionary's (the base adds that one), plus
        the auxiliary loss."""
        errors = self.prefix_errors(f, err)
        return errors.mean(0) - errors[-1] + super().sparsity_loss(f, pre, err, xs)
