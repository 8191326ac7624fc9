"""Training sparse autoencoders: many at once, through the library's one training loop.

:func:`train_saes` trains ``config.n_inst`` SAEs together on the same stream of batches (a
sweep over λ, k or seeds is one model), from a tensor of activations (rows drawn at random on
the device, :class:`ActivationSampler`) or from any iterator of batches (e.g. ground-truth data
drawn fresh). :func:`train_sae` trains one SAE with the book's recipe and returns it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import torch
from jaxtyping import Float
from torch import Tensor

from ..checks import check_matrix, check_positive_int
from ..runtime import get_device
from ..training import TrainConfig, TrainState, train
from .base import SAE, SAEConfig, SparseAutoencoder

__all__ = ["SAE_TRAIN_CONFIG", "ActivationSampler", "SAETraining", "train_saes", "train_sae"]

SAE_TRAIN_CONFIG = TrainConfig(steps=2000, batch_size=1024, lr=1e-2, betas=(0.9, 0.999), warmup=0.02)
"""The book's SAE recipe, the one place its numbers are written: Adam at lr 1e-2 (inputs at unit
mean squared norm; 3e-3 needed about 3x the steps to escape dense solutions) with a short
warm-up and cosine decay, fresh batches. Shorter runs change only ``steps`` and ``batch_size``
(``dataclasses.replace(SAE_TRAIN_CONFIG, steps=600, batch_size=512)``)."""


class ActivationSampler:
    """Batches of rows drawn at random (with replacement) from a tensor of activations, on the device.

    The activations are moved to ``device`` once; each ``sample()`` is one indexing op.
    """

    def __init__(self, acts: Float[Tensor, "n d_in"], batch_size: int, *, seed: int = 0,
                 device: str | torch.device | None = None):
        check_positive_int(batch_size, "batch_size")
        self.acts = check_matrix(acts, "acts").to(get_device(device), torch.float32)
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
        return check_matrix(x, "acts (a yielded batch)", d_in).to(device, torch.float32)

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
            ``(batch, d_in)`` tensors (e.g. :meth:`~superpos_lib.sae.GroundTruthData.batches`).
        config: shapes and options.
        sparsity: λ or k (see :class:`SAE`), one value or one per instance (``None``: the default).
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

    ``sparsity`` is λ for ``"relu_l1"`` and ``"jumprelu"``, k for ``"topk"``
    (``None``: :func:`~superpos_lib.sae.default_sparsity`); ``steps`` defaults to 2,000 batches of 1,024 rows.
    relu_l1 resamples dead latents every 250 steps. For sweeps and options, see
    :func:`train_saes`.
    """
    acts = check_matrix(acts, "acts")
    tc = SAE_TRAIN_CONFIG if steps is None else replace(SAE_TRAIN_CONFIG, steps=steps)
    config = SAEConfig(acts.shape[1], d_sae, kind, resample_every=250 if kind == "relu_l1" else None)
    return train_saes(acts, config, sparsity, train_config=tc, seed=seed, device=device, progress=False).instance(0)
