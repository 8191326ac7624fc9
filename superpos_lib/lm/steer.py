"""Generating text, and changing one SAE latent while the model generates.

:func:`generate` samples characters from the model (with an ``mlp_hook``, from an edited model);
:func:`latent_hook` sets one latent of an SAE to a value at every position (0 ablates it, a
large value steers with it) and keeps everything else the neurons carried, the SAE's
reconstruction error included, so the only change is along that latent's decoder direction.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from ..checks import check_positive_int
from ..sae import SparseAutoencoder
from .model import MLPHook, OneLayerTransformer

__all__ = ["generate", "latent_hook"]


def latent_hook(sae: SparseAutoencoder, latent: int, value: float) -> MLPHook:
    """An ``mlp_hook`` that sets ``latent`` of ``sae`` to ``value`` wherever the model runs:
    the neurons ``x`` become ``x + decode(f') − decode(f)``, where ``f = encode(x)`` and ``f'`` is
    ``f`` with the latent replaced (``value=0``: the latent ablated, the rest untouched)."""
    if not isinstance(sae, SparseAutoencoder):
        raise ValueError(f"sae must be a SparseAutoencoder, got {type(sae).__name__}")
    if isinstance(latent, bool) or not isinstance(latent, int) or not 0 <= latent < sae.d_sae:
        raise ValueError(f"latent must be an index in [0, {sae.d_sae}), got {latent!r}")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        raise ValueError(f"value must be a number, got {value!r}")

    def hook(acts: Float[Tensor, "batch seq d_mlp"]) -> Float[Tensor, "batch seq d_mlp"]:
        x = acts.reshape(-1, acts.shape[-1])
        f = sae.encode(x)
        edited = f.clone()
        edited[:, latent] = value
        return (x + sae.decode(edited) - sae.decode(f)).reshape(acts.shape)

    return hook


@torch.no_grad()
def generate(model: OneLayerTransformer, prompt: str, n_chars: int, *, n_samples: int = 1, temperature: float = 1.0,
             seed: int = 0, mlp_hook: MLPHook | None = None) -> list[str]:
    """``n_samples`` continuations of ``prompt``, ``n_chars`` characters each, sampled at
    ``temperature`` (seeded: the same seed gives the same text, so a hook's effect can be read
    off against the unhooked model); the model sees the last ``n_ctx`` characters."""
    check_positive_int(n_chars, "n_chars")
    check_positive_int(n_samples, "n_samples")
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt must be a non-empty string")
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    dev = next(model.parameters()).device
    tokens = model.tokenizer.encode(prompt, unknown="replace").to(dev).expand(n_samples, -1)
    gen = torch.Generator(device=dev).manual_seed(seed)
    for _ in range(n_chars):
        logits = model(tokens[:, -model.config.n_ctx :], mlp_hook=mlp_hook)[:, -1]
        probs = torch.softmax(logits.float() / temperature, dim=-1)
        probs[:, 0] = 0  # never the unknown token
        tokens = torch.cat([tokens, torch.multinomial(probs, 1, generator=gen)], dim=1)
    return [model.tokenizer.decode(row[len(prompt) :]) for row in tokens.cpu()]
