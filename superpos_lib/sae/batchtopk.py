"""The BatchTopK SAE (Bussmann, Leask & Nanda 2024, "BatchTopK sparse autoencoders").

TopK gives every input exactly ``k`` latents. BatchTopK relaxes that to an *average*: in a
training batch of ``B`` inputs it keeps the ``k·B`` largest pre-activations of the whole batch
(then a ReLU), so an input with much going on may use more latents than a simple one. That
choice depends on the other inputs in the batch, so it cannot be used at inference; there each
latent fires when its pre-activation exceeds one threshold ``θ`` per SAE, estimated in training
as the running mean of the smallest activation kept in each batch (the paper averages it over
batches; here an exponential moving average, rate 1 %, so it follows the late batches). The
L0 at inference is then close to ``k`` on data like the training data.

Dead latents are kept alive by TopK's auxiliary loss (:class:`~superpos_lib.sae.topk.TopKSAE`).
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from ..training import TrainState
from .topk import TopKSAE

__all__ = ["BatchTopKSAE", "THRESHOLD_RATE", "batch_topk"]

THRESHOLD_RATE = 0.01
"""The inference threshold's moving-average rate: each batch's smallest kept activation moves θ by 1 %."""


def batch_topk(pre: Float[Tensor, "inst batch d_sae"], k: Float[Tensor, "inst"]) -> Float[Tensor, "inst batch d_sae"]:
    """ReLU of the ``k·batch`` largest entries of each instance's whole batch (``k`` may differ
    per instance and need not be whole: ``round(k·batch)`` entries are kept)."""
    n_inst, batch, d_sae = pre.shape
    keep_n = (k * batch).round().long().clamp(1, batch * d_sae)  # (inst,)
    flat = pre.reshape(n_inst, -1)
    n_max = int(keep_n.max())
    vals, idx = flat.topk(n_max, dim=-1)
    keep = torch.arange(n_max, device=pre.device) < keep_n[:, None]
    return torch.zeros_like(flat).scatter(-1, idx, vals.relu() * keep).view_as(pre)


class BatchTopKSAE(TopKSAE, kind="batchtopk"):
    """``f = ReLU(BatchTopK_{k·B}(pre))`` in training, ``pre·1[pre > θ]`` at inference
    (``sparsity`` is k, the mean L0). Buffer ``threshold``: θ, ``(inst,)`` (``NaN`` until the
    first training step; before it, inference also takes the batch's top ``k·B``)."""

    sparsity_name = "k for batchtopk"
    whole_k = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_buffer("threshold", torch.full((self.n_inst,), float("nan"), device=self.W_dec.device))
        self._batch_min: Tensor | None = None

    def activation(self, pre: Tensor, *, train: bool) -> Tensor:
        th = self.threshold
        if train or bool(th.isnan().any()):
            f = batch_topk(pre, self.sparsity)
            if train:
                with torch.no_grad():  # the smallest activation kept, per instance, for θ
                    self._batch_min = f.masked_fill(f <= 0, float("inf")).amin((-1, -2))
            return f
        return pre * (pre > th[:, None, None].clamp(min=0))

    def maintain(self, state: TrainState, x: Tensor) -> None:
        """Move θ towards the last training batch's smallest kept activation."""
        m = self._batch_min
        if m is None:
            return
        m = torch.where(torch.isfinite(m), m, self.threshold)  # a batch that kept nothing leaves θ
        first = self.threshold.isnan()
        self.threshold.copy_(torch.where(first, m, self.threshold + THRESHOLD_RATE * (m - self.threshold)))
        self._batch_min = None
