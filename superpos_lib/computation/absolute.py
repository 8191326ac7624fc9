"""Computing in superposition (TMS §7, "Computation in Superposition"): the absolute value.

Inputs ``x_i`` are zero with probability ``S`` and otherwise uniform on ``[-1, 1)`` (signed
features); the target is ``|x_i|``. The model has a privileged hidden layer and a ReLU output,

    h = ReLU(W₁ x),    y = ReLU(W₂ h + b),

so it must *compute*: a linear read-out of ``x`` cannot give ``|x|``. With dense inputs the
natural solution spends two neurons on each represented feature, ``|x| = ReLU(x) + ReLU(-x)``;
with sparse inputs TMS finds more features computed than ``m / 2``, on polysemantic neurons.
Batched over instances like the toy models, and trained by the library's loop with gradients
written by hand (:meth:`AbsoluteValueModel.loss_and_grads`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from jaxtyping import Float
from torch import Tensor, nn

from ..checks import check_positive_int
from ..data import ArrayLike, FeatureSampler, best_of_seeds, instance_settings
from ..runtime import get_device
from ..training import Callback, TrainConfig, train

__all__ = ["COMPUTATION_TRAINING", "AbsoluteValueModel", "AbsoluteValueModels", "train_absolute_value"]

COMPUTATION_TRAINING = TrainConfig(steps=2000, batch_size=512, lr=0.01)
"""The absolute-value model's schedule: 2,000 Adam steps on batches of 512 at a peak rate of
0.01 (warm-up, then cosine decay). About 15 s for five instances of ``n = 100, m = 40`` on 2
CPU cores. The toy models' faster rate of 0.05 leaves these models further from |x|."""


class AbsoluteValueModel(nn.Module):
    """``n_inst`` independent models ``y = ReLU(W₂ ReLU(W₁ x) + b)`` with target ``|x|``.

    Attributes:
        W1: ``(inst, d_hidden, feats)``, row ``k`` is neuron ``k``'s input weights.
        W2: ``(inst, feats, d_hidden)``, column ``k`` is neuron ``k``'s output weights.
        b: ``(inst, feats)``.
    """

    def __init__(self, n_features: int, d_hidden: int, n_inst: int = 1, *,
                 generator: torch.Generator | None = None, device: str | torch.device | None = None):
        super().__init__()
        for value, name in ((n_features, "n_features"), (d_hidden, "d_hidden"), (n_inst, "n_inst")):
            check_positive_int(value, name)
        dev = get_device(device)
        std1, std2 = math.sqrt(2 / (n_features + d_hidden)), math.sqrt(2 / (n_features + d_hidden))
        W1 = torch.randn(n_inst, d_hidden, n_features, generator=generator) * std1
        W2 = torch.randn(n_inst, n_features, d_hidden, generator=generator) * std2
        self.W1 = nn.Parameter(W1.to(dev))
        self.W2 = nn.Parameter(W2.to(dev))
        self.b = nn.Parameter(torch.zeros(n_inst, n_features, device=dev))

    def hidden(self, x: Float[Tensor, "inst batch feats"]) -> Float[Tensor, "inst batch d_hidden"]:
        """The neurons' activations ``ReLU(W₁ x)``."""
        return torch.relu(x @ self.W1.mT)

    def forward(self, x: Float[Tensor, "inst batch feats"]) -> Float[Tensor, "inst batch feats"]:
        """The output ``ReLU(W₂ h + b)``."""
        return torch.relu(self.hidden(x) @ self.W2.mT + self.b[:, None, :])

    def loss(self, x: Float[Tensor, "inst batch feats"], importance: Float[Tensor, "inst feats"],
             activation_penalty: Float[Tensor, "inst"] | None = None) -> Float[Tensor, "inst"]:
        """Importance-weighted squared error against ``|x|``, averaged over batch and features;
        plus ``activation_penalty`` times the mean L1 norm of the neurons' activations, if given."""
        h = self.hidden(x)
        y = torch.relu(h @ self.W2.mT + self.b[:, None, :])
        loss = (importance[:, None, :] * (x.abs() - y) ** 2).mean(dim=(1, 2))
        if activation_penalty is not None:
            loss = loss + activation_penalty * h.sum(dim=2).mean(dim=1)
        return loss

    def loss_and_grads(self, x: Float[Tensor, "inst batch feats"], importance: Float[Tensor, "inst feats"],
                       activation_penalty: Float[Tensor, "inst"] | None = None, *,
                       with_loss: bool = True) -> tuple[Tensor | None, tuple[Tensor, Tensor, Tensor]]:
        """:meth:`loss` and its gradients for ``(W1, W2, b)``, by hand (no autograd graph: about
        twice as fast on these small tensors; the tests check them against autograd)."""
        W1, W2, b = self.W1.detach(), self.W2.detach(), self.b.detach()
        batch, n_feats = x.shape[1], x.shape[2]
        h = torch.relu(x @ W1.mT)
        z = torch.baddbmm(b[:, None, :], h, W2.mT)
        y = torch.relu(z)
        err = y - x.abs()
        weighted = importance[:, None, :] * err
        loss = None
        if with_loss:
            loss = (weighted * err).mean(dim=(1, 2))
            if activation_penalty is not None:
                loss = loss + activation_penalty * h.sum(dim=2).mean(dim=1)
        dz = weighted.mul_(2 / (batch * n_feats)).mul_(z > 0)
        gW2 = dz.mT @ h
        gb = dz.sum(dim=1)
        dh = dz @ W2
        if activation_penalty is not None:
            dh += (activation_penalty / batch)[:, None, None]
        dh.mul_(h > 0)
        gW1 = dh.mT @ x
        return loss, (gW1, gW2, gb)


@dataclass(frozen=True)
class AbsoluteValueModels:
    """Trained absolute-value models, on the CPU; seeds of a setting are consecutive.

    Attributes:
        W1, W2, b: the weights, as in :class:`AbsoluteValueModel`.
        loss: ``(inst,)`` on fresh data.
        feature_probability, importance: ``(inst, feats)``.
        n_seeds: seeds per setting.
        loss_history: ``(n_logged, inst)`` batch losses during training; logged_steps: their steps.
    """

    W1: Float[Tensor, "inst d_hidden feats"]
    W2: Float[Tensor, "inst feats d_hidden"]
    b: Float[Tensor, "inst feats"]
    loss: Float[Tensor, "inst"]
    feature_probability: Float[Tensor, "inst feats"]
    importance: Float[Tensor, "inst feats"]
    n_seeds: int
    loss_history: Float[Tensor, "n_logged inst"] | None = None
    logged_steps: tuple[int, ...] = ()

    def __call__(self, x: Float[Tensor, "inst batch feats"]) -> Float[Tensor, "inst batch feats"]:
        """The models' outputs ``ReLU(W₂ ReLU(W₁ x) + b)``."""
        W1 = self.W1.to(x.device)
        return torch.relu(torch.relu(x @ W1.mT) @ self.W2.to(x.device).mT + self.b.to(x.device)[:, None, :])

    def select(self, idx: Sequence[int] | Tensor) -> "AbsoluteValueModels":
        """The instances ``idx`` (in that order), as models of one seed each."""
        idx = torch.as_tensor(idx, dtype=torch.long).flatten()
        if idx.numel() == 0 or (idx < 0).any() or (idx >= self.loss.numel()).any():
            raise ValueError(f"idx must list instances in [0, {self.loss.numel()}), got {idx.tolist()}")
        return replace(self, W1=self.W1[idx], W2=self.W2[idx], b=self.b[idx], loss=self.loss[idx],
                       feature_probability=self.feature_probability[idx], importance=self.importance[idx],
                       n_seeds=1, loss_history=None if self.loss_history is None else self.loss_history[:, idx])

    @staticmethod
    def cat(models: Sequence["AbsoluteValueModels"]) -> "AbsoluteValueModels":
        """Models of the same shape side by side, as models of one seed each (loss histories
        kept only when all have the same logged steps)."""
        models = list(models)
        if not models or not all(isinstance(m, AbsoluteValueModels) for m in models):
            raise ValueError("models must be a non-empty sequence of AbsoluteValueModels")
        if len({tuple(m.W1.shape[1:]) for m in models}) != 1:
            raise ValueError(f"models must have the same shape, got {[tuple(m.W1.shape[1:]) for m in models]}")
        same_log = all(m.loss_history is not None and m.logged_steps == models[0].logged_steps for m in models)
        return AbsoluteValueModels(
            W1=torch.cat([m.W1 for m in models]), W2=torch.cat([m.W2 for m in models]),
            b=torch.cat([m.b for m in models]), loss=torch.cat([m.loss for m in models]),
            feature_probability=torch.cat([m.feature_probability for m in models]),
            importance=torch.cat([m.importance for m in models]), n_seeds=1,
            loss_history=torch.cat([m.loss_history for m in models], dim=1) if same_log else None,
            logged_steps=models[0].logged_steps if same_log else ())

    def best(self) -> "AbsoluteValueModels":
        """The lowest-loss seed of each setting."""
        return self.select(best_of_seeds(self.loss, self.n_seeds))


def _per_instance(value: ArrayLike, name: str, n_inst: int) -> Float[Tensor, "inst"]:
    """A scalar or ``(n_inst,)`` array of finite numbers >= 0, as ``(n_inst,)``."""
    try:
        t = torch.as_tensor(value, dtype=torch.float32).flatten()
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from err
    if t.numel() not in (1, n_inst) or not torch.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"{name} must be one number >= 0 or {n_inst} of them (one per instance), got {value!r}")
    return t.expand(n_inst).contiguous()


def _start_from(model: AbsoluteValueModel, init: AbsoluteValueModels) -> None:
    """Copy ``init``'s weights (one instance, or one per instance) into ``model``."""
    if not isinstance(init, AbsoluteValueModels):
        raise ValueError(f"init must be AbsoluteValueModels, got {type(init).__name__}")
    n_inst, d_hidden, n_features = model.W1.shape
    if tuple(init.W1.shape[1:]) != (d_hidden, n_features) or init.W1.shape[0] not in (1, n_inst):
        raise ValueError(f"init has weights of shape {tuple(init.W1.shape)}; need (1 or {n_inst}, {d_hidden}, {n_features})")
    with torch.no_grad():
        for param, value in ((model.W1, init.W1), (model.W2, init.W2), (model.b, init.b)):
            param.copy_(value.to(param.device).expand_as(param))


def train_absolute_value(
    n_features: int,
    d_hidden: int,
    feature_probability: ArrayLike,
    importance: ArrayLike = 1.0,
    *,
    n_inst: int | None = None,
    train_config: TrainConfig = COMPUTATION_TRAINING,
    activation_penalty: ArrayLike = 0.0,
    init: AbsoluteValueModels | None = None,
    callbacks: Sequence[Callback] = (),
    callback_every: int = 50,
    seed: int = 0,
    device: str | torch.device | None = None,
    eval_samples: int = 2**14,
) -> AbsoluteValueModels:
    """Train absolute-value models, every instance in one batch (arguments as
    :func:`superpos_lib.train_toy_models`; the features are signed, uniform on ``[-1, 1)``).

    Args:
        activation_penalty: ``(inst,)`` or a scalar >= 0: an L1 penalty on the neurons'
            activations during training (the reported ``loss`` leaves it out).
        init: start from these weights (one instance, or one per instance) instead of random ones.
        callbacks, callback_every: as :func:`superpos_lib.training.train` (the explorer draws
            live frames and abandons stale runs with them).
    """
    check_positive_int(n_features, "n_features")
    check_positive_int(d_hidden, "d_hidden")
    check_positive_int(eval_samples, "eval_samples")
    p, imp, n_inst, n_seeds = instance_settings(feature_probability, importance, n_features, n_inst)
    penalty = _per_instance(activation_penalty, "activation_penalty", n_inst)
    dev = get_device(device)
    model = AbsoluteValueModel(n_features, d_hidden, n_inst, generator=torch.Generator().manual_seed(seed),
                               device=dev)
    if init is not None:
        _start_from(model, init)
    sampler = FeatureSampler(p, train_config.batch_size, seed=seed, signed=True, device=dev)
    loss_args = (imp.to(dev),) if not penalty.any() else (imp.to(dev), penalty.to(dev))
    state = train(model, sampler.sample, train_config, loss_args=loss_args, callbacks=callbacks,
                  callback_every=callback_every, progress=False)
    with torch.no_grad():
        test = FeatureSampler(p, eval_samples, seed=seed + 1_000_003, signed=True, device=dev)
        loss = model.loss(test.sample(), imp.to(dev)).cpu()
    return AbsoluteValueModels(W1=model.W1.detach().cpu(), W2=model.W2.detach().cpu(), b=model.b.detach().cpu(),
                               loss=loss, feature_probability=p, importance=imp, n_seeds=n_seeds,
                               loss_history=state.loss_history[: len(state.logged_steps)].cpu(),
                               logged_steps=tuple(state.logged_steps))
