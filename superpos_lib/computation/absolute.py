"""Computing in superposition (TMS §7, "Computation in Superposition"): the absolute value.

Inputs ``x_i`` are zero with probability ``S`` and otherwise uniform on ``[-1, 1)`` (signed
features); the target is ``|x_i|``. The model has a privileged hidden layer and a ReLU output,

    h = ReLU(W₁ x),    y = ReLU(W₂ h + b),

so it must *compute*: a linear read-out of ``x`` cannot give ``|x|``. With dense inputs the
natural solution spends two neurons on each represented feature, ``|x| = ReLU(x) + ReLU(-x)``;
with sparse inputs TMS finds more features computed than ``m / 2``, on polysemantic neurons.
Batched over instances like the toy models, and trained by the library's loop (autograd).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from jaxtyping import Float
from torch import Tensor, nn

from ..checks import check_positive_int
from ..data import ArrayLike, FeatureSampler, best_of_seeds, instance_settings
from ..runtime import get_device
from ..training import TrainConfig, train

__all__ = ["AbsoluteValueModel", "AbsoluteValueModels", "train_absolute_value"]


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

    def loss(self, x: Float[Tensor, "inst batch feats"], importance: Float[Tensor, "inst feats"]) -> Float[Tensor, "inst"]:
        """Importance-weighted squared error against ``|x|``, averaged over batch and features."""
        err = importance[:, None, :] * (x.abs() - self(x)) ** 2
        return err.mean(dim=(1, 2))


@dataclass(frozen=True)
class AbsoluteValueModels:
    """Trained absolute-value models, on the CPU; seeds of a setting are consecutive.

    Attributes:
        W1, W2, b: the weights, as in :class:`AbsoluteValueModel`.
        loss: ``(inst,)`` on fresh data.
        feature_probability, importance: ``(inst, feats)``.
        n_seeds: seeds per setting.
    """

    W1: Float[Tensor, "inst d_hidden feats"]
    W2: Float[Tensor, "inst feats d_hidden"]
    b: Float[Tensor, "inst feats"]
    loss: Float[Tensor, "inst"]
    feature_probability: Float[Tensor, "inst feats"]
    importance: Float[Tensor, "inst feats"]
    n_seeds: int

    def best(self) -> "AbsoluteValueModels":
        """The lowest-loss seed of each setting."""
        idx = best_of_seeds(self.loss, self.n_seeds)
        return replace(self, W1=self.W1[idx], W2=self.W2[idx], b=self.b[idx], loss=self.loss[idx],
                       feature_probability=self.feature_probability[idx], importance=self.importance[idx],
                       n_seeds=1)


def train_absolute_value(
    n_features: int,
    d_hidden: int,
    feature_probability: ArrayLike,
    importance: ArrayLike = 1.0,
    *,
    n_inst: int | None = None,
    train_config: TrainConfig = TrainConfig(),
    seed: int = 0,
    device: str | torch.device | None = None,
    eval_samples: int = 2**14,
) -> AbsoluteValueModels:
    """Train absolute-value models, every instance in one batch (arguments as
    :func:`superpos_lib.train_toy_models`; the features are signed, uniform on ``[-1, 1)``)."""
    check_positive_int(n_features, "n_features")
    check_positive_int(d_hidden, "d_hidden")
    check_positive_int(eval_samples, "eval_samples")
    p, imp, n_inst, n_seeds = instance_settings(feature_probability, importance, n_features, n_inst)
    dev = get_device(device)
    model = AbsoluteValueModel(n_features, d_hidden, n_inst, generator=torch.Generator().manual_seed(seed),
                               device=dev)
    sampler = FeatureSampler(p, train_config.batch_size, seed=seed, signed=True, device=dev)
    train(model, sampler.sample, train_config, loss_args=(imp.to(dev),), progress=False)
    with torch.no_grad():
        test = FeatureSampler(p, eval_samples, seed=seed + 1_000_003, signed=True, device=dev)
        loss = model.loss(test.sample(), imp.to(dev)).cpu()
    return AbsoluteValueModels(W1=model.W1.detach().cpu(), W2=model.W2.detach().cpu(), b=model.b.detach().cpu(),
                               loss=loss, feature_probability=p, importance=imp, n_seeds=n_seeds)
