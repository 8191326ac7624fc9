"""What every sparse autoencoder shares: its configuration, the batched model, one trained SAE.

An SAE reads activations ``x`` (``d_in`` wide) into many more latents ``f`` (``d_sae``), most
of them zero, and writes them back::

    f = σ(W_encᵀ (x − b_dec) + b_enc),      x̂ = W_decᵀ f + b_dec

trained on ``‖x − x̂‖² + sparsity penalty``. The variants differ only in ``σ`` and the penalty,
so each is a small class on the shared base :class:`SAE` (one module per variant, as SAELens's
``saes/`` does): :class:`~superpos_lib.sae.relu_l1.ReluL1SAE`,
:class:`~superpos_lib.sae.topk.TopKSAE`, :class:`~superpos_lib.sae.jumprelu.JumpReLUSAE`,
:class:`~superpos_lib.sae.gated.GatedSAE`, :class:`~superpos_lib.sae.batchtopk.BatchTopKSAE` and
:class:`~superpos_lib.sae.matryoshka.MatryoshkaSAE`.

Everything is batched over instances (``n_inst``) like the toy models, so a sweep over λ, k or
seeds is one model; inputs may be shared by all instances (``batch d_in``) or per instance
(``inst batch d_in``). Inputs are multiplied by one number, the buffer :attr:`SAE.scale`,
chosen at initialisation so that their mean squared norm is 1: λ, thresholds and losses then
mean the same for activations of any width or size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor, nn

from ..checks import check_choice, check_matrix, check_number, check_positive_int
from ..runtime import get_device, stream_seed
from ..training import TrainState
from .baselines import geometric_median

__all__ = ["SAEConfig", "SAE", "SparseAutoencoder", "kinds", "sae_class", "default_sparsity"]


def kinds() -> tuple[str, ...]:
    """The SAE variants, by name (``"relu_l1"``, ``"topk"``, ``"jumprelu"``, ``"gated"``,
    ``"batchtopk"``, ``"matryoshka"``)."""
    return tuple(SAE.registry)


def sae_class(kind: str) -> type["SAE"]:
    """The class of variant ``kind``; ``ValueError`` naming ``kind`` for an unknown one."""
    check_choice(kind, "kind", kinds())
    return SAE.registry[kind]


def default_sparsity(kind: str, d_in: int, d_sae: int) -> float:
    """The sparsity setting used when none is given (inputs at unit mean squared norm):
    λ = 0.1 (relu_l1 and gated), ``k = min(d_sae, max(1, d_in // 4))`` (topk, batchtopk,
    matryoshka), λ = 0.01 (jumprelu; with ``target_l0=True``, a target L0 of the same size as
    topk's k)."""
    return sae_class(kind).default_sparsity(d_in, d_sae)


@dataclass(frozen=True)
class SAEConfig:
    """The shape of an SAE and how it trains (all instances share it; sparsity may differ).

    Args:
        d_in: width of the activations.
        d_sae: number of latents (the dictionary size).
        kind: one of :func:`kinds`: ``"relu_l1"``, ``"topk"``, ``"jumprelu"``, ``"gated"``,
            ``"batchtopk"`` or ``"matryoshka"``.
        n_inst: instances trained together.
        unit_decoder: hold decoder rows at unit norm after every step. ``None``: yes for every
            kind but jumprelu (its L0 penalty does not care about norms). For relu_l1 and gated,
            ``False`` means free rows and the norm-weighted L1 penalty.
        init_encoder: ``"transpose"`` (W_enc = W_decᵀ, as Gao et al. and Anthropic's April 2024
            update) or ``"independent"`` (both drawn at random).
        init_b_dec: ``"median"`` (geometric median of a sample, Bricken et al.), ``"mean"`` or
            ``"zero"``.
        dead_window: during training, a latent silent for this many steps counts as dead
            (:attr:`SAE.dead`, for resampling and the topk auxiliary loss). Training sees only
            recent batches, so this is a proxy for the evaluation's definition, a latent that
            fires on none of the evaluation inputs (:attr:`SAEMetrics.n_dead`).
        resample_every: relu_l1 only: every this many steps (until 60% of training), re-aim the
            dead latents at badly reconstructed inputs. ``None``: never.
        aux_coeff: the dead-latent auxiliary loss's weight α (topk, batchtopk, matryoshka).
        aux_k: latents used by the auxiliary loss (``None``: ``max(1, d_in // 2)``).
        bandwidth: jumprelu's kernel width ε for the thresholds' pseudo-derivatives. The
            paper's 0.001 suits its billions of inputs; in the book's 1,000 steps of 512 the
            thresholds barely move at that width (and at 0.01) and the codes stay dense, so the
            default is 0.05.
        init_threshold: jumprelu's initial θ (the paper's: 0.001; the default here: 0.05).
        target_l0: jumprelu only. ``False`` (default): the paper's penalty ``λ‖f‖₀``,
            ``sparsity`` is λ. ``True``: the book's own option, ``sparsity`` is a target L0 and
            the penalty ``target_coeff·(L0 / target − 1)²`` (the L0 reached misses the target).
        target_coeff: the weight of that option's penalty.
        prefixes: matryoshka only: the nested dictionary sizes whose reconstructions are each
            trained (increasing, the last ``d_sae``). ``None``: ``d_sae`` halved until below
            ``d_sae / 16`` (``d_sae = 64``: 4, 8, 16, 32, 64).
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
    target_l0: bool = False
    target_coeff: float = 1.0
    prefixes: tuple[int, ...] | None = None

    def __post_init__(self):
        check_positive_int(self.d_in, "d_in")
        check_positive_int(self.d_sae, "d_sae")
        check_positive_int(self.n_inst, "n_inst")
        check_choice(self.kind, "kind", kinds())
        check_choice(self.init_encoder, "init_encoder", ("transpose", "independent"))
        check_choice(self.init_b_dec, "init_b_dec", ("median", "mean", "zero"))
        check_positive_int(self.dead_window, "dead_window")
        if self.resample_every is not None:
            check_positive_int(self.resample_every, "resample_every")
            if self.kind != "relu_l1":
                raise ValueError(f"resample_every is for kind='relu_l1' only, got kind={self.kind!r}")
        if self.aux_k is not None:
            check_positive_int(self.aux_k, "aux_k")
        if not isinstance(self.target_l0, bool):
            raise ValueError(f"target_l0 must be True or False, got {self.target_l0!r}")
        if self.target_l0 and self.kind != "jumprelu":
            raise ValueError(f"target_l0 is for kind='jumprelu' only, got kind={self.kind!r}")
        for name in ("aux_coeff", "target_coeff"):
            check_number(getattr(self, name), name, low=0)
        for name in ("bandwidth", "init_threshold"):
            check_number(getattr(self, name), name, low=0, low_open=True)
        if self.prefixes is not None:
            if self.kind != "matryoshka":
                raise ValueError(f"prefixes is for kind='matryoshka' only, got kind={self.kind!r}")
            p = self.prefixes
            if (not isinstance(p, tuple) or not p or any(isinstance(m, bool) or not isinstance(m, int) for m in p)
                    or any(b <= a for a, b in zip(p, p[1:])) or p[0] < 1 or p[-1] != self.d_sae):
                raise ValueError(f"prefixes must be a tuple of increasing whole numbers >= 1 ending at "
                                 f"d_sae={self.d_sae}, got {p!r}")

    @property
    def unit_norm(self) -> bool:
        """Whether decoder rows are renormalised after every step."""
        return sae_class(self.kind).unit_decoder_default if self.unit_decoder is None else self.unit_decoder


class SAE(nn.Module):
    """Sparse autoencoders batched over instances (``W_enc: inst d_in d_sae``, ``W_dec: inst
    d_sae d_in``): the model that trains. :meth:`instance` gives one as a
    :class:`SparseAutoencoder` on the CPU.

    ``SAE(config, ...)`` builds the variant that ``config.kind`` names. A variant sets
    ``kind`` in its class statement (``class TopKSAE(SAE, kind="topk")``), names its knob
    (:attr:`sparsity_name`) and supplies :meth:`activation` (``σ``), :meth:`sparsity_loss` (the
    penalty) and, if it differs from a count of active latents or needs upkeep,
    :meth:`check_sparsity`, :meth:`default_sparsity` and :meth:`maintain`.

    Args:
        config: shapes and options.
        sparsity: λ (relu_l1 and jumprelu; the target L0 for jumprelu with ``target_l0``) or
            k (topk): a number, or one per instance.
        init_data: a sample of inputs (``batch d_in``) that sets :attr:`scale` and ``b_dec``.
        seed: seeds the weights.
        device: where the parameters live.
    """

    registry: ClassVar[dict[str, type["SAE"]]] = {}
    kind: ClassVar[str] = ""
    sparsity_name: ClassVar[str] = "sparsity"
    unit_decoder_default: ClassVar[bool] = True

    def __init_subclass__(cls, *, kind: str, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.kind = kind
        SAE.registry[kind] = cls

    def __new__(cls, config: SAEConfig | None = None, *args: Any, **kwargs: Any):
        if config is None:  # copy and pickle make the object first and fill it in after
            return super().__new__(cls)
        target = sae_class(config.kind) if cls is SAE else cls
        if target.kind != config.kind:
            raise ValueError(f"kind must be {cls.kind!r} for {cls.__name__}, got a config with kind={config.kind!r}")
        return super().__new__(target)

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
            sparsity = self.default_sparsity(c.d_in, c.d_sae, config=c)
        s = torch.as_tensor(sparsity, dtype=torch.float32).flatten()
        if s.numel() == 1:
            s = s.expand(c.n_inst)
        if s.numel() != c.n_inst:
            raise ValueError(f"sparsity needs 1 or n_inst={c.n_inst} values, got {s.numel()}")
        if not torch.isfinite(s).all():
            raise ValueError(f"sparsity must be finite, got {s.tolist()}")
        self.check_sparsity(s, c.d_sae, config=c)
        self.register_buffer("sparsity", s.clone().to(dev))
        gen = torch.Generator().manual_seed(stream_seed(seed, "sae.init"))  # never the data's own stream
        dirs = torch.randn(c.n_inst, c.d_sae, c.d_in, generator=gen)
        W_dec = dirs / dirs.norm(dim=-1, keepdim=True)
        if c.init_encoder == "transpose":
            W_enc = W_dec.mT.clone()
        else:
            bound = 1 / math.sqrt(c.d_in)
            W_enc = (torch.rand(c.n_inst, c.d_in, c.d_sae, generator=gen) * 2 - 1) * bound
        scale = torch.tensor(1.0)
        b_dec = torch.zeros(c.n_inst, c.d_in)
        if init_data is not None:
            x = check_matrix(init_data, "init_data", c.d_in).float().cpu()
            sq = x.square().sum(-1).mean()
            if sq > 0:
                scale = 1 / sq.sqrt()
            x = x * scale
            if c.init_b_dec == "mean":
                b_dec[:] = x.mean(0)
            elif c.init_b_dec == "median":
                b_dec[:] = geometric_median(x)
        self.register_buffer("scale", scale.to(dev))
        self.W_enc = nn.Parameter(W_enc.to(dev))
        self.b_enc = nn.Parameter(torch.zeros(c.n_inst, c.d_sae, device=dev))
        self.W_dec = nn.Parameter(W_dec.to(dev))
        self.b_dec = nn.Parameter(b_dec.to(dev))
        self.register_buffer("steps_since_fired", torch.zeros(c.n_inst, c.d_sae, dtype=torch.long, device=dev))

    # -- what a variant supplies ------------------------------------------------------------------
    @classmethod
    def default_sparsity(cls, d_in: int, d_sae: int, config: SAEConfig | None = None) -> float:
        """The sparsity setting used when none is given (``config``: the options it may depend
        on). A knob that counts active latents (TopK's k): ``min(d_sae, max(1, d_in // 4))``."""
        return float(min(d_sae, max(1, d_in // 4)))

    @classmethod
    def check_sparsity(cls, sparsity: Float[Tensor, "inst"], d_sae: int, config: SAEConfig | None = None) -> None:
        """Raise ``ValueError`` naming ``sparsity`` for values this variant cannot use (a count of
        active latents must lie in ``(0, d_sae]``)."""
        if (sparsity <= 0).any() or (sparsity > d_sae).any():
            raise ValueError(f"sparsity ({cls.sparsity_name}) must be in (0, d_sae={d_sae}], got {sparsity.tolist()}")

    def activation(self, pre: Float[Tensor, "inst batch d_sae"], *, train: bool) -> Float[Tensor, "inst batch d_sae"]:
        """``σ``: latents from pre-activations. ``train``: as in a training step (with the
        variant's gradient estimator, or BatchTopK's choice over the whole batch); otherwise as
        at inference, each input on its own."""
        raise NotImplementedError

    def sparsity_loss(self, f: Float[Tensor, "inst batch d_sae"], pre: Float[Tensor, "inst batch d_sae"],
                      err: Float[Tensor, "inst batch d_in"], xs: Float[Tensor, "shared batch d_in"]) -> Float[Tensor, "inst"]:
        """What the variant adds to the reconstruction error, per instance: its sparsity penalty
        and any auxiliary loss (``err = x̂ − x`` and the inputs ``xs``, both in scaled units)."""
        raise NotImplementedError

    def maintain(self, state: TrainState, x: Tensor) -> None:
        """Anything a variant does after each update, once firing counts and norms are kept."""

    def weighted_l1(self, f: Float[Tensor, "inst batch d_sae"]) -> Float[Tensor, "inst"]:
        """``Σ_j f_j ‖W_dec,j‖`` averaged over the batch: ``‖f‖₁`` when decoder rows are held at
        unit norm (the L1 penalty of ReLU + L1 and of the gated SAE's gate)."""
        l1 = f.sum(-1) if self.config.unit_norm else (f * self.W_dec.norm(dim=-1)[:, None, :]).sum(-1)
        return l1.mean(-1)

    # -- the model --------------------------------------------------------------------------------
    @property
    def n_inst(self) -> int:
        return self.config.n_inst

    @property
    def dead(self) -> Tensor:
        """``(inst, d_sae)``: latents that have not fired in the last ``dead_window`` steps (the
        training-time proxy for a latent that never fires)."""
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

    def _latents(self, xs: Tensor, *, train: bool) -> tuple[Tensor, Tensor]:
        pre = self.pre_acts(xs)
        return pre, self.activation(pre, train=train)

    def encode(self, x: Float[Tensor, "*shared batch d_in"]) -> Float[Tensor, "inst batch d_sae"]:
        """Latents of inputs ``x`` (shared ``batch d_in`` or per instance), as at inference."""
        return self._latents(self._inputs(x), train=False)[1]

    def decode(self, f: Float[Tensor, "inst batch d_sae"]) -> Float[Tensor, "inst batch d_in"]:
        """Reconstructions, in the inputs' units."""
        return torch.baddbmm(self.b_dec[:, None, :], f, self.W_dec) / self.scale

    def forward(self, x: Float[Tensor, "*shared batch d_in"]) -> Float[Tensor, "inst batch d_in"]:
        return self.decode(self.encode(x))

    def step_loss(self, x: Float[Tensor, "*shared batch d_in"]) -> tuple[Float[Tensor, "inst"], Tensor]:
        """The training loss per instance (reconstruction error summed over ``d_in``, averaged
        over the batch, in scaled units, plus the variant's penalty), and which latents fired
        on this batch (``(inst, d_sae)``, for :meth:`after_step`)."""
        xs = self._inputs(x)
        pre, f = self._latents(xs, train=True)
        err = torch.baddbmm(self.b_dec[:, None, :], f, self.W_dec) - xs
        loss = err.square().sum(-1).mean(-1) + self.sparsity_loss(f, pre, err, xs)
        return loss, (f > 0).any(-2).detach()

    def loss(self, x: Float[Tensor, "*shared batch d_in"]) -> Float[Tensor, "inst"]:
        """The training loss per instance (see :meth:`step_loss`)."""
        return self.step_loss(x)[0]

    @torch.no_grad()
    def after_step(self, state: TrainState, x: Tensor, fired: Tensor) -> None:
        """After each update (:func:`~superpos_lib.training.train` calls it): count steps since
        each latent fired, hold decoder rows at unit norm, then the variant's :meth:`maintain`."""
        self.steps_since_fired.add_(1).masked_fill_(fired, 0)
        if self.config.unit_norm:
            self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True).clamp(min=1e-8))
        self.maintain(state, x)

    def select(self, i: int) -> "SAE":
        """Instance ``i`` as a one-instance SAE of the same kind, on the same device (a copy)."""
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.n_inst:
            raise ValueError(f"i must be in [0, {self.n_inst}), got {i!r}")
        one = type(self)(replace(self.config, n_inst=1), self.sparsity[i : i + 1].cpu(), device=self.W_dec.device)
        # every parameter and buffer but the scalar `scale` has the instances first
        one.load_state_dict({k: v if v.ndim == 0 else v[i : i + 1] for k, v in self.state_dict().items()})
        return one

    def instance(self, i: int = 0) -> "SparseAutoencoder":
        """Instance ``i`` as a standalone :class:`SparseAutoencoder` on the CPU."""
        return SparseAutoencoder(self.select(i).cpu())


class SparseAutoencoder:
    """One trained SAE on the CPU: what :func:`~superpos_lib.sae.train_sae` returns. It encodes
    and decodes single inputs as the variant does at inference (e.g. BatchTopK by its threshold).

    Attributes:
        model: the one-instance :class:`SAE` it wraps.
        kind: the variant's name.
        W_enc: ``(d_in, d_sae)``.
        b_enc: ``(d_sae,)``.
        W_dec: ``(d_sae, d_in)``, row ``j`` is latent ``j``'s direction.
        b_dec: ``(d_in,)``, in scaled units.
        scale: inputs are multiplied by this before encoding (outputs divided after decoding).
        sparsity: its λ, k (or target L0, for jumprelu with ``target_l0``).
    """

    def __init__(self, model: SAE):
        if not isinstance(model, SAE) or model.n_inst != 1:
            raise ValueError(f"model must be a one-instance SAE (SAE.select(i)), got {type(model).__name__}")
        self.model = model.eval().requires_grad_(False)

    kind = property(lambda self: self.model.kind)
    W_enc = property(lambda self: self.model.W_enc[0])
    b_enc = property(lambda self: self.model.b_enc[0])
    W_dec = property(lambda self: self.model.W_dec[0])
    b_dec = property(lambda self: self.model.b_dec[0])
    scale = property(lambda self: float(self.model.scale))
    sparsity = property(lambda self: float(self.model.sparsity[0]))

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
        return self.model.encode(self._check(x, "x", self.d_in))[0]

    @torch.no_grad()
    def decode(self, f: Float[Tensor, "batch d_sae"]) -> Float[Tensor, "batch d_in"]:
        """The reconstruction from latents ``f``, in the inputs' units."""
        return self.model.decode(self._check(f, "f", self.d_sae)[None])[0]

    def __call__(self, x: Float[Tensor, "batch d_in"]) -> Float[Tensor, "batch d_in"]:
        return self.decode(self.encode(x))
