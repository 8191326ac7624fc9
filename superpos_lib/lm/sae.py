"""Sparse autoencoders on the language model's MLP neurons, as Bricken et al. (2023) trained them.

* :func:`collect_activations`: the 512 neurons at every position of random windows of text;
* :func:`latent_densities`: how often each latent fires (dead latents, the log-density histogram);
* :func:`train_lm_sae`: an SAE of the library's own (:mod:`superpos_lib.sae`) on them;
* :func:`evaluate_sae`: FVU, L0 and dead latents on a text, and the share of the model's loss
  that the SAE keeps when its reconstruction replaces the neurons (``ce_recovered``);
* :func:`save_sae` / :func:`load_sae`: the shipped SAE (safetensors, weights in float16).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..checks import check_positive_int
from ..sae import SAE, SAE_TRAIN_CONFIG, SAEConfig, SparseAutoencoder, evaluate, latent_density, train_saes
from ..training import TrainConfig
from .corpus import load_corpus
from .model import OneLayerTransformer
from .train import token_nats
from .weights import WEIGHTS_DIR, load_model, read_safetensors

__all__ = ["LM_SAE_TRAINING", "SAE_FILES", "SAE_COMMANDS", "SAE_SHA256", "collect_activations", "train_lm_sae", "evaluate_sae", "save_sae",
           "load_sae", "sae_hook", "latent_densities"]

LM_SAE_TRAINING = replace(SAE_TRAIN_CONFIG, steps=4000, batch_size=1024)
"""The recipe for the language model's SAE: the book's SAE schedule, 4,000 steps of 1,024 activations."""

SAE_FILES = {"topk": WEIGHTS_DIR / "sae_topk.safetensors", "relu_l1": WEIGHTS_DIR / "sae_relu_l1.safetensors"}
"""The shipped SAEs of the shipped model's neurons, by kind (2,048 latents each)."""
SAE_COMMANDS = {
    "topk": "python -m superpos_lib.lm sae --steps 4000 --seed 0 --out superpos_lib/lm/weights/sae_topk.safetensors",
    "relu_l1": "python -m superpos_lib.lm sae --kind relu_l1 --sparsity 0.05 --steps 4000 --seed 0 "
               "--out superpos_lib/lm/weights/sae_relu_l1.safetensors",
}
"""The commands that made :data:`SAE_FILES`: TopK with k = 16 and the dead-latent auxiliary loss
(634 s on the book's 2-core CPU), and ReLU + L1 with λ = 0.05, resampling dead latents every
250 steps (301 s, with other work on the machine; the file's metadata records it)."""
SAE_SHA256 = {"topk": "43996f777ab1aef0b492984f8e5a5404ec14af9ca55d2811695403b19affa5b8",
              "relu_l1": "e8f3908f1c6eea6b6bd5317219b24e7f9cd038264c0b9b3f1fd60ed2e3db4713"}
"""The SHA-256 of each of :data:`SAE_FILES` as shipped."""


def _window_starts(tokens: Tensor, n_windows: int, n_ctx: int, seed: int) -> Tensor:
    check_positive_int(n_windows, "n_windows")
    if not isinstance(tokens, Tensor) or tokens.ndim != 1 or tokens.numel() <= n_ctx:
        raise ValueError(f"tokens must be a 1-D sequence longer than n_ctx={n_ctx}")
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(tokens.numel() - n_ctx, (n_windows, 1), generator=gen)


def _window_batches(model: OneLayerTransformer, tokens: Tensor, n_windows: int, seed: int, batch_size: int):
    """The neurons of random windows, a batch of windows at a time: ``(windows · n_ctx, d_mlp)``."""
    n_ctx = model.config.n_ctx
    starts = _window_starts(tokens, n_windows, n_ctx, seed)
    dev = next(model.parameters()).device
    offsets = torch.arange(n_ctx)
    for b in range(0, n_windows, batch_size):
        x = tokens[starts[b : b + batch_size] + offsets].to(dev)
        yield model.mlp_activations(x).reshape(-1, model.config.d_mlp).cpu()


@torch.no_grad()
def collect_activations(model: OneLayerTransformer, tokens: Int[Tensor, "n"], n_windows: int, *, seed: int = 0,
                        batch_size: int = 256) -> Float[Tensor, "positions d_mlp"]:
    """The MLP's neurons at every position of ``n_windows`` random ``n_ctx``-character windows of
    ``tokens``: ``(n_windows · n_ctx, d_mlp)``."""
    return torch.cat(list(_window_batches(model, tokens, n_windows, seed, batch_size)))


@torch.no_grad()
def latent_densities(model: OneLayerTransformer, sae: SparseAutoencoder, tokens: Int[Tensor, "n"], n_windows: int, *,
                     seed: int = 0, batch_size: int = 128) -> Float[Tensor, "d_sae"]:
    """How often each of ``sae``'s latents fires on the neurons of ``n_windows`` random windows of
    ``tokens`` (streamed, so a million positions need no more memory than a batch; the encoder
    only, half the work of :func:`~superpos_lib.sae.evaluate`). Bricken et al.'s dead latents are
    those at 0, their histogram is of ``log10`` of the rest
    (:func:`~superpos_lib.sae.density_histogram`)."""
    if not isinstance(sae, SparseAutoencoder) or sae.d_in != model.config.d_mlp:
        raise ValueError(f"sae must be a SparseAutoencoder of the model's {model.config.d_mlp} neurons")
    total, n = torch.zeros(sae.d_sae, dtype=torch.float64), 0
    for acts in _window_batches(model, tokens, n_windows, seed, batch_size):
        total += latent_density(sae.encode(acts.to(sae.W_dec.device))).double().cpu() * acts.shape[0]
        n += acts.shape[0]
    return (total / n).float()


def train_lm_sae(acts: Float[Tensor, "n d_mlp"], *, kind: str = "topk", d_sae: int = 2048, sparsity: float = 16,
                 train_config: TrainConfig = LM_SAE_TRAINING, seed: int = 0, device=None, progress=None
                 ) -> SparseAutoencoder:
    """One SAE of ``kind`` (``d_sae`` latents, ``sparsity`` k or λ) trained on ``acts``. ReLU + L1
    resamples its dead latents every 250 steps over the first 60 % of training (Bricken et al.
    resampled four times in a far longer run); TopK revives them with its auxiliary loss."""
    config = SAEConfig(acts.shape[1], d_sae, kind, resample_every=250 if kind == "relu_l1" else None)
    run = train_saes(acts, config, sparsity, train_config=train_config, seed=seed, device=device, progress=progress)
    return run.instance(0)


def sae_hook(sae: SparseAutoencoder):
    """An ``mlp_hook`` that replaces the neurons by ``sae``'s reconstruction of them."""
    def hook(acts: Tensor) -> Tensor:
        return sae(acts.reshape(-1, acts.shape[-1])).reshape(acts.shape)
    return hook


@torch.no_grad()
def evaluate_sae(model: OneLayerTransformer, sae: SparseAutoencoder, text: str) -> dict[str, float]:
    """``sae`` on ``model``'s neurons over ``text``: ``fvu``, ``l0`` (active latents per
    position), ``dead_fraction`` (latents that never fire on it), and the model's loss in nats per
    character clean (``nats_clean``), with the MLP's neurons zeroed (``nats_zero``) and with the
    SAE's reconstruction in their place (``nats_sae``); ``ce_recovered`` is the share of the gap
    between zeroing and the clean model that the SAE keeps, ``(zero − sae) / (zero − clean)``."""
    if not isinstance(text, str) or len(text) <= model.config.n_ctx:
        raise ValueError(f"text must be a string longer than n_ctx={model.config.n_ctx} characters")
    if not isinstance(sae, SparseAutoencoder) or sae.d_in != model.config.d_mlp:
        raise ValueError(f"sae must be a SparseAutoencoder of the model's {model.config.d_mlp} neurons")
    tokens = model.tokenizer.encode(text, unknown="replace")
    n_ctx, d_mlp, dev = model.config.n_ctx, model.config.d_mlp, next(model.parameters()).device
    windows = tokens[: tokens.numel() // n_ctx * n_ctx].view(-1, n_ctx)
    m = evaluate(sae, (model.mlp_activations(windows[b : b + 32].to(dev)).reshape(-1, d_mlp)
                       for b in range(0, windows.shape[0], 32)))
    known = tokens[1:] != 0
    nats = {name: float(token_nats(model, tokens, mlp_hook=hook)[0][known].mean())
            for name, hook in (("clean", None), ("zero", torch.zeros_like), ("sae", sae_hook(sae)))}
    gap = nats["zero"] - nats["clean"]
    return {"fvu": float(m.fvu), "l0": float(m.l0), "dead_fraction": float(m.dead),
            "ce_recovered": (nats["zero"] - nats["sae"]) / gap if gap > 0 else float("nan"),
            "nats_clean": nats["clean"], "nats_zero": nats["zero"], "nats_sae": nats["sae"]}


def save_sae(sae: SparseAutoencoder, path: str | Path, **metadata: str) -> None:
    """Write a one-instance SAE (weights as float16, its config and sparsity in the metadata)."""
    from safetensors.torch import save_file

    if not isinstance(sae, SparseAutoencoder):
        raise ValueError(f"sae must be a SparseAutoencoder, got {type(sae).__name__}")
    state = {k: (v.half() if v.is_floating_point() and v.ndim >= 2 else v).detach().cpu().contiguous()
             for k, v in sae.model.state_dict().items()}
    header = {"sae_config": json.dumps(asdict(sae.model.config)), "sparsity": repr(sae.sparsity), **metadata}
    save_file(state, str(path), metadata=header)


def load_sae(path: str | Path | None = None, *, kind: str = "topk",
             device: str | torch.device | None = "cpu") -> SparseAutoencoder:
    """A shipped SAE of the shipped model's neurons (``kind``: ``"topk"`` or ``"relu_l1"``, see
    :data:`SAE_FILES`), or the one :func:`save_sae` wrote to ``path``; the file's metadata as
    ``.metadata``."""
    if path is None:
        if kind not in SAE_FILES:
            raise ValueError(f"kind must be one of {sorted(SAE_FILES)}, got {kind!r}")
        path = SAE_FILES[kind]
    tensors, meta = read_safetensors(path)
    if "sae_config" not in meta:
        raise ValueError(f"{path} has no SAE config in its metadata: not a file save_sae wrote")
    cfg = json.loads(meta["sae_config"])
    config = SAEConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
    model = SAE(config, float(meta["sparsity"]), device="cpu")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in tensors.items()})
    sae = SparseAutoencoder(model.to(device))
    sae.metadata = meta
    return sae


def main(argv: list[str] | None = None) -> SparseAutoencoder:
    """``python -m superpos_lib.lm sae``: train an SAE on the shipped model's neurons, print its
    evaluation on the held-out plays, and save it (``--out``)."""
    parser = argparse.ArgumentParser(prog="python -m superpos_lib.lm sae",
                                     description="Train an SAE on the shipped language model's MLP neurons.")
    parser.add_argument("--kind", default="topk")
    parser.add_argument("--d-sae", type=int, default=2048)
    parser.add_argument("--sparsity", type=float, default=16)
    parser.add_argument("--steps", type=int, default=LM_SAE_TRAINING.steps)
    parser.add_argument("--windows", type=int, default=8192, help="random 128-character windows of activations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    model, corpus = load_model(), load_corpus()
    acts = collect_activations(model, corpus.train, args.windows, seed=args.seed)
    start = time.perf_counter()
    sae = train_lm_sae(acts, kind=args.kind, d_sae=args.d_sae, sparsity=args.sparsity,
                       train_config=replace(LM_SAE_TRAINING, steps=args.steps), seed=args.seed, progress=False)
    seconds = time.perf_counter() - start
    del acts
    ev = evaluate_sae(model, sae, corpus.text("validation"))
    print(f"trained in {seconds:.0f} s; held-out plays: " + ", ".join(f"{k} {v:.4f}" for k, v in ev.items()), flush=True)
    if args.out:
        save_sae(sae, args.out, seed=str(args.seed), train_seconds=f"{seconds:.0f}",
                 command="python -m superpos_lib.lm sae " + " ".join(argv if argv is not None else sys.argv[2:]),
                 **{f"held_out_{k}": f"{v:.4f}" for k, v in ev.items()})
    return sae
