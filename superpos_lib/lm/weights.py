"""The trained model ships with the library, so a chapter loads it instead of training it.

``weights/model.safetensors`` holds the state dict of :class:`OneLayerTransformer` with the
tokenizer's characters and how it was made in the file's metadata (safetensors keeps a small
string-to-string header beside the tensors). Its SHA-256 is recorded here and checked by the tests.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from .corpus import CharTokenizer
from .model import LMConfig, OneLayerTransformer

__all__ = ["WEIGHTS_DIR", "MODEL_FILE", "MODEL_SHA256", "MODEL_COMMAND", "save_model", "load_model", "file_sha256", "read_safetensors"]

WEIGHTS_DIR = Path(__file__).parent / "weights"
MODEL_FILE = WEIGHTS_DIR / "model.safetensors"
MODEL_COMMAND = "python -m superpos_lib.lm --steps 8000 --seed 0 --out superpos_lib/lm/weights/model.safetensors"
"""The command that made :data:`MODEL_FILE` (on the book's 2-core CPU, torch 2.14)."""
MODEL_SHA256 = "8db61f160b59c2e6611c5c2f167cca263f12932a7990bbaab6e03499a0d190eb"
"""The SHA-256 of :data:`MODEL_FILE` as shipped."""


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file, in hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """A safetensors file's tensors and its string metadata (a clear ``ValueError`` for a
    missing file)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} is not a file")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    return load_file(str(path)), meta


def save_model(model: OneLayerTransformer, path: str | Path, **metadata: str) -> None:
    """Write ``model``'s weights, shape and tokenizer (and any string ``metadata``) as safetensors."""
    from safetensors.torch import save_file

    if not isinstance(model, OneLayerTransformer) or model.tokenizer is None:
        raise ValueError("model must be a OneLayerTransformer with its tokenizer attached")
    if not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError("metadata values must be strings")
    header = {"config": json.dumps(model.config.__dict__), "chars": json.dumps(model.tokenizer.chars[1:]), **metadata}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata=header)


def load_model(path: str | Path | None = None, *, device: str | torch.device | None = "cpu") -> OneLayerTransformer:
    """The trained model (:data:`MODEL_FILE` unless ``path``), in eval mode, its tokenizer attached
    as ``model.tokenizer`` and the file's metadata as ``model.metadata``. Needs no training and no
    corpus."""
    path = Path(path) if path is not None else MODEL_FILE
    tensors, meta = read_safetensors(path)
    if "config" not in meta or "chars" not in meta:
        raise ValueError(f"{path} has no model config and tokenizer in its metadata: not a file save_model wrote")
    model = OneLayerTransformer(LMConfig(**json.loads(meta["config"])))
    model.load_state_dict(tensors)
    model.tokenizer = CharTokenizer(json.loads(meta["chars"]))
    model.metadata = meta
    return model.to(device).eval()
