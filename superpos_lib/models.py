"""The toy models of superposition (TMS §2), batched over independent instances, and how to train them.

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

**Training them.** :func:`train_toy_models` is the one call a learner needs (chapters 2–9 use
it); :func:`fit_toy_models` is the full-control version on already-shaped ``(inst, feats)``
settings (callbacks, schedules), which the explorers and the phase diagrams call. Both run the
library's generic loop (:func:`superpos_lib.training.train`) with the fast recipe of
:class:`~superpos_lib.training.TrainConfig`: the official TMS recipe (AdamW at lr 1e-3, batch
1024, 10,000 steps) spends most of its time on per-step overhead and on drawing random numbers;
1,000 steps of Adam at lr 0.05 with ``β₂ = 0.99``, warm-up and cosine decay reach the same loss
and the same solutions (``benchmarks/bench.py`` checks both), with every instance of a sweep in
one batched tensor and the data drawn on the device into a reused buffer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import einops
import torch
from jaxtyping import Float
from torch import Tensor, nn

from .checks import check_positive_int, check_weights
from .data import ArrayLike, FeatureGroups, FeatureSampler, best_of_seeds, instance_settings
from .runtime import get_device
from .training import Callback, TrainConfig, train

__all__ = ["ToyModelConfig", "ToyModel", "ToyModels", "EVAL_ELEMENTS", "evaluate_loss", "fit_toy_models",
           "train_toy_models"]


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
        check_positive_int(self.n_features, "n_features")
        check_positive_int(self.d_hidden, "d_hidden")
        check_positive_int(self.n_inst, "n_inst")


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

    @classmethod
    def from_weights(
        cls,
        W: Float[Tensor, "inst d_hidden feats"],
        b_final: Float[Tensor, "inst feats"] | None = None,
        *,
        relu: bool = True,
        hidden_relu: bool = False,
        device: str | torch.device | None = "cpu",
    ) -> "ToyModel":
        """A model holding given weights (``b_final`` defaults to zeros), e.g. to evaluate it."""
        check_weights(W)
        n_inst, d_hidden, n_features = W.shape
        if b_final is not None and tuple(b_final.shape) != (n_inst, n_features):
            raise ValueError(f"b_final must have shape {(n_inst, n_features)}, got {tuple(b_final.shape)}")
        model = cls(ToyModelConfig(n_features, d_hidden, n_inst, relu=relu, hidden_relu=hidden_relu), device=device)
        with torch.no_grad():
            model.W.copy_(W)
            if b_final is not None:
                model.b_final.copy_(b_final)
        return model

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
        n_feats, batch = x.shape[2], x.shape[1]
        return self.weighted_loss_and_grads(x, importance[..., None], 1.0 / (n_feats * batch), with_loss=with_loss)

    @torch.no_grad()
    def weighted_loss_and_grads(
        self,
        x: Float[Tensor, "inst batch feats"],
        weight: Tensor,
        scale: float,
        *,
        with_loss: bool = True,
    ) -> tuple[Float[Tensor, "inst"] | None, tuple[Float[Tensor, "inst d_hidden feats"], Float[Tensor, "inst feats"]]]:
        """``scale · Σ_{batch, i} weight · (x_i - x'_i)²`` and its gradients, by hand.

        ``weight`` broadcasts to the batch-last layout ``(inst, feats, batch)``: ``(inst, feats, 1)``
        weighs features (the importance), ``(inst, 1, batch)`` weighs examples (the finite
        datasets of :mod:`superpos_lib.memorization`, padded to a common size).
        """
        W, c = self.W, self.config
        xt = x.mT                                              # (inst, feats, batch)
        h = torch.bmm(W, xt)                                   # (inst, d_hidden, batch)
        a = h.clamp(min=0) if c.hidden_relu else h
        out = torch.baddbmm(self.b_final[..., None], W.mT, a)  # (inst, feats, batch)
        if c.relu:
            out.clamp_(min=0)
            active = out > 0
        diff = out.sub_(xt)                                    # x' - x
        loss = diff.square().mul_(weight).sum((1, 2)) * scale if with_loss else None
        g = diff.mul_(weight * (2.0 * scale))                  # dL/dx', in place
        if c.relu:
            g.mul_(active)                                     # dL/d(pre-ReLU output)
        db = g.sum(-1)
        da = torch.bmm(W, g)                                   # (inst, d_hidden, batch)
        if c.hidden_relu:
            da.mul_(h > 0)
        dW = torch.bmm(a, g.mT).baddbmm_(da, xt.mT)            # (inst, d_hidden, feats)
        return loss, (dW, db)


EVAL_ELEMENTS = 2**22
""":func:`evaluate_loss` draws at most this many feature values at a time (16 MB of float32), so
that evaluating 1,600 models at once costs no more memory than evaluating 40."""


@torch.no_grad()
def evaluate_loss(
    model: ToyModel,
    feature_probability: Float[Tensor, "inst feats"],
    importance: Float[Tensor, "inst feats"],
    *,
    n_samples: int = 2**15,
    seed: int = 12345,
    signed: bool = False,
    groups: FeatureGroups | None = None,
    chunk: int = 2**13,
) -> Float[Tensor, "inst"]:
    """Mean loss per instance on ``n_samples`` fresh samples (the same ones for a given seed and
    number of instances), drawn ``chunk`` samples at a time, fewer for many instances.
    ``groups``: the correlated / anticorrelated groups the model was trained on."""
    check_positive_int(n_samples, "n_samples")
    check_positive_int(chunk, "chunk")
    device = model.W.device
    inst, feats = feature_probability.shape
    chunk = min(chunk, n_samples, max(256, EVAL_ELEMENTS // (inst * feats)))
    sampler = FeatureSampler(feature_probability, chunk, seed=seed, signed=signed, groups=groups,
                             device=device)
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
        groups: the correlated / anticorrelated feature groups of the data (``None``: independent).
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
    groups: FeatureGroups | None = None

    @property
    def n_inst(self) -> int:
        return self.W.shape[0]

    def best(self) -> "ToyModels":
        """The lowest-loss seed of each configuration (``n_inst / n_seeds`` instances)."""
        idx = best_of_seeds(self.loss, self.n_seeds)
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
        c = self.config
        return ToyModel.from_weights(self.W, self.b_final, relu=c.relu, hidden_relu=c.hidden_relu, device=device)


def fit_toy_models(
    config: ToyModelConfig,
    feature_probability: Float[Tensor, "inst feats"],
    importance: Float[Tensor, "inst feats"],
    *,
    n_seeds: int = 1,
    train_config: TrainConfig = TrainConfig(),
    signed: bool = False,
    groups: FeatureGroups | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    callbacks: Sequence[Callback] = (),
    callback_every: int = 50,
    progress: bool | None = None,
    eval_samples: int = 2**15,
) -> ToyModels:
    """Train ``config.n_inst`` toy models on already-shaped ``(inst, feats)`` settings.

    The full-control version of :func:`train_toy_models` (callbacks, the schedule). The
    initial weights depend only on ``seed``, not on the device. A run that a callback stops is
    not evaluated (its ``loss`` is NaN): the explorers stop a run when it is superseded.
    """
    dev = get_device(device)
    shape = (config.n_inst, config.n_features)
    for name, t in (("feature_probability", feature_probability), ("importance", importance)):
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    gen = torch.Generator().manual_seed(seed)
    model = ToyModel(config, generator=gen, device=dev)
    sampler = FeatureSampler(feature_probability, train_config.batch_size, seed=seed, signed=signed,
                             groups=groups, device=dev)
    imp = importance.to(dev)
    state = train(model, sampler.sample, train_config, loss_args=(imp,), callbacks=callbacks,
                  callback_every=callback_every, progress=progress)
    if state.stopped:
        loss = torch.full((config.n_inst,), float("nan"))
    else:
        loss = evaluate_loss(model, feature_probability, importance, n_samples=eval_samples,
                             seed=seed + 1_000_003, signed=signed, groups=groups)
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
        groups=groups,
    )


def train_toy_models(
    n_features: int,
    d_hidden: int,
    feature_probability: ArrayLike,
    importance: ArrayLike = 1.0,
    *,
    n_inst: int | None = None,
    relu: bool = True,
    hidden_relu: bool = False,
    signed: bool = False,
    groups: FeatureGroups | None = None,
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
        hidden_relu: ReLU on the hidden layer too: the "neuron" model of TMS §8, whose basis is
            privileged (chapter 2).
        signed: features uniform on ``[-1, 1)`` when present, instead of ``[0, 1)`` (zero-mean
            features, as in chapter 4's loss decomposition).
        groups: features that fire together or apart
            (:class:`~superpos_lib.data.FeatureGroups`, chapter 6); ``None``: all independent.
        steps: optimiser steps (default: :class:`~superpos_lib.training.TrainConfig`'s 1,000).
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
    check_positive_int(n_features, "n_features")
    check_positive_int(d_hidden, "d_hidden")
    if n_inst is not None:
        check_positive_int(n_inst, "n_inst")
    if steps is not None:
        check_positive_int(steps, "steps")
    p, imp, n_inst, n_seeds = instance_settings(feature_probability, importance, n_features, n_inst)
    config = ToyModelConfig(n_features, d_hidden, n_inst, relu=relu, hidden_relu=hidden_relu)
    train_config = TrainConfig() if steps is None else TrainConfig(steps=steps)
    return fit_toy_models(config, p, imp, n_seeds=n_seeds,
                          train_config=train_config, signed=signed, groups=groups, seed=seed,
                          device=device)
