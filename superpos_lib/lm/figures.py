"""Chapter 11's figures: how well a short rule explains each kind of unit, and what steering a
latent does to the characters the model writes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from ..ui import to_numpy
from .autointerp import RuleScores

__all__ = ["UNIT_COLOURS", "plot_rule_scores", "plot_char_shift"]

UNIT_COLOURS = {"SAE latents": "C1", "MLP neurons": "C0", "random directions": "0.55"}
"""One colour per kind of unit in the chapter's figures."""


def plot_rule_scores(scores: Mapping[str, RuleScores], *, threshold: float = 0.6) -> Figure:
    """Held-out F1 of each unit's best short rule, one histogram per kind of unit (the share
    above ``threshold`` and the mean in the legend); units not scored are left out."""
    if not scores or not all(isinstance(s, RuleScores) for s in scores.values()):
        raise ValueError("scores must map names to RuleScores (explain_units' results), and not be empty")
    fig = Figure(figsize=(6.2, 3.4), layout="constrained")
    ax = fig.add_subplot()
    edges = np.linspace(0, 1, 21)
    for name, s in scores.items():
        f1 = to_numpy(s.f1[s.scored])
        share = float((f1 > threshold).mean()) if f1.size else float("nan")
        ax.hist(f1, bins=edges, density=True, histtype="step", lw=1.8, color=UNIT_COLOURS.get(name),
                label=f"{name}: mean {f1.mean():.2f}, {100 * share:.0f} % above {threshold:g}")
    ax.axvline(threshold, color="0.6", ls=":", lw=1)
    ax.set_xlabel("F1 of the unit's rule on held-out text")
    ax.set_ylabel("density of units")
    ax.set_xlim(0, 1)
    fig.legend(fontsize=9, loc="outside upper center", ncols=1, frameon=False)
    return fig


def plot_char_shift(before: str, after: str, *, top: int = 8, title: str = "") -> Figure:
    """How often each character appears in ``before`` and ``after`` (say, text generated
    without and with a latent steered), for the ``top`` characters that changed most."""
    if not isinstance(before, str) or not isinstance(after, str) or not before or not after:
        raise ValueError("before and after must be non-empty strings")
    chars = sorted(set(before) | set(after))
    p = np.array([before.count(c) / len(before) for c in chars])
    q = np.array([after.count(c) / len(after) for c in chars])
    order = np.argsort(-np.abs(q - p))[:top]
    labels = [repr(chars[i])[1:-1].replace(" ", "␣") for i in order]
    fig = Figure(figsize=(5.6, 2.8), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(order))
    ax.bar(x - 0.2, p[order], 0.4, label="unchanged model", color="0.6")
    ax.bar(x + 0.2, q[order], 0.4, label="latent changed", color="C1")
    ax.set_xticks(x, labels, fontsize=11)
    ax.set_ylabel("share of characters")
    ax.legend(fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
