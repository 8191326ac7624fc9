"""The ReLU SAE with an L1 penalty (Bricken et al. 2023, "Towards Monosemanticity"), and
resampling of dead latents (its appendix on neuron resampling).

``σ = ReLU``; the penalty is ``λ Σ_j f_j ‖W_dec,j‖``: with decoder rows held at unit norm
after every step (the default) it is ``λ‖f‖₁``; with free rows (``unit_decoder=False``) the
norm weighting stops the SAE from shrinking ``f`` by growing ``W_dec`` (Anthropic's April 2024
update). Latents that stop firing can be *resampled*: re-aimed at inputs the SAE reconstructs
badly.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from ..training import TrainState, reset_moments
from .base import SAE, SAEConfig

__all__ = ["ReluL1SAE", "RESAMPLE_UNTIL", "RESAMPLE_ENCODER_SCALE", "RESAMPLE_SEED_OFFSET"]

RESAMPLE_UNTIL = 0.6
"""Resampling stops after this fraction of training, so that the last revived latents settle."""
RESAMPLE_ENCODER_SCALE = 0.2
"""A resampled latent's encoder column, relative to the mean norm of the alive ones (Bricken et al.)."""
RESAMPLE_SEED_OFFSET = 7_777
"""The resampling generator's seed is the SAE's seed plus this (so it differs from the weights' stream)."""


class ReluL1SAE(SAE, kind="relu_l1"):
    """``f = ReLU(pre)``, penalty ``λ Σ_j f_j ‖W_dec,j‖`` (``sparsity`` is λ): ``λ‖f‖₁`` with the
    default unit-norm decoder rows (Bricken et al.), norm-weighted with free rows."""

    sparsity_name = "λ for relu_l1"

    def __init__(self, *args, seed: int = 0, **kwargs):
        super().__init__(*args, seed=seed, **kwargs)
        dev = self.W_dec.device
        self.register_buffer("n_resampled", torch.zeros(self.n_inst, dtype=torch.long, device=dev))
        # Resampling draws inputs with its own generator: a training run depends on its seed only,
        # never on what else used torch's global generator.
        self._resample_generator = torch.Generator(device=dev).manual_seed(seed + RESAMPLE_SEED_OFFSET)

    @classmethod
    def default_sparsity(cls, d_in: int, d_sae: int, config: SAEConfig | None = None) -> float:
        return 0.1

    @classmethod
    def check_sparsity(cls, sparsity: Tensor, d_sae: int, config: SAEConfig | None = None) -> None:
        if (sparsity < 0).any():
            raise ValueError(f"sparsity (λ for relu_l1) must be >= 0, got {sparsity.tolist()}")

    def activation(self, pre: Tensor, *, train: bool) -> Tensor:
        return pre.relu()

    def sparsity_loss(self, f: Tensor, pre: Tensor, err: Tensor, xs: Tensor) -> Float[Tensor, "inst"]:
        return self.sparsity * self.weighted_l1(f)

    @torch.no_grad()
    def loss_and_grads(self, x: Float[Tensor, "*shared batch d_in"], *, with_loss: bool
                       ) -> tuple[Tensor | None, tuple[Tensor, ...], Tensor]:
        """The loss of :meth:`step_loss`, its gradients for ``(W_enc, b_enc, W_dec, b_dec)``
        written out by hand (the training loop uses them instead of autograd: about twice as
        fast on the book's sizes), and which latents fired. Checked against autograd in the tests."""
        xs = self._inputs(x)
        n, B = self.n_inst, xs.shape[-2]
        W_enc, b_enc, W_dec, b_dec = self.W_enc, self.b_enc, self.W_dec, self.b_dec
        xs_n = xs.expand(n, -1, -1)  # shared inputs are not copied
        shift = b_enc - torch.bmm(b_dec[:, None, :], W_enc)[:, 0]  # b_enc − W_encᵀ b_dec
        f = torch.baddbmm(shift[:, None, :], xs_n, W_enc).clamp_(min=0)  # (inst, batch, d_sae)
        err = torch.baddbmm(b_dec[:, None, :], f, W_dec).sub_(xs)  # x̂ − x
        lam = self.sparsity[:, None, None]
        norms = None if self.config.unit_norm else W_dec.norm(dim=-1)  # (inst, d_sae)
        g = err * (2 / B)  # ∂L/∂x̂
        df = torch.baddbmm(lam / B if norms is None else lam / B * norms[:, None, :], g, W_dec.mT)
        dpre = torch.ops.aten.threshold_backward(df, f, 0)  # ReLU's backward: df where f > 0
        g_b_enc = dpre.sum(-2)
        g_W_enc = torch.bmm(xs_n.mT, dpre).sub_(b_dec[:, :, None] * g_b_enc[:, None, :])  # it reads x − b_dec
        g_W_dec = torch.bmm(f.mT, g)
        if norms is not None:  # λ Σ f_j ‖W_dec,j‖: the penalty also pulls on the rows' norms
            g_W_dec += (lam[:, 0] / B * f.sum(-2) / norms.clamp(min=1e-12))[:, :, None] * W_dec
        g_b_dec = g.sum(-2) - torch.bmm(g_b_enc[:, None, :], W_enc.mT)[:, 0]
        loss = None
        if with_loss:
            l1 = f.sum(-1) if norms is None else (f * norms[:, None, :]).sum(-1)
            loss = err.square().sum(-1).mean(-1) + self.sparsity * l1.mean(-1)
        return loss, (g_W_enc, g_b_enc, g_W_dec, g_b_dec), f.sum(-2) > 0  # f >= 0: fired iff its sum is positive

    def maintain(self, state: TrainState, x: Tensor) -> None:
        """Resample dead latents every ``resample_every`` steps, until 60% of training."""
        every = self.config.resample_every
        if every and state.step % every == 0 and state.step <= RESAMPLE_UNTIL * state.steps:
            self.resample_dead(x, state.optimizer)

    @torch.no_grad()
    def resample_dead(self, x: Float[Tensor, "*shared batch d_in"], optimizer: object | None = None, *,
                      seed: int | None = None) -> Tensor:
        """Anthropic's resampling: aim each dead latent at an input drawn with probability ∝ its
        squared reconstruction error. The decoder row becomes that input's direction; the
        encoder column the same direction at 0.2× the mean alive encoder norm; ``b_enc`` 0;
        the optimiser's moments for them are forgotten
        (:func:`~superpos_lib.training.reset_moments`). Inputs are drawn with the SAE's own
        generator (seeded by its ``seed``), or a fresh one seeded with ``seed`` when given.
        Returns the number resampled per instance."""
        dead = self.dead
        counts = dead.sum(-1)
        if not bool(counts.any()):
            return counts
        xs = self._inputs(x)
        _, f = self._latents(xs, train=False)
        err = (torch.baddbmm(self.b_dec[:, None, :], f, self.W_dec) - xs).square().sum(-1)  # (inst, batch)
        gen = self._resample_generator
        if seed is not None or gen.device != err.device:  # a given seed, or the SAE moved after training
            gen = torch.Generator(device=err.device).manual_seed(gen.initial_seed() if seed is None else seed)
        inputs = (xs - self.b_dec[:, None, :]).expand(self.n_inst, -1, -1)
        for i in range(self.n_inst):
            idx = dead[i].nonzero().squeeze(-1)
            if idx.numel() == 0:
                continue
            w = err[i] if err[i].sum() > 0 else torch.ones_like(err[i])
            pick = torch.multinomial(w, idx.numel(), replacement=True, generator=gen)
            v = inputs[i, pick]
            v = v / v.norm(dim=-1, keepdim=True).clamp(min=1e-8)
            alive = ~dead[i]
            enc_norm = self.W_enc[i][:, alive].norm(dim=0).mean() if alive.any() else torch.tensor(1.0)
            self.W_dec[i, idx] = v
            self.W_enc[i][:, idx] = v.T * RESAMPLE_ENCODER_SCALE * enc_norm
            self.b_enc[i, idx] = 0
        if optimizer is not None:
            reset_moments(optimizer, self.W_dec, dead[:, :, None].expand_as(self.W_dec))
            reset_moments(optimizer, self.W_enc, dead[:, None, :].expand_as(self.W_enc))
            reset_moments(optimizer, self.b_enc, dead)
        self.steps_since_fired.masked_fill_(dead, 0)
        self.n_resampled += counts
        return counts
