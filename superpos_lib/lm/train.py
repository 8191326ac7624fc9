"""Training the book's language model, and scoring it in nats per character.

``python -m superpos_lib.lm --steps 8000 --seed 0 --out lm.pt`` (:func:`main`) trains the model
from scratch on the training plays (random 128-character windows, AdamW, warm-up then cosine
decay) and prints the held-out plays' nats per character as it goes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from ..checks import check_number, check_positive_int
from ..runtime import get_device
from .corpus import UNKNOWN, CharTokenizer, Corpus, load_corpus
from .model import LMConfig, OneLayerTransformer
from .weights import save_model

__all__ = ["LMTrainConfig", "LMTraining", "train_lm", "nats_per_char", "token_nats"]


@dataclass(frozen=True)
class LMTrainConfig:
    """The recipe: ``steps`` of ``batch_size`` random windows of ``seq_len + 1`` characters; AdamW
    (``lr``, betas (0.9, 0.99), ``weight_decay`` on matrices only), linear warm-up for
    ``warmup`` steps, then cosine decay to a tenth of ``lr``."""

    steps: int = 8000
    batch_size: int = 32
    seq_len: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.1
    warmup: int = 200
    eval_every: int = 1000
    eval_chars: int = 65_536

    def __post_init__(self):
        for name in ("steps", "batch_size", "seq_len", "warmup", "eval_every", "eval_chars"):
            check_positive_int(getattr(self, name), name)
        check_number(self.lr, "lr", low=0, low_open=True)
        check_number(self.weight_decay, "weight_decay", low=0)

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        done = (step - self.warmup) / max(1, self.steps - self.warmup)
        return self.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, done))))


@dataclass
class LMTraining:
    """A trained model and how it got there: ``history`` of ``(step, seconds, train loss,
    held-out nats/char on the first eval_chars characters)``."""

    model: OneLayerTransformer
    tokenizer: CharTokenizer
    config: LMTrainConfig
    seed: int
    seconds: float = 0.0
    history: list[tuple[int, float, float, float]] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.config.steps * self.config.batch_size * self.config.seq_len / max(self.seconds, 1e-9)


def token_nats(model: OneLayerTransformer, tokens: Tensor, *, stride: int | None = None, mlp_hook=None,
               batch_size: int = 64) -> tuple[Tensor, Tensor]:
    """Per-character loss of a long token sequence: ``(nats, targets)``, each ``(n − 1,)``, for
    predicting characters 1..n−1. Windows of ``n_ctx`` overlap by half (``stride = n_ctx/2``), and
    every character after the first window is scored with at least ``stride`` characters before it."""
    n_ctx = model.config.n_ctx
    stride = stride or n_ctx // 2
    if tokens.ndim != 1 or tokens.numel() < 2:
        raise ValueError("tokens must be a 1-D sequence of at least 2 ids")
    n = tokens.numel()
    starts = list(range(0, max(n - n_ctx, 0) + 1, stride))
    if starts[-1] + n_ctx < n:
        starts.append(n - n_ctx)
    nats = torch.empty(n - 1)  # nats[i]: predicting character i + 1
    width = min(n_ctx, n)
    done = 1  # the next character to score
    dev = next(model.parameters()).device
    with torch.no_grad():
        for b in range(0, len(starts), batch_size):
            chunk = starts[b : b + batch_size]
            x = torch.stack([tokens[s : s + width] for s in chunk]).to(dev)
            logits = model(x[:, :-1], mlp_hook=mlp_hook)
            loss = F.cross_entropy(logits.transpose(1, 2), x[:, 1:], reduction="none").cpu()  # (windows, width − 1)
            for row, s in zip(loss, chunk):  # row[j] predicts character s + j + 1
                lo = 1 if s == 0 else max(done, s + n_ctx - stride)
                nats[lo - 1 : s + width - 1] = row[lo - s - 1 :]
                done = s + width
    return nats, tokens[1:]


def nats_per_char(model: OneLayerTransformer, text: str, tokenizer: CharTokenizer | None = None, *,
                  mlp_hook=None) -> float:
    """The model's mean cross-entropy on ``text``, in nats per character (``log 2`` nats are one
    bit). Characters the tokenizer has not seen are read as :data:`~superpos_lib.lm.UNKNOWN` in
    the context and left out of the average (the model could never predict them); every other
    character after the first counts. ``tokenizer``: the model's own (``model.tokenizer``, set
    by :func:`~superpos_lib.lm.load_model` and :func:`train_lm`) unless given."""
    tokenizer = tokenizer or getattr(model, "tokenizer", None)
    if not isinstance(tokenizer, CharTokenizer):
        raise ValueError("tokenizer must be given for a model without one (load_model and train_lm attach it)")
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    if len(text) < 2:
        raise ValueError(f"text must have at least 2 characters to score one prediction, got {len(text)}")
    tokens = tokenizer.encode(text, unknown="replace")
    nats, targets = token_nats(model, tokens, mlp_hook=mlp_hook)
    known = targets != tokenizer.index[UNKNOWN]
    if not known.any():
        raise ValueError("text has no character the tokenizer knows after its first: nothing to score")
    return float(nats[known].mean())


def train_lm(corpus: Corpus, config: LMTrainConfig = LMTrainConfig(), *, seed: int = 0,
             device: str | torch.device | None = "cpu", log=print) -> LMTraining:
    """Train a :class:`OneLayerTransformer` on ``corpus.train`` (``log``: called with a line per
    evaluation, or ``None``)."""
    dev = get_device(device)
    model = OneLayerTransformer(LMConfig(vocab_size=corpus.tokenizer.vocab_size), seed=seed).to(dev)
    model.tokenizer = corpus.tokenizer
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=config.lr, betas=(0.9, 0.99))
    data = corpus.train.to(dev)
    gen = torch.Generator(device=dev).manual_seed(seed)
    offsets = torch.arange(config.seq_len + 1, device=dev)
    held_out = corpus.validation[: config.eval_chars]
    run = LMTraining(model, corpus.tokenizer, config, seed)
    start = time.perf_counter()
    for step in range(config.steps):
        for group in opt.param_groups:
            group["lr"] = config.lr_at(step)
        idx = torch.randint(data.numel() - config.seq_len - 1, (config.batch_size, 1), generator=gen, device=dev)
        loss = model.loss(data[idx + offsets])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
            seconds = time.perf_counter() - start
            model.eval()
            nats, targets = token_nats(model, held_out)
            model.train()
            val = float(nats[targets != 0].mean())
            train_loss = loss.item()
            run.history.append((step + 1, seconds, train_loss, val))
            if log:
                log(f"step {step + 1:>6}  {seconds:7.1f} s  train {train_loss:.3f}  held-out {val:.3f} nats/char")
            start += time.perf_counter() - start - seconds  # evaluation time is not training time
    run.seconds = time.perf_counter() - start
    model.eval()
    return run


def main(argv: list[str] | None = None) -> LMTraining:
    """The training command (``python -m superpos_lib.lm``)."""
    parser = argparse.ArgumentParser(description="Train the book's one-layer character transformer on Shakespeare.")
    parser.add_argument("--steps", type=int, default=LMTrainConfig.steps)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="where to write the trained model (safetensors)")
    args = parser.parse_args(argv)
    corpus = load_corpus()
    run = train_lm(corpus, LMTrainConfig(steps=args.steps), seed=args.seed, log=lambda line: print(line, flush=True))
    full = nats_per_char(run.model, corpus.text("validation"))
    print(f"trained {args.steps} steps in {run.seconds:.0f} s ({run.tokens_per_s:,.0f} tokens/s); "
          f"held-out plays: {full:.3f} nats/char")
    if args.out:
        save_model(run.model, args.out, seed=str(args.seed), steps=str(args.steps),
                   held_out_nats_per_char=f"{full:.4f}", train_seconds=f"{run.seconds:.0f}",
                   command="python -m superpos_lib.lm " + " ".join(argv if argv is not None else sys.argv[1:]),
                   torch=torch.__version__)
    return run
