"""Figures of chapter 8, "Memorization and double descent".

The features' directions beside the training examples' hidden vectors, train and test loss
against the dataset size, the dimensionality of every example and feature against the size,
and the site's kernel-free slider over the sizes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from jaxtyping import Float
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator
from torch import Tensor

from ..ui import check_sweep, frame_slider, to_numpy
from .analysis import OWNS, example_dimensionality, feature_dims
from .finite import DoubleDescent

__all__ = ["FEATURE_COLOUR", "EXAMPLE_COLOUR", "draw_vectors", "plot_hidden_vectors", "plot_double_descent",
           "plot_dimensionality", "plot_test_loss_by_width", "plot_memorization_sweep"]

FONT = 9
"""Smallest text, in points (shown at 100 dpi, no wider than the page's 672 px)."""

FEATURE_COLOUR = "#1f5fa8"
EXAMPLE_COLOUR = "#c0392b"


def _lim(v: np.ndarray) -> float:
    """A symmetric axis limit with room around the longest vector."""
    longest = float(np.sqrt((v**2).sum(0)).max()) if v.size else 0.0
    return 1.15 * max(longest, 0.05)


def _segments(a: np.ndarray) -> np.ndarray:
    """``(objects, 2, 2)`` segments from the origin to each column of ``a``."""
    segs = np.zeros((a.shape[1], 2, 2))
    segs[:, 1] = a.T
    return segs


def draw_vectors(ax: Axes, v: Float[Tensor, "2 objects"], colour: str, *, fontsize: float = FONT) -> list:
    """Each column of ``v`` as a line from the origin with a dot at its tip; the axes scale to
    the longest, whose length is written in the corner. Returns the line and dot artists."""
    if v.ndim != 2 or v.shape[0] != 2:
        raise ValueError(f"v must have shape (2, objects), got {tuple(v.shape)}")
    a = to_numpy(v)
    lim = _lim(a)
    line = LineCollection(_segments(a), colors=colour, linewidths=0.9, alpha=0.75)
    ax.add_collection(line)
    dots = ax.scatter(a[0], a[1], color=colour, s=9, zorder=3, edgecolors="none")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.97, 0.03, f"max {lim / 1.15:.2g}", transform=ax.transAxes, ha="right", va="bottom",
            fontsize=fontsize, color="0.35")
    return [line, dots]


def plot_hidden_vectors(dd: DoubleDescent, indices: Sequence[int], *, panel_size: float = 1.6) -> Figure:
    """Per chosen model: top, every feature's direction ``W_i``; bottom, every training
    example's hidden vector ``h_t = W x_t``. Each panel has its own scale."""
    if dd.W.shape[1] != 2:
        raise ValueError(f"plot_hidden_vectors needs d_hidden = 2, got {dd.W.shape[1]}")
    indices = [int(k) for k in indices]
    if not indices or any(not 0 <= k < dd.n_inst for k in indices):
        raise ValueError(f"indices must name instances in [0, {dd.n_inst}), got {indices}")
    H = dd.hidden()
    n = len(indices)
    fig = Figure(figsize=(min(6.72, panel_size * n + 0.6), 2 * panel_size + 0.5), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for col, k in enumerate(indices):
        T = int(dd.n_examples[k])
        draw_vectors(axes[0, col], dd.W[k], FEATURE_COLOUR)
        draw_vectors(axes[1, col], H[k, :, :T], EXAMPLE_COLOUR)
        axes[0, col].set_title(f"T = {T}", fontsize=FONT + 1)
    axes[0, 0].set_ylabel("features Wᵢ", fontsize=FONT + 1, color=FEATURE_COLOUR)
    axes[1, 0].set_ylabel("examples' h = W x", fontsize=FONT + 1, color=EXAMPLE_COLOUR)
    return fig


def _log_size_axis(ax: Axes, sizes: Sequence[int]) -> None:
    ax.set_xscale("log")
    ticks = [T for T in (3, 10, 30, 100, 300, 1000, 3000, 10000) if min(sizes) <= T <= max(sizes)]
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("training examples T", fontsize=FONT)
    ax.tick_params(labelsize=FONT)


def plot_double_descent(dd: DoubleDescent) -> Figure:
    """Train and test loss against the dataset size (log-log): the lowest-train-loss seed of
    each size as lines, every seed's test loss as dots, and the loss of predicting 0 (1, the
    examples' squared norm) dashed."""
    sizes = torch.tensor(dd.sizes, dtype=torch.float)
    best = dd.best()
    fig = Figure(figsize=(5.2, 3.0), layout="constrained")
    ax = fig.subplots()
    ax.scatter(sizes.repeat_interleave(dd.n_seeds), to_numpy(dd.test_loss), s=10, color=EXAMPLE_COLOUR, alpha=0.35,
               edgecolors="none", label="test, every seed")
    ax.plot(sizes, to_numpy(best.test_loss), "o-", color=EXAMPLE_COLOUR, ms=4, lw=1.6, label="test")
    ax.plot(sizes, to_numpy(best.train_loss.clamp_min(1e-4)), "s-", color="0.3", ms=3.5, lw=1.3, label="train")
    ax.axhline(1.0, color="0.5", lw=0.9, ls="--")
    ax.text(float(sizes[0]), 1.06, "output 0", fontsize=FONT, color="0.4", va="bottom")
    ax.set_yscale("log")
    ax.set_ylabel("loss  mean ‖x − x′‖²", fontsize=FONT)
    _log_size_axis(ax, dd.sizes)
    ax.legend(fontsize=FONT, frameon=False, loc="lower right")
    return fig


def plot_test_loss_by_width(sweeps: Mapping[int, DoubleDescent]) -> Figure:
    """Test loss against the dataset size (log-log), one line per number of hidden dimensions
    ``m`` (the lowest-train-loss seed of each size), each peak ringed."""
    if not sweeps:
        raise ValueError("sweeps must map at least one d_hidden to its DoubleDescent")
    fig = Figure(figsize=(5.2, 3.0), layout="constrained")
    ax = fig.subplots()
    colours = ["#7fb3d5", EXAMPLE_COLOUR, "#5b2c6f", "#1e8449", "#b9770e"]
    all_sizes: list[int] = []
    for i, (m, dd) in enumerate(sorted(sweeps.items())):
        if dd.W.shape[1] != m:
            raise ValueError(f"sweeps[{m}] has d_hidden = {dd.W.shape[1]}, not {m}")
        best = dd.best()
        test = to_numpy(best.test_loss)
        colour = colours[i % len(colours)]
        ax.plot(best.sizes, test, "o-", color=colour, ms=3.5, lw=1.4, label=f"m = {m}")
        k = int(np.argmax(test))
        ax.scatter([best.sizes[k]], [test[k]], s=70, facecolors="none", edgecolors=colour, linewidths=1.3)
        all_sizes += list(best.sizes)
    ax.axhline(1.0, color="0.5", lw=0.9, ls="--")
    ax.set_yscale("log")
    ax.set_ylabel("test loss", fontsize=FONT)
    _log_size_axis(ax, all_sizes)
    ax.legend(fontsize=FONT, frameon=False, loc="upper right")
    return fig


def plot_dimensionality(dd: DoubleDescent) -> Figure:
    """Every training example's dimensionality (red) and every feature's (blue) against the
    dataset size, for the lowest-train-loss seed of each size; the dotted line is ``m / T``,
    a ``T``-gon's share, and the grey line the share counted as a dimension's own."""
    best = dd.best()
    De, Df = example_dimensionality(best), feature_dims(best)
    fig = Figure(figsize=(5.2, 3.0), layout="constrained")
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    for k, T in enumerate(best.sizes):
        de = to_numpy(De[k, :T])
        df = to_numpy(Df[k])
        df = df[df > 0.01]
        for d, colour, shift in ((df, FEATURE_COLOUR, 1.06), (de, EXAMPLE_COLOUR, 1 / 1.06)):
            x = T * shift * np.exp(rng.uniform(-0.04, 0.04, len(d)))
            ax.scatter(x, d, s=8, color=colour, alpha=0.45, edgecolors="none")
    sizes = np.array(best.sizes, dtype=float)
    ax.plot(sizes, np.minimum(best.W.shape[1] / sizes, 1.0), ":", color=EXAMPLE_COLOUR, lw=1.2)
    ax.axhline(OWNS, color="0.6", lw=0.8)
    ax.scatter([], [], s=14, color=EXAMPLE_COLOUR, label="training examples")
    ax.scatter([], [], s=14, color=FEATURE_COLOUR, label="features (D > 0.01)")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("dimensionality D", fontsize=FONT)
    _log_size_axis(ax, best.sizes)
    ax.legend(fontsize=FONT, frameon=False, loc="upper right")
    ax.yaxis.set_minor_locator(NullLocator())
    return fig


def plot_memorization_sweep(dd: DoubleDescent, *, active: int = 0):
    """A plotly figure with a slider over the dataset sizes (lowest-train-loss seed each):
    features' directions and training examples' hidden vectors side by side, on each frame's
    own scale. Works in a browser with no kernel."""
    best = dd.best()
    if best.W.shape[1] != 2:
        raise ValueError(f"plot_memorization_sweep needs d_hidden = 2, got {best.W.shape[1]}")
    labels = [f"T = {T}" for T in best.sizes]
    check_sweep(labels, active, len(labels))
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    H = best.hidden()

    def star(v: np.ndarray, colour: str, name: str) -> list:
        xs = [c for x in v[0].tolist() for c in (0.0, x, None)]   # None breaks the line
        ys = [c for y in v[1].tolist() for c in (0.0, y, None)]
        return [go.Scatter(x=xs, y=ys, mode="lines", line={"color": colour, "width": 1}, hoverinfo="skip",
                           showlegend=False),
                go.Scatter(x=v[0], y=v[1], mode="markers", marker={"color": colour, "size": 5}, name=name,
                           hovertemplate=name + " (%{x:.2f}, %{y:.2f})<extra></extra>", showlegend=False)]

    def frame(k: int) -> tuple[list, dict]:
        T = best.sizes[k]
        w, h = to_numpy(best.W[k]), to_numpy(H[k, :, :T])
        lw, lh = _lim(w), _lim(h)
        layout = {"xaxis": {"range": [-lw, lw]}, "yaxis": {"range": [-lw, lw]},
                  "xaxis2": {"range": [-lh, lh]}, "yaxis2": {"range": [-lh, lh]}}
        return star(w, FEATURE_COLOUR, "feature") + star(h, EXAMPLE_COLOUR, "example"), layout

    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=("features Wᵢ", "training examples' hidden vectors W x"))
    data, layout = frame(active)
    for i, trace in enumerate(data):
        fig.add_trace(trace, row=1, col=1 + i // 2)
    frames = []
    for k in range(len(labels)):
        d, lay = frame(k)
        frames.append(go.Frame(data=d, name=str(k), layout=lay))
    fig.frames = frames
    axis = {"showticklabels": False, "showgrid": False, "zeroline": True, "zerolinecolor": "#ddd"}
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    fig.update_layout(layout)
    fig.update_yaxes(scaleanchor="x", scaleratio=1, row=1, col=1)
    fig.update_yaxes(scaleanchor="x2", scaleratio=1, row=1, col=2)
    slider = frame_slider(labels, active, prefix="dataset size: ")
    slider.update(x=0.03, len=0.94)   # room for the first and last labels, centred on their ticks
    fig.update_layout(height=400, margin={"l": 20, "r": 20, "t": 40, "b": 20}, template="plotly_white",
                      sliders=[slider])
    return fig
