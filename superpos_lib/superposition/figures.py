"""Figures of chapter 3, "Demonstrating superposition" (TMS §2): what toy models learn.

Feature directions in 2-D (TMS's intro figure), ``WᵀW`` with the feature norms coloured by
superposition, the number of represented features against sparsity, the live explorer's
figure, and a plotly slider over a precomputed sweep for the static site.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
import torch
from jaxtyping import Float, Real
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from torch import Tensor

from .. import metrics
from ..checks import check_weights
from ..ui import Frame, check_sweep, frame_slider, importance_colours, panel_titles, rgb, superposition_colours, to_numpy
from ..ui.drawers import draw_features_2d, draw_gram, draw_norm_bars
from ..ui.style import SUPERPOSITION_CMAP

__all__ = [
    "plot_features_in_2d",
    "plot_superposition",
    "plot_represented_vs_density",
    "ExplorerFrame",
    "plot_explorer_frame",
    "plot_features_sweep",
]


def plot_features_in_2d(
    W: Float[Tensor, "inst 2 feats"],
    *,
    importance: Float[Tensor, "inst feats"] | Float[Tensor, "feats"] | None = None,
    titles: Sequence[str] | None = None,
    n_cols: int | None = None,
    panel_size: float = 1.7,
) -> Figure:
    """Feature directions of 2-D toy models, one panel per instance (TMS's intro figure)."""
    check_weights(W)
    if W.shape[1] != 2:
        raise ValueError(f"plot_features_in_2d needs d_hidden = 2, got W of shape {tuple(W.shape)}")
    n_inst = W.shape[0]
    titles = panel_titles(titles, n_inst, width=panel_size)
    imp = None if importance is None else torch.as_tensor(importance).expand(n_inst, W.shape[2])
    n_cols = min(n_inst, n_cols or 10)
    n_rows = -(-n_inst // n_cols)
    fig = Figure(figsize=(panel_size * n_cols, panel_size * n_rows + 0.3), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n_inst:
            ax.set_axis_off()
            continue
        draw_features_2d(ax, W[k], None if imp is None else imp[k])
        ax.set_title(titles[k], fontsize=9)
    return fig


def plot_superposition(
    W: Float[Tensor, "inst d_hidden feats"],
    *,
    titles: Sequence[str] | None = None,
    n_cols: int | None = None,
    panel_width: float = 1.6,
) -> Figure:
    """Per instance: ``WᵀW`` (top) and the feature norms coloured by superposition (below it).

    Instances are laid out ``n_cols`` to a row (default: all in one row), each ``panel_width``
    inches wide; text is 9 pt, so a figure up to about 6.7 inches wide (``n_cols * panel_width
    + 1.3``) shows it at 9 pt or more on the book's pages.
    """
    check_weights(W)
    n_inst, _, n_feats = W.shape
    titles = panel_titles(titles, n_inst)
    n_cols = min(n_inst, n_cols or n_inst)
    n_rows = -(-n_inst // n_cols)
    gram_height, bar_height = panel_width + 0.3, 0.11 * n_feats + 0.4   # a square WᵀW, a bar a feature
    fig = Figure(figsize=(panel_width * n_cols + 1.3, (gram_height + bar_height) * n_rows), layout="constrained")
    axes = fig.subplots(2 * n_rows, n_cols, squeeze=False,
                        gridspec_kw={"height_ratios": [gram_height, bar_height] * n_rows})
    gram_axes, bar_axes = axes[0::2].ravel(), axes[1::2].ravel()
    for k in range(n_inst):
        im = draw_gram(gram_axes[k], W[k])
        gram_axes[k].set_title(titles[k], fontsize=9)
        draw_norm_bars(bar_axes[k], W[k])
        bar_axes[k].tick_params(axis="x", labelsize=9)
        bar_axes[k].set_xticks([0, 1])
    for ax in list(gram_axes[n_inst:]) + list(bar_axes[n_inst:]):
        ax.set_axis_off()
    for row in range(n_rows):
        axes[2 * row, 0].set_ylabel("WᵀW", fontsize=9)
        axes[2 * row + 1, 0].set_ylabel("‖Wᵢ‖", fontsize=9)
    # One colour bar beside each kind of panel of the first row (the scales are the same in
    # every row): bars spanning all rows would interleave and overlap.
    for bar_row, mappable, label in (
        (axes[0], im, "Wᵢ·Wⱼ"),
        (axes[1], matplotlib.cm.ScalarMappable(norm=Normalize(0, 1 / 0.9), cmap=SUPERPOSITION_CMAP), "superposition"),
    ):
        cbar = fig.colorbar(mappable, ax=list(bar_row), shrink=0.9, aspect=12, pad=0.02)
        cbar.set_label(label, fontsize=9)
        cbar.ax.tick_params(labelsize=9)
    return fig


def plot_represented_vs_density(
    feature_probability: Float[Tensor, "inst"],
    n_represented: Real[Tensor, "inst"],
    *,
    d_hidden: int,
    n_features: int,
    per_seed: Real[Tensor, "inst seeds"] | None = None,
    label: str = "represented features",
) -> Figure:
    """Features represented (``‖W_i‖ > 0.5``) against density, with ``m`` and ``n`` marked.

    ``n_represented`` is drawn as a line called ``label`` (e.g. the lowest-loss seed's count);
    ``per_seed`` adds every seed's count as a grey dot whose area grows with how many seeds
    share it.
    """
    p = to_numpy(feature_probability)
    r = to_numpy(n_represented)
    if p.shape != r.shape or p.ndim != 1:
        raise ValueError(f"feature_probability and n_represented must be equal-length vectors, got {p.shape} and {r.shape}")
    fig = Figure(figsize=(6.0, 3.4), layout="constrained")
    ax = fig.add_subplot()
    if per_seed is not None:
        seeds = to_numpy(per_seed)
        if seeds.ndim != 2 or seeds.shape[0] != len(p):
            raise ValueError(f"per_seed must have shape ({len(p)}, seeds), got {seeds.shape}")
        for x, row in zip(p, seeds):
            values, counts = np.unique(row, return_counts=True)
            ax.scatter(np.full(len(values), x), values, s=25 * counts, color="0.6", alpha=0.6,
                       edgecolors="none", zorder=2)
        ax.scatter([], [], s=25, color="0.6", label=f"each of {seeds.shape[1]} seeds")
    ax.plot(p, r, "o-", color="C3", label=label, zorder=3)
    ax.axhline(d_hidden, color="0.4", ls="--", lw=1, label=f"m = {d_hidden} hidden dimensions")
    ax.axhline(n_features, color="0.7", ls=":", lw=1, label=f"n = {n_features} features")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("feature density 1 − S  (sparser →)", fontsize=10)
    ax.set_ylabel("features with ‖Wᵢ‖ > 0.5", fontsize=10)
    ax.tick_params(labelsize=9)
    ax.set_ylim(0, n_features + 1)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.legend(fontsize=9, loc="upper left")
    return fig


class ExplorerFrame(Frame):
    """The live explorer's figure: built once per shape, then redrawn in place.

    Building a figure costs several times more than redrawing one (layout, ticks, text), so the
    explorer keeps one ``ExplorerFrame`` per ``(n_features, d_hidden)`` and calls :meth:`update`
    for every frame. Panels: the geometry (2-D feature directions, or ``WᵀW`` when
    ``d_hidden != 2``), the feature norms coloured by superposition, and the loss curve.
    """

    def __init__(self, n_features: int, d_hidden: int, total_steps: int):
        if n_features < 1 or d_hidden < 1 or total_steps < 1:
            raise ValueError(
                f"n_features, d_hidden and total_steps must be >= 1, got {n_features}, {d_hidden}, {total_steps}"
            )
        self.n_features, self.d_hidden, self.total_steps = n_features, d_hidden, total_steps
        fig = self._new_figure(2.6)
        self.ax_geo, self.ax_bar, self.ax_loss = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.3]})
        self.figure = fig
        zeros = torch.zeros(d_hidden, n_features)
        if d_hidden == 2:
            draw_features_2d(self.ax_geo, zeros)
            self._lines = self.ax_geo.lines
            self._dots = self.ax_geo.collections[0]
            self.ax_geo.set_title("feature directions", fontsize=self.FONT)
        else:
            self._gram = draw_gram(self.ax_geo, zeros)
            self.ax_geo.set_title("WᵀW", fontsize=self.FONT)
        self._bars = draw_norm_bars(self.ax_bar, zeros, fontsize=self.FONT)
        self.ax_bar.set_title("‖Wᵢ‖ (colour: superposition)", fontsize=self.FONT)
        self.ax_bar.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=3))
        self._init_loss(total_steps)
        self._freeze_layout()

    def update(
        self,
        W: Float[Tensor, "d_hidden feats"],
        importance: Float[Tensor, "feats"],
        logged_steps: Sequence[int],
        loss_history: Float[Tensor, "n_logged"],
        *,
        title: str = "",
    ) -> Figure:
        """Redraw with new weights and loss curve; returns the (same) figure."""
        if tuple(W.shape) != (self.d_hidden, self.n_features):
            raise ValueError(f"W must have shape {(self.d_hidden, self.n_features)}, got {tuple(W.shape)}")
        w = to_numpy(W)
        if self.d_hidden == 2:
            colours = importance_colours(importance, self.n_features)
            for i, line in enumerate(self._lines):
                line.set_data([0, w[0, i]], [0, w[1, i]])
                line.set_color(colours[i])
            self._dots.set_offsets(w.T)
            self._dots.set_facecolors(colours)
        else:
            self._gram.set_data(w.T @ w)
        norms = np.linalg.norm(w, axis=0)
        sup = to_numpy(metrics.superposition(torch.as_tensor(w)[None])[0])
        colours = superposition_colours(sup)
        for bar, value, colour in zip(self._bars, norms, colours):
            bar.set_width(value)
            bar.set_color(colour)
        self.ax_bar.set_xlim(0, max(1.2, float(norms.max()) * 1.05))
        self._set_loss(logged_steps, loss_history, title)
        return self.figure


def plot_explorer_frame(
    W: Float[Tensor, "d_hidden feats"],
    importance: Float[Tensor, "feats"],
    logged_steps: Sequence[int],
    loss_history: Float[Tensor, "n_logged"],
    *,
    total_steps: int,
    title: str = "",
) -> Figure:
    """One frame of the live explorer (see :class:`ExplorerFrame`) as a new figure."""
    if W.ndim != 2:
        raise ValueError(f"W must have shape (d_hidden, feats), got {tuple(W.shape)}")
    frame = ExplorerFrame(W.shape[1], W.shape[0], total_steps)
    return frame.update(W, importance, logged_steps, loss_history, title=title)


def plot_features_sweep(
    W: Float[Tensor, "frames 2 feats"],
    labels: Sequence[str],
    *,
    importance: Float[Tensor, "feats"] | None = None,
    active: int = 0,
    slider_prefix: str = "",
):
    """A plotly figure with a slider over precomputed 2-D models: directions and norms.

    Left: each feature's direction ``W_i`` (coloured by importance). Right: ``‖W_i‖``, coloured
    by superposition. Moving the slider shows the next model: it works in a browser with no
    kernel, so the static site can offer the explorer's view of a sweep.

    Args:
        W: one 2-D model per slider position.
        labels: the slider's label for each position.
        importance: colours the features (most important yellow).
        active: the position shown first.
        slider_prefix: text before the slider's current label.
    """
    if W.ndim != 3 or W.shape[1] != 2:
        raise ValueError(f"W must have shape (frames, 2, feats), got {tuple(W.shape)}")
    n_frames, _, n_feats = W.shape
    check_sweep(labels, active, n_frames)
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    colours = [rgb(c) for c in importance_colours(importance, n_feats)]
    norms = metrics.feature_norms(W)
    sup = metrics.superposition(W)

    def traces(k: int) -> list:
        w = to_numpy(W[k])
        out = [
            go.Scatter(
                x=[0.0, float(w[0, i])], y=[0.0, float(w[1, i])], mode="lines+markers",
                line={"color": colours[i], "width": 3}, marker={"size": [0, 9], "color": colours[i]},
                name=f"feature {i}", hovertemplate=f"feature {i}<extra></extra>", showlegend=False,
            )
            for i in range(n_feats)
        ]
        s = to_numpy(sup[k])
        out.append(go.Bar(
            x=to_numpy(norms[k]).tolist(), y=list(range(n_feats)), orientation="h",
            marker={"color": [rgb(c) for c in superposition_colours(s)]},
            customdata=s.tolist(), showlegend=False,
            hovertemplate="feature %{y}: ‖W‖ = %{x:.2f}, superposition = %{customdata:.2f}<extra></extra>",
        ))
        return out

    fig = make_subplots(rows=1, cols=2, column_widths=[0.5, 0.5], horizontal_spacing=0.12,
                        subplot_titles=("feature directions", "‖Wᵢ‖ (colour: superposition)"))
    for trace in traces(active)[:-1]:
        fig.add_trace(trace, row=1, col=1)
    fig.add_trace(traces(active)[-1], row=1, col=2)
    fig.frames = [go.Frame(data=traces(k), name=str(k)) for k in range(n_frames)]
    fig.add_shape(type="circle", x0=-1, y0=-1, x1=1, y1=1, line={"color": "#aaa", "dash": "dot", "width": 1}, row=1, col=1)
    fig.update_xaxes(range=[-1.5, 1.5], showticklabels=False, showgrid=False, zeroline=False, row=1, col=1)
    fig.update_yaxes(range=[-1.5, 1.5], showticklabels=False, showgrid=False, zeroline=False,
                     scaleanchor="x", scaleratio=1, row=1, col=1)
    fig.update_xaxes(range=[0, 1.3], title_text="‖Wᵢ‖", row=1, col=2)
    fig.update_yaxes(autorange="reversed", title_text="feature", dtick=1, row=1, col=2)
    fig.add_vline(x=metrics.REPRESENTED, line={"color": "#bbb", "dash": "dash", "width": 1}, row=1, col=2)
    fig.update_layout(
        height=430, margin={"l": 20, "r": 20, "t": 40, "b": 20}, template="plotly_white",
        sliders=[frame_slider(labels, active, prefix=slider_prefix)],
    )
    return fig
