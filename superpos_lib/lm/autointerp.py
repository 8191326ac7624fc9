"""A simple automated-interpretability score: explain a unit by a short rule learned on one half
of a text, score the rule on the other half.

Cunningham et al. (2023) and Bricken et al. (2023) asked a language model to explain each unit
from its top activations and to predict its activations from the explanation. Here the
"explainer" is a search over short rules about the characters around a position:

* ``char``: the character at the position is one of up to three characters (``{e, a}``);
* ``prev`` / ``next``: the character before it / the next character (what the model predicts);
* ``bigram`` / ``trigram``: the last two or three characters (``"th"``, ``" th"``);
* ``word``: the word so far is one of up to three (``"th"``: the *h* of "the", "that", "thou" ...);
* ``prev_word``: the character just after one of up to three words (the space after "my");
* ``class``: one character class or context (a vowel, inside a capitalised word, start of a line, ...).

A unit *fires* where its activation is at least half its largest on the learning half (its
strong activations; every kind of unit is treated alike). On the learning half the rule with
the best F1 is chosen (within a family, up to three values joined by "or", greedily); on the
other half its precision, recall and F1 are the unit's score. A unit that fires fewer than
``min_fires`` times on either half is not scored. The values a context rule may name are the 300
most frequent of its family on the learning half (bigrams, trigrams, words).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from ..checks import check_positive_int
from .corpus import CharTokenizer

__all__ = ["CLASSES", "RuleScores", "context_classes", "explain_units", "firing"]

CLASSES = ("a vowel", "a consonant", "an upper-case letter", "a digit", "punctuation", "a space", "a newline",
           "inside a word", "the first letter of a word", "inside a capitalised word", "the start of a line",
           "just after punctuation")
"""The context classes a ``class`` rule can name (see :func:`context_classes`)."""

_TOP_KEYS = 300
_UNITS_AT_ONCE = 256  # units counted at a time (a float copy of all of 2,048 units' firings is large)


def _window_start(i: int, n_ctx: int | None) -> int:
    return 0 if n_ctx is None else i - i % n_ctx


def _context_keys(text: str, n_ctx: int | None = None) -> dict[str, list[str]]:
    """Per character of ``text``, its key in each context family ("" where it has none): the last
    two and three characters, the word so far (at a letter) and, just after a word, that word;
    none of them reaches back past the start of the character's ``n_ctx`` window."""
    keys: dict[str, list[str]] = {"bigram": [], "trigram": [], "word": [], "prev_word": []}
    word = ""
    for i, ch in enumerate(text):
        start = _window_start(i, n_ctx)
        after_word = i > start and text[i - 1].isalpha()
        if ch.isalpha():
            word = word + ch if after_word else ch
        keys["bigram"].append(text[i - 1 : i + 1] if i - 1 >= start else "")
        keys["trigram"].append(text[i - 2 : i + 1] if i - 2 >= start else "")
        keys["word"].append(word if ch.isalpha() else "")
        keys["prev_word"].append(word if after_word and not ch.isalpha() else "")
    return keys


def context_classes(text: str, n_ctx: int | None = None) -> Bool[Tensor, "n classes"]:
    """For every character of ``text``, which of :data:`CLASSES` it belongs to. The classes that
    look at the character before ("inside a word", "the start of a line", ...) see none at the
    start of the text or of an ``n_ctx`` window (the model saw none there either)."""
    if not isinstance(text, str) or not text:
        raise ValueError("text must be a non-empty string")
    rows = []
    capitalised = False
    for i, ch in enumerate(text):
        prev = text[i - 1] if i > _window_start(i, n_ctx) else ""
        letter = ch.isalpha()
        capitalised = letter and (capitalised if prev.isalpha() else ch.isupper())
        rows.append((ch.lower() in "aeiou", letter and ch.lower() not in "aeiou", ch.isupper(), ch.isdigit(),
                     not ch.isalnum() and not ch.isspace(), ch == " ", ch == "\n", letter and prev.isalpha(),
                     letter and not prev.isalpha(), capitalised, prev == "\n",
                     bool(prev) and not prev.isalnum() and not prev.isspace()))
    out = torch.tensor(rows, dtype=torch.bool)
    return out


def firing(acts: Float[Tensor, "n units"], threshold: Float[Tensor, "units"]) -> Bool[Tensor, "n units"]:
    """Where each unit fires: its activation at least its ``threshold``."""
    return acts >= threshold


@dataclass(frozen=True)
class RuleScores:
    """Per unit: the rule learned on one half (``rules``), and its ``precision``, ``recall`` and
    ``f1`` on the other; ``fires`` (strong activations on the scoring half) and ``scored`` (the
    unit fired at least ``min_fires`` times on both halves); ``peak``, each unit's largest
    activation on the whole text. Unscored units hold NaN."""

    rules: list[str]
    precision: Float[Tensor, "units"]
    recall: Float[Tensor, "units"]
    f1: Float[Tensor, "units"]
    fires: Int[Tensor, "units"]
    scored: Bool[Tensor, "units"]
    peak: Float[Tensor, "units"]

    def summary(self) -> dict[str, float]:
        """Mean F1, precision and recall of the scored units, and how many were scored."""
        s = self.scored
        return {"f1": float(self.f1[s].mean()), "precision": float(self.precision[s].mean()),
                "recall": float(self.recall[s].mean()), "scored": int(s.sum()), "units": len(self.rules)}


class _Atoms:
    """The candidate rule parts on one half of the text: for each family a label per position
    (disjoint values, so counts of a union add up; the last value is "none"), and the context
    classes as columns."""

    def __init__(self, labels: dict[str, Tensor], values: dict[str, list[str]], classes: Tensor):
        self.labels, self.values, self.classes = labels, values, classes

    @classmethod
    def halves(cls, text: str, tokenizer: CharTokenizer, n_ctx: int | None) -> tuple["_Atoms", "_Atoms"]:
        """The atoms of the first and the second half of ``text``; context keys are the
        :data:`_TOP_KEYS` most frequent of the first half (the rules are learned there)."""
        half = len(text) // 2
        ids = tokenizer.encode(text, unknown="replace")
        none = tokenizer.vocab_size
        prev = torch.cat([torch.full((1,), none), ids[:-1]])
        if n_ctx is not None:
            prev[::n_ctx] = none  # the model saw nothing before its window
        labels = {"char": ids, "prev": prev, "next": torch.cat([ids[1:], torch.full((1,), none)])}
        values = {f: [*tokenizer.chars, "·"] for f in ("char", "prev", "next")}
        for family, keys in _context_keys(text, n_ctx).items():
            top = [g for g, _ in Counter(k for k in keys[:half] if k).most_common(_TOP_KEYS)]
            index = {g: i for i, g in enumerate(top)}
            labels[family] = torch.tensor([index.get(key, len(index)) for key in keys])
            values[family] = [*top, "·"]
        classes = context_classes(text, n_ctx).float()
        return (cls({f: lab[:half] for f, lab in labels.items()}, values, classes[:half]),
                cls({f: lab[half:] for f, lab in labels.items()}, values, classes[half:]))

    def counts(self, fires: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
        """For each family: ``hits`` (units, values), fires of each unit at each value, and
        ``size`` (values,), positions with each value (the last value, "other", is never used)."""
        out = {}
        for family, lab in self.labels.items():
            k = len(self.values[family])
            hits = torch.cat([torch.zeros(k, cols.shape[1]).index_add_(0, lab, cols.float()).T
                              for cols in fires.split(_UNITS_AT_ONCE, dim=1)])
            size = torch.bincount(lab, minlength=k).float()
            hits[:, -1], size[-1] = 0, 0
            out[family] = (hits, size)
        hits = torch.cat([cols.float().T @ self.classes for cols in fires.split(_UNITS_AT_ONCE, dim=1)])
        out["class"] = (hits, self.classes.sum(0))
        return out


def _greedy(hits: Tensor, size: Tensor, n_fires: Tensor, max_terms: int, disjoint: bool
            ) -> tuple[Tensor, Tensor]:
    """Per unit, up to ``max_terms`` values whose union has the best F1 (greedy); returns the
    chosen values (units, max_terms; −1 unused) and that F1."""
    units = hits.shape[0]
    chosen = torch.full((units, max_terms), -1, dtype=torch.long)
    h = torch.zeros(units)
    s = torch.zeros(units)
    best = torch.zeros(units)
    allowed = torch.ones_like(hits, dtype=torch.bool)
    for t in range(max_terms if disjoint else 1):
        f1 = 2 * (h[:, None] + hits) / (s[:, None] + size + n_fires[:, None]).clamp_min(1)
        f1 = f1.masked_fill(~allowed, -1)
        val, idx = f1.max(1)
        better = val > best + 1e-9
        if not better.any():
            break
        rows = better.nonzero().squeeze(1)
        chosen[rows, t] = idx[rows]
        h[rows] += hits[rows, idx[rows]]
        s[rows] += size[idx[rows]]
        best = torch.where(better, val, best)
        allowed[rows, idx[rows]] = False
    return chosen, best


def _describe(family: str, values: list[str]) -> str:
    shown = " or ".join(repr(v) for v in values)
    return {"char": f"the character is {shown}", "prev": f"after {shown}", "next": f"before {shown}",
            "bigram": f"the last two characters are {shown}", "trigram": f"the last three characters are {shown}",
            "word": f"the word so far is {shown}", "prev_word": f"just after the word {shown}",
            "class": f"{values[0]}" if values else ""}[family]


def explain_units(acts: Float[Tensor, "n units"], text: str, tokenizer: CharTokenizer, *, n_ctx: int | None = None,
                  max_terms: int = 3, min_fires: int = 10) -> RuleScores:
    """Learn a rule for every unit on the first half of ``text`` and score it on the second.

    Args:
        acts: each unit's activation at every character of ``text`` (``n = len(text)``; float16
            halves the memory and changes nothing that matters here).
        text: the text the activations were read on.
        tokenizer: the model's tokenizer (its characters are the ``char`` rules' values).
        n_ctx: the text was read in consecutive windows of this many characters (as
            :func:`~superpos_lib.lm.unit_activations` reads it): rules about what came before
            a character do not reach back past its window's start. ``None``: one long context.
        max_terms: values a rule may join with "or".
        min_fires: fewest strong activations on each half for a unit to be scored.
    """
    if not isinstance(acts, Tensor) or acts.ndim != 2 or not acts.is_floating_point():
        raise ValueError(f"acts must be a (n, units) float tensor, got {getattr(acts, 'shape', type(acts))}")
    if not isinstance(text, str) or len(text) != acts.shape[0]:
        raise ValueError(f"text must be a string of {acts.shape[0]} characters, one per row of acts")
    if len(text) < 200:
        raise ValueError(f"text must have at least 200 characters to split in two, got {len(text)}")
    check_positive_int(max_terms, "max_terms")
    check_positive_int(min_fires, "min_fires")
    if n_ctx is not None:
        check_positive_int(n_ctx, "n_ctx")
    acts = acts.detach().cpu()  # float16 is fine: units are read a few at a time, as float32
    half = len(text) // 2
    learn, test = _Atoms.halves(text, tokenizer, n_ctx)
    chunks = acts.split(_UNITS_AT_ONCE, dim=1)
    threshold = torch.cat([c[:half].float().max(0).values for c in chunks]) / 2
    threshold = threshold.clamp_min(1e-6)
    fires_learn, fires_test = (torch.cat([firing(c[rows].float(), t) for c, t in
                                          zip(chunks, threshold.split(_UNITS_AT_ONCE))], dim=1)
                               for rows in (slice(None, half), slice(half, None)))
    n_learn, n_test = (torch.cat([cols.sum(0) for cols in f.split(_UNITS_AT_ONCE, dim=1)]).float()  # (a bool
                       for f in (fires_learn, fires_test))  # sum over all units at once copies them as int64)
    counts_learn, counts_test = learn.counts(fires_learn), test.counts(fires_test)

    units = acts.shape[1]
    best_f1 = torch.full((units,), -1.0)
    best_family = [""] * units
    best_terms = torch.full((units, max_terms), -1, dtype=torch.long)
    for family, (hits, size) in counts_learn.items():
        terms, f1 = _greedy(hits, size, n_learn, max_terms, disjoint=family != "class")
        better = f1 > best_f1
        best_f1 = torch.where(better, f1, best_f1)
        best_terms[better] = terms[better]
        for u in better.nonzero().squeeze(1).tolist():
            best_family[u] = family

    precision, recall, f1 = (torch.full((units,), float("nan")) for _ in range(3))
    rules = []
    for u in range(units):
        family = best_family[u]
        terms = [t for t in best_terms[u].tolist() if t >= 0]
        if not family or not terms:
            rules.append("")
            continue
        hits, size = counts_test[family]
        tp, predicted = float(hits[u, terms].sum()), float(size[terms].sum())
        precision[u] = tp / predicted if predicted else 0.0
        recall[u] = tp / float(n_test[u]) if n_test[u] else 0.0
        f1[u] = 2 * tp / (predicted + float(n_test[u])) if predicted + n_test[u] else 0.0
        names = CLASSES if family == "class" else None
        values = [names[t] for t in terms] if names else [learn.values[family][t] for t in terms]
        rules.append(_describe(family, values))
    scored = (n_learn >= min_fires) & (n_test >= min_fires) & ~f1.isnan()
    for tensor in (precision, recall, f1):
        tensor[~scored] = float("nan")
    peak = torch.cat([c.float().max(0).values for c in chunks])
    return RuleScores(rules, precision, recall, f1, n_test.long(), scored, peak)
