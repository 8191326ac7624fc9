"""Figures of chapter 6, the geometry of superposition (TMS §6).

The uniform sweep's feature dimensionalities with the fractions they stick to, a large
model's cosine similarities before and after sorting by component, the graph of strong
connections, and the losses of competing configurations. Pure builders: each returns a new
matplotlib figure. The 3-D polytope viewer (plotly) is :mod:`.viewer`.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import torch
from jaxtyping import Float
from matplotlib.figure import Figure
from torch import Tensor

from ..checks import check_number
from ..metrics import REPRESENTED, feature_dimensionality, feature_norms
from ..ui import Frame, to_numpy
from ..ui.style import GRAM_CMAP
from .configurations import OneFeatureSweep
from .fractions import FRACTIONS
from .graph import STRONG, component_order, components, cosine_similarity, strong_connections
from .sweep import UniformSweep

__all__ = ["plot_dimensionality_sweep", "plot_cosine_blocks", "plot_strong_graph",
           "plot_configuration_losses", "FRACTION_LABELS"]

FONT = Frame.FONT
FRACTION_LABELS = {"own dimension": "1", "tetrahedron": "3/4", "triangle": "2/3", "antipodal pair": "1/2",
                   "pentagon": "2/5", "square antiprism": "3/8"}
"""How the figures write each of :data:`~.fractions.FRACTIONS`."""


def plot_dimensionality_sweep(sweep: UniformSweep, *, min_norm: float = REPRESENTED) -> Figure:
    """TMS's uniform-superposition figure: every represented feature's ``D_i`` (dots) and the
    model's dimensions per feature ``m / ‖W‖_F²`` (line) against ``1 / (1 - S)``, with the named
    fractions drawn as dashed lines."""
    if not isinstance(sweep, UniformSweep):
        raise ValueError(f"sweep must be a UniformSweep, got {type(sweep).__name__}")
    check_number(min_norm, "min_norm", low=0)
    x = to_numpy(sweep.inverse_density)
    D, norms = to_numpy(sweep.dimensionality), to_numpy(sweep.norms)
    fig = Figure(figsize=(Frame.WIDTH, 3.4), layout="constrained")
    ax = fig.subplots()
    nudge = {"pentagon": 0.022, "square antiprism": -0.022}  # 2/5 and 3/8 are close: labels apart
    for name, value in FRACTIONS.items():
        ax.axhline(value, color="0.75", lw=0.8, ls="--", zorder=0)
        ax.text(x.max() * 1.08, value + nudge.get(name, 0.0), f"{FRACTION_LABELS[name]}  {name}", va="center",
                fontsize=FONT, color="0.35")
    rng = np.random.default_rng(0)
    for k in range(len(x)):
        keep = norms[k] > min_norm
        jitter = np.exp(rng.uniform(-0.03, 0.03, keep.sum()))  # spread the dots of one density
        ax.scatter(x[k] * jitter, D[k][keep], s=7, color="tab:blue", alpha=0.35, edgecolors="none")
    ax.plot(x, to_numpy(sweep.dims_per_feature), color="black", lw=1.6, label="m / ‖W‖²_F (whole model)")
    ax.scatter([], [], s=14, color="tab:blue", label=f"Dᵢ of each feature with ‖Wᵢ‖ > {min_norm:g}")
    ax.set_xscale("log")
    ax.set_xlim(x.min() / 1.08, x.max() * 1.06)
    ax.set_ylim(0, 1.08)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("1 / (1 − S)   (1 / density)", fontsize=FONT)
    ax.set_ylabel("dimensions per feature", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.legend(fontsize=FONT, loc="lower left", frameon=False)
    m, n = sweep.models.W.shape[1:]
    ax.set_title(f"uniform superposition: n = {n} features, m = {m} dimensions", fontsize=FONT + 1)
    return fig


def plot_cosine_blocks(W: Float[Tensor, "d_hidden feats"], threshold: float = STRONG) -> Figure:
    """One model's cosine similarities ``Ŵ_i · Ŵ_j``: as trained (left) and with the features
    sorted by component of the graph of strong connections, dropped features last (right)."""
    if not isinstance(W, Tensor) or W.ndim != 2:
        raise ValueError(f"W must be one model's (d_hidden, feats) matrix, got {getattr(W, 'shape', W)!r}")
    cos = to_numpy(cosine_similarity(W[None])[0])
    order, labels = component_order(W, threshold)
    o = order.cpu().numpy()
    fig = Figure(figsize=(Frame.WIDTH, 3.3), layout="constrained")
    axes = fig.subplots(1, 2)
    im = None
    for ax, mat, title in ((axes[0], cos, "features in their own order"),
                           (axes[1], cos[np.ix_(o, o)], "sorted by component (dropped last)")):
        im = ax.imshow(mat, cmap=GRAM_CMAP, vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=FONT)
        ax.set_xticks([])
        ax.set_yticks([])
    lab = to_numpy(labels)[o]
    edges = [k for k in range(1, len(lab)) if lab[k] != lab[k - 1]]
    for k in edges:
        for line in (axes[1].axhline, axes[1].axvline):
            line(k - 0.5, color="0.4", lw=0.4)
    bar = fig.colorbar(im, ax=axes, shrink=0.8, label="cosine Ŵᵢ · Ŵⱼ")
    bar.ax.tick_params(labelsize=FONT)
    bar.set_label("cosine Ŵᵢ · Ŵⱼ", fontsize=FONT)
    return fig


def plot_strong_graph(W: Float[Tensor, "d_hidden feats"], threshold: float = STRONG, *,
                      min_norm: float = REPRESENTED, max_components: int = 24) -> Figure:
    """The graph of strong connections: each represented feature a node, an edge when
    ``|Ŵ_i · W_j| > threshold``; each component drawn on its own ring, coloured by its
    features' mean dimensionality, labelled with its size."""
    if not isinstance(W, Tensor) or W.ndim != 2:
        raise ValueError(f"W must be one model's (d_hidden, feats) matrix, got {getattr(W, 'shape', W)!r}")
    kept = feature_norms(W[None])[0] > min_norm
    adj = strong_connections(W[None], threshold)[0] & kept[:, None] & kept[None, :]
    labels = components(adj)
    D = to_numpy(feature_dimensionality(W[None])[0])
    groups = []
    for c in range(int(labels.max()) + 1):
        nodes = [i for i in torch.nonzero(labels == c).flatten().tolist() if kept[i]]
        if nodes:
            groups.append(nodes)
    total = len(groups)
    groups = groups[:max_components]
    cols = min(8, max(1, len(groups)))
    rows = max(1, math.ceil(len(groups) / cols))
    fig = Figure(figsize=(Frame.WIDTH, 0.95 * rows + 0.9), layout="constrained")
    ax = fig.subplots()
    cmap = matplotlib.colormaps["viridis"]
    norm = matplotlib.colors.Normalize(0, 1)
    a = to_numpy(adj)
    for g, nodes in enumerate(groups):
        cx, cy = g % cols, -(g // cols)
        k = len(nodes)
        ang = 2 * np.pi * np.arange(k) / k + (0.0 if k == 2 else np.pi / 2)  # a pair lies flat
        r = 0.0 if k == 1 else 0.32
        pos = {i: (cx + r * np.cos(t), cy + r * np.sin(t)) for i, t in zip(nodes, ang)}
        for u in nodes:
            for v in nodes:
                if u < v and a[u, v]:
                    ax.plot([pos[u][0], pos[v][0]], [pos[u][1], pos[v][1]], color="0.6", lw=0.6, zorder=1)
        colour = cmap(norm(float(np.mean(D[nodes]))))
        ax.scatter([pos[i][0] for i in nodes], [pos[i][1] for i in nodes], s=22, color=colour, zorder=2,
                   edgecolors="0.2", linewidths=0.4)
        ax.text(cx, cy - 0.45, str(k), ha="center", va="top", fontsize=FONT)
    ax.set_xlim(-0.6, cols - 0.4)
    ax.set_ylim(-(rows - 1) - 0.75, 0.45)
    ax.set_aspect("equal")
    ax.set_axis_off()
    shown = f"the {len(groups)} largest of {total} components" if total > len(groups) else f"{total} components"
    ax.set_title(f"{shown}, largest first", fontsize=FONT)
    bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.9, pad=0.01)
    bar.set_label("mean Dᵢ", fontsize=FONT)
    bar.ax.tick_params(labelsize=FONT)
    return fig


def plot_configuration_losses(sweep: OneFeatureSweep) -> Figure:
    """The lowest loss of each configuration (how many features it represents) against feature
    0's importance or density: where two curves cross, the best configuration changes."""
    if not isinstance(sweep, OneFeatureSweep):
        raise ValueError(f"sweep must be a OneFeatureSweep, got {type(sweep).__name__}")
    x = to_numpy(sweep.values)
    fig = Figure(figsize=(Frame.WIDTH, 2.9), layout="constrained")
    ax = fig.subplots()
    n = sweep.models.W.shape[2]
    for c, loss in sweep.configuration_losses().items():
        ax.plot(x, to_numpy(loss), marker="o", ms=3.5, lw=1.4, label=f"{c} of {n} features represented")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=5))
    what = "importance I₀" if sweep.vary == "importance" else "density p₀"
    ax.set_xlabel(f"feature 0's {what} (the others: 1 and p = {float(sweep.models.feature_probability[0, 1]):g})",
                  fontsize=FONT)
    ax.set_ylabel("lowest loss of the seeds", fontsize=FONT)
    ax.tick_params(labelsize=FONT, which="both")
    ax.legend(fontsize=FONT, frameon=False)
    return fig
