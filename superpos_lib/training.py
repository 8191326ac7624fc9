"""The one training loop of the book, for any model batched over instances.

Nothing here knows about toy models or sparse autoencoders (as minGPT's ``trainer.py`` knows
nothing about GPT): a model trains here if it has what :class:`Trainable` declares, a loss per
instance. Two optional abilities make it faster or let it keep training state:

* :class:`HandGradients`: ``loss_and_grads`` returns gradients computed by hand, used instead of
  autograd (the toy models do this: about twice as fast on tiny tensors);
* :class:`StepHooks`: ``step_loss`` returns the loss and a record of the step, which the loop
  hands to ``after_step`` once the parameters are updated (the SAEs count firing latents,
  renormalise decoder rows and resample dead latents there).

Every instance is a separate model; the optimisers below are elementwise, so instances never
interact. Callbacks receive a :class:`TrainState` every ``callback_every`` steps; one that
returns ``True`` stops training (the live explorers use this to abandon a run when a slider
moves again). Long runs in a notebook show a progress bar.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from jaxtyping import Float
from torch import Tensor, nn

from .checks import check_choice, check_number, check_positive_int
from .runtime import PROGRESS_ENV, auto_threads, cpu_threads

__all__ = [
    "TrainConfig",
    "TrainState",
    "Trainable",
    "HandGradients",
    "StepHooks",
    "Adam",
    "SGD",
    "reset_moments",
    "Callback",
    "train",
    "LAZY_PROGRESS_AFTER_S",
]


@dataclass(frozen=True)
class TrainConfig:
    """How to train. The defaults are the toy models' fast recipe (see :mod:`superpos_lib.models`).

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
        check_positive_int(self.steps, "steps")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.log_every, "log_every")
        check_number(self.lr, "lr", low=0, low_open=True)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        check_number(self.eps, "eps", low=0, low_open=True)
        check_number(self.weight_decay, "weight_decay", low=0)
        check_number(self.warmup, "warmup", low=0, high=1, high_open=True)
        check_choice(self.optimizer, "optimizer", ("adam", "sgd"))
        check_choice(self.schedule, "schedule", ("cosine", "constant"))
        if self.threads is not None:
            check_positive_int(self.threads, "threads")

    def lr_at(self, step: int) -> float:
        """Learning rate for step ``step`` (0-based): linear warm-up, then cosine decay to 0 (or constant)."""
        n_warm = int(self.warmup * self.steps)
        if step < n_warm:
            return self.lr * (step + 1) / n_warm
        if self.schedule == "constant":
            return self.lr
        progress = (step - n_warm) / max(1, self.steps - n_warm)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


@runtime_checkable
class Trainable(Protocol):
    """What :func:`train` needs of a model: parameters with a leading instance axis, and a loss."""

    def parameters(self) -> Iterator[nn.Parameter]:
        """The parameters to train; the first one's leading axis counts the instances."""
        ...

    def loss(self, x: Tensor, *loss_args: Any) -> Float[Tensor, "inst"]:
        """The loss of each instance on batch ``x``."""
        ...


@runtime_checkable
class HandGradients(Protocol):
    """A model that computes its own gradients (used instead of autograd)."""

    def loss_and_grads(self, x: Tensor, *loss_args: Any, with_loss: bool) -> tuple[Any, ...]:
        """The loss (or ``None`` when ``with_loss`` is false) and one gradient per parameter; a
        :class:`StepHooks` model adds its step's record third (what ``step_loss`` returns second)."""
        ...


@runtime_checkable
class StepHooks(Protocol):
    """A model that keeps training state: what a step observed is handed back after the update."""

    def step_loss(self, x: Tensor, *loss_args: Any) -> tuple[Float[Tensor, "inst"], Any]:
        """The loss, and a record of the step (e.g. which latents fired) for :meth:`after_step`."""
        ...

    def after_step(self, state: "TrainState", x: Tensor, record: Any) -> None:
        """Called once the parameters are updated (``state.step`` steps done)."""
        ...


class Adam:
    """Adam with decoupled weight decay, in place, for parameters batched over instances."""

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

    @torch.no_grad()
    def reset(self, param: Tensor, mask: Tensor) -> None:
        """Forget both moments of ``param`` where ``mask`` is true (e.g. a resampled latent)."""
        for p, m, v in zip(self.params, self.m, self.v):
            if p is param:
                m[mask] = 0
                v[mask] = 0
                return
        raise ValueError("param is not one of this optimiser's parameters")


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

    def reset(self, param: Tensor, mask: Tensor) -> None:
        """Plain gradient descent keeps no moments: nothing to forget."""
        if not any(p is param for p in self.params):
            raise ValueError("param is not one of this optimiser's parameters")


@torch.no_grad()
def reset_moments(optimizer: object, param: Tensor, mask: Tensor) -> None:
    """Forget an optimiser's running statistics for ``param`` where ``mask`` is true.

    Works with this module's :class:`Adam` and :class:`SGD` and with any ``torch.optim``
    optimiser (every per-parameter state tensor shaped like ``param``, such as Adam's
    ``exp_avg`` and ``exp_avg_sq``). Anything else raises ``ValueError`` rather than carrying
    stale moments silently.
    """
    if mask.shape != param.shape:
        raise ValueError(f"mask must have the shape of param {tuple(param.shape)}, got {tuple(mask.shape)}")
    if isinstance(optimizer, (Adam, SGD)):
        optimizer.reset(param, mask)
        return
    if isinstance(optimizer, torch.optim.Optimizer):
        for value in optimizer.state.get(param, {}).values():
            if isinstance(value, Tensor) and value.shape == param.shape:
                value[mask] = 0
        return
    raise ValueError(f"optimizer must be superpos_lib's Adam or SGD or a torch.optim optimiser, got {type(optimizer).__name__}")


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
        optimizer: the optimiser (:class:`Adam` or :class:`SGD`).
        elapsed: seconds since training started.
        stopped: ``True`` if a callback stopped training early.
    """

    model: nn.Module
    step: int
    steps: int
    loss: Tensor
    loss_history: Tensor
    logged_steps: list[int] = field(default_factory=list)
    optimizer: Adam | SGD | None = None
    elapsed: float = 0.0
    stopped: bool = False


Callback = Callable[[TrainState], "bool | None"]

LAZY_PROGRESS_AFTER_S = 2.0
"""In a notebook, a run with ``progress=None`` shows a progress bar once it has taken this long."""


def _want_lazy_progress() -> bool:
    return "ipykernel" in sys.modules and os.environ.get(PROGRESS_ENV, "1") != "0"


def train(
    model: Trainable,
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
        model: a :class:`Trainable`; a :class:`HandGradients` model's own gradients replace
            autograd, and a :class:`StepHooks` model's ``after_step`` runs after every update.
        sample: returns the next batch.
        config: the optimiser and schedule.
        loss_args: extra arguments of the loss (the toy models' importance).
        callbacks: called with the :class:`TrainState` every ``callback_every`` steps and at
            the end; one that returns ``True`` stops training.
        callback_every: steps between callback calls.
        progress: show a progress bar (``None``: only in a notebook, once a run passes 2 s).
    """
    check_positive_int(callback_every, "callback_every")
    if not isinstance(model, Trainable):
        raise ValueError(f"model must have parameters() and loss(x, ...), got {type(model).__name__}")
    params = list(model.parameters())
    if not params:
        raise ValueError("model has no parameters to train")
    opt = (Adam if config.optimizer == "adam" else SGD)(params, config)
    analytic = isinstance(model, HandGradients)
    hooks = isinstance(model, StepHooks)
    device = params[0].device
    n_inst = params[0].shape[0]
    history = torch.zeros(config.steps // config.log_every, n_inst, device=device)
    state = TrainState(model, 0, config.steps, torch.full((n_inst,), float("nan")), history, optimizer=opt)
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
            record = None
            if analytic:
                loss, grads, *rest = model.loss_and_grads(x, *loss_args, with_loss=log)
                record = rest[0] if rest else None
            else:
                loss, record = model.step_loss(x, *loss_args) if hooks else (model.loss(x, *loss_args), None)
                grads = torch.autograd.grad(loss.sum(), params)
            opt.step(grads, config.lr_at(step))
            state.step = step + 1
            if hooks:
                model.after_step(state, x, record)
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
