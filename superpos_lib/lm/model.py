"""A one-layer transformer of Bricken et al.'s shape (2023): the residual stream the embedding
writes, one attention layer and one ReLU MLP read and write, and the unembedding reads.

``d_model = 128`` and ``d_mlp = 512`` as in "Towards Monosemanticity"; characters instead of
BPE tokens, so the vocabulary is small (82) and the context is 128 characters. Pre-LayerNorm
blocks::

    x₀ = W_E[t] + W_pos          (batch, seq, d_model)   token and position embeddings
    x₁ = x₀ + Attn(LN₁(x₀))                               causal self-attention, n_heads heads
    x₂ = x₁ + W_out ReLU(W_in LN₂(x₁) + b_in) + b_out    the MLP; its ReLU outputs are the
                                                          "neurons" an SAE reads (batch, seq, d_mlp)
    logits = LN_f(x₂) W_U         (batch, seq, vocab)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

from ..checks import check_positive_int

__all__ = ["LMConfig", "OneLayerTransformer"]

MLPHook = Callable[[Float[Tensor, "batch seq d_mlp"]], Float[Tensor, "batch seq d_mlp"]]


@dataclass(frozen=True)
class LMConfig:
    """The model's shape."""

    vocab_size: int = 82
    d_model: int = 128
    n_heads: int = 4
    d_mlp: int = 512
    n_ctx: int = 128

    def __post_init__(self):
        for name, value in asdict(self).items():
            check_positive_int(value, name)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be a multiple of n_heads={self.n_heads}")


class OneLayerTransformer(nn.Module):
    """One attention layer and one ReLU MLP on a residual stream (see the module docstring).

    Args:
        config: the shape (:class:`LMConfig`).
        seed: seeds the initial weights (GPT-2's: normal with std 0.02, the output
            projections scaled down by ``√2``).
    """

    def __init__(self, config: LMConfig = LMConfig(), *, seed: int = 0):
        super().__init__()
        if not isinstance(config, LMConfig):
            raise ValueError(f"config must be an LMConfig, got {type(config).__name__}")
        self.config = c = config
        self.tokenizer = None  # a CharTokenizer, attached by load_model and train_lm
        self.W_E = nn.Parameter(torch.empty(c.vocab_size, c.d_model))
        self.W_pos = nn.Parameter(torch.empty(c.n_ctx, c.d_model))
        self.ln1, self.ln2, self.ln_f = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.W_QKV = nn.Linear(c.d_model, 3 * c.d_model)
        self.W_O = nn.Linear(c.d_model, c.d_model)
        self.W_in = nn.Linear(c.d_model, c.d_mlp)
        self.W_out = nn.Linear(c.d_mlp, c.d_model)
        self.W_U = nn.Linear(c.d_model, c.vocab_size, bias=False)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.startswith("ln"):
                    continue
                if name.endswith("bias"):
                    p.zero_()
                else:
                    std = 0.02 / (2**0.5 if name.startswith(("W_O", "W_out")) else 1)
                    p.copy_(torch.randn(p.shape, generator=gen) * std)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _check_tokens(self, tokens: Tensor) -> Tensor:
        c = self.config
        if not isinstance(tokens, Tensor) or tokens.dtype != torch.long or tokens.ndim != 2:
            raise ValueError(f"tokens must be a (batch, seq) int64 tensor, got {getattr(tokens, 'shape', type(tokens))}")
        if not 0 < tokens.shape[1] <= c.n_ctx:
            raise ValueError(f"tokens must have 1 to n_ctx={c.n_ctx} positions, got {tokens.shape[1]}")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= c.vocab_size):
            raise ValueError(f"tokens must be ids in [0, {c.vocab_size})")
        return tokens

    def attention(self, x: Float[Tensor, "batch seq d_model"]) -> Float[Tensor, "batch seq d_model"]:
        """Causal multi-head self-attention of the normalised residual stream (what it adds)."""
        B, T, D = x.shape
        H = self.config.n_heads
        q, k, v = self.W_QKV(x).view(B, T, 3, H, D // H).permute(2, 0, 3, 1, 4)  # each (batch, head, seq, d_head)
        z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.W_O(z.transpose(1, 2).reshape(B, T, D))

    def neurons(self, resid: Float[Tensor, "batch seq d_model"]) -> Float[Tensor, "batch seq d_mlp"]:
        """The MLP's neurons: ``ReLU(W_in LN₂(x) + b_in)``."""
        return F.relu(self.W_in(self.ln2(resid)))

    def forward(self, tokens: Int[Tensor, "batch seq"], *, mlp_hook: MLPHook | None = None
                ) -> Float[Tensor, "batch seq vocab"]:
        """Next-character logits at every position. ``mlp_hook`` replaces the MLP's neurons
        before ``W_out`` reads them (e.g. with an SAE's reconstruction, or zeros)."""
        tokens = self._check_tokens(tokens)
        x = self.W_E[tokens] + self.W_pos[: tokens.shape[1]]
        x = x + self.attention(self.ln1(x))
        acts = self.neurons(x)
        if mlp_hook is not None:
            acts = mlp_hook(acts)
        x = x + self.W_out(acts)
        return self.W_U(self.ln_f(x))

    @torch.no_grad()
    def mlp_activations(self, tokens: Int[Tensor, "batch seq"]) -> Float[Tensor, "batch seq d_mlp"]:
        """The MLP's neurons on ``tokens`` (what an SAE of this model is trained on)."""
        tokens = self._check_tokens(tokens)
        x = self.W_E[tokens] + self.W_pos[: tokens.shape[1]]
        x = x + self.attention(self.ln1(x))
        return self.neurons(x)

    def loss(self, tokens: Int[Tensor, "batch seq"], *, mlp_hook: MLPHook | None = None) -> Float[Tensor, ""]:
        """Mean cross-entropy (nats per character) of predicting ``tokens[:, 1:]`` from what precedes."""
        logits = self(tokens[:, :-1], mlp_hook=mlp_hook)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))
