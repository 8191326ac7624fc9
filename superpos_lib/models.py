"""The toy models of superposition (TMS §2), batched over independent instances.

``h = W x`` projects ``n_features`` sparse features into ``d_hidden`` dimensions and the model
reconstructs them with the transpose: ``x' = ReLU(Wᵀ h + b)`` (or without the ReLU: the linear
model). With ``hidden_relu=True`` the hidden layer is ``h = ReLU(W x)``, the "neuron" model of
TMS §8 whose basis is privileged. The loss is the importance-weighted squared error
``L = mean_{batch, i} I_i (x_i - x'_i)²``, one value per instance.

Every instance (``n_inst``) is a separate model with its own weights; they are trained together
as one batched tensor, which is what makes sweeps and live sliders cheap. Column ``W[k, :, i]``
is feature ``i``'s direction in instance ``k``'s hidden space.

Two ways to get gradients, tested against each other: :meth:`ToyModel.loss` is the plain
definition (use autograd on it), :meth:`ToyModel.loss_and_grads` computes the same loss and its
gradients by hand in a batch-last layout, which is what the training loop uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import einops
import torch
from jaxtyping import Float
from torch import Tensor, nn

from .data import _check_positive_int
from .runtime import get_device

__all__ = ["ToyModelConfig", "ToyModel"]


@dataclass(frozen=True)
class ToyModelConfig:
    """Architecture of a batch of toy models.

    Args:
        n_features: number of input features ``n``.
        d_hidden: hidden dimensions ``m`` (superposition when ``m < n``).
        n_inst: independent instances trained together.
        relu: ReLU on the output (``False``: the linear model ``x' = WᵀWx + b``).
        hidden_relu: ReLU on the hidden layer too (the privileged-basis "neuron" model).
    """

    n_features: int
    d_hidden: int
    n_inst: int = 1
    relu: bool = True
    hidden_relu: bool = False

    def __post_init__(self):
        _check_positive_int(self.n_features, "n_features")
        _check_positive_int(self.d_hidden, "d_hidden")
        _check_positive_int(self.n_inst, "n_inst")


class ToyModel(nn.Module):
    """``x' = ReLU(Wᵀ W x + b_final)`` for ``n_inst`` independent instances at once."""

    W: Float[Tensor, "inst d_hidden feats"]
    b_final: Float[Tensor, "inst feats"]

    def __init__(
        self,
        config: ToyModelConfig,
        *,
        generator: torch.Generator | None = None,
        device: str | torch.device | None = "cpu",
    ):
        super().__init__()
        self.config = config
        dev = get_device(device)
        c = config
        # Xavier-normal per instance, as torch.nn.init.xavier_normal_ on each (d_hidden, feats) matrix.
        std = math.sqrt(2.0 / (c.n_features + c.d_hidden))
        W = torch.randn(c.n_inst, c.d_hidden, c.n_features, generator=generator) * std
        self.W = nn.Parameter(W.to(dev))
        self.b_final = nn.Parameter(torch.zeros(c.n_inst, c.n_features, device=dev))

    def hidden(self, x: Float[Tensor, "inst batch feats"]) -> Float[Tensor, "inst batch d_hidden"]:
        """The hidden activations ``h = W x`` (``ReLU(W x)`` for the neuron model)."""
        h = einops.einsum(x, self.W, "inst batch feats, inst d_hidden feats -> inst batch d_hidden")
        return torch.relu(h) if self.config.hidden_relu else h

    def forward(self, x: Float[Tensor, "inst batch feats"]) -> Float[Tensor, "inst batch feats"]:
        """The reconstruction ``x'``."""
        out = einops.einsum(
            self.hidden(x), self.W, "inst batch d_hidden, inst d_hidden feats -> inst batch feats"
        )
        out = out + self.b_final[:, None, :]
        return torch.relu(out) if self.config.relu else out

    def loss(
        self, x: Float[Tensor, "inst batch feats"], importance: Float[Tensor, "inst feats"]
    ) -> Float[Tensor, "inst"]:
        """Importance-weighted squared error, averaged over batch and features, per instance."""
        err = importance[:, None, :] * (x - self(x)) ** 2
        return einops.reduce(err, "inst batch feats -> inst", "mean")

    @torch.no_grad()
    def loss_and_grads(
        self,
        x: Float[Tensor, "inst batch feats"],
        importance: Float[Tensor, "inst feats"],
        *,
        with_loss: bool = True,
    ) -> tuple[Float[Tensor, "inst"] | None, tuple[Float[Tensor, "inst d_hidden feats"], Float[Tensor, "inst feats"]]]:
        """The loss of :meth:`loss` and its gradients ``(dL/dW, dL/db_final)``, computed by hand.

        Works in a batch-last layout (``x.mT`` is contiguous for batches from
        :class:`~superpos_lib.data.FeatureSampler`), where the batched matrix products are fast.
        Each instance's gradient is that of its own loss.
        """
        W, c = self.W, self.config
        xt = x.mT                                              # (inst, feats, batch)
        n_feats, batch = xt.shape[1], xt.shape[2]
        h = torch.bmm(W, xt)                                   # (inst, d_hidden, batch)
        a = h.clamp(min=0) if c.hidden_relu else h
        out = torch.baddbmm(self.b_final[..., None], W.mT, a)  # (inst, feats, batch)
        if c.relu:
            out.clamp_(min=0)
            active = out > 0
        diff = out.sub_(xt)                                    # x' - x
        weight = importance[..., None]                         # (inst, feats, 1)
        loss = diff.square().mul_(weight).sum((1, 2)) / (n_feats * batch) if with_loss else None
        g = diff.mul_(weight * (2.0 / (n_feats * batch)))      # dL/dx', in place
        if c.relu:
            g.mul_(active)                                     # dL/d(pre-ReLU output)
        db = g.sum(-1)
        da = torch.bmm(W, g)                                   # (inst, d_hidden, batch)
        if c.hidden_relu:
            da.mul_(h > 0)
        dW = torch.bmm(a, g.mT).baddbmm_(da, xt.mT)            # (inst, d_hidden, feats)
        return loss, (dW, db)
