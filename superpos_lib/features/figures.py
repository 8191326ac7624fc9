"""Figures of chapter 1, "Features, decomposability and linearity": reading features back.

A linear readout against the true value for each feature, the composition explorer's figure,
and a plotly slider over precomputed readouts for the static site.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
import torch
from jaxtyping import Float
from matplotlib.figure import Figure
from torch import Tensor

from ..ui import Frame, frame_slider, rgb, to_numpy

__all__ = ["plot_readout_scatter", "CompositionFrame", "plot_readout_sweep"]


def plot_readout_scatter(
    true: Float[Tensor, "batch k"], read: Float[Tensor, "batch k"], *, titles: Sequence[str], r2: Sequence[float]
) -> Figure:
    """For each feature, what a readout recovered against the true value (the diagonal is perfect)."""
    if true.shape != read.shape or true.ndim != 2:
        raise ValueError(f"true and read must both be (batch, k), got {tuple(true.shape)} and {tuple(read.shape)}")
    k = true.shape[1]
    if len(titles) != k or len(r2) != k:
        raise ValueError(f"titles and r2 need {k} entries each")
    fig = Figure(figsize=(min(1.5 * k, 6.7), 2.9), layout="constrained")  # the page's width
    axes = fig.subplots(1, k, squeeze=False, sharey=True)[0]
    t, r = to_numpy(true), to_numpy(read)
    for i, ax in enumerate(axes):
        ax.scatter(t[:, i], r[:, i], s=3, alpha=0.4, color="C0", edgecolors="none")
        ax.plot([0, 1], [0, 1], color="0.5", lw=0.8, ls="--")
        ax.set_title(f"{titles[i]}\nR² = {r2[i]:.3f}", fontsize=9)
        ax.set_xlabel("true value", fontsize=9)
        ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
        ax.tick_params(labelsize=9)
    axes[0].set_ylabel("linear readout", fontsize=9)
    return fig


class CompositionFrame(Frame):
    """The composition explorer's figure: a representation, and what readouts get back from it.

    Left: the coordinates of the linear representation ``r = Σ x_i d_i``. Right: for each
    feature, its true value, the linear probe's readout of ``r``, and for ``x₁``, ``x₂`` the
    linear probe's readout of the packed number and the non-linear decoding of it.
    """

    SERIES = ("true value", "probe on linear r", "probe on packed z", "decoding packed z")

    def __init__(self, n_features: int = 3, d: int = 3):
        self.figure = self._new_figure(2.6)
        self.ax_rep, self.ax_read = self.figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2]})
        self._rep = self.ax_rep.bar(np.arange(d), np.zeros(d), color="0.45")
        self.ax_rep.set_ylim(-2, 2)
        self.ax_rep.axhline(0, color="0.3", lw=0.6)
        self.ax_rep.set_xticks(np.arange(d))
        self.ax_rep.set_xlabel("dimension", fontsize=self.FONT)
        self.ax_rep.tick_params(labelsize=self.FONT)
        self.ax_rep.set_title("r = Σ xᵢ dᵢ", fontsize=self.FONT)
        width = 0.2
        x = np.arange(n_features)
        self._series = [
            self.ax_read.bar(x + (j - 1.5) * width, np.zeros(n_features), width, label=name, color=f"C{j}")
            for j, name in enumerate(self.SERIES)
        ]
        self.ax_read.set_ylim(-0.3, 1.3)
        self.ax_read.axhline(0, color="0.3", lw=0.6)
        self.ax_read.set_xticks(x, [f"x{i + 1}" for i in range(n_features)])
        self.ax_read.set_xlabel("feature", fontsize=self.FONT)
        self.ax_read.tick_params(labelsize=self.FONT)
        # beside the bars, not over them
        self.ax_read.legend(fontsize=self.FONT, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
        self.ax_read.set_title("reading each feature back", fontsize=self.FONT)
        self._freeze_layout()

    def update(self, rep: Float[Tensor, "d"], readouts: dict[str, Float[Tensor, "feats"]]) -> Figure:
        """Redraw; ``readouts`` maps series names (``SERIES``) to values (NaN: not drawn)."""
        for bar, value in zip(self._rep, to_numpy(rep)):
            bar.set_height(value)
        for name, bars in zip(self.SERIES, self._series):
            values = to_numpy(readouts.get(name, torch.full((len(bars),), float("nan"))))
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
    import plotly.graph_objects as go

    colours = [rgb(matplotlib.colormaps["tab10"](j)) for j in range(len(readouts))]  # C0, C1, ...: the explorer's

    def traces(k: int) -> list:
        return [go.Bar(x=list(feature_names), y=[None if np.isnan(v) else float(v) for v in to_numpy(values[k])],
                       name=name, marker_color=colour)
                for (name, values), colour in zip(readouts.items(), colours)]

    fig = go.Figure(data=traces(0), frames=[go.Frame(data=traces(k), name=str(k)) for k in range(n_frames)])
    fig.update_layout(barmode="group", height=400, template="plotly_white", yaxis={"range": [-0.3, 1.3], "title": "value"},
                      margin={"l": 40, "r": 20, "t": 30, "b": 20}, sliders=[frame_slider(labels, 0)])
    return fig
