"""Figures of chapter 7, "Computation in superposition".

The sides computed and polysemantic neurons against density, each feature's exact response
``y_i(v)`` against ``|v|``, one asymmetric motif with the exact account of its output, and
adversarial vulnerability against superposition. The neuron-by-feature weights are drawn by
:func:`superpos_lib.privileged.plot_neuron_weights` (static) and
:func:`superpos_lib.privileged.plot_neuron_sweep` (the site's slider).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from jaxtyping import Float, Int
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from torch import Tensor

from ..checks import check_positive_int
from ..ui import importance_colours, panel_titles, to_numpy
from .analysis import AsymmetricMotif, check_absolute_weights, feature_response

__all__ = ["draw_responses", "plot_responses", "plot_sides_vs_density", "plot_motif", "plot_vulnerability"]

FONT = 9
"""Smallest text, in points (shown at 100 dpi, no wider than the page's 672 px)."""


def draw_responses(ax: Axes, y: Float[Tensor, "feats vals"], values: Float[Tensor, "vals"],
                   importance: Float[Tensor, "feats"] | None = None, *, fontsize: float = FONT) -> list:
    """Each feature's response ``y_i(v)`` (one line per feature) over the target ``|v|`` (dashed)."""
    y, v = to_numpy(y), to_numpy(values)
    colours = importance_colours(importance, y.shape[0])
    ax.plot(v, np.abs(v), color="0.2", lw=1.0, ls="--", zorder=3)
    lines = [ax.plot(v, y[i], color=colours[i], lw=1.3, alpha=0.9)[0] for i in range(y.shape[0])]
    ax.set_xlim(-1, 1)
    ax.set_ylim(-0.05, 1.25)
    ax.set_xlabel("feature value v (the others 0)", fontsize=fontsize)
    ax.tick_params(labelsize=fontsize)
    return lines


def plot_responses(
    W1: Float[Tensor, "inst d_hidden feats"],
    W2: Float[Tensor, "inst feats d_hidden"],
    b: Float[Tensor, "inst feats"],
    *,
    importance: Float[Tensor, "feats"] | None = None,
    titles: Sequence[str] | None = None,
    panel_size: float = 2.2,
) -> Figure:
    """Per model, every feature's exact response ``y_i(v)`` against ``|v|``: a computed feature
    traces the V, a half-computed one half of it, an ignored one stays flat."""
    W1, W2, b = check_absolute_weights(W1, W2, b)
    n_inst = W1.shape[0]
    titles = panel_titles(titles, n_inst)
    v = torch.linspace(-1, 1, 81)
    y = feature_response(W1, W2, b, v)
    fig = Figure(figsize=(min(6.72, panel_size * n_inst), 2.4), layout="constrained")
    axes = fig.subplots(1, n_inst, squeeze=False, sharey=True)[0]
    for k, ax in enumerate(axes):
        draw_responses(ax, y[k], v, importance)
        ax.set_title(titles[k], fontsize=FONT + 1)
    axes[0].set_ylabel("output yᵢ", fontsize=FONT)
    return fig


def plot_sides_vs_density(
    density: Float[Tensor, "k"],
    n_sides: Int[Tensor, "k"],
    n_full: Int[Tensor, "k"],
    n_polysemantic: Int[Tensor, "k"],
    *,
    d_hidden: int,
) -> Figure:
    """Left: sides computed (and twice the fully computed features) against density, with the
    limit ``m`` a model without superposition cannot pass. Right: polysemantic neurons."""
    d = to_numpy(density)
    for value, name in ((n_sides, "n_sides"), (n_full, "n_full"), (n_polysemantic, "n_polysemantic")):
        if to_numpy(value).shape != d.shape:
            raise ValueError(f"{name} must have one value per density ({d.size}), got shape {tuple(to_numpy(value).shape)}")
    check_positive_int(d_hidden, "d_hidden")
    fig = Figure(figsize=(6.72, 2.7), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    ax.plot(d, to_numpy(n_sides), "o-", color="C0", label="sides computed")
    ax.plot(d, 2 * to_numpy(n_full), "s--", color="C1", ms=4, label="2 × features with both sides")
    ax.axhline(d_hidden, color="0.4", ls=":", lw=1.2)
    ax.text(d.min(), d_hidden, f"m = {d_hidden} neurons ", va="bottom", ha="right", fontsize=FONT, color="0.3")
    ax.set_ylabel("sides", fontsize=FONT + 1)
    ax.set_ylim(0, max(float(n_sides.max()), d_hidden) * 1.25)
    ax.legend(fontsize=FONT, loc="upper right")
    ax2.plot(d, to_numpy(n_polysemantic), "o-", color="C3")
    ax2.set_ylim(-1, d_hidden * 1.1)
    ax2.axhline(d_hidden, color="0.4", ls=":", lw=1.2)
    ax2.set_ylabel("polysemantic neurons", fontsize=FONT + 1)
    for a in (ax, ax2):
        a.set_xscale("log")
        a.invert_xaxis()
        a.set_xlabel("feature density 1 − S  (sparser →)", fontsize=FONT + 1)
        a.tick_params(labelsize=FONT)
    return fig


def plot_motif(
    motif: AsymmetricMotif,
    W1: Float[Tensor, "d_hidden feats"],
    W2: Float[Tensor, "feats d_hidden"],
    b: Float[Tensor, "feats"],
) -> Figure:
    """One asymmetric motif. Left: the shared neuron's input weights (strong and weak feature
    marked). Right: output ``weak`` with the strong feature alone at ±1, term by term: the
    neuron's push, each inhibitor, the other neurons, the bias, and the output they sum to."""
    if not isinstance(motif, AsymmetricMotif):
        raise ValueError(f"motif must be an AsymmetricMotif, got {type(motif).__name__}")
    W1, W2, b = check_absolute_weights(W1[None], W2[None], b[None])
    w1, w2, bias = W1[0], W2[0], b[0]
    k, s, wk = motif.neuron, motif.strong, motif.weak
    h = torch.relu(motif.strong_sign * w1[:, s])
    contrib = w2[wk] * h
    fig = Figure(figsize=(6.72, 2.9), layout="constrained")
    ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.1]})
    w = to_numpy(w1[k])
    colours = np.where(np.arange(w.size) == s, "C3", np.where(np.arange(w.size) == wk, "C0", "0.75"))
    ax.bar(np.arange(w.size), w, color=colours, width=0.8)
    ax.axhline(0, color="0.3", lw=0.6)
    ax.set_xlabel("input feature", fontsize=FONT)
    ax.set_ylabel(f"neuron {k}'s input weight", fontsize=FONT)
    ax.set_title(f"neuron {k}: strong {s} (red), weak {wk} (blue)", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    rest = [j for j in range(contrib.numel()) if j != k and j not in motif.inhibitors]
    labels = [f"neuron {k} (push)"] + [f"neuron {j}" for j in motif.inhibitors] + ["other neurons", "bias b"]
    values = [float(contrib[k])] + [float(contrib[j]) for j in motif.inhibitors] + \
             [float(contrib[rest].sum()) if rest else 0.0, float(bias[wk])]
    starts = np.concatenate([[0.0], np.cumsum(values)[:-1]])
    for i, (x0, v) in enumerate(zip(starts, values)):
        ax2.barh(i, v, left=x0, color="C2" if v >= 0 else "C3", height=0.7)
    total = sum(values)
    ax2.barh(len(values), max(total, 0.0), color="0.3", height=0.7)
    ax2.axvline(0, color="0.3", lw=0.6)
    ax2.set_yticks(range(len(values) + 1))
    ax2.set_yticklabels(labels + [f"output = {max(total, 0):.2f}"], fontsize=FONT)
    ax2.invert_yaxis()
    sign = "+1" if motif.strong_sign > 0 else "−1"
    ax2.set_title(f"output {wk}, feature {s} alone at {sign}", fontsize=FONT)
    ax2.set_xlabel("contribution (running sum)", fontsize=FONT)
    ax2.tick_params(axis="x", labelsize=FONT)
    return fig


def plot_vulnerability(
    superposition: Float[Tensor, "k"] | Float[Tensor, "k feats"],
    vulnerability: Mapping[str, Float[Tensor, "k feats"]],
    *,
    xlabel: str,
    labels: Sequence[str] | None = None,
    reference: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Figure:
    """Vulnerability (``delta / ε``, one panel per norm) against a measure of superposition.

    ``superposition`` is per model ``(k,)`` (each model's features share its value) or per
    feature ``(k, feats)``; ``nan`` vulnerabilities (features not attacked) are skipped. Each
    model's median is drawn large. ``reference`` adds a curve per norm, e.g. an exact law.
    """
    if not vulnerability:
        raise ValueError("vulnerability must map at least one norm to a (k, feats) tensor")
    norms = list(vulnerability)
    first = vulnerability[norms[0]]
    if first.ndim != 2:
        raise ValueError(f"vulnerability tensors must have shape (k, feats), got {tuple(first.shape)}")
    k, n = first.shape
    x = torch.as_tensor(superposition, dtype=torch.float32)
    if x.shape not in ((k,), (k, n)):
        raise ValueError(f"superposition must have shape ({k},) or ({k}, {n}), got {tuple(x.shape)}")
    x = x[:, None].expand(k, n) if x.ndim == 1 else x
    labels = list(labels) if labels is not None else [f"model {i}" for i in range(k)]
    if len(labels) != k:
        raise ValueError(f"labels has {len(labels)} entries for {k} models")
    fig = Figure(figsize=(6.72, 2.8), layout="constrained")
    axes = fig.subplots(1, len(norms), squeeze=False)[0]
    names = {"l2": "L2", "linf": "L∞"}
    for ax, norm in zip(axes, norms):
        v = vulnerability[norm]
        if tuple(v.shape) != (k, n):
            raise ValueError(f"vulnerability[{norm!r}] must have shape {(k, n)}, got {tuple(v.shape)}")
        for i in range(k):
            ok = torch.isfinite(v[i]) & torch.isfinite(x[i])
            if not ok.any():
                continue
            xs, vs = to_numpy(x[i][ok]), to_numpy(v[i][ok])
            ax.scatter(xs, vs, s=8, alpha=0.35, color=f"C{i % 10}")
            ax.scatter([np.median(xs)], [np.median(vs)], s=46, color=f"C{i % 10}", edgecolor="black", lw=0.6,
                       label=labels[i], zorder=3)
        if reference and norm in reference:
            rx, ry = reference[norm]
            ax.plot(rx, ry, color="0.2", lw=1.0, ls="--", zorder=2)
        ax.axhline(1, color="0.6", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel, fontsize=FONT + 1)
        ax.set_ylabel(f"{names.get(norm, norm)} vulnerability δ/ε", fontsize=FONT + 1)
        ax.tick_params(labelsize=FONT)
    axes[-1].legend(fontsize=FONT, loc="lower right")
    return fig
