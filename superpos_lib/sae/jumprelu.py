"""The JumpReLU SAE (Rajamanoharan et al. 2024, "Jumping Ahead").

``σ(z) = z·H(z − θ)`` with a learned threshold ``θ`` per latent. The step ``H`` has no useful
gradient, so ``θ`` learns through straight-through estimators: a rectangle kernel of width
``ε`` (``bandwidth``) around the threshold. The penalty pulls the batch's L0 towards a target:
``c (L0 / L0_target − 1)²``. Decoder rows are free by default (the L0 penalty does not care
about their norms).
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor, nn

from .base import SAE

__all__ = ["JumpReLUSAE"]


class _JumpReLU(torch.autograd.Function):
    """``z·H(z − θ)``; gradient to θ by a rectangle kernel of width ε (straight-through)."""

    @staticmethod
    def forward(ctx, z, theta, eps):
        ctx.save_for_backward(z, theta)
        ctx.eps = eps
        return z * (z > theta)

    @staticmethod
    def backward(ctx, g):
        z, theta = ctx.saved_tensors
        near = ((z - theta).abs() < ctx.eps / 2).to(g.dtype)
        g_theta = (g * near * (-theta / ctx.eps)).sum(-2, keepdim=True)
        return g * (z > theta), g_theta, None


class _Step(torch.autograd.Function):
    """``H(z − θ)``; gradient to θ only, by the same kernel (the L0 penalty's estimator)."""

    @staticmethod
    def forward(ctx, z, theta, eps):
        ctx.save_for_backward(z, theta)
        ctx.eps = eps
        return (z > theta).to(z.dtype)

    @staticmethod
    def backward(ctx, g):
        z, theta = ctx.saved_tensors
        near = ((z - theta).abs() < ctx.eps / 2).to(g.dtype)
        return None, (g * near * (-1 / ctx.eps)).sum(-2, keepdim=True), None


class JumpReLUSAE(SAE, kind="jumprelu"):
    """``f = pre·H(pre − θ)`` with learned ``θ``, penalty ``c (L0 / target − 1)²`` (``sparsity`` is the target L0)."""

    sparsity_name = "target L0 for jumprelu"
    unit_decoder_default = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        c = self.config
        self.log_threshold = nn.Parameter(torch.full((c.n_inst, c.d_sae), math.log(c.init_threshold),
                                                     device=self.W_dec.device))

    @property
    def threshold(self) -> Tensor:
        """θ, ``(inst, d_sae)``."""
        return self.log_threshold.exp()

    @staticmethod
    def activation(pre: Tensor, sparsity: Tensor, threshold: Tensor | None, *, bandwidth: float, ste: bool) -> Tensor:
        th = threshold[:, None, :]
        return _JumpReLU.apply(pre, th, bandwidth) if ste else pre * (pre > th)

    def sparsity_loss(self, f: Tensor, pre: Tensor, err: Tensor) -> Float[Tensor, "inst"]:
        active = _Step.apply(pre, self.threshold[:, None, :], self.config.bandwidth).sum(-1).mean(-1)
        return self.config.l0_coeff * (active / self.sparsity - 1).square()
