"""Sparse autoencoders (dictionary learning): taking features back out of superposition.

An SAE reads activations ``x`` (``d_in`` wide) into many more latents ``f`` (``d_sae``), most
of them zero, and writes them back::

    f = σ(W_encᵀ (x − b_dec) + b_enc),      x̂ = W_decᵀ f + b_dec

trained on ``‖x − x̂‖² + sparsity penalty``. Three variants, one class:

* ``"relu_l1"`` (Bricken et al. 2023): ``σ = ReLU``, penalty ``λ Σ_i f_i ‖W_dec,i‖`` with either
  decoder rows held at unit norm after every step (``unit_decoder=True``, the penalty is then
  ``λ‖f‖₁``) or free rows and the norm-weighted L1 (``unit_decoder=False``). Dead latents can be
  *resampled* (Anthropic's recipe: re-aim them at badly reconstructed inputs).
* ``"topk"`` (Gao et al. 2024): keep the ``k`` largest pre-activations (then ReLU); no penalty,
  ``L0 ≤ k`` by construction; an auxiliary loss (``α = 1/32``) makes the ``k_aux`` largest
  *dead* latents reconstruct the residual, which keeps latents alive.
* ``"jumprelu"`` (Rajamanoharan et al. 2024): ``σ(z) = z·H(z − θ)`` with a learned threshold per
  latent, trained with straight-through estimators; the penalty pulls the batch's L0 to a
  target: ``c (L0 / L0_target − 1)²``.

Everything is batched over instances (``n_inst``) like the toy models, so a sweep over λ, k or
seeds is one model; inputs may be shared by all instances (``batch d_in``) or per instance
(``inst batch d_in``). Inputs are multiplied by one number, :attr:`SAE.scale`, chosen at
initialisation so that their mean squared norm is 1: λ, thresholds and losses then mean the same
for activations of any width or size. Training data is a tensor (rows drawn at random) or any
iterator of ``batch d_in`` tensors; evaluation streams in chunks, so millions of rows are fine.

Metrics are defined once here: :func:`l0`, :func:`mse`, :func:`fvu` (``Σ‖x − x̂‖² / Σ‖x − x̄‖²``
over the whole evaluation set), :func:`latent_density` with dead and dense fractions,
:func:`density_histogram`, :func:`mmcs` and the one-to-one :func:`matched_mmcs` (Hungarian
matching by SciPy), and the PCA / ICA baselines that an SAE must beat.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor, nn

from .data import _check_positive_int
from .runtime import get_device
from .training import TrainConfig, TrainState, train

__all__ = [
    "KINDS",
    "SAEConfig",
    "SAE",
    "SparseAutoencoder",
    "SAETraining",
    "ActivationSampler",
    "train_saes",
    "train_sae",
    "SAE_TRAIN_CONFIG",
    "default_sparsity",
    "geometric_median",
    "l0",
    "mse",
    "fvu",
    "latent_density",
    "dead_fraction",
    "dense_fraction",
    "density_histogram",
    "cosine_matrix",
    "mmcs",
    "matched_mmcs",
    "latents_per_feature",
    "SAEMetrics",
    "evaluate",
    "pca_directions",
    "ica_directions",
    "pca_fvu",
    "hidden_activations",
]

KINDS = ("relu_l1", "topk", "jumprelu")

SAE_TRAIN_CONFIG = TrainConfig(steps=2000, batch_size=1024, lr=1e-2, betas=(0.9, 0.999), warmup=0.02)
"""The default schedule: Adam at lr 1e-2 (inputs at unit mean squared norm; 3e-3 needed ~3x the
steps to escape dense solutions) with short warm-up and cosine decay, fresh batches."""


def default_sparsity(kind: str, d_in: int, d_sae: int) -> float:
    """The sparsity setting used when none is given: λ = 0.1 (relu_l1, inputs at unit mean
    squared norm), ``k = min(d_sae, max(1, d_in // 4))`` (topk), target L0 of the same size
    (jumprelu)."""
    _check_kind(kind)
    if kind == "relu_l1":
        return 0.1
    return float(min(d_sae, max(1, d_in // 4)))


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


@dataclass(frozen=True)
class SAEConfig:
    """The shape of an SAE and how it trains (all instances share it; sparsity may differ).

    Args:
        d_in: width of the activations.
        d_sae: number of latents (the dictionary size).
        kind: ``"relu_l1"``, ``"topk"`` or ``"jumprelu"``.
        n_inst: instances trained together.
        unit_decoder: hold decoder rows at unit norm after every step. ``None``: yes for relu_l1
            and topk, no for jumprelu (its L0 penalty does not care about norms). For relu_l1,
            ``False`` means free rows and the norm-weighted L1 penalty.
        init_encoder: ``"transpose"`` (W_enc = W_decᵀ, as Gao et al. and Anthropic's April 2024
            update) or ``"independent"`` (both drawn at random).
        init_b_dec: ``"median"`` (geometric median of a sample, Bricken et al.), ``"mean"`` or
            ``"zero"``.
        dead_window: a latent that has not fired for this many steps counts as dead (for
            resampling, the topk auxiliary loss and :attr:`SAE.dead`).
        resample_every: relu_l1 only: every this many steps (until 60% of training), re-aim the
            dead latents at badly reconstructed inputs. ``None``: never.
        aux_coeff: topk's auxiliary-loss weight α.
        aux_k: latents used by the auxiliary loss (``None``: ``max(1, d_in // 2)``).
        bandwidth: jumprelu's straight-through kernel width ε.
        init_threshold: jumprelu's initial θ.
        l0_coeff: jumprelu's penalty weight ``c``.
    """

    d_in: int
    d_sae: int
    kind: str = "relu_l1"
    n_inst: int = 1
    unit_decoder: bool | None = None
    init_encoder: str = "transpose"
    init_b_dec: str = "median"
    dead_window: int = 50
    resample_every: int | None = None
    aux_coeff: float = 1 / 32
    aux_k: int | None = None
    bandwidth: float = 0.05
    init_threshold: float = 0.05
    l0_coeff: float = 1.0

    def __post_init__(self):
        _check_positive_int(self.d_in, "d_in")
        _check_positive_int(self.d_sae, "d_sae")
        _check_positive_int(self.n_inst, "n_inst")
        _check_kind(self.kind)
        if self.init_encoder not in ("transpose", "independent"):
            raise ValueError(f"init_encoder must be 'transpose' or 'independent', got {self.init_encoder!r}")
        if self.init_b_dec not in ("median", "mean", "zero"):
            raise ValueError(f"init_b_dec must be 'median', 'mean' or 'zero', got {self.init_b_dec!r}")
        _check_positive_int(self.dead_window, "dead_window")
        if self.resample_every is not None:
            _check_positive_int(self.resample_every, "resample_every")
            if self.kind != "relu_l1":
                raise ValueError(f"resample_every is for kind='relu_l1' only, got kind={self.kind!r}")
        if self.aux_k is not None:
            _check_positive_int(self.aux_k, "aux_k")
        for name in ("aux_coeff", "bandwidth", "init_threshold", "l0_coeff"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0) or (name in ("bandwidth", "init_threshold") and v == 0):
                raise ValueError(f"{name} must be a finite number {'> 0' if name in ('bandwidth', 'init_threshold') else '>= 0'}, got {v!r}")

    @property
    def unit_norm(self) -> bool:
        """Whether decoder rows are renormalised after every step."""
        return self.kind != "jumprelu" if self.unit_decoder is None else self.unit_decoder


def _check_sparsity(kind: str, sparsity: Tensor, d_sae: int) -> None:
    if not torch.isfinite(sparsity).all():
        raise ValueError(f"sparsity must be finite, got {sparsity.tolist()}")
    if kind == "relu_l1":
        if (sparsity < 0).any():
            raise ValueError(f"sparsity (λ for relu_l1) must be >= 0, got {sparsity.tolist()}")
        return
    name = "k" if kind == "topk" else "target L0"
    if (sparsity <= 0).any() or (sparsity > d_sae).any():
        raise ValueError(f"sparsity ({name} for {kind}) must be in (0, d_sae={d_sae}], got {sparsity.tolist()}")
    if kind == "topk" and (sparsity != sparsity.round()).any():
        raise ValueError(f"sparsity (k for topk) must be a whole number, got {sparsity.tolist()}")


# -- activations -----------------------------------------------------------------------------------


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


def _topk(pre: Tensor, k: Tensor) -> Tensor:
    """ReLU of the ``k`` largest entries of each row (``k``: ``(inst,)``, may differ per instance)."""
    k_max = int(k.max())
    vals, idx = pre.topk(k_max, dim=-1)
    keep = torch.arange(k_max, device=pre.device) < k.view(-1, *([1] * (pre.ndim - 1)))
    return torch.zeros_like(pre).scatter(-1, idx, vals.relu() * keep)


def _activate(kind: str, pre: Tensor, sparsity: Tensor, theta: Tensor | None, eps: float, ste: bool) -> Tensor:
    """The latent non-linearity of each kind; ``pre`` is ``(inst, batch, d_sae)``."""
    if kind == "relu_l1":
        return pre.relu()
    if kind == "topk":
        return _topk(pre, sparsity)
    th = theta[:, None, :]
    if ste:
        return _JumpReLU.apply(pre, th, eps)
    return pre * (pre > th)


# -- the model -------------------------------------------------------------------------------------


class SAE(nn.Module):
    """Sparse autoencoders batched over instances (``W_enc: inst d_in d_sae``, ``W_dec: inst
    d_sae d_in``): the model that trains. :meth:`instance` gives one as a
    :class:`SparseAutoencoder` on the CPU.

    Args:
        config: shapes and options.
        sparsity: λ (relu_l1), k (topk) or the target L0 (jumprelu): a number, or one per instance.
        init_data: a sample of inputs (``batch d_in``) that sets :attr:`scale` and ``b_dec``.
        seed: seeds the weights.
        device: where the parameters live.
    """

    def __init__(
        self,
        config: SAEConfig,
        sparsity: float | Sequence[float] | Tensor | None = None,
        init_data: Float[Tensor, "batch d_in"] | None = None,
        *,
        seed: int = 0,
        device: str | torch.device | None = None,
    ):
        super().__init__()
        c = self.config = config
        dev = get_device(device)
        if sparsity is None:
            sparsity = default_sparsity(c.kind, c.d_in, c.d_sae)
        s = torch.as_tensor(sparsity, dtype=torch.float32).flatten()
        if s.numel() == 1:
            s = s.expand(c.n_inst)
        if s.numel() != c.n_inst:
            raise ValueError(f"sparsity needs 1 or n_inst={c.n_inst} values, got {s.numel()}")
        _check_sparsity(c.kind, s, c.d_sae)
        self.register_buffer("sparsity", s.clone().to(dev))
        gen = torch.Generator().manual_seed(seed)
        dirs = torch.randn(c.n_inst, c.d_sae, c.d_in, generator=gen)
        W_dec = dirs / dirs.norm(dim=-1, keepdim=True)
        if c.init_encoder == "transpose":
            W_enc = W_dec.mT.clone()
        else:
            bound = 1 / math.sqrt(c.d_in)
            W_enc = (torch.rand(c.n_inst, c.d_in, c.d_sae, generator=gen) * 2 - 1) * bound
        self.scale = 1.0
        b_dec = torch.zeros(c.n_inst, c.d_in)
        if init_data is not None:
            x = _check_acts(init_data, "init_data", c.d_in).float().cpu()
            sq = x.square().sum(-1).mean()
            self.scale = float(1 / sq.sqrt()) if sq > 0 else 1.0
            x = x * self.scale
            if c.init_b_dec == "mean":
                b_dec[:] = x.mean(0)
            elif c.init_b_dec == "median":
                b_dec[:] = geometric_median(x)
        self.W_enc = nn.Parameter(W_enc.to(dev))
        self.b_enc = nn.Parameter(torch.zeros(c.n_inst, c.d_sae, device=dev))
        self.W_dec = nn.Parameter(W_dec.to(dev))
        self.b_dec = nn.Parameter(b_dec.to(dev))
        if c.kind == "jumprelu":
            self.log_threshold = nn.Parameter(torch.full((c.n_inst, c.d_sae), math.log(c.init_threshold), device=dev))
        self.register_buffer("steps_since_fired", torch.zeros(c.n_inst, c.d_sae, dtype=torch.long, device=dev))
        self.register_buffer("n_resampled", torch.zeros(c.n_inst, dtype=torch.long, device=dev))
        self.total_steps: int | None = None  # set by train_saes; resampling stops at 60% of it
        self._fired: Tensor | None = None

    @property
    def n_inst(self) -> int:
        return self.config.n_inst

    @property
    def threshold(self) -> Tensor | None:
        """jumprelu's θ, ``(inst, d_sae)`` (``None`` for the other kinds)."""
        return self.log_threshold.exp() if self.config.kind == "jumprelu" else None

    @property
    def dead(self) -> Tensor:
        """``(inst, d_sae)``: latents that have not fired in the last ``dead_window`` steps."""
        return self.steps_since_fired >= self.config.dead_window

    def _inputs(self, x: Tensor) -> Tensor:
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[-1] != self.config.d_in or x.shape[0] not in (1, self.n_inst):
            raise ValueError(f"x must be (batch, {self.config.d_in}) or ({self.n_inst}, batch, {self.config.d_in}), got {tuple(x.shape)}")
        return x * self.scale

    def pre_acts(self, xs: Float[Tensor, "shared batch d_in"]) -> Float[Tensor, "inst batch d_sae"]:
        """``W_encᵀ (x − b_dec) + b_enc`` for inputs already multiplied by :attr:`scale`."""
        return torch.baddbmm(self.b_enc[:, None, :], (xs - self.b_dec[:, None, :]).expand(self.n_inst, -1, -1), self.W_enc)

    def encode(self, x: Float[Tensor, "*shared batch d_in"]) -> Float[Tensor, "inst batch d_sae"]:
        """Latents of inputs ``x`` (shared ``batch d_in`` or per instance)."""
        c = self.config
        return _activate(c.kind, self.pre_acts(self._inputs(x)), self.sparsity, self.threshold, c.bandwidth, ste=False)

    def decode(self, f: Float[Tensor, "inst batch d_sae"]) -> Float[Tensor, "inst batch d_in"]:
        """Reconstructions, in the inputs' units."""
        return torch.baddbmm(self.b_dec[:, None, :], f, self.W_dec) / self.scale

    def forward(self, x: Float[Tensor, "*shared batch d_in"]) -> Float[Tensor, "inst batch d_in"]:
        return self.decode(self.encode(x))

    def loss(self, x: Float[Tensor, "*shared batch d_in"]) -> Float[Tensor, "inst"]:
        """Reconstruction error (summed over ``d_in``, averaged over the batch, in scaled units)
        plus the kind's sparsity term, per instance."""
        c = self.config
        xs = self._inputs(x)
        pre = self.pre_acts(xs)
        f = _activate(c.kind, pre, self.sparsity, self.threshold, c.bandwidth, ste=True)
        x_hat = torch.baddbmm(self.b_dec[:, None, :], f, self.W_dec)
        err = x_hat - xs
        loss = err.square().sum(-1).mean(-1)
        with torch.no_grad():
            self._fired = (f > 0).any(-2)
        if c.kind == "relu_l1":
            norms = self.W_dec.norm(dim=-1) if not c.unit_norm else None
            l1 = (f * norms[:, None, :]).sum(-1) if norms is not None else f.sum(-1)
            loss = loss + self.sparsity * l1.mean(-1)
        elif c.kind == "topk":
            dead = self.dead
            if c.aux_coeff > 0 and bool(dead.any()):
                k_aux = min(c.aux_k or max(1, c.d_in // 2), c.d_sae)
                aux_pre = pre.masked_fill(~dead[:, None, :], float("-inf"))
                vals, idx = aux_pre.topk(k_aux, dim=-1)
                z = torch.zeros_like(pre).scatter(-1, idx, vals.relu().nan_to_num(0.0, 0.0, 0.0))
                e_hat = torch.bmm(z, self.W_dec)
                # Normalised by the residual's variance, so it stays O(1) as the fit improves.
                e = -err.detach()  # the residual x − x̂
                aux = (e_hat - e).square().sum((-1, -2)) / (e - e.mean(-2, keepdim=True)).square().sum((-1, -2)).clamp(min=1e-12)
                loss = loss + c.aux_coeff * aux
        else:
            active = _Step.apply(pre, self.threshold[:, None, :], c.bandwidth).sum(-1).mean(-1)
            loss = loss + c.l0_coeff * (active / self.sparsity - 1).square()
        return loss

    @torch.no_grad()
    def after_step(self, step: int, x: Tensor, optimizer) -> None:
        """Called by :func:`~superpos_lib.training.train` after each update: count steps since
        each latent fired, hold decoder rows at unit norm, resample dead latents on schedule."""
        c = self.config
        if self._fired is not None:
            self.steps_since_fired.add_(1).masked_fill_(self._fired, 0)
        if c.unit_norm:
            self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True).clamp(min=1e-8))
        if c.resample_every and (step + 1) % c.resample_every == 0:
            if self.total_steps is None or step + 1 <= 0.6 * self.total_steps:
                self.resample_dead(x, optimizer)

    @torch.no_grad()
    def resample_dead(self, x: Float[Tensor, "*shared batch d_in"], optimizer=None, *, seed: int | None = None) -> Tensor:
        """Anthropic's resampling: aim each dead latent at an input drawn with probability ∝ its
        squared reconstruction error. The decoder row becomes that input's direction; the
        encoder column the same direction at 0.2× the mean alive encoder norm; ``b_enc`` 0;
        the optimiser's moments for them are reset. Returns the number resampled per instance."""
        dead = self.dead
        counts = dead.sum(-1)
        if not bool(counts.any()):
            return counts
        xs = self._inputs(x)
        pre = self.pre_acts(xs)
        f = _activate(self.config.kind, pre, self.sparsity, self.threshold, self.config.bandwidth, ste=False)
        err = (torch.baddbmm(self.b_dec[:, None, :], f, self.W_dec) - xs).square().sum(-1)  # (inst, batch)
        gen = None if seed is None else torch.Generator(device=err.device).manual_seed(seed)
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
            self.W_enc[i][:, idx] = v.T * 0.2 * enc_norm
            self.b_enc[i, idx] = 0
            if optimizer is not None and hasattr(optimizer, "m"):
                for p, m, s in zip(optimizer.params, optimizer.m, optimizer.v):
                    for moment in (m, s):
                        if p is self.W_dec:
                            moment[i, idx] = 0
                        elif p is self.W_enc:
                            moment[i][:, idx] = 0
                        elif p is self.b_enc:
                            moment[i, idx] = 0
        self.steps_since_fired.masked_fill_(dead, 0)
        self.n_resampled += counts
        return counts

    def instance(self, i: int = 0) -> "SparseAutoencoder":
        """Instance ``i`` as a standalone :class:`SparseAutoencoder` on the CPU."""
        if not 0 <= i < self.n_inst:
            raise ValueError(f"i must be in [0, {self.n_inst}), got {i}")
        th = self.threshold
        return SparseAutoencoder(
            kind=self.config.kind,
            W_enc=self.W_enc[i].detach().cpu().clone(),
            b_enc=self.b_enc[i].detach().cpu().clone(),
            W_dec=self.W_dec[i].detach().cpu().clone(),
            b_dec=self.b_dec[i].detach().cpu().clone(),
            scale=self.scale,
            sparsity=float(self.sparsity[i]),
            threshold=None if th is None else th[i].detach().cpu().clone(),
            bandwidth=self.config.bandwidth,
        )


@dataclass(frozen=True)
class SparseAutoencoder:
    """One trained SAE, CPU tensors: what :func:`train_sae` returns.

    Attributes:
        kind: ``"relu_l1"``, ``"topk"`` or ``"jumprelu"``.
        W_enc: ``(d_in, d_sae)``.
        b_enc: ``(d_sae,)``.
        W_dec: ``(d_sae, d_in)``, row ``j`` is latent ``j``'s direction.
        b_dec: ``(d_in,)``, in scaled units.
        scale: inputs are multiplied by this before encoding (outputs divided after decoding).
        sparsity: its λ, k or target L0.
        threshold: jumprelu's ``(d_sae,)`` thresholds.
    """

    kind: str
    W_enc: Tensor
    b_enc: Tensor
    W_dec: Tensor
    b_dec: Tensor
    scale: float
    sparsity: float
    threshold: Tensor | None = None
    bandwidth: float = 0.05

    @property
    def d_in(self) -> int:
        return self.W_dec.shape[1]

    @property
    def d_sae(self) -> int:
        return self.W_dec.shape[0]

    def _check(self, x: Tensor, name: str, width: int) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != width:
            raise ValueError(f"{name} must be a (batch, {width}) tensor, got {getattr(x, 'shape', type(x))}")
        return x.to(self.W_dec.device, torch.float32)

    @torch.no_grad()
    def encode(self, x: Float[Tensor, "batch d_in"]) -> Float[Tensor, "batch d_sae"]:
        """The latents of ``x``."""
        x = self._check(x, "x", self.d_in)
        pre = (x * self.scale - self.b_dec) @ self.W_enc + self.b_enc
        th = None if self.threshold is None else self.threshold[None]
        k = torch.tensor([self.sparsity])
        return _activate(self.kind, pre[None], k, th, self.bandwidth, ste=False)[0]

    @torch.no_grad()
    def decode(self, f: Float[Tensor, "batch d_sae"]) -> Float[Tensor, "batch d_in"]:
        """The reconstruction from latents ``f``, in the inputs' units."""
        f = self._check(f, "f", self.d_sae)
        return (f @ self.W_dec + self.b_dec) / self.scale

    def __call__(self, x: Float[Tensor, "batch d_in"]) -> Float[Tensor, "batch d_in"]:
        return self.decode(self.encode(x))


# -- training --------------------------------------------------------------------------------------


def _check_acts(acts: Tensor, name: str, d_in: int | None = None) -> Tensor:
    if not isinstance(acts, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (batch, d_in), got {type(acts).__name__}")
    if acts.ndim != 2:
        raise ValueError(f"{name} must have shape (batch, d_in), got {tuple(acts.shape)}")
    if acts.shape[0] == 0 or acts.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(acts.shape)}")
    if d_in is not None and acts.shape[1] != d_in:
        raise ValueError(f"{name} must have {d_in} columns, got {acts.shape[1]}")
    if not acts.is_floating_point():
        raise ValueError(f"{name} must hold floats, got {acts.dtype}")
    if not torch.isfinite(acts).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return acts


class ActivationSampler:
    """Batches of rows drawn at random (with replacement) from a tensor of activations, on the device.

    The activations are moved to ``device`` once; each ``sample()`` is one indexing op.
    """

    def __init__(self, acts: Float[Tensor, "n d_in"], batch_size: int, *, seed: int = 0,
                 device: str | torch.device | None = None):
        _check_positive_int(batch_size, "batch_size")
        self.acts = _check_acts(acts, "acts").to(get_device(device), torch.float32)
        self.batch_size = batch_size
        self._gen = torch.Generator(device=self.acts.device).manual_seed(seed)

    def sample(self) -> Float[Tensor, "batch d_in"]:
        idx = torch.randint(self.acts.shape[0], (self.batch_size,), generator=self._gen, device=self.acts.device)
        return self.acts[idx]


def _stream(batches: Iterable[Tensor], d_in: int, device: torch.device) -> Callable[[], Tensor]:
    it = iter(batches)

    def sample() -> Tensor:
        try:
            x = next(it)
        except StopIteration:
            raise ValueError("acts: the batch iterator ran out before training finished") from None
        return _check_acts(x, "acts (a yielded batch)", d_in).to(device, torch.float32)

    return sample


@dataclass
class SAETraining:
    """The result of :func:`train_saes`.

    Attributes:
        sae: the trained :class:`SAE` (all instances), on the CPU.
        loss_history: ``(n_logged, inst)`` batch losses; ``logged_steps`` their step numbers.
        dead_history: ``(n_logged, inst)`` fraction of latents dead (by the window) at those steps.
        elapsed: seconds spent training.
        stopped: a callback stopped training early.
    """

    sae: SAE
    loss_history: Tensor
    logged_steps: list[int]
    dead_history: Tensor
    elapsed: float
    stopped: bool = False

    def instance(self, i: int = 0) -> SparseAutoencoder:
        return self.sae.instance(i)


def train_saes(
    acts: Float[Tensor, "n d_in"] | Iterable[Tensor],
    config: SAEConfig,
    sparsity: float | Sequence[float] | Tensor | None = None,
    *,
    train_config: TrainConfig = SAE_TRAIN_CONFIG,
    seed: int = 0,
    device: str | torch.device | None = None,
    callbacks: Sequence[Callable[[TrainState], bool | None]] = (),
    callback_every: int = 50,
    progress: bool | None = None,
) -> SAETraining:
    """Train ``config.n_inst`` SAEs at once on the same stream of batches.

    Args:
        acts: a ``(n, d_in)`` tensor (batches are random rows) or an iterable yielding
            ``(batch, d_in)`` tensors (e.g. :meth:`~superpos_lib.data.GroundTruthData.batches`).
        config: shapes and options.
        sparsity: λ, k or target L0, one value or one per instance (``None``: the default).
        train_config: steps, batch size (for tensor inputs), learning rate and schedule.
        seed: seeds the weights and the row sampling.
        device: where to train (``None``: CUDA > MPS > CPU).
        callbacks, callback_every, progress: as for :func:`~superpos_lib.training.train`.
    """
    dev = get_device(device)
    if isinstance(acts, Tensor):
        sampler = ActivationSampler(acts, train_config.batch_size, seed=seed, device=dev)
        sample = sampler.sample
        init = sampler.acts[: 2**14] if sampler.acts.shape[0] <= 2**14 else sampler.sample()
    else:
        sample = _stream(acts, config.d_in, dev)
        init = sample()
    sae = SAE(config, sparsity, init, seed=seed, device=dev)
    sae.total_steps = train_config.steps
    dead_rows: list[Tensor] = []

    def watch_dead(state: TrainState) -> None:
        while len(dead_rows) < len(state.logged_steps):
            dead_rows.append(sae.dead.float().mean(-1).cpu())

    # The dead-latent record is taken at every logged step; the caller's callbacks at their own cadence.
    every = math.gcd(callback_every, train_config.log_every)

    def on_step(state: TrainState) -> bool:
        watch_dead(state)
        if state.step % callback_every == 0 or state.step == state.steps:
            return any(cb(state) for cb in callbacks)
        return False

    pending = [None if isinstance(acts, Tensor) else init]  # a stream's first batch also trains

    def next_batch() -> Tensor:
        if pending[0] is not None:
            x, pending[0] = pending[0], None
            return x
        return sample()

    state = train(sae, next_batch, train_config, callbacks=[on_step], callback_every=every, progress=progress)
    watch_dead(state)
    sae = sae.cpu()
    sae._fired = None
    n = len(state.logged_steps)
    dead = torch.stack(dead_rows[:n]) if n else torch.zeros(0, config.n_inst)
    return SAETraining(sae, state.loss_history.cpu(), list(state.logged_steps), dead, state.elapsed, state.stopped)


def train_sae(
    acts: Float[Tensor, "batch d_in"],
    d_sae: int,
    *,
    kind: str = "relu_l1",
    sparsity: float | None = None,
    steps: int | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> SparseAutoencoder:
    """Train one SAE on activations ``acts`` and return it (CPU tensors; ``.W_dec`` is ``d_sae d_in``).

    ``sparsity`` is λ for ``"relu_l1"``, k for ``"topk"`` and the target L0 for ``"jumprelu"``
    (``None``: :func:`default_sparsity`); ``steps`` defaults to 2,000 batches of 1,024 rows.
    relu_l1 resamples dead latents every 250 steps. For sweeps and options, see
    :func:`train_saes`.
    """
    _check_kind(kind)
    if isinstance(d_sae, bool) or not isinstance(d_sae, int) or d_sae <= 0:
        raise ValueError(f"d_sae must be a positive integer, got {d_sae!r}")
    acts = _check_acts(acts, "acts")
    if sparsity is not None:
        if kind == "relu_l1" and not (math.isfinite(sparsity) and sparsity >= 0):
            raise ValueError(f"sparsity (λ for relu_l1) must be a finite number >= 0, got {sparsity!r}")
        if kind == "topk" and not (sparsity == int(sparsity) and 0 < sparsity <= d_sae):
            raise ValueError(f"sparsity (k for topk) must be a whole number in [1, d_sae={d_sae}], got {sparsity!r}")
        if kind == "jumprelu" and not (math.isfinite(sparsity) and 0 < sparsity <= d_sae):
            raise ValueError(f"sparsity (target L0 for jumprelu) must be in (0, d_sae={d_sae}], got {sparsity!r}")
    tc = SAE_TRAIN_CONFIG if steps is None else replace(SAE_TRAIN_CONFIG, steps=steps)
    config = SAEConfig(acts.shape[1], d_sae, kind, resample_every=250 if kind == "relu_l1" else None)
    return train_saes(acts, config, sparsity, train_config=tc, seed=seed, device=device, progress=False).instance(0)


# -- metrics ---------------------------------------------------------------------------------------


def geometric_median(x: Float[Tensor, "n d"], *, iters: int = 100, tol: float = 1e-6) -> Float[Tensor, "d"]:
    """The point minimising the summed distances to the rows of ``x`` (Weiszfeld's iteration)."""
    x = _check_acts(x, "x").double()
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


def l0(f: Float[Tensor, "*inst batch d_sae"]) -> Float[Tensor, "*inst"]:
    """Mean number of non-zero latents per input."""
    return (f != 0).float().sum(-1).mean(-1)


def mse(x: Float[Tensor, "*xs batch d_in"], x_hat: Float[Tensor, "*inst batch d_in"]) -> Float[Tensor, "*inst"]:
    """Mean over inputs of the squared reconstruction error ``‖x − x̂‖²``."""
    return (x - x_hat).square().sum(-1).mean(-1)


def fvu(x: Float[Tensor, "*xs batch d_in"], x_hat: Float[Tensor, "*inst batch d_in"]) -> Float[Tensor, "*inst"]:
    """Fraction of variance unexplained, ``Σ‖x − x̂‖² / Σ‖x − x̄‖²`` over the whole set
    (``x̄`` the set's mean input): 0 is perfect, 1 is no better than predicting the mean."""
    x, x_hat = torch.broadcast_tensors(x, x_hat)
    num = (x - x_hat).double().square().sum((-1, -2))
    den = (x - x.mean(-2, keepdim=True)).double().square().sum((-1, -2))
    return (num / den).float()


def latent_density(f: Float[Tensor, "*inst batch d_sae"]) -> Float[Tensor, "*inst d_sae"]:
    """Fraction of inputs on which each latent fires."""
    return (f != 0).float().mean(-2)


def dead_fraction(density: Float[Tensor, "*inst d_sae"]) -> Float[Tensor, "*inst"]:
    """Fraction of latents that never fired on the evaluation set."""
    return (density == 0).float().mean(-1)


def dense_fraction(density: Float[Tensor, "*inst d_sae"], threshold: float = 0.1) -> Float[Tensor, "*inst"]:
    """Fraction of latents firing on more than ``threshold`` of inputs (too dense to be a sparse feature)."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    return (density > threshold).float().mean(-1)


def density_histogram(
    density: Float[Tensor, "d_sae"], bins: int = 40, low: float = -6.0
) -> tuple[Float[Tensor, "bins"], Float[Tensor, "bins_plus_1"], int]:
    """Histogram of ``log10`` latent densities over ``[low, 0]``: ``(counts, edges, n_dead)``
    (dead latents, with density 0, have no logarithm and are counted apart)."""
    _check_positive_int(bins, "bins")
    if not (math.isfinite(low) and low < 0):
        raise ValueError(f"low must be a finite number < 0, got {low!r}")
    d = density.flatten().float()
    alive = d[d > 0]
    edges = torch.linspace(low, 0.0, bins + 1)
    counts = torch.histc(alive.log10().clamp(low, 0.0), bins=bins, min=low, max=0.0)
    return counts, edges, int((d == 0).sum())


def cosine_matrix(true_directions: Float[Tensor, "feats d_in"], W_dec: Float[Tensor, "d_sae d_in"]) -> Float[Tensor, "feats d_sae"]:
    """Cosine similarity of every true feature with every decoder row."""
    for t, name in ((true_directions, "true_directions"), (W_dec, "W_dec")):
        if not isinstance(t, Tensor) or t.ndim != 2 or 0 in t.shape:
            raise ValueError(f"{name} must be a non-empty 2-D tensor, got {getattr(t, 'shape', type(t))}")
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    if true_directions.shape[1] != W_dec.shape[1]:
        raise ValueError(f"true_directions and W_dec must have the same width, got {true_directions.shape[1]} and {W_dec.shape[1]}")
    a = true_directions.detach().float().cpu()
    b = W_dec.detach().float().cpu()
    a = a / a.norm(dim=1, keepdim=True).clamp(min=1e-12)
    b = b / b.norm(dim=1, keepdim=True).clamp(min=1e-12)
    return a @ b.T


def mmcs(true_directions: Float[Tensor, "feats d_in"], W_dec: Float[Tensor, "d_sae d_in"]) -> float:
    """Mean max cosine similarity: the mean over true features of the best cosine with any
    decoder row (1 when every feature has a latent pointing exactly along it)."""
    return float(cosine_matrix(true_directions, W_dec).max(dim=1).values.mean())


def matched_mmcs(true_directions: Float[Tensor, "feats d_in"], W_dec: Float[Tensor, "d_sae d_in"]) -> float:
    """MMCS with each latent used at most once: the best one-to-one matching of features to
    latents (Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`), averaged over
    features (a feature left without a latent scores 0)."""
    from scipy.optimize import linear_sum_assignment

    cos = cosine_matrix(true_directions, W_dec).double().numpy()
    rows, cols = linear_sum_assignment(cos, maximize=True)
    return float(cos[rows, cols].sum() / cos.shape[0])


def latents_per_feature(
    true_directions: Float[Tensor, "feats d_in"], W_dec: Float[Tensor, "d_sae d_in"], threshold: float = 0.9
) -> Float[Tensor, "feats"]:
    """How many decoder rows point along each true feature (cosine above ``threshold``): 1 is a
    clean recovery, more is a feature split across latents, 0 a feature missed."""
    if not -1 <= threshold < 1:
        raise ValueError(f"threshold must be in [-1, 1), got {threshold!r}")
    return (cosine_matrix(true_directions, W_dec) > threshold).float().sum(1)


@dataclass(frozen=True)
class SAEMetrics:
    """Evaluation of SAEs on a set of inputs, one entry per instance.

    Attributes:
        l0, mse, fvu: ``(inst,)`` (MSE in the inputs' units).
        density: ``(inst, d_sae)`` fraction of inputs each latent fires on.
        dead, dense: ``(inst,)`` fractions of latents never firing / firing on > 10% of inputs.
        n_inputs: size of the evaluation set.
    """

    l0: Tensor
    mse: Tensor
    fvu: Tensor
    density: Tensor
    dead: Tensor
    dense: Tensor
    n_inputs: int


@torch.no_grad()
def evaluate(
    sae: SAE | SparseAutoencoder,
    acts: Float[Tensor, "n d_in"] | Iterable[Tensor],
    *,
    chunk: int = 8192,
    dense_threshold: float = 0.1,
) -> SAEMetrics:
    """L0, MSE, FVU and latent densities over a whole evaluation set, streamed in chunks
    (``acts`` a tensor, or an iterable of ``batch d_in`` tensors, e.g. a finite generator)."""
    _check_positive_int(chunk, "chunk")
    if isinstance(acts, Tensor):
        _check_acts(acts, "acts")
        pieces: Iterable[Tensor] = acts.split(chunk)
    else:
        pieces = acts
    single = isinstance(sae, SparseAutoencoder)
    device = sae.W_dec.device
    n = 0
    sum_x = sum_sq = err = fires = l0_sum = None
    for x in pieces:
        x = _check_acts(x, "acts", sae.W_dec.shape[-1]).to(device, torch.float32)
        if single:
            f = sae.encode(x)[None]
            x_hat = sae.decode(f[0])[None]
        else:
            f = sae.encode(x)
            x_hat = sae.decode(f)
        xd = x.double()
        if n == 0:
            sum_x, sum_sq = xd.sum(0), xd.square().sum()
            err = (x_hat - x).double().square().sum((-1, -2))
            fires = (f != 0).double().sum(-2)
        else:
            sum_x += xd.sum(0)
            sum_sq += xd.square().sum()
            err += (x_hat - x).double().square().sum((-1, -2))
            fires += (f != 0).double().sum(-2)
        n += x.shape[0]
    if n == 0:
        raise ValueError("acts is empty: no inputs to evaluate on")
    var = sum_sq - sum_x.square().sum() / n
    density = (fires / n).float()
    l0_ = density.sum(-1)
    out = SAEMetrics(l0_, (err / n).float(), (err / var).float(), density, dead_fraction(density),
                     dense_fraction(density, dense_threshold), n)
    if single:
        out = SAEMetrics(*(getattr(out, k)[0] for k in ("l0", "mse", "fvu", "density", "dead", "dense")), n)
    return out


# -- baselines -------------------------------------------------------------------------------------


def pca_directions(acts: Float[Tensor, "n d_in"], n_components: int | None = None) -> Float[Tensor, "n_components d_in"]:
    """Principal directions of ``acts`` (rows, by decreasing variance): the best a linear,
    orthogonal, at-most-``d_in`` dictionary can do."""
    acts = _check_acts(acts, "acts").float()
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
    acts = _check_acts(acts, "acts").double()
    centred = acts - acts.mean(0)
    var = torch.linalg.svdvals(centred).square()
    return (1 - var.cumsum(0) / var.sum()).clamp(min=0).float()


def ica_directions(
    acts: Float[Tensor, "n d_in"], n_components: int | None = None, *, seed: int = 0, max_iter: int = 400
) -> Float[Tensor, "n_components d_in"]:
    """Independent directions of ``acts`` by scikit-learn's FastICA: the columns of its mixing
    matrix, as rows of unit norm. At most ``d_in`` of them, so it cannot find more features than
    dimensions."""
    import warnings

    from sklearn.decomposition import FastICA
    from sklearn.exceptions import ConvergenceWarning

    acts = _check_acts(acts, "acts").float()
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


# -- a toy model's activations ---------------------------------------------------------------------


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
    from .data import generate_batch

    if W.ndim != 2:
        raise ValueError(f"W must be (d_hidden, feats), got {tuple(W.shape)}")
    _check_positive_int(n_samples, "n_samples")
    gen = torch.Generator().manual_seed(seed)
    x = generate_batch(feature_probability, n_samples, W.shape[1], generator=gen)[0]
    W = W.detach().float().cpu()
    return x @ W.T, W.T.clone()
