"""The gated SAE (Rajamanoharan et al. 2024, "Improving dictionary learning with gated sparse
autoencoders").

An L1 penalty does two jobs at once, deciding *which* latents fire and *how much*, and so it
shrinks every activation. The gated SAE splits them. Its encoder has a gate and a magnitude
path that share directions (``W_mag = exp(r_mag) ⊙ W_gate``, one rescaling per latent)::

    π_gate = W_gateᵀ(x − b_dec) + b_gate          (the base's ``W_enc``, ``b_enc``)
    π_mag  = exp(r_mag) ⊙ W_gateᵀ(x − b_dec) + b_mag
    f      = 1[π_gate > 0] ⊙ ReLU(π_mag)

and the loss puts the L1 penalty on the gate only, with an auxiliary term that makes the gate's
own activations reconstruct ``x`` through a *detached* copy of the decoder (so that term trains
the gate, never the dictionary)::

    ‖x − x̂(f)‖² + λ‖ReLU(π_gate)‖₁ + ‖x − x̂_frozen(ReLU(π_gate))‖²

The step ``1[·]`` passes no gradient: the gate learns from the penalty and the auxiliary term,
the magnitudes from the reconstruction. Decoder rows are held at unit norm (with free rows the
penalty is weighted by their norms, as for ReLU + L1).
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor, nn

from .base import SAE, SAEConfig

__all__ = ["GatedSAE"]


class GatedSAE(SAE, kind="gated"):
    """``f = 1[π_gate > 0] ⊙ ReLU(π_mag)``, penalty ``λ‖ReLU(π_gate)‖₁`` plus the gate's
    reconstruction through the detached decoder (``sparsity`` is λ). Parameters beyond the
    base's: ``r_mag`` and ``b_mag``, ``(inst, d_sae)``."""

    sparsity_name = "λ for gated"

    @classmethod
    def default_sparsity(cls, d_in: int, d_sae: int, config: SAEConfig | None = None) -> float:
        return 0.1

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        c, dev = self.config, self.W_dec.device
        self.r_mag = nn.Parameter(torch.zeros(c.n_inst, c.d_sae, device=dev))
        self.b_mag = nn.Parameter(torch.zeros(c.n_inst, c.d_sae, device=dev))

    @classmethod
    def check_sparsity(cls, sparsity: Tensor, d_sae: int, config: SAEConfig | None = None) -> None:
        if (sparsity < 0).any():
            raise ValueError(f"sparsity (λ for gated) must be >= 0, got {sparsity.tolist()}")

    def magnitudes(self, pre: Float[Tensor, "inst batch d_sae"]) -> Float[Tensor, "inst batch d_sae"]:
        """``π_mag`` from the gate's pre-activations ``π_gate`` (they share ``W_gateᵀ(x − b_dec)``)."""
        return (pre - self.b_enc[:, None, :]) * self.r_mag.exp()[:, None, :] + self.b_mag[:, None, :]

    def activation(self, pre: Tensor, *, train: bool) -> Tensor:
        return (pre > 0).to(pre.dtype) * self.magnitudes(pre).relu()

    def sparsity_loss(self, f: Tensor, pre: Tensor, err: Tensor, xs: Tensor) -> Float[Tensor, "inst"]:
        gate = pre.relu()
        frozen = torch.baddbmm(self.b_dec.detach()[:, None, :], gate, self.W_dec.detach())
        aux = (frozen - xs).square().sum(-1).mean(-1)
        return self.sparsity * self.weighted_l1(gate) + aux
