"""The TopK SAE (Gao et al. 2024, "Scaling and evaluating sparse autoencoders").

``σ`` keeps the ``k`` largest pre-activations of each input (then a ReLU), so ``L0 ≤ k`` by
construction and no sparsity penalty is needed. Latents that stop firing are kept alive by an
auxiliary loss (``α = 1/32``): the ``k_aux`` largest *dead* latents must reconstruct the
residual ``x − x̂``, normalised by its variance so that it stays ``O(1)`` as the fit improves.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from .base import SAE, SAEConfig

__all__ = ["TopKSAE"]


def _topk(pre: Tensor, k: Tensor) -> Tensor:
    """ReLU of the ``k`` largest entries of each row (``k``: ``(inst,)``, may differ per instance)."""
    k_max = int(k.max())
    vals, idx = pre.topk(k_max, dim=-1)
    keep = torch.arange(k_max, device=pre.device) < k.view(-1, *([1] * (pre.ndim - 1)))
    return torch.zeros_like(pre).scatter(-1, idx, vals.relu() * keep)


class TopKSAE(SAE, kind="topk"):
    """``f = ReLU(TopK_k(pre))``, no penalty but the dead-latent auxiliary loss (``sparsity`` is k)."""

    sparsity_name = "k for topk"
    whole_k: ClassVar[bool] = True
    """k must be a whole number (BatchTopK's, a mean over the batch, need not be)."""

    @classmethod
    def check_sparsity(cls, sparsity: Tensor, d_sae: int, config: SAEConfig | None = None) -> None:
        super().check_sparsity(sparsity, d_sae)
        if cls.whole_k and (sparsity != sparsity.round()).any():
            raise ValueError(f"sparsity ({cls.sparsity_name}) must be a whole number, got {sparsity.tolist()}")

    def activation(self, pre: Tensor, *, train: bool) -> Tensor:
        return _topk(pre, self.sparsity)

    def sparsity_loss(self, f: Tensor, pre: Tensor, err: Tensor, xs: Tensor) -> Float[Tensor, "inst"]:
        """The dead-latent auxiliary loss (0 while no latent is dead)."""
        c, dead = self.config, self.dead
        if c.aux_coeff == 0 or not bool(dead.any()):
            return torch.zeros(self.n_inst, device=pre.device)
        k_aux = min(c.aux_k or max(1, c.d_in // 2), c.d_sae)
        aux_pre = pre.masked_fill(~dead[:, None, :], float("-inf"))
        vals, idx = aux_pre.topk(k_aux, dim=-1)
        z = torch.zeros_like(pre).scatter(-1, idx, vals.relu().nan_to_num(0.0, 0.0, 0.0))
        e_hat = torch.bmm(z, self.W_dec)
        e = -err.detach()  # the residual x − x̂
        aux = (e_hat - e).square().sum((-1, -2)) / (e - e.mean(-2, keepdim=True)).square().sum((-1, -2)).clamp(min=1e-12)
        return c.aux_coeff * aux
