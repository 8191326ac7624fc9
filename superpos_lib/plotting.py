"""Pure figure builders: each takes tensors and returns a new matplotlib ``Figure``.

Nothing here touches pyplot's global state, ``rcParams`` or the screen, so the builders are
safe in widget threads and easy to test (call one, inspect the artists it drew). The figures
are made of small axes-level drawers (``draw_*``) that the widgets reuse.

Interactive figures for the static site are plotly figures (``plot_features_sweep``): a slider
over precomputed models, which works in a browser with no kernel. During the book build a
small renderer (:func:`use_static_plotly_renderer`) turns them into HTML that draws with the
site's own copy of plotly.js.

Colour conventions (as in TMS): feature colour = importance (yellow most important, purple
least); ``WᵀW`` in red-blue from -1 to 1; norm bars coloured by superposition
(dark: the feature has a dimension of its own; bright: other features interfere with it).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence

import matplotlib
import numpy as np
import torch
from jaxtyping import Float, Real
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from torch import Tensor

from . import metrics
from .privileged import basis_alignment

__all__ = [
    "draw_features_2d",
    "draw_gram",
    "draw_norm_bars",
    "draw_loss",
    "plot_features_in_2d",
    "plot_superposition",
    "plot_represented_vs_density",
    "ExplorerFrame",
    "plot_explorer_frame",
    "plot_features_sweep",
    "draw_neuron_bars",
    "plot_neuron_weights",
    "plot_alignment_vs_density",
    "NeuronFrame",
    "plot_neuron_sweep",
    "plot_readout_scatter",
    "CompositionFrame",
    "plot_readout_sweep",
    "plotly_div",
    "use_static_plotly_renderer",
    "plot_interference_vs_angle",
    "DecompositionFrame",
    "PHASE_COLOURS",
    "draw_phase_diagram",
    "plot_phase_diagrams",
    "plot_candidate_losses",
    "PhaseFrame",
    "plot_kgon_dynamics",
    "plot_loss_terms",
    "SAE_COLOURS",
    "draw_sae_directions",
    "plot_sae_directions",
    "plot_recovery_heatmaps",
    "plot_l0_fvu_frontier",
    "plot_density_histograms",
    "plot_feature_splitting",
    "SAEFrame",
]

IMPORTANCE_CMAP = "viridis"
SUPERPOSITION_CMAP = "plasma"
GRAM_CMAP = "RdBu"


def _np(t: Tensor | np.ndarray) -> np.ndarray:
    return t.detach().cpu().float().numpy() if isinstance(t, Tensor) else np.asarray(t, dtype=float)


def _importance_colours(importance: Tensor | None, n_features: int) -> np.ndarray:
    """RGBA per feature: most important yellow, least purple (uniform importance: one colour)."""
    cmap = matplotlib.colormaps[IMPORTANCE_CMAP]
    if importance is None:
        return np.tile(cmap(0.35), (n_features, 1))
    imp = _np(importance)
    lo, hi = imp.min(), imp.max()
    scaled = np.full(n_features, 0.35) if hi - lo < 1e-12 else 0.1 + 0.85 * (imp - lo) / (hi - lo)
    return cmap(scaled)


def _superposition_colours(sup: np.ndarray) -> np.ndarray:
    """RGBA per feature: dark for no superposition, bright from 1 up (the colour bars' scale)."""
    return matplotlib.colormaps[SUPERPOSITION_CMAP](np.clip(sup, 0, 1) * 0.9)


def _check_instances(W: Tensor, name: str = "W") -> None:
    if W.ndim != 3:
        raise ValueError(f"{name} must have shape (inst, d_hidden, feats), got {tuple(W.shape)}")
    if W.shape[0] < 1:
        raise ValueError(f"{name} has no instances")


def _titles(titles: Sequence[str] | None, n: int) -> list[str]:
    if titles is None:
        return [""] * n
    if len(titles) != n:
        raise ValueError(f"titles has {len(titles)} entries for {n} instances")
    return list(titles)


def draw_features_2d(
    ax: Axes,
    W: Float[Tensor, "2 feats"],
    importance: Float[Tensor, "feats"] | None = None,
    *,
    lim: float = 1.5,
) -> None:
    """Each feature as a line from the origin to ``W_i``, with a dot at its tip."""
    if W.ndim != 2 or W.shape[0] != 2:
        raise ValueError(f"draw_features_2d needs W of shape (2, feats), got {tuple(W.shape)}")
    w = _np(W)
    colours = _importance_colours(importance, w.shape[1])
    ax.add_patch(matplotlib.patches.Circle((0, 0), 1.0, fill=False, lw=0.6, ls=":", color="0.6"))
    for i in range(w.shape[1]):
        ax.plot([0, w[0, i]], [0, w[1, i]], color=colours[i], lw=1.6, solid_capstyle="round")
    ax.scatter(w[0], w[1], c=colours, s=22, zorder=3, edgecolors="none")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def draw_gram(ax: Axes, W: Float[Tensor, "d_hidden feats"]) -> matplotlib.image.AxesImage:
    """``WᵀW`` as a heatmap from -1 (blue) to 1 (red)."""
    g = _np(W.T @ W)
    im = ax.imshow(g, cmap=GRAM_CMAP, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def draw_norm_bars(ax: Axes, W: Float[Tensor, "d_hidden feats"]) -> matplotlib.container.BarContainer:
    """Horizontal bars of ``‖W_i‖`` (feature 0 at the top), coloured by superposition."""
    norms = _np(metrics.feature_norms(W[None])[0])
    sup = _np(metrics.superposition(W[None])[0])
    colours = _superposition_colours(sup)
    n = len(norms)
    bars = ax.barh(np.arange(n), norms, color=colours, height=0.8)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(0, max(1.2, float(norms.max()) * 1.05))
    ax.axvline(metrics.REPRESENTED, color="0.7", lw=0.6, ls="--")
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=7)
    return bars


def draw_loss(ax: Axes, steps: Sequence[int], loss: Float[Tensor, "n_logged"], *, total_steps: int | None = None) -> None:
    """A loss curve on a log scale."""
    y = _np(loss)
    ax.plot(list(steps), y, color="C0", lw=1.2)
    if total_steps:
        ax.set_xlim(0, total_steps)
    if len(y) and np.all(y > 0):
        ax.set_yscale("log")
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("loss", fontsize=8)
    ax.tick_params(labelsize=7)


def plot_features_in_2d(
    W: Float[Tensor, "inst 2 feats"],
    *,
    importance: Float[Tensor, "inst feats"] | Float[Tensor, "feats"] | None = None,
    titles: Sequence[str] | None = None,
    n_cols: int | None = None,
    panel_size: float = 1.7,
) -> Figure:
    """Feature directions of 2-D toy models, one panel per instance (TMS's intro figure)."""
    _check_instances(W)
    if W.shape[1] != 2:
        raise ValueError(f"plot_features_in_2d needs d_hidden = 2, got W of shape {tuple(W.shape)}")
    n_inst = W.shape[0]
    titles = _titles(titles, n_inst)
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

    Instances are laid out ``n_cols`` to a row (default: all in one row).
    """
    _check_instances(W)
    n_inst, _, n_feats = W.shape
    titles = _titles(titles, n_inst)
    n_cols = min(n_inst, n_cols or n_inst)
    n_rows = -(-n_inst // n_cols)
    row_height = 1.2 + 0.13 * n_feats * 2
    fig = Figure(figsize=(panel_width * n_cols + 1.2, row_height * n_rows), layout="constrained")
    axes = fig.subplots(2 * n_rows, n_cols, squeeze=False)
    gram_axes, bar_axes = axes[0::2].ravel(), axes[1::2].ravel()
    for k in range(n_inst):
        im = draw_gram(gram_axes[k], W[k])
        gram_axes[k].set_title(titles[k], fontsize=9)
        draw_norm_bars(bar_axes[k], W[k])
    for ax in list(gram_axes[n_inst:]) + list(bar_axes[n_inst:]):
        ax.set_axis_off()
    for row in range(n_rows):
        axes[2 * row, 0].set_ylabel("WᵀW", fontsize=9)
        axes[2 * row + 1, 0].set_ylabel("‖Wᵢ‖", fontsize=9)
    fig.colorbar(im, ax=list(gram_axes), shrink=0.8 / n_rows, label="Wᵢ·Wⱼ")
    sm = matplotlib.cm.ScalarMappable(norm=Normalize(0, 1 / 0.9), cmap=SUPERPOSITION_CMAP)
    fig.colorbar(sm, ax=list(bar_axes), shrink=0.8 / n_rows, label="superposition")
    return fig


def plot_represented_vs_density(
    feature_probability: Float[Tensor, "inst"],
    n_represented: Real[Tensor, "inst"],
    *,
    d_hidden: int,
    n_features: int,
) -> Figure:
    """Features represented (``‖W_i‖ > 0.5``) against density, with ``m`` and ``n`` marked."""
    p = _np(feature_probability)
    r = _np(n_represented)
    if p.shape != r.shape or p.ndim != 1:
        raise ValueError(f"feature_probability and n_represented must be equal-length vectors, got {p.shape} and {r.shape}")
    fig = Figure(figsize=(5.0, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(p, r, "o-", color="C3", label="represented features")
    ax.axhline(d_hidden, color="0.4", ls="--", lw=1, label=f"m = {d_hidden} hidden dimensions")
    ax.axhline(n_features, color="0.7", ls=":", lw=1, label=f"n = {n_features} features")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("feature density 1 − S  (sparser →)")
    ax.set_ylabel("features with ‖Wᵢ‖ > 0.5")
    ax.set_ylim(0, n_features + 1)
    ax.legend(fontsize=8, loc="upper left")
    return fig


class _Frame:
    """What the explorers' figures share: an in-place loss panel, a title, PNG export."""

    figure: Figure
    ax_loss: Axes

    def _init_loss(self, total_steps: int) -> None:
        draw_loss(self.ax_loss, [], torch.zeros(0), total_steps=total_steps)
        self._loss_line = self.ax_loss.lines[0]
        self.ax_loss.set_yscale("log")
        self.ax_loss.yaxis.set_major_locator(matplotlib.ticker.LogLocator(numticks=4))
        self.ax_loss.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        self.ax_loss.set_title("training loss (lowest-loss seed)", fontsize=9)
        self._title = self.figure.suptitle("", fontsize=10)

    def _set_loss(self, logged_steps: Sequence[int], loss_history: Tensor, title: str) -> None:
        y = _np(loss_history)
        self._loss_line.set_data(list(logged_steps), y)
        if len(y) and np.all(y > 0):
            self.ax_loss.set_ylim(y.min() / 1.3, y.max() * 1.3)
        self._title.set_text(title)

    def png(self, dpi: int = 80) -> bytes:
        """The current frame as PNG bytes."""
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()


class ExplorerFrame(_Frame):
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
        fig = Figure(figsize=(8.4, 2.8))
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.17, top=0.8, wspace=0.28)
        self.ax_geo, self.ax_bar, self.ax_loss = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.3]})
        self.figure = fig
        zeros = torch.zeros(d_hidden, n_features)
        if d_hidden == 2:
            draw_features_2d(self.ax_geo, zeros)
            self._lines = self.ax_geo.lines
            self._dots = self.ax_geo.collections[0]
            self.ax_geo.set_title("feature directions", fontsize=9)
        else:
            self._gram = draw_gram(self.ax_geo, zeros)
            self.ax_geo.set_title("WᵀW", fontsize=9)
        self._bars = draw_norm_bars(self.ax_bar, zeros)
        self.ax_bar.set_title("‖Wᵢ‖  (colour: superposition)", fontsize=9)
        self._init_loss(total_steps)

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
        w = _np(W)
        if self.d_hidden == 2:
            colours = _importance_colours(importance, self.n_features)
            for i, line in enumerate(self._lines):
                line.set_data([0, w[0, i]], [0, w[1, i]])
                line.set_color(colours[i])
            self._dots.set_offsets(w.T)
            self._dots.set_facecolors(colours)
        else:
            self._gram.set_data(w.T @ w)
        norms = np.linalg.norm(w, axis=0)
        sup = _np(metrics.superposition(torch.as_tensor(w)[None])[0])
        colours = _superposition_colours(sup)
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


# -- plotly: interactive figures for the static site ---------------------------------------------
STATIC_RENDERER = "superpos_static"
BOOK_BUILD_ENV = "SUPERPOS_BOOK_BUILD"


def _rgb(colour) -> str:
    r, g, b = (int(round(255 * c)) for c in colour[:3])
    return f"rgb({r},{g},{b})"


def _plotly():
    """``plotly.graph_objects``, with the static-site renderer switched on during the book build."""
    import plotly.graph_objects as go

    if os.environ.get(BOOK_BUILD_ENV) == "1":
        use_static_plotly_renderer()
    return go


def _check_sweep(labels: Sequence[str], active: int, n_frames: int) -> None:
    if len(labels) != n_frames:
        raise ValueError(f"labels has {len(labels)} entries for {n_frames} frames")
    if not 0 <= active < n_frames:
        raise ValueError(f"active must be in [0, {n_frames}), got {active}")


def _frame_slider(labels: Sequence[str], active: int, *, prefix: str = "") -> dict:
    """A plotly slider whose k-th step shows frame ``str(k)`` at once (no animation)."""
    steps = [
        {"label": label, "method": "animate",
         "args": [[str(k)], {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}]}
        for k, label in enumerate(labels)
    ]
    return {"active": active, "steps": steps, "currentvalue": {"prefix": prefix}, "pad": {"t": 40}}


def plotly_div(fig) -> str:
    """A figure as an HTML ``<div>`` and script that draw it with a plotly.js already on the page.

    No plotly.js and no MathJax are inlined (the site serves plotly.js once), figures with
    frames wait for the reader instead of playing on load, and the div's id is a hash of the
    figure, so the same figure always gives the same bytes.
    """
    import plotly.io as pio

    as_json = pio.to_json(fig, validate=False, pretty=False)
    div_id = "plotly-" + hashlib.sha1(as_json.encode()).hexdigest()[:12]
    return pio.to_html(
        fig, include_plotlyjs=False, include_mathjax=False, full_html=False, div_id=div_id,
        config={"displaylogo": False, "responsive": True}, validate=False,
        auto_play=False,  # figures with frames would otherwise play through them on load
    )


def use_static_plotly_renderer() -> None:
    """Make :func:`plotly_div` the default way plotly figures display (the book build only).

    Never called in Colab or Jupyter, whose own renderers must stay.
    """
    import plotly.io as pio
    from plotly.io.base_renderers import MimetypeRenderer

    class StaticSiteRenderer(MimetypeRenderer):
        def to_mimebundle(self, fig_dict):
            return {"text/html": plotly_div(fig_dict)}

    if STATIC_RENDERER not in pio.renderers:
        pio.renderers[STATIC_RENDERER] = StaticSiteRenderer()
    pio.renderers.default = STATIC_RENDERER


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
    _check_sweep(labels, active, n_frames)
    go = _plotly()
    from plotly.subplots import make_subplots

    colours = [_rgb(c) for c in _importance_colours(importance, n_feats)]
    norms = metrics.feature_norms(W)
    sup = metrics.superposition(W)

    def traces(k: int) -> list:
        w = _np(W[k])
        out = [
            go.Scatter(
                x=[0.0, float(w[0, i])], y=[0.0, float(w[1, i])], mode="lines+markers",
                line={"color": colours[i], "width": 3}, marker={"size": [0, 9], "color": colours[i]},
                name=f"feature {i}", hovertemplate=f"feature {i}<extra></extra>", showlegend=False,
            )
            for i in range(n_feats)
        ]
        s = _np(sup[k])
        out.append(go.Bar(
            x=_np(norms[k]).tolist(), y=list(range(n_feats)), orientation="h",
            marker={"color": [_rgb(c) for c in _superposition_colours(s)]},
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
        sliders=[_frame_slider(labels, active, prefix=slider_prefix)],
    )
    return fig


# -- neurons: the privileged-basis chapter ----------------------------------------------------------
def _stacks(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bottoms of each feature's segment in per-neuron stacks, positives up and negatives down."""
    pos, neg = np.clip(w, 0, None), np.clip(w, None, 0)
    bottom_pos = np.vstack([np.zeros((1, w.shape[0])), np.cumsum(pos, axis=1).T[:-1]]).T
    bottom_neg = np.vstack([np.zeros((1, w.shape[0])), np.cumsum(neg, axis=1).T[:-1]]).T
    return np.where(w >= 0, bottom_pos, bottom_neg), w


def draw_neuron_bars(ax: Axes, W: Float[Tensor, "d_hidden feats"], importance: Float[Tensor, "feats"] | None = None) -> list:
    """One stacked bar per neuron: the weight ``W[k, i]`` of each feature, coloured by importance.

    Positive weights stack up from 0, negative ones down. A monosemantic neuron is one colour.
    Returns one ``BarContainer`` per feature (its segment in every neuron).
    """
    if W.ndim != 2:
        raise ValueError(f"W must have shape (d_hidden, feats), got {tuple(W.shape)}")
    w = _np(W)
    colours = _importance_colours(importance, w.shape[1])
    bottoms, heights = _stacks(w)
    containers = [
        ax.bar(np.arange(w.shape[0]), heights[:, i], bottom=bottoms[:, i], color=colours[i], width=0.7, edgecolor="white", linewidth=0.3)
        for i in range(w.shape[1])
    ]
    ax.axhline(0, color="0.3", lw=0.6)
    ax.set_xticks(np.arange(w.shape[0]))
    ax.set_xlabel("neuron", fontsize=8)
    ax.tick_params(labelsize=7)
    return containers


def plot_neuron_weights(
    W: Float[Tensor, "inst d_hidden feats"],
    *,
    importance: Float[Tensor, "feats"] | None = None,
    titles: Sequence[str] | None = None,
    n_cols: int | None = None,
    panel_size: float = 1.9,
) -> Figure:
    """Neuron models side by side: per neuron, its input weights stacked by feature."""
    _check_instances(W)
    n_inst = W.shape[0]
    titles = _titles(titles, n_inst)
    n_cols = min(n_inst, n_cols or n_inst)
    n_rows = -(-n_inst // n_cols)
    fig = Figure(figsize=(panel_size * n_cols, 2.3 * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharey=True)
    for k, ax in enumerate(axes.flat):
        if k >= n_inst:
            ax.set_axis_off()
            continue
        draw_neuron_bars(ax, W[k], importance)
        ax.set_title(titles[k], fontsize=9)
    axes[0, 0].set_ylabel("weight from each feature", fontsize=8)
    return fig


def plot_alignment_vs_density(
    feature_probability: Float[Tensor, "inst"],
    feature_alignment: Float[Tensor, "inst"],
    neuron_monosemanticity: Float[Tensor, "inst"],
    *,
    d_hidden: int,
) -> Figure:
    """How well features line up with neurons, against density (1 = every feature on one neuron)."""
    p, a, m = _np(feature_probability), _np(feature_alignment), _np(neuron_monosemanticity)
    if not (p.shape == a.shape == m.shape and p.ndim == 1):
        raise ValueError(f"feature_alignment and neuron_monosemanticity must be vectors as long as feature_probability, got {p.shape}, {a.shape}, {m.shape}")
    fig = Figure(figsize=(5.0, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(p, a, "o-", color="C0", label="features: share of ‖Wᵢ‖² on one neuron")
    ax.plot(p, m, "s--", color="C1", label="neurons: share of weight on one feature")
    ax.axhline(1 / d_hidden, color="0.6", ls=":", lw=1, label=f"spread evenly (1/m = {1 / d_hidden:.2f})")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("feature density 1 − S  (sparser →)")
    ax.set_ylabel("basis alignment")
    ax.legend(fontsize=7, loc="lower left")
    return fig


class NeuronFrame(_Frame):
    """The neuron explorer's figure, built once per shape and redrawn in place.

    Panels: stacked neuron weights, each feature's basis alignment, the loss curve.
    """

    def __init__(self, n_features: int, d_hidden: int, total_steps: int):
        if n_features < 1 or d_hidden < 1 or total_steps < 1:
            raise ValueError(f"n_features, d_hidden and total_steps must be >= 1, got {n_features}, {d_hidden}, {total_steps}")
        self.n_features, self.d_hidden = n_features, d_hidden
        fig = Figure(figsize=(8.4, 2.8))
        fig.subplots_adjust(left=0.06, right=0.98, bottom=0.17, top=0.8, wspace=0.32)
        self.ax_neurons, self.ax_align, self.ax_loss = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.2, 1, 1.2]})
        self.figure = fig
        self._stacks = draw_neuron_bars(self.ax_neurons, torch.zeros(d_hidden, n_features))
        self.ax_neurons.set_title("neurons (colour: feature)", fontsize=9)
        self._align = self.ax_align.bar(np.arange(n_features), np.zeros(n_features), color="C0", width=0.7)
        self.ax_align.set_ylim(0, 1.05)
        self.ax_align.axhline(1 / d_hidden, color="0.6", ls=":", lw=1)
        self.ax_align.set_xlabel("feature", fontsize=8)
        self.ax_align.tick_params(labelsize=7)
        self.ax_align.set_title("share on its largest neuron", fontsize=9)
        self._init_loss(total_steps)

    def update(self, W: Float[Tensor, "d_hidden feats"], importance: Float[Tensor, "feats"],
               logged_steps: Sequence[int], loss_history: Float[Tensor, "n_logged"], *, title: str = "") -> Figure:
        """Redraw with new weights and loss curve; returns the (same) figure."""
        if tuple(W.shape) != (self.d_hidden, self.n_features):
            raise ValueError(f"W must have shape {(self.d_hidden, self.n_features)}, got {tuple(W.shape)}")
        w = _np(W)
        colours = _importance_colours(importance, self.n_features)
        bottoms, heights = _stacks(w)
        for i, container in enumerate(self._stacks):
            for k, rect in enumerate(container):
                rect.set_y(bottoms[k, i])
                rect.set_height(heights[k, i])
                rect.set_color(colours[i])
        span = max(1.0, float(np.abs(w).sum(axis=1).max()))
        self.ax_neurons.set_ylim(-span * 1.05, span * 1.05)
        for rect, value in zip(self._align, _np(basis_alignment(W[None])[0])):
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
    """A plotly figure with a slider over precomputed neuron models: stacked neuron weights."""
    if W.ndim != 3:
        raise ValueError(f"W must have shape (frames, d_hidden, feats), got {tuple(W.shape)}")
    n_frames, d_hidden, n_feats = W.shape
    _check_sweep(labels, active, n_frames)
    go = _plotly()
    colours = [_rgb(c) for c in _importance_colours(importance, n_feats)]

    def traces(k: int) -> list:
        w = _np(W[k])
        return [
            go.Bar(x=[f"neuron {j}" for j in range(d_hidden)], y=w[:, i].tolist(), name=f"feature {i}",
                   marker={"color": colours[i]}, hovertemplate=f"feature {i}: %{{y:.2f}}<extra></extra>")
            for i in range(n_feats)
        ]

    fig = go.Figure(data=traces(active), frames=[go.Frame(data=traces(k), name=str(k)) for k in range(n_frames)])
    span = float(W.abs().sum(dim=2).max()) * 1.05
    fig.update_layout(
        barmode="relative", height=430, template="plotly_white", margin={"l": 40, "r": 20, "t": 30, "b": 20},
        yaxis={"title": "weight from each feature", "range": [-span, span]}, legend={"font": {"size": 10}},
        sliders=[_frame_slider(labels, active)],
    )
    return fig


# -- features and linearity -----------------------------------------------------------------------
def plot_readout_scatter(
    true: Float[Tensor, "batch k"], read: Float[Tensor, "batch k"], *, titles: Sequence[str], r2: Sequence[float]
) -> Figure:
    """For each feature, what a readout recovered against the true value (the diagonal is perfect)."""
    if true.shape != read.shape or true.ndim != 2:
        raise ValueError(f"true and read must both be (batch, k), got {tuple(true.shape)} and {tuple(read.shape)}")
    k = true.shape[1]
    if len(titles) != k or len(r2) != k:
        raise ValueError(f"titles and r2 need {k} entries each")
    fig = Figure(figsize=(2.1 * k, 2.4), layout="constrained")
    axes = fig.subplots(1, k, squeeze=False)[0]
    t, r = _np(true), _np(read)
    for i, ax in enumerate(axes):
        ax.scatter(t[:, i], r[:, i], s=3, alpha=0.4, color="C0", edgecolors="none")
        ax.plot([0, 1], [0, 1], color="0.5", lw=0.8, ls="--")
        ax.set_title(f"{titles[i]}\nR² = {r2[i]:.3f}", fontsize=8)
        ax.set_xlabel("true value", fontsize=7)
        ax.tick_params(labelsize=6)
    axes[0].set_ylabel("linear readout", fontsize=7)
    return fig


class CompositionFrame(_Frame):
    """The composition explorer's figure: a representation, and what readouts get back from it.

    Left: the coordinates of the linear representation ``r = Σ x_i d_i``. Right: for each
    feature, its true value, the linear probe's readout of ``r``, and for ``x₁``, ``x₂`` the
    linear probe's readout of the packed number and the non-linear decoding of it.
    """

    SERIES = ("true value", "probe on linear r", "probe on packed z", "decoding packed z")

    def __init__(self, n_features: int = 3, d: int = 3):
        self.figure = Figure(figsize=(8.4, 2.8))
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.2, top=0.85, wspace=0.3)
        self.ax_rep, self.ax_read = self.figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2]})
        self._rep = self.ax_rep.bar(np.arange(d), np.zeros(d), color="0.45")
        self.ax_rep.set_ylim(-2, 2)
        self.ax_rep.axhline(0, color="0.3", lw=0.6)
        self.ax_rep.set_xticks(np.arange(d), [f"dim {j}" for j in range(d)], fontsize=7)
        self.ax_rep.set_title("representation r = Σ xᵢ dᵢ", fontsize=9)
        width = 0.2
        x = np.arange(n_features)
        self._series = [
            self.ax_read.bar(x + (j - 1.5) * width, np.zeros(n_features), width, label=name, color=f"C{j}")
            for j, name in enumerate(self.SERIES)
        ]
        self.ax_read.set_ylim(-0.3, 1.3)
        self.ax_read.set_xticks(x, [f"x{i + 1}" for i in range(n_features)], fontsize=8)
        self.ax_read.legend(fontsize=7, ncol=2, loc="upper left")
        self.ax_read.set_title("reading each feature back", fontsize=9)

    def update(self, rep: Float[Tensor, "d"], readouts: dict[str, Float[Tensor, "feats"]]) -> Figure:
        """Redraw; ``readouts`` maps series names (``SERIES``) to values (NaN: not drawn)."""
        for bar, value in zip(self._rep, _np(rep)):
            bar.set_height(value)
        for name, bars in zip(self.SERIES, self._series):
            values = _np(readouts.get(name, torch.full((len(bars),), float("nan"))))
            for bar, value in zip(bars, values):
                bar.set_height(0.0 if np.isnan(value) else value)
                bar.set_visible(not np.isnan(value))
        return self.figure


def plot_readout_sweep(
    readouts: dict[str, Float[Tensor, "frames feats"]],
    labels: Sequence[str],
    *,
    feature_names: Sequence[str],
):
    """A plotly figure with a slider over precomputed settings: grouped bars of readouts per feature."""
    if not readouts:
        raise ValueError("readouts is empty")
    shapes = {tuple(v.shape) for v in readouts.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"every readout must be (frames, feats) of one shape, got {shapes}")
    n_frames, n_feats = next(iter(shapes))
    if len(labels) != n_frames or len(feature_names) != n_feats:
        raise ValueError(f"labels needs {n_frames} entries and feature_names {n_feats}")
    go = _plotly()

    def traces(k: int) -> list:
        return [go.Bar(x=list(feature_names), y=[None if np.isnan(v) else float(v) for v in _np(values[k])], name=name)
                for name, values in readouts.items()]

    fig = go.Figure(data=traces(0), frames=[go.Frame(data=traces(k), name=str(k)) for k in range(n_frames)])
    fig.update_layout(barmode="group", height=400, template="plotly_white", yaxis={"range": [-0.3, 1.3], "title": "value"},
                      margin={"l": 40, "r": 20, "t": 30, "b": 20}, sliders=[_frame_slider(labels, 0)])
    return fig


# --- chapter 4: the mathematics of superposition ---------------------------------------------------

def plot_interference_vs_angle() -> Figure:
    """What two unit features cost each other against the angle between them.

    The linear model pays ``cos²θ`` whatever the sign; a ReLU output (one feature active at a
    time) pays only ``ReLU(cos θ)²``: from 90° on, interference is free.
    """
    theta = np.linspace(0, 180, 361)
    c = np.cos(np.deg2rad(theta))
    fig = Figure(figsize=(5.2, 2.8), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(theta, c**2, color="C0", lw=2, label="linear output: (Wᵢ·Wⱼ)²")
    ax.plot(theta, np.clip(c, 0, None) ** 2, color="C3", lw=2, ls="--", label="ReLU output: ReLU(Wᵢ·Wⱼ)²")
    ax.axvspan(90, 180, color="C3", alpha=0.07)
    ax.text(135, 0.55, "negative interference:\nfree behind the ReLU", ha="center", fontsize=8, color="C3")
    ax.set_xlim(0, 180)
    ax.set_xticks([0, 45, 72, 90, 120, 180])
    ax.set_xlabel("angle between two unit features (degrees)")
    ax.set_ylabel("interference")
    ax.legend(fontsize=8, loc="upper right")
    return fig


class DecompositionFrame(_Frame):
    """The loss-decomposition explorer's figure: directions, pairwise interference, loss terms.

    Left: the feature directions. Middle: each pair's interference for the linear model
    ``(W_i·W_j)²`` and for a ReLU output ``ReLU(W_i·W_j)²``. Right: the linear model's feature
    benefit and interference terms (exact), and the true loss of the ReLU model.
    """

    def __init__(self, n_features: int = 3):
        if n_features < 2:
            raise ValueError(f"n_features must be >= 2, got {n_features}")
        self.n_features = n_features
        self.pairs = [(i, j) for i in range(n_features) for j in range(i + 1, n_features)]
        fig = Figure(figsize=(8.4, 2.9))
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.22, top=0.84, wspace=0.35)
        self.ax_geo, self.ax_pair, self.ax_loss = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.2, 1.3]})
        self.figure = fig
        draw_features_2d(self.ax_geo, torch.zeros(2, n_features), torch.arange(n_features, 0, -1.0))
        self._lines = self.ax_geo.lines
        self._dots = self.ax_geo.collections[0]
        self.ax_geo.set_title("feature directions Wᵢ", fontsize=9)
        x = np.arange(len(self.pairs))
        self._pair_lin = self.ax_pair.bar(x - 0.2, np.zeros(len(x)), 0.4, color="C0", label="linear")
        self._pair_relu = self.ax_pair.bar(x + 0.2, np.zeros(len(x)), 0.4, color="C3", label="ReLU")
        self.ax_pair.set_xticks(x, [f"{i + 1},{j + 1}" for i, j in self.pairs], fontsize=8)
        self.ax_pair.set_ylim(0, 1.05)
        self.ax_pair.set_xlabel("feature pair", fontsize=8)
        self.ax_pair.tick_params(labelsize=7)
        self.ax_pair.legend(fontsize=7, loc="upper right")
        self.ax_pair.set_title("interference per pair", fontsize=9)
        self.names = ["benefit\n(linear)", "interference\n(linear)", "total\n(linear)", "total\n(ReLU)"]
        self._loss_bars = self.ax_loss.bar(np.arange(4), np.zeros(4), color=["C2", "C0", "0.35", "C3"])
        self.ax_loss.set_xticks(np.arange(4), self.names, fontsize=7)
        self.ax_loss.tick_params(axis="y", labelsize=7)
        self.ax_loss.set_title("expected loss", fontsize=9)
        self._title = fig.suptitle("", fontsize=10)

    def update(self, W: Float[Tensor, "2 feats"], values: Sequence[float], *, title: str = "") -> Figure:
        """Redraw for weights ``W`` and loss ``values`` (benefit, interference, linear total, ReLU total)."""
        if tuple(W.shape) != (2, self.n_features) or len(values) != 4:
            raise ValueError(f"W must be (2, {self.n_features}) and values 4 numbers")
        w = _np(W)
        for i, line in enumerate(self._lines):
            line.set_data([0, w[0, i]], [0, w[1, i]])
        self._dots.set_offsets(w.T)
        g = w.T @ w
        for k, (i, j) in enumerate(self.pairs):
            self._pair_lin[k].set_height(g[i, j] ** 2)
            self._pair_relu[k].set_height(max(g[i, j], 0.0) ** 2)
        self.ax_pair.set_ylim(0, max(1.05, float((g**2).max()) * 1.05))
        for bar, v in zip(self._loss_bars, values):
            bar.set_height(v)
        self.ax_loss.set_ylim(0, max(values) * 1.15 + 1e-9)
        self._title.set_text(title)
        return self.figure


# --- chapter 5: phase changes ------------------------------------------------------------------------

PHASE_COLOURS = ("#d9d9d9", "#4c72b0", "#dd5555")  # not represented, dedicated dimension, superposition


def _phase_cmap():
    return matplotlib.colors.ListedColormap(PHASE_COLOURS)


def draw_phase_diagram(ax: Axes, r: Tensor, p: Tensor, labels: Tensor, *, boundary: bool = False) -> None:
    """Colour each ``(r, p)`` cell by its solution (grey: not represented, blue: dedicated, red: superposed)."""
    from .phases import phase_boundary

    r_np, p_np, lab = _np(r), _np(p), _np(labels)
    if lab.shape != (len(p_np), len(r_np)):
        raise ValueError(f"labels must be (len(p), len(r)) = {(len(p_np), len(r_np))}, got {lab.shape}")

    def edges(v):
        lv = np.log(v)
        mid = (lv[1:] + lv[:-1]) / 2
        return np.exp(np.concatenate([[2 * lv[0] - mid[0]], mid, [2 * lv[-1] - mid[-1]]]))

    ax.pcolormesh(edges(r_np), edges(p_np), lab, cmap=_phase_cmap(), vmin=-0.5, vmax=2.5, shading="flat")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if boundary:
        rr = np.geomspace(r_np.min(), r_np.max(), 200)
        ax.plot(rr, _np(phase_boundary(torch.as_tensor(rr))), color="k", lw=1.2, ls="--", label="p = 4r/(5r+2)")
    ax.set_xlabel("relative importance r of the extra feature", fontsize=8)
    ax.set_ylabel("feature density p", fontsize=8)
    ax.tick_params(labelsize=7)


def _phase_legend(fig: Figure) -> None:
    from .phases import SOLUTIONS

    handles = [matplotlib.patches.Patch(color=c, label=f"extra feature: {s}") for c, s in zip(PHASE_COLOURS, SOLUTIONS)]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8, frameon=False)


def plot_phase_diagrams(grid, *, boundary: bool = True, title: str = "") -> Figure:
    """The analytic and the trained phase diagram of a :class:`~superpos_lib.phases.PhaseGrid`, side by side.

    Cells where the trained models disagree with the analysis are marked with a dot.
    """
    fig = Figure(figsize=(8.4, 3.7), layout="constrained")
    ax_a, ax_e = fig.subplots(1, 2, sharey=True)
    draw_phase_diagram(ax_a, grid.r, grid.p, grid.analytic, boundary=boundary)
    draw_phase_diagram(ax_e, grid.r, grid.p, grid.labels, boundary=boundary)
    ax_a.set_title("analytic: the lowest-loss candidate", fontsize=9)
    ax_e.set_title(f"trained: {grid.n_models} models ({grid.n_seeds} seeds per cell)", fontsize=9)
    rr, pp = np.meshgrid(_np(grid.r), _np(grid.p))
    wrong = _np(grid.labels) != _np(grid.analytic)
    ax_e.scatter(rr[wrong], pp[wrong], s=5, color="k", label="disagrees with analysis")
    ax_e.set_ylabel("")
    if boundary:
        ax_a.legend(fontsize=7, loc="lower left")
    if title:
        fig.suptitle(title, fontsize=10)
    _phase_legend(fig)
    return fig


def plot_candidate_losses(r: float, p: Tensor, *, trained: Tensor | None = None) -> Figure:
    """The three candidate losses of the ``n = 2, m = 1`` model against density at one ``r``,
    with the trained models' losses (dots) if given."""
    from .phases import SOLUTIONS, candidate_losses, phase_boundary

    p_np = _np(p)
    losses = _np(candidate_losses(r, torch.as_tensor(p_np, dtype=torch.float64)))
    fig = Figure(figsize=(5.4, 3.2), layout="constrained")
    ax = fig.add_subplot()
    for k, (name, colour) in enumerate(zip(SOLUTIONS, PHASE_COLOURS)):
        ax.plot(p_np, losses[:, k], color=colour if k else "0.55", lw=2, label=name)
    if trained is not None:
        ax.plot(p_np, _np(trained), "k.", ms=5, label="trained (best seed)")
    ax.axvline(float(phase_boundary(r)), color="k", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("feature density p")
    ax.set_ylabel("loss")
    ax.set_title(f"candidate solutions at r = {r:g}", fontsize=9)
    ax.legend(fontsize=8)
    return fig


class PhaseFrame(_Frame):
    """The phase explorer's figure: where ``(r, p)`` sits on the analytic diagram, what the
    trained model does, and its loss against the three candidates."""

    def __init__(self, r_grid: Tensor, p_grid: Tensor, analytic: Tensor):
        fig = Figure(figsize=(8.4, 2.9))
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.2, top=0.82, wspace=0.45)
        self.ax_dia, self.ax_w, self.ax_bar = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.3, 1, 1.2]})
        self.figure = fig
        draw_phase_diagram(self.ax_dia, r_grid, p_grid, analytic, boundary=True)
        (self._marker,) = self.ax_dia.plot([1], [0.1], "o", ms=9, mec="k", mew=1.5)
        self.ax_dia.set_title("analytic phase diagram", fontsize=9)
        self._w = self.ax_w.bar([0, 1], [0, 0], color=["0.45", "C1"])
        self.ax_w.axhline(0, color="0.3", lw=0.6)
        self.ax_w.set_xticks([0, 1], ["W₀\n(importance 1)", "W₁\n(importance r)"], fontsize=7)
        self.ax_w.set_ylim(-1.5, 1.5)
        self.ax_w.tick_params(labelsize=7)
        self.ax_w.set_title("trained weights (m = 1)", fontsize=9)
        from .phases import SOLUTIONS

        self._bars = self.ax_bar.bar(np.arange(3), np.zeros(3), color=PHASE_COLOURS, edgecolor="0.3")
        self._trained = self.ax_bar.axhline(0, color="k", lw=1.5, ls="--", label="trained model")
        self.ax_bar.set_xticks(np.arange(3), [s.replace(" ", "\n", 1) for s in SOLUTIONS], fontsize=7)
        self.ax_bar.tick_params(axis="y", labelsize=7)
        self.ax_bar.legend(fontsize=7, loc="upper left")
        self.ax_bar.set_title("loss of each candidate", fontsize=9)
        self._title = fig.suptitle("", fontsize=10)

    def update(self, r: float, p: float, W: Float[Tensor, "1 2"], label: int, candidates: Tensor, loss: float,
               *, title: str = "") -> Figure:
        """Redraw for the model trained at ``(r, p)``."""
        if tuple(W.shape) != (1, 2) or candidates.shape != (3,):
            raise ValueError(f"W must be (1, 2) and candidates (3,), got {tuple(W.shape)} and {tuple(candidates.shape)}")
        self._marker.set_data([r], [p])
        self._marker.set_markerfacecolor(PHASE_COLOURS[label])
        for bar, v in zip(self._w, _np(W)[0]):
            bar.set_height(v)
        c = _np(candidates)
        for bar, v in zip(self._bars, c):
            bar.set_height(v)
        self._trained.set_ydata([loss, loss])
        self.ax_bar.set_ylim(0, max(c.max(), loss) * 1.15)
        self._title.set_text(title)
        return self.figure


def plot_kgon_dynamics(traj, instance: int, levels: dict[int, float], *, n_snapshots: int = 5) -> Figure:
    """One model's training on one-hot data: its exact loss with the k-gon losses marked, its
    feature norms, and snapshots of its feature directions along the way."""
    loss = _np(traj.loss[:, instance])
    steps = _np(traj.steps)
    norms = np.linalg.norm(_np(traj.W[:, instance]), axis=1)      # (T, feats)
    fig = Figure(figsize=(8.4, 5.0), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.35, 1])
    ax_loss, ax_norm = top.subplots(1, 2)
    ax_loss.plot(steps, loss, color="C0", lw=1.4)
    for k, v in levels.items():
        ax_loss.axhline(v, color="0.5", lw=0.7, ls=":")
        ax_loss.text(steps[-1], v, f" {k}-gon", va="center", fontsize=7, color="0.3")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step", fontsize=8)
    ax_loss.set_ylabel("exact loss", fontsize=8)
    ax_loss.set_title("loss: plateaus at the k-gon losses", fontsize=9)
    ax_loss.tick_params(labelsize=7)
    for i in range(norms.shape[1]):
        ax_norm.plot(steps, norms[:, i], lw=1.2)
    ax_norm.axhline(metrics.REPRESENTED, color="0.7", ls="--", lw=0.6)
    ax_norm.set_xlabel("step", fontsize=8)
    ax_norm.set_ylabel("‖Wᵢ‖", fontsize=8)
    ax_norm.set_title("feature norms: learned one at a time", fontsize=9)
    ax_norm.tick_params(labelsize=7)
    # snapshots: when the number of represented features first reaches each value
    count = (norms > metrics.REPRESENTED).sum(1)
    picks = [int(np.argmax(count >= c)) for c in sorted(set(count.tolist())) if c > 0]
    picks = sorted(set(picks + [len(steps) - 1]))[-n_snapshots:]
    axes = bottom.subplots(1, len(picks))
    for ax, t in zip(np.atleast_1d(axes), picks):
        draw_features_2d(ax, traj.W[t, instance], lim=1.6)
        ax.set_title(f"step {int(steps[t])}: {int(count[t])} features", fontsize=8)
        for a in (ax_loss, ax_norm):
            a.axvline(steps[t], color="0.85", lw=0.6, zorder=0)
    return fig


def plot_loss_terms(labels: Sequence[str], terms, *, measured: Tensor | None = None, xlabel: str = "") -> Figure:
    """Stacked bars of a :class:`~superpos_lib.metrics.LossTerms` per instance (feature benefit,
    interference, bias), with Monte-Carlo estimates of the loss as dots if given."""
    b, i, c = (_np(t) for t in (terms.benefit, terms.interference, terms.bias))
    if len(labels) != len(b):
        raise ValueError(f"labels has {len(labels)} entries for {len(b)} instances")
    x = np.arange(len(b))
    fig = Figure(figsize=(6.0, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.bar(x, b, color="C2", label="feature benefit term")
    ax.bar(x, i, bottom=b, color="C0", label="interference term")
    ax.bar(x, c, bottom=b + i, color="0.6", label="bias term")
    if measured is not None:
        ax.plot(x, _np(measured), "k.", ms=9, label="Monte-Carlo loss")
    ax.set_xticks(x, list(labels), fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("expected loss")
    ax.legend(fontsize=8)
    return fig


SAE_COLOURS = {"relu_l1": "C0", "topk": "C1", "jumprelu": "C2", "pca": "0.45", "ica": "C4"}
"""One colour per SAE variant (and baseline) in every SAE figure."""


def draw_sae_directions(
    ax: Axes,
    true_directions: Float[Tensor, "feats 2"],
    W_dec: Float[Tensor, "d_sae 2"],
    dead: Tensor | None = None,
    *,
    lim: float = 1.3,
) -> None:
    """True feature directions (thick grey) under the SAE's decoder rows (thin, coloured; dead
    latents dashed red), all as unit vectors in the 2-D hidden space."""
    if true_directions.ndim != 2 or true_directions.shape[1] != 2 or W_dec.ndim != 2 or W_dec.shape[1] != 2:
        raise ValueError(f"true_directions and W_dec must be (n, 2), got {tuple(true_directions.shape)} and {tuple(W_dec.shape)}")
    t = _np(true_directions / true_directions.norm(dim=1, keepdim=True).clamp(min=1e-12))
    w = _np(W_dec / W_dec.norm(dim=1, keepdim=True).clamp(min=1e-12))
    dead_np = np.zeros(len(w), bool) if dead is None else _np(dead).astype(bool)
    ax.add_patch(matplotlib.patches.Circle((0, 0), 1.0, fill=False, lw=0.6, ls=":", color="0.6"))
    for x, y in t:
        ax.plot([0, x], [0, y], color="0.75", lw=7, solid_capstyle="round", zorder=1)
    live = matplotlib.colormaps["viridis"](np.linspace(0.05, 0.9, max(1, len(w))))
    for j, (x, y) in enumerate(w):
        if dead_np[j]:
            ax.plot([0, x], [0, y], color="C3", lw=1.4, ls="--", zorder=2)
        else:
            ax.annotate("", (x, y), (0, 0), arrowprops=dict(arrowstyle="-|>", color=live[j], lw=1.6), zorder=3)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_sae_directions(
    true_directions: Float[Tensor, "feats 2"],
    W_decs: Sequence[Tensor],
    deads: Sequence[Tensor | None] | None = None,
    titles: Sequence[str] | None = None,
) -> Figure:
    """One panel per SAE: its decoder directions over the true feature directions (2-D)."""
    n = len(W_decs)
    if n == 0:
        raise ValueError("W_decs is empty")
    deads = [None] * n if deads is None else list(deads)
    if len(deads) != n:
        raise ValueError(f"deads has {len(deads)} entries for {n} SAEs")
    titles = _titles(titles, n)
    fig = Figure(figsize=(2.6 * n + 0.4, 2.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n))
    for ax, W, dead, title in zip(axes, W_decs, deads, titles):
        draw_sae_directions(ax, true_directions, W, dead)
        ax.set_title(title, fontsize=9)
    handles = [matplotlib.lines.Line2D([], [], color="0.75", lw=6, label="true feature"),
               matplotlib.lines.Line2D([], [], color="C2", lw=1.6, label="decoder row (live latent)"),
               matplotlib.lines.Line2D([], [], color="C3", lw=1.4, ls="--", label="dead latent")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return fig


def plot_recovery_heatmaps(
    values: dict[str, Tensor],
    dict_sizes: Sequence[int],
    sparsities: Sequence[float],
    *,
    n_features: int | None = None,
    xlabel: str = "L1 coefficient λ",
) -> Figure:
    """Heatmaps of recovery scores (e.g. MMCS and matched MMCS), dictionary size × sparsity,
    each cell annotated with its value."""
    if not values:
        raise ValueError("values is empty")
    for name, v in values.items():
        if tuple(v.shape) != (len(dict_sizes), len(sparsities)):
            raise ValueError(f"values[{name!r}] must be ({len(dict_sizes)}, {len(sparsities)}), got {tuple(v.shape)}")
    fig = Figure(figsize=(4.1 * len(values), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(values)))
    for ax, (name, v) in zip(axes, values.items()):
        a = _np(v)
        im = ax.imshow(a, cmap="viridis", vmin=0.5, vmax=1.0, origin="lower", aspect="auto")
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                ax.text(j, i, f"{a[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="k" if a[i, j] > 0.8 else "w")
        ax.set_xticks(range(len(sparsities)), [f"{s:g}" for s in sparsities], fontsize=8)
        ylabels = [f"{d}" + (f" ({d / n_features:g}×)" if n_features else "") for d in dict_sizes]
        ax.set_yticks(range(len(dict_sizes)), ylabels, fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("dictionary size d_sae")
        ax.set_title(name, fontsize=10)
    fig.colorbar(im, ax=list(axes), shrink=0.85)
    return fig


def plot_l0_fvu_frontier(
    points: dict[str, tuple[Tensor, Tensor]],
    *,
    baselines: dict[str, tuple[float, float]] | None = None,
    true_l0: float | None = None,
) -> Figure:
    """The sparsity–reconstruction trade-off: FVU against L0, one line per SAE variant (its
    sparsity sweep), baselines as single points; lower-left is better."""
    if not points:
        raise ValueError("points is empty")
    fig = Figure(figsize=(5.6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for name, (l0, fvu) in points.items():
        order = np.argsort(_np(l0))
        ax.plot(_np(l0)[order], _np(fvu)[order], "o-", color=SAE_COLOURS.get(name, None), label=name, ms=5)
    for name, (l0, fvu) in (baselines or {}).items():
        ax.plot([l0], [fvu], "s", color=SAE_COLOURS.get(name, "0.3"), ms=8, label=name)
    if true_l0 is not None:
        ax.axvline(true_l0, color="0.5", ls=":", lw=1)
        ax.text(true_l0, 0.98, " true L0", transform=ax.get_xaxis_transform(),
                va="top", fontsize=8, color="0.4")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("L0 (active latents per input)")
    ax.set_ylabel("FVU (fraction of variance unexplained)")
    ax.legend(fontsize=8)
    return fig


def plot_density_histograms(densities: dict[str, Tensor], *, bins: int = 30, low: float = -5.0) -> Figure:
    """Histograms of each SAE's latent densities on a log scale; dead latents counted apart."""
    from .sae import density_histogram

    if not densities:
        raise ValueError("densities is empty")
    fig = Figure(figsize=(5.6, 3.0), layout="constrained")
    ax = fig.add_subplot()
    for name, dens in densities.items():
        counts, edges, n_dead = density_histogram(dens, bins=bins, low=low)
        ax.stairs(_np(counts), _np(edges), color=SAE_COLOURS.get(name, None), lw=1.6,
                  label=f"{name} ({n_dead} dead)")
    ax.set_xlabel("log₁₀ latent density (fraction of inputs a latent fires on)")
    ax.set_ylabel("latents")
    ax.legend(fontsize=8)
    return fig


def plot_feature_splitting(
    dict_sizes: Sequence[int],
    n_features: int,
    mmcs: Sequence[float],
    matched: Sequence[float],
    latents_per_feature: Sequence[float],
) -> Figure:
    """As the dictionary grows past the number of true features: MMCS and matched MMCS (left),
    and how many latents line up with each true feature (right)."""
    n = len(dict_sizes)
    if not (len(mmcs) == len(matched) == len(latents_per_feature) == n) or n == 0:
        raise ValueError("dict_sizes, mmcs, matched and latents_per_feature need the same (non-zero) length")
    ratio = np.asarray(dict_sizes, float) / n_features
    fig = Figure(figsize=(8.0, 3.0), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    a1.plot(ratio, mmcs, "o-", label="MMCS")
    a1.plot(ratio, matched, "s--", label="matched MMCS")
    a1.set_ylim(min(0.5, float(np.min(matched)) - 0.05), 1.01)
    a2.plot(ratio, latents_per_feature, "o-", color="C3")
    a2.axhline(1, color="0.5", ls=":", lw=1)
    for ax in (a1, a2):
        ax.axvline(1, color="0.5", ls=":", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ratio, [f"{r:g}×" for r in ratio])
        ax.set_xlabel("dictionary size / true features")
    a1.legend(fontsize=8)
    a1.set_title("recovery", fontsize=10)
    a2.set_ylabel("latents per true feature (cos > 0.9)")
    a2.set_title("splitting: extra latents copy features", fontsize=10)
    return fig


class SAEFrame(_Frame):
    """The SAE explorer's figure: decoder directions over the true ones, and the training loss."""

    def __init__(self, total_steps: int):
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        fig = Figure(figsize=(7.2, 3.0))
        fig.subplots_adjust(left=0.03, right=0.97, bottom=0.17, top=0.84, wspace=0.3)
        self.ax_dir, self.ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
        self.figure = fig
        self._init_loss(total_steps)
        self.ax_loss.set_title("training loss (shown SAE)", fontsize=9)

    def update(self, true_directions: Tensor, W_dec: Tensor, dead: Tensor | None, logged_steps: Sequence[int],
               loss_history: Tensor, *, title: str = "") -> Figure:
        """Redraw for a newly trained SAE."""
        self.ax_dir.clear()
        draw_sae_directions(self.ax_dir, true_directions, W_dec, dead)
        self.ax_dir.set_title("decoder rows over true features", fontsize=9)
        self._set_loss(logged_steps, loss_history, title)
        return self.figure
