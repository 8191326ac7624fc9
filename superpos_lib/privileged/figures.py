"""Figures of chapter 2, "Privileged and non-privileged bases" (TMS §3, §8): neurons and features.

Each neuron's input weights stacked by feature (a monosemantic neuron is one colour), how well
features and neurons line up against density, the neuron explorer's figure, and a plotly
slider over a precomputed sweep for the static site.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from jaxtyping import Float, Int
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from ..checks import check_weights
from ..ui import Frame, check_sweep, frame_slider, importance_colours, panel_titles, rgb, to_numpy
from .basis import basis_alignment

__all__ = ["draw_neuron_bars", "redraw_neuron_bars", "plot_neuron_weights", "plot_alignment_vs_density", "NeuronFrame", "plot_neuron_sweep"]

FAST_BARS = 400
"""Above this many segments (neurons × features), :func:`draw_neuron_bars` draws one collection."""

LEGEND_FEATURES = 12
"""The most features :func:`plot_neuron_sweep` lists in its legend."""

FONT = 9
"""Smallest text of the static figures, in points: 9 pt as displayed, since they are shown at
100 dpi and no wider than the page."""


def _stacks(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bottoms of each feature's segment in per-neuron stacks, positives up and negatives down."""
    pos, neg = np.clip(w, 0, None), np.clip(w, None, 0)
    bottom_pos = np.vstack([np.zeros((1, w.shape[0])), np.cumsum(pos, axis=1).T[:-1]]).T
    bottom_neg = np.vstack([np.zeros((1, w.shape[0])), np.cumsum(neg, axis=1).T[:-1]]).T
    return np.where(w >= 0, bottom_pos, bottom_neg), w


def draw_neuron_bars(ax: Axes, W: Float[Tensor, "d_hidden feats"], importance: Float[Tensor, "feats"] | None = None,
                     *, fontsize: float = FONT) -> list:
    """One stacked bar per neuron: the weight ``W[k, i]`` of each feature, coloured by importance.

    Positive weights stack up from 0, negative ones down. A monosemantic neuron is one colour.
    Returns one ``BarContainer`` per feature (its segment in every neuron); above
    :data:`FAST_BARS` segments, one ``PolyCollection`` of them all instead (a static figure only).
    """
    if W.ndim != 2:
        raise ValueError(f"W must have shape (d_hidden, feats), got {tuple(W.shape)}")
    w = to_numpy(W)
    colours = importance_colours(importance, w.shape[1])
    bottoms, heights = _stacks(w)
    if w.size > FAST_BARS:  # one collection: thousands of patches take seconds to draw
        x = np.arange(w.shape[0], dtype=float)[:, None].repeat(w.shape[1], 1)
        x0, x1, y0, y1 = x - 0.35, x + 0.35, bottoms, bottoms + heights
        verts = np.stack([np.stack([x0, y0], -1), np.stack([x1, y0], -1), np.stack([x1, y1], -1),
                          np.stack([x0, y1], -1)], axis=2).reshape(-1, 4, 2)
        faces = np.tile(colours, (w.shape[0], 1))
        containers = [ax.add_collection(PolyCollection(verts, facecolors=faces, edgecolors="white", linewidths=0.2))]
        ax.update_datalim(verts.reshape(-1, 2))
        ax.autoscale_view()
    else:
        containers = [
            ax.bar(np.arange(w.shape[0]), heights[:, i], bottom=bottoms[:, i], color=colours[i], width=0.7,
                   edgecolor="white", linewidth=0.3)
            for i in range(w.shape[1])
        ]
    ax.axhline(0, color="0.3", lw=0.6)
    if w.shape[0] <= 20:
        ax.set_xticks(np.arange(w.shape[0]))
    else:  # one label per neuron would overlap
        ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
    ax.set_xlabel("neuron", fontsize=fontsize)
    ax.tick_params(labelsize=fontsize)
    return containers


def redraw_neuron_bars(ax: Axes, containers: list, W: Float[Tensor, "d_hidden feats"], colours: np.ndarray) -> None:
    """Move the bars :func:`draw_neuron_bars` drew (``containers``) to the weights ``W``, recolour
    them, and fit the axis to the tallest stack (an explorer's frame redraws this way)."""
    w = to_numpy(W)
    bottoms, heights = _stacks(w)
    for i, container in enumerate(containers):
        for k, rect in enumerate(container):
            rect.set_y(bottoms[k, i])
            rect.set_height(heights[k, i])
            rect.set_color(colours[i])
    span = max(1.0, float(np.abs(w).sum(axis=1).max()))
    ax.set_ylim(-span * 1.05, span * 1.05)


def plot_neuron_weights(
    W: Float[Tensor, "inst d_hidden feats"],
    *,
    importance: Float[Tensor, "feats"] | None = None,
    titles: Sequence[str] | None = None,
    n_cols: int | None = None,
    panel_size: float = 1.68,
) -> Figure:
    """Neuron models side by side: per neuron, its input weights stacked by feature.

    The default panel size fits four panels to a row in the book's page width (672 px at
    100 dpi), so that the 9-pt text is not shrunk on the site."""
    check_weights(W)
    n_inst = W.shape[0]
    titles = panel_titles(titles, n_inst)
    n_cols = min(n_inst, n_cols or n_inst)
    n_rows = -(-n_inst // n_cols)
    fig = Figure(figsize=(panel_size * n_cols, 2.3 * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharey=True)
    for k, ax in enumerate(axes.flat):
        if k >= n_inst:
            ax.set_axis_off()
            continue
        draw_neuron_bars(ax, W[k], importance)
        ax.set_title(titles[k], fontsize=FONT + 1)
    for row in axes:
        row[0].set_ylabel("weight from each feature", fontsize=FONT)
    return fig


def plot_alignment_vs_density(
    feature_probability: Float[Tensor, "dens"],
    feature_alignment: Float[Tensor, "dens"] | Float[Tensor, "dens seeds"],
    neuron_monosemanticity: Float[Tensor, "dens"] | Float[Tensor, "dens seeds"],
    *,
    d_hidden: int,
    best: Int[Tensor, "dens"] | None = None,
) -> Figure:
    """How well features line up with neurons, against density (1 = every feature on one neuron).

    Given one value per density, draws one line per measure. Given one column per seed, draws
    every seed as a small dot, the range over seeds as a band, and a line through seed
    ``best[k]`` at density ``k`` (the lowest-loss one, say; default: the median over seeds).
    """
    p, a, m = to_numpy(feature_probability), to_numpy(feature_alignment), to_numpy(neuron_monosemanticity)
    if not (p.ndim == 1 and a.shape == m.shape and a.ndim in (1, 2) and a.shape[0] == p.shape[0]):
        raise ValueError(f"feature_alignment and neuron_monosemanticity must be (dens,) or (dens, seeds) for "
                         f"{p.shape[0]} densities, got {a.shape}, {m.shape}")
    if a.ndim == 1:
        a, m = a[:, None], m[:, None]
    if best is not None:
        b = to_numpy(best).astype(int)
        if b.shape != p.shape or (b < 0).any() or (b >= a.shape[1]).any():
            raise ValueError(f"best must hold one seed index in [0, {a.shape[1]}) per density, got {b.tolist()}")
    fig = Figure(figsize=(6.0, 3.4), layout="constrained")
    ax = fig.add_subplot()
    rows = np.arange(len(p))
    for values, colour, marker, ls, label in [
        (a, "C0", "o", "-", "features: basis alignment"),
        (m, "C1", "s", "--", "neurons: share on their largest feature"),
    ]:
        line = values[rows, b] if best is not None else np.median(values, axis=1)
        if values.shape[1] > 1:
            ax.fill_between(p, values.min(1), values.max(1), color=colour, alpha=0.15, lw=0)
            ax.plot(np.repeat(p, values.shape[1]), values.ravel(), ".", color=colour, ms=3, alpha=0.5)
        ax.plot(p, line, marker=marker, ls=ls, color=colour, label=label)
    ax.axhline(1 / d_hidden, color="0.6", ls=":", lw=1, label=f"spread evenly (1/m = {1 / d_hidden:.2f})")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("feature density 1 − S  (sparser →)", fontsize=FONT + 1)
    ax.set_ylabel("basis alignment", fontsize=FONT + 1)
    ax.tick_params(labelsize=FONT)
    ax.legend(fontsize=FONT, loc="lower left")
    return fig


class NeuronFrame(Frame):
    """The neuron explorer's figure, built once per shape and redrawn in place.

    Panels: stacked neuron weights, each feature's basis alignment, the loss curve; text at
    :attr:`~superpos_lib.ui.Frame.FONT` or more.
    """

    def __init__(self, n_features: int, d_hidden: int, total_steps: int):
        if n_features < 1 or d_hidden < 1 or total_steps < 1:
            raise ValueError(f"n_features, d_hidden and total_steps must be >= 1, got {n_features}, {d_hidden}, {total_steps}")
        self.n_features, self.d_hidden = n_features, d_hidden
        fig = self._new_figure(2.7)
        self.ax_neurons, self.ax_align, self.ax_loss = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.2, 1, 1.2]})
        self.figure = fig
        self._stacks = draw_neuron_bars(self.ax_neurons, torch.zeros(d_hidden, n_features), fontsize=self.FONT)
        self.ax_neurons.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        self.ax_neurons.set_title("neurons (colour: feature)", fontsize=self.FONT)
        self._align = self.ax_align.bar(np.arange(n_features), np.zeros(n_features), color="C0", width=0.7)
        self.ax_align.set_ylim(0, 1.05)
        self.ax_align.axhline(1 / d_hidden, color="0.6", ls=":", lw=1)
        self.ax_align.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        self.ax_align.set_xlabel("feature", fontsize=self.FONT)
        self.ax_align.tick_params(labelsize=self.FONT)
        self.ax_align.set_title("basis alignment", fontsize=self.FONT)
        self._init_loss(total_steps, title="loss (best seed)")
        self.ax_neurons.set_ylim(-10.5, 10.5)  # room for the widest tick labels ("-10") in the layout
        self._freeze_layout()

    def update(self, W: Float[Tensor, "d_hidden feats"], importance: Float[Tensor, "feats"],
               logged_steps: Sequence[int], loss_history: Float[Tensor, "n_logged"], *, title: str = "") -> Figure:
        """Redraw with new weights and loss curve; returns the (same) figure."""
        if tuple(W.shape) != (self.d_hidden, self.n_features):
            raise ValueError(f"W must have shape {(self.d_hidden, self.n_features)}, got {tuple(W.shape)}")
        redraw_neuron_bars(self.ax_neurons, self._stacks, W, importance_colours(importance, self.n_features))
        for rect, value in zip(self._align, to_numpy(basis_alignment(W[None], hidden_relu=True)[0])):
            rect.set_height(value)
        self._set_loss(logged_steps, loss_history, title)
        return self.figure


def plot_neuron_sweep(
    W: Float[Tensor, "frames d_hidden feats"],
    labels: Sequence[str],
    *,
    importance: Float[Tensor, "feats"] | None = None,
    active: int = 0,
):
    """A plotly figure with a slider over precomputed neuron models: stacked neuron weights.

    Up to :data:`LEGEND_FEATURES` features get a legend entry each; with more, hovering a
    segment names its feature."""
    if W.ndim != 3:
        raise ValueError(f"W must have shape (frames, d_hidden, feats), got {tuple(W.shape)}")
    n_frames, d_hidden, n_feats = W.shape
    check_sweep(labels, active, n_frames)
    import plotly.graph_objects as go
    colours = [rgb(c) for c in importance_colours(importance, n_feats)]

    many = d_hidden > LEGEND_FEATURES  # then numbered neurons on a plain axis: names would overlap
    x = list(range(d_hidden)) if many else [f"neuron {j}" for j in range(d_hidden)]

    def traces(k: int) -> list:
        w = to_numpy(W[k])
        return [
            go.Bar(x=x, y=w[:, i].tolist(), name=f"feature {i}",
                   showlegend=n_feats <= LEGEND_FEATURES,
                   marker={"color": colours[i]}, hovertemplate=f"feature {i}: %{{y:.2f}}<extra></extra>")
            for i in range(n_feats)
        ]

    fig = go.Figure(data=traces(active), frames=[go.Frame(data=traces(k), name=str(k)) for k in range(n_frames)])
    span = float(W.abs().sum(dim=2).max()) * 1.05
    fig.update_layout(
        barmode="relative", height=430, template="plotly_white", margin={"l": 40, "r": 20, "t": 30, "b": 20},
        yaxis={"title": "weight from each feature", "range": [-span, span]}, legend={"font": {"size": 12}}, font={"size": 12},
        xaxis={"title": "neuron"} if many else {},
        sliders=[frame_slider(labels, active)],
    )
    return fig
