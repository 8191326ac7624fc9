"""One fast training loop for every model in the book.

The official TMS recipe (AdamW at lr 1e-3, batch 1024, 10,000 steps) spends most of its time
waiting: on per-step overhead and on drawing random numbers. This loop keeps its loss and its
choice of solutions (``benchmarks/bench.py`` checks both against that recipe) while taking a
small fraction of the time:

* a short schedule: 1,000 steps of Adam at lr 0.05 with ``β₂ = 0.99``, linear warm-up and cosine
  decay (the faster second-moment average is what lets the dense case finish converging);
* every instance of a sweep in one batched tensor (``n_inst``), data drawn on the device into a
  reused buffer (:class:`~superpos_lib.data.FeatureSampler`), gradients by hand when the model
  provides them (:meth:`~superpos_lib.models.ToyModel.loss_and_grads`), autograd otherwise;
* one CPU thread for tiny models, where waking a second one costs more than it saves.

Callbacks receive a :class:`TrainState` every ``callback_every`` steps; returning ``True`` stops
training (the live widgets use this to abandon a run when a slider moves again).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch
from jaxtyping import Float
from torch import Tensor, nn

from .data import ArrayLike, FeatureSampler, _check_positive_int, as_inst_feats, broadcast_instances
from .models import ToyModel, ToyModelConfig
from .runtime import auto_threads, cpu_threads, get_device

__all__ = [
    "TrainConfig",
    "TrainState",
    "Adam",
    "SGD",
    "train",
    "evaluate_loss",
    "ToyModels",
    "fit_toy_models",
    "train_toy_models",
    "validated_fit",
]


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Args:
        steps: optimiser steps, each on a fresh batch.
        batch_size: samples per instance per step.
        lr: peak learning rate.
        betas: Adam's decay rates for the first and second moments.
        eps: Adam's denominator floor.
        weight_decay: decoupled (AdamW) weight decay.
        warmup: fraction of ``steps`` spent ramping the learning rate up from 0.
        optimizer: ``"adam"`` (the default) or ``"sgd"``, plain gradient descent, whose slow
            escapes from saddle points show the plateaus of the learning dynamics.
        schedule: after warm-up, ``"cosine"`` decays the rate to 0; ``"constant"`` keeps it
            (plateaus and drops in the learning dynamics are easier to see).
        threads: CPU threads during training (``None``: chosen from the model's size).
        log_every: record the mean batch loss every this many steps.
    """

    steps: int = 1000
    batch_size: int = 1024
    lr: float = 0.05
    betas: tuple[float, float] = (0.9, 0.99)
    eps: float = 1e-8
    weight_decay: float = 0.0
    warmup: float = 0.05
    optimizer: str = "adam"
    schedule: str = "cosine"
    threads: int | None = None
    log_every: int = 10

    def __post_init__(self):
        _check_positive_int(self.steps, "steps")
        _check_positive_int(self.batch_size, "batch_size")
        _check_positive_int(self.log_every, "log_every")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if not (0 <= self.warmup < 1):
            raise ValueError(f"warmup must be a fraction in [0, 1), got {self.warmup!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if self.weight_decay < 0 or self.eps <= 0:
            raise ValueError("weight_decay must be >= 0 and eps > 0")
        if self.threads is not None:
            _check_positive_int(self.threads, "threads")

    def lr_at(self, step: int) -> float:
        """Learning rate for step ``step`` (0-based): linear warm-up, then cosine decay to 0 (or constant)."""
        n_warm = int(self.warmup * self.steps)
        if step < n_warm:
            return self.lr * (step + 1) / n_warm
        if self.schedule == "constant":
            return self.lr
        progress = (step - n_warm) / max(1, self.steps - n_warm)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


class Adam:
    """Adam with decoupled weight decay, in place, for parameters batched over instances.

    Every operation is elementwise, so instances never interact.
    """

    def __init__(self, params: Sequence[Tensor], config: TrainConfig):
        self.params = list(params)
        self.config = config
        self.t = 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, grads: Sequence[Tensor], lr: float) -> None:
        """Apply one update with learning rate ``lr``."""
        b1, b2 = self.config.betas
        self.t += 1
        bias1, bias2 = 1 - b1**self.t, 1 - b2**self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            if self.config.weight_decay:
                p.mul_(1 - lr * self.config.weight_decay)
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v / bias2).sqrt_().add_(self.config.eps)
            p.addcdiv_(m, denom, value=-lr / bias1)


class SGD:
    """Plain gradient descent (with decoupled weight decay), in place; :class:`Adam`'s interface."""

    def __init__(self, params: Sequence[Tensor], config: TrainConfig):
        self.params = list(params)
        self.config = config

    @torch.no_grad()
    def step(self, grads: Sequence[Tensor], lr: float) -> None:
        """Apply one update with learning rate ``lr``."""
        for p, g in zip(self.params, grads):
            if self.config.weight_decay:
                p.mul_(1 - lr * self.config.weight_decay)
            p.add_(g, alpha=-lr)


@dataclass
class TrainState:
    """What a callback sees, and what :func:`train` returns.

    Attributes:
        model: the model being trained (live: read it, don't keep references to its tensors).
        step: optimiser steps done so far.
        steps: steps planned.
        loss: latest logged batch loss per instance (``(inst,)``).
        loss_history: logged batch losses, ``(n_logged, inst)``, one row every ``log_every`` steps.
        logged_steps: the step number of each row of ``loss_history``.
        elapsed: seconds since training started.
        stopped: ``True`` if a callback stopped training early.
    """

    model: nn.Module
    step: int
    steps: int
    loss: Tensor
    loss_history: Tensor
    logged_steps: list[int] = field(default_factory=list)
    elapsed: float = 0.0
    stopped: bool = False


Callback = Callable[[TrainState], "bool | None"]

LAZY_PROGRESS_AFTER_S = 2.0
"""In a notebook, a run with ``progress=None`` shows a progress bar once it has taken this long."""


def _want_lazy_progress() -> bool:
    return "ipykernel" in sys.modules and os.environ.get("SUPERPOS_PROGRESS", "1") != "0"


def train(
    model: nn.Module,
    sample: Callable[[], Tensor],
    config: TrainConfig = TrainConfig(),
    *,
    loss_args: tuple = (),
    callbacks: Sequence[Callback] = (),
    callback_every: int = 50,
    progress: bool | None = None,
) -> TrainState:
    """Train ``model`` in place on batches from ``sample()``.

    Args:
        model: has ``loss(x, *loss_args) -> (inst,)``; if it also has
            ``loss_and_grads(x, *loss_args, with_loss=...)`` that is used instead of autograd.
            If it has ``after_step(step, x, optimizer)``, that runs after every update (the
            sparse autoencoders keep decoder norms and dead-latent counts there).
        sample: returns the next batch.
        config: the optimiser and schedule.
        loss_args: extra arguments of the loss (the toy models' importance).
        callbacks: called with the :class:`TrainState` every ``callback_every`` steps and at
            the end; one that returns ``True`` stops training.
        callback_every: steps between callback calls.
        progress: show a progress bar (``None``: only in a notebook, once a run passes 2 s).
    """
    _check_positive_int(callback_every, "callback_every")
    params = [p for p in model.parameters()]
    opt = (Adam if config.optimizer == "adam" else SGD)(params, config)
    analytic = hasattr(model, "loss_and_grads")
    after_step = getattr(model, "after_step", None)
    device = params[0].device
    n_inst = params[0].shape[0]
    n_logged = config.steps // config.log_every
    history = torch.zeros(n_logged, n_inst, device=device)
    state = TrainState(model, 0, config.steps, torch.full((n_inst,), float("nan")), history)
    x = sample()
    threads = config.threads
    if threads is None and device.type == "cpu":
        threads = auto_threads(x.numel())
    bar = None
    lazy_bar = progress is None and _want_lazy_progress()
    start = time.perf_counter()
    with cpu_threads(threads if device.type == "cpu" else None):
        for step in range(config.steps):
            log = (step + 1) % config.log_every == 0
            if step:
                x = sample()
            if analytic:
                loss, grads = model.loss_and_grads(x, *loss_args, with_loss=log)
            else:
                loss = model.loss(x, *loss_args)
                grads = torch.autograd.grad(loss.sum(), params)
            opt.step(grads, config.lr_at(step))
            if after_step is not None:
                after_step(step, x, opt)
            state.step = step + 1
            if log:
                state.loss = loss.detach()
                history[len(state.logged_steps)] = state.loss
                state.logged_steps.append(step + 1)
            if bar is not None:
                bar.update(1)
            if state.step % callback_every == 0 or state.step == config.steps:
                state.elapsed = time.perf_counter() - start
                if bar is None and (progress or (lazy_bar and state.elapsed > LAZY_PROGRESS_AFTER_S)):
                    from tqdm.auto import tqdm

                    bar = tqdm(total=config.steps, initial=state.step, desc="training", leave=False)
                if any(cb(state) for cb in callbacks):
                    state.stopped = True
                    break
    if bar is not None:
        bar.close()
    state.elapsed = time.perf_counter() - start
    state.loss_history = history[: len(state.logged_steps)]
    return state


@torch.no_grad()
def evaluate_loss(
    model: ToyModel,
    feature_probability: Float[Tensor, "inst feats"],
    importance: Float[Tensor, "inst feats"],
    *,
    n_samples: int = 2**15,
    seed: int = 12345,
    signed: bool = False,
    chunk: int = 2**13,
) -> Float[Tensor, "inst"]:
    """Mean loss per instance on ``n_samples`` fresh samples (the same ones for a given seed)."""
    _check_positive_int(n_samples, "n_samples")
    device = model.W.device
    chunk = min(chunk, n_samples)
    sampler = FeatureSampler(feature_probability, chunk, seed=seed, signed=signed, device=device)
    imp = importance.to(device)
    total = torch.zeros(model.W.shape[0], device=device, dtype=torch.float64)
    n_chunks = math.ceil(n_samples / chunk)
    for _ in range(n_chunks):
        total += model.loss(sampler.sample(), imp).double()
    return (total / n_chunks).float()


@dataclass(frozen=True)
class ToyModels:
    """Trained toy models, all tensors on the CPU.

    Instances come in groups of ``n_seeds`` consecutive seeds of one configuration (one row of
    ``feature_probability`` / ``importance``); :meth:`best` keeps the lowest-loss seed of each.

    Attributes:
        W: ``(inst, d_hidden, feats)``, column ``W[k, :, i]`` is feature ``i``'s direction.
        b_final: ``(inst, feats)``.
        loss: ``(inst,)`` final loss on fresh data.
        feature_probability: ``(inst, feats)`` densities trained on.
        importance: ``(inst, feats)``.
        n_seeds: seeds per configuration.
        config: the architecture.
        train_config: how they were trained.
        loss_history: ``(n_logged, inst)`` batch losses during training.
        logged_steps: the step of each row of ``loss_history``.
    """

    W: Float[Tensor, "inst d_hidden feats"]
    b_final: Float[Tensor, "inst feats"]
    loss: Float[Tensor, "inst"]
    feature_probability: Float[Tensor, "inst feats"]
    importance: Float[Tensor, "inst feats"]
    n_seeds: int
    config: ToyModelConfig
    train_config: TrainConfig
    loss_history: Tensor
    logged_steps: tuple[int, ...]

    @property
    def n_inst(self) -> int:
        return self.W.shape[0]

    def best(self) -> "ToyModels":
        """The lowest-loss seed of each configuration (``n_inst / n_seeds`` instances)."""
        groups = self.loss.view(-1, self.n_seeds)
        idx = groups.argmin(1) + torch.arange(groups.shape[0]) * self.n_seeds
        return replace(
            self,
            W=self.W[idx],
            b_final=self.b_final[idx],
            loss=self.loss[idx],
            feature_probability=self.feature_probability[idx],
            importance=self.importance[idx],
            n_seeds=1,
            config=replace(self.config, n_inst=len(idx)),
            loss_history=self.loss_history[:, idx],
        )

    def to_model(self, device: str | torch.device | None = "cpu") -> ToyModel:
        """A :class:`ToyModel` holding these weights."""
        model = ToyModel(self.config, device=device)
        with torch.no_grad():
            model.W.copy_(self.W)
            model.b_final.copy_(self.b_final)
        return model


def fit_toy_models(
    config: ToyModelConfig,
    feature_probability: Float[Tensor, "inst feats"],
    importance: Float[Tensor, "inst feats"],
    *,
    n_seeds: int = 1,
    train_config: TrainConfig = TrainConfig(),
    signed: bool = False,
    seed: int = 0,
    device: str | torch.device | None = None,
    callbacks: Sequence[Callback] = (),
    callback_every: int = 50,
    progress: bool | None = None,
    eval_samples: int = 2**15,
) -> ToyModels:
    """Train ``config.n_inst`` toy models on already-validated ``(inst, feats)`` settings.

    The full-control version of :func:`train_toy_models` (callbacks, the neuron model, signed
    features, the schedule). The initial weights depend only on ``seed``, not on the device.
    """
    dev = get_device(device)
    shape = (config.n_inst, config.n_features)
    for name, t in (("feature_probability", feature_probability), ("importance", importance)):
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    gen = torch.Generator().manual_seed(seed)
    model = ToyModel(config, generator=gen, device=dev)
    sampler = FeatureSampler(feature_probability, train_config.batch_size, seed=seed, signed=signed, device=dev)
    imp = importance.to(dev)
    state = train(
        model,
        sampler.sample,
        train_config,
        loss_args=(imp,),
        callbacks=callbacks,
        callback_every=callback_every,
        progress=progress,
    )
    loss = evaluate_loss(model, feature_probability, importance, n_samples=eval_samples, seed=seed + 1_000_003, signed=signed)
    return ToyModels(
        W=model.W.detach().cpu(),
        b_final=model.b_final.detach().cpu(),
        loss=loss.cpu(),
        feature_probability=feature_probability.cpu(),
        importance=importance.cpu(),
        n_seeds=n_seeds,
        config=config,
        train_config=train_config,
        loss_history=state.loss_history.cpu(),
        logged_steps=tuple(state.logged_steps),
    )


def train_toy_models(
    n_features: int,
    d_hidden: int,
    feature_probability: ArrayLike,
    importance: ArrayLike = 1.0,
    *,
    n_inst: int | None = None,
    relu: bool = True,
    steps: int | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> ToyModels:
    """Train toy models of superposition: the one call a learner needs.

    Args:
        n_features: number of features ``n``.
        d_hidden: hidden dimensions ``m``.
        feature_probability: density ``p = 1 - S`` in ``(0, 1]``: a scalar, a per-feature
            vector ``(feats,)``, or one row per instance ``(inst, feats)`` (or ``(inst, 1)``).
        importance: ``I_i >= 0``, shaped like ``feature_probability``.
        n_inst: instances to train; defaults to the rows the arguments imply. A multiple of that
            trains several seeds of each row (consecutive instances); ``.best()`` keeps the best.
        relu: ReLU output (``False``: the linear model).
        steps: optimiser steps (default: :class:`TrainConfig`'s 1,000).
        seed: seeds the initial weights and the data.
        device: ``None`` picks CUDA > MPS > CPU.

    Returns:
        :class:`ToyModels` with ``.W`` ``(inst, d_hidden, feats)``, ``.b_final`` ``(inst, feats)``
        and ``.loss`` ``(inst,)`` (on fresh data), all on the CPU.

    Example:
        >>> res = train_toy_models(5, 2, 0.05, importance=0.9 ** torch.arange(5), n_inst=4)
        >>> res.best().W.shape
        torch.Size([1, 2, 5])
    """
    return validated_fit(n_features, d_hidden, feature_probability, importance, n_inst=n_inst, relu=relu,
                         hidden_relu=False, steps=steps, seed=seed, device=device)


def validated_fit(
    n_features: int,
    d_hidden: int,
    feature_probability: ArrayLike,
    importance: ArrayLike,
    *,
    n_inst: int | None,
    relu: bool,
    hidden_relu: bool,
    steps: int | None,
    seed: int,
    device: str | torch.device | None,
) -> ToyModels:
    """Check and broadcast a learner's arguments, then :func:`fit_toy_models` (shared by entry points)."""
    _check_positive_int(n_features, "n_features")
    _check_positive_int(d_hidden, "d_hidden")
    if n_inst is not None:
        _check_positive_int(n_inst, "n_inst")
    if steps is not None:
        _check_positive_int(steps, "steps")
    p = as_inst_feats(feature_probability, "feature_probability", n_features, low=0.0, high=1.0, low_inclusive=False)
    imp = as_inst_feats(importance, "importance", n_features, low=0.0)
    arrays, n_inst, n_seeds = broadcast_instances({"feature_probability": p, "importance": imp}, n_inst)
    config = ToyModelConfig(n_features, d_hidden, n_inst, relu=relu, hidden_relu=hidden_relu)
    train_config = TrainConfig() if steps is None else TrainConfig(steps=steps)
    return fit_toy_models(
        config,
        arrays["feature_probability"],
        arrays["importance"],
        n_seeds=n_seeds,
        train_config=train_config,
        seed=seed,
        device=device,
    )
