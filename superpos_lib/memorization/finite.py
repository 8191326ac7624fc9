"""Toy models trained on finite datasets (Henighan et al. 2023), every size and seed batched.

The data of TMS, but only ``T`` examples of it, fixed: each feature is present with
probability ``density`` (``1 − S``), uniform on [0, 1] when present, and every example is
rescaled to unit norm, as in the paper. The model is TMS's ReLU-output model
``x' = ReLU(Wᵀ W x + b)``; its loss is the paper's ``mean_t ‖x_t − x'_t‖²`` over the training
set, full batch (every step sees all ``T`` examples).

**Batched over sizes.** A sweep trains every dataset size and seed at once: the sizes are
grouped into a few buckets whose sizes differ by at most :data:`BUCKET_RATIO`, each bucket's
datasets are padded to its largest and trained as one batched model (padding examples weigh
0). Bucketing keeps the padding cheap: one padded run of all sizes up to 500 would cost about
five times as much.

**Scale.** The paper uses ``n = 10,000`` features at ``S = 0.999``: ten features per example.
The book keeps ten per example with ``n = 200`` at ``1 − S = 0.05`` (:data:`N_FEATURES`,
:data:`DENSITY`), which lets every size train on a laptop CPU. The transition moves to larger
datasets with ``n`` (chapter 8 checks it at ``n = 400``), so the paper's sizes are larger than
ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..checks import check_number, check_positive_int
from ..data import best_of_seeds
from ..models import ToyModel, ToyModelConfig
from ..runtime import get_device
from ..training import Callback, TrainConfig, train

__all__ = ["N_FEATURES", "DENSITY", "SIZES", "BUCKET_RATIO", "MEMORIZATION_TRAINING", "finite_datasets",
           "FiniteDataModel", "DoubleDescent", "double_descent", "test_loss"]

N_FEATURES = 200
"""Features of the chapter's models (the paper: 10,000)."""

DENSITY = 0.05
"""Each feature's probability of being present, ``1 − S``: ten features per example on
average, as in the paper (``n = 10,000``, ``S = 0.999``)."""

SIZES = (3, 5, 8, 12, 20, 30, 50, 80, 120, 200, 300, 500)
"""The chapter's dataset sizes ``T``: a log-spaced range from a triangle of examples to many
examples per feature."""

BUCKET_RATIO = 2.5
"""Sizes within this factor of a bucket's smallest train together, padded to the largest."""

MEMORIZATION_TRAINING = TrainConfig(steps=2500, batch_size=1, lr=0.02, weight_decay=1e-2, warmup=0.05)
"""The sweep's schedule: AdamW with weight decay 0.01, warm-up then cosine decay, full batch
(``batch_size`` is unused: every step sees the whole dataset). The paper's schedule is 50,000
steps at a peak rate of 1e-3; 2,500 steps at 0.02 integrate the same learning rate
(``Σ_t lr_t ≈ 25``, and with it the same total weight decay). Measured at ``n = 200`` against
the paper's schedule (three seeds, sizes 5 to 500): train losses within 0.1 of each other,
the test loss near 1 at small ``T`` and 0.95 at large ``T`` in both, the peak at ``T = 80`` (the
paper's schedule: 50 to 80) but lower (15 to 24 against 40 to 300): the longer schedule grows
the middle models' weights further. 3,000 steps at 3e-3 (``Σ_t lr_t ≈ 4.5``) left the peak
near 2."""


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    sizes = tuple(sizes)
    if not sizes:
        raise ValueError("sizes must name at least one dataset size")
    for T in sizes:
        check_positive_int(T, "sizes")
    return sizes


@torch.no_grad()
def finite_datasets(
    sizes: Sequence[int],
    n_features: int = N_FEATURES,
    density: float = DENSITY,
    *,
    n_seeds: int = 1,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> tuple[Float[Tensor, "inst t_max feats"], Int[Tensor, "inst"]]:
    """Fixed training sets, one per (size, seed): ``(X, n_examples)``.

    Instance ``k`` is size ``sizes[k // n_seeds]``, seed ``k % n_seeds``; its examples are
    ``X[k, :n_examples[k]]``, the rest of the row is zero padding. Each example's features are
    present with probability ``density``, uniform on [0, 1], and the example is rescaled to
    unit norm (an example with no feature present stays zero).
    """
    sizes = _check_sizes(sizes)
    check_positive_int(n_features, "n_features")
    check_number(density, "density", low=0, high=1, low_open=True)
    check_positive_int(n_seeds, "n_seeds")
    dev = get_device(device)
    n_examples = torch.tensor([T for T in sizes for _ in range(n_seeds)])
    gen = torch.Generator(device=dev).manual_seed(seed)
    shape = (len(n_examples), max(sizes), n_features)
    x = torch.rand(shape, generator=gen, device=dev)
    x *= torch.rand(shape, generator=gen, device=dev) < density
    x /= x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    x *= (torch.arange(shape[1], device=dev) < n_examples.to(dev)[:, None])[..., None]
    return x, n_examples


class FiniteDataModel(ToyModel):
    """The ReLU-output toy model with the paper's loss on a fixed dataset.

    ``loss(x, weight)`` is ``Σ_t weight_t ‖x_t − x'_t‖²`` per instance; with weights
    ``1 / T`` on a dataset's examples and 0 on padding, it is the mean squared error over the
    training set (summed over features, as in the paper).
    """

    def loss(self, x: Float[Tensor, "inst batch feats"], weight: Float[Tensor, "inst batch"]) -> Float[Tensor, "inst"]:
        return ((self(x) - x) ** 2).sum(-1).mul(weight).sum(-1)

    @torch.no_grad()
    def loss_and_grads(self, x: Float[Tensor, "inst batch feats"], weight: Float[Tensor, "inst batch"], *,
                       with_loss: bool = True):
        """:meth:`loss` and its gradients by hand (see :meth:`ToyModel.weighted_loss_and_grads`)."""
        return self.weighted_loss_and_grads(x, weight[:, None, :], 1.0, with_loss=with_loss)


def _buckets(n_examples: Tensor, ratio: float) -> list[Tensor]:
    """Instance indices grouped so that sizes in a group differ by at most ``ratio``."""
    order = torch.argsort(n_examples, stable=True)
    groups, start = [], 0
    for k in range(1, len(order) + 1):
        if k == len(order) or n_examples[order[k]] > ratio * n_examples[order[start]]:
            groups.append(order[start:k])
            start = k
    return groups


@torch.no_grad()
def test_loss(
    W: Float[Tensor, "inst d_hidden feats"],
    b_final: Float[Tensor, "inst feats"],
    density: float = DENSITY,
    *,
    n_test: int = 4096,
    seed: int = 12_345,
) -> Float[Tensor, "inst"]:
    """``mean ‖x − x'‖²`` on ``n_test`` fresh unit-norm examples from the training distribution."""
    check_positive_int(n_test, "n_test")
    X, _ = finite_datasets([n_test], W.shape[2], density, seed=seed, device=W.device)
    out = torch.empty(W.shape[0], device=W.device)
    for k in range(0, W.shape[0], 8):   # 8 instances at a time: 26 MB at n_test = 4096, n = 200
        model = ToyModel.from_weights(W[k:k + 8], b_final[k:k + 8], device=W.device)
        x = X.expand(model.W.shape[0], -1, -1)
        out[k:k + 8] = ((model(x) - x) ** 2).sum(-1).mean(-1)
    return out


@dataclass(frozen=True)
class DoubleDescent:
    """Toy models trained on datasets of many sizes, several seeds each, on the CPU.

    Instance ``k`` trained on ``X[k, :n_examples[k]]`` (size ``sizes[k // n_seeds]``).

    Attributes:
        sizes: the dataset sizes ``T``.
        n_seeds: seeds per size (consecutive instances).
        W: ``(inst, d_hidden, feats)``.
        b_final: ``(inst, feats)``.
        X: ``(inst, t_max, feats)`` the training sets, zero-padded.
        n_examples: ``(inst,)`` each training set's size.
        train_loss: ``(inst,)`` final loss on the training set.
        test_loss: ``(inst,)`` loss on fresh examples.
        density: each feature's probability of being present.
        train_config: the schedule.
        loss_history: ``(n_logged, inst)`` train loss during training.
        logged_steps: the step of each row of ``loss_history``.
    """

    sizes: tuple[int, ...]
    n_seeds: int
    W: Float[Tensor, "inst d_hidden feats"]
    b_final: Float[Tensor, "inst feats"]
    X: Float[Tensor, "inst t_max feats"]
    n_examples: Int[Tensor, "inst"]
    train_loss: Float[Tensor, "inst"]
    test_loss: Float[Tensor, "inst"]
    density: float
    train_config: TrainConfig
    loss_history: Float[Tensor, "n_logged inst"]
    logged_steps: tuple[int, ...]

    @property
    def n_inst(self) -> int:
        return self.W.shape[0]

    def best(self) -> "DoubleDescent":
        """The lowest-train-loss seed of each size (what ARENA's replication keeps)."""
        idx = best_of_seeds(self.train_loss, self.n_seeds)
        return self.select(idx, n_seeds=1)

    def select(self, idx: Tensor | Sequence[int], *, n_seeds: int | None = None) -> "DoubleDescent":
        """The instances ``idx``; ``n_seeds`` (default: 1 per size) regroups them."""
        idx = torch.as_tensor(idx, dtype=torch.long)
        sizes = tuple(int(self.n_examples[k]) for k in idx[:: n_seeds or 1])
        t_max = max(sizes)
        return replace(self, sizes=sizes, n_seeds=n_seeds or 1, W=self.W[idx], b_final=self.b_final[idx],
                       X=self.X[idx, :t_max], n_examples=self.n_examples[idx], train_loss=self.train_loss[idx],
                       test_loss=self.test_loss[idx], loss_history=self.loss_history[:, idx])

    def hidden(self) -> Float[Tensor, "inst d_hidden t_max"]:
        """Each training example's hidden vector ``h_t = W x_t`` (zero on padding)."""
        return torch.bmm(self.W, self.X.mT)

    def examples(self, k: int) -> Float[Tensor, "T feats"]:
        """Instance ``k``'s training set, without padding."""
        return self.X[k, : int(self.n_examples[k])]


def double_descent(
    sizes: Sequence[int] = SIZES,
    *,
    n_features: int = N_FEATURES,
    density: float = DENSITY,
    d_hidden: int = 2,
    n_seeds: int = 3,
    train_config: TrainConfig = MEMORIZATION_TRAINING,
    seed: int = 0,
    device: str | torch.device | None = None,
    n_test: int = 4096,
    callbacks: Sequence[Callback] = (),
    callback_every: int = 50,
    progress: bool | None = None,
) -> DoubleDescent:
    """Train ``n_seeds`` models per dataset size on fixed datasets, full batch, to the end of
    ``train_config``'s schedule; every bucket of similar sizes is one batched run.

    The datasets depend on ``seed`` only (not on the device); so do the initial weights.
    ``callbacks`` see each bucket's run (the explorer trains one bucket).
    """
    sizes = _check_sizes(sizes)
    check_positive_int(d_hidden, "d_hidden")
    check_positive_int(n_seeds, "n_seeds")
    dev = get_device(device)
    X, n_examples = finite_datasets(sizes, n_features, density, n_seeds=n_seeds, seed=seed, device="cpu")
    n_inst = len(n_examples)
    gen = torch.Generator().manual_seed(seed + 1)
    W0 = ToyModel(ToyModelConfig(n_features, d_hidden, n_inst), generator=gen).W.detach()
    W, b = W0.clone(), torch.zeros(n_inst, n_features)
    train_loss = torch.full((n_inst,), float("nan"))
    history = torch.full((train_config.steps // train_config.log_every, n_inst), float("nan"))
    logged: tuple[int, ...] = ()
    for idx in _buckets(n_examples, BUCKET_RATIO):
        t_max = int(n_examples[idx].max())
        xb = X[idx, :t_max].to(dev)
        weight = ((torch.arange(t_max) < n_examples[idx, None]) / n_examples[idx, None]).to(dev)
        model = FiniteDataModel.from_weights(W0[idx], device=dev)
        x_fixed = xb.mT.contiguous().mT   # batch-last storage, as the hand-written gradients want
        state = train(model, lambda: x_fixed, train_config, loss_args=(weight,), callbacks=callbacks,
                      callback_every=callback_every, progress=progress)
        logged = tuple(state.logged_steps)
        history[: len(logged), idx] = state.loss_history.cpu()
        if state.stopped:   # superseded (the explorer): nothing more to train
            break
        with torch.no_grad():
            train_loss[idx] = model.loss(xb, weight).cpu()
        W[idx], b[idx] = model.W.detach().cpu(), model.b_final.detach().cpu()
    tl = test_loss(W.to(dev), b.to(dev), density, n_test=n_test, seed=seed + 12_345).cpu()
    return DoubleDescent(sizes=sizes, n_seeds=n_seeds, W=W, b_final=b, X=X, n_examples=n_examples,
                         train_loss=train_loss, test_loss=tl, density=density, train_config=train_config,
                         loss_history=history[: len(logged)], logged_steps=logged)
