"""Figures of chapter 4, "The mathematics of superposition" (TMS §4): benefit against interference.

The linear model's loss split into its feature benefit and interference terms, what two unit
features cost each other against the angle between them (with and without a ReLU), and the
decomposition explorer's figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from jaxtyping import Float
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from ..metrics import LossTerms
from ..ui import Frame, to_numpy
from ..ui.drawers import draw_features_2d

__all__ = ["plot_interference_vs_angle", "plot_loss_terms", "DecompositionFrame"]

FONT = 9
"""Smallest text of the static figures, in points: 9 pt as displayed, since they are shown at
100 dpi and no wider than the page."""


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
    ax.text(107, 0.55, "negative\ninterference:\nfree behind\nthe ReLU", ha="center", va="center", fontsize=FONT,
            color="C3")
    ax.set_xlim(0, 180)
    ax.set_xticks([0, 45, 72, 90, 120, 180])
    ax.set_xlabel("angle between two unit features (degrees)", fontsize=FONT + 1)
    ax.set_ylabel("interference", fontsize=FONT + 1)
    ax.tick_params(labelsize=FONT)
    ax.legend(fontsize=FONT, loc="upper right")
    return fig


class DecompositionFrame(Frame):
    """The loss-decomposition explorer's figure: directions, pairwise interference, loss terms.

    Left: the feature directions. Middle: each pair's interference for the linear model
    ``(W_i·W_j)²`` and for a ReLU output ``ReLU(W_i·W_j)²``. Right: the linear model's feature
    benefit and interference terms (exact), and the true loss of the ReLU model, as horizontal
    bars. Text at :attr:`~superpos_lib.ui.Frame.FONT` or more.
    """

    names = ("benefit", "interference", "linear loss", "ReLU loss")
    """The loss bars' labels, top to bottom: the linear model's two terms, then the two losses."""

    def __init__(self, n_features: int = 3):
        if n_features < 2:
            raise ValueError(f"n_features must be >= 2, got {n_features}")
        self.n_features = n_features
        self.pairs = [(i, j) for i in range(n_features) for j in range(i + 1, n_features)]
        fig = self._new_figure(2.7)
        self.ax_geo, self.ax_pair, self.ax_loss = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.1, 1.2]})
        self.figure = fig
        draw_features_2d(self.ax_geo, torch.zeros(2, n_features), torch.arange(n_features, 0, -1.0))
        self._lines = self.ax_geo.lines
        self._dots = self.ax_geo.collections[0]
        self._labels = [self.ax_geo.text(0, 0, str(i + 1), fontsize=self.FONT, ha="center", va="center")
                        for i in range(n_features)]
        self.ax_geo.set_title("feature directions Wᵢ", fontsize=self.FONT)
        x = np.arange(len(self.pairs))
        self._pair_lin = self.ax_pair.bar(x - 0.2, np.zeros(len(x)), 0.4, color="C0", label="linear")
        self._pair_relu = self.ax_pair.bar(x + 0.2, np.zeros(len(x)), 0.4, color="C3", label="ReLU")
        self.ax_pair.set_xticks(x, [f"{i + 1},{j + 1}" for i, j in self.pairs])
        self.ax_pair.set_ylim(0, 1.4)
        self.ax_pair.yaxis.set_major_locator(MaxNLocator(nbins=4))
        self.ax_pair.set_xlabel("feature pair", fontsize=self.FONT)
        self.ax_pair.tick_params(labelsize=self.FONT)
        self.ax_pair.legend(fontsize=self.FONT, loc="upper center", ncol=2, frameon=False)
        self.ax_pair.set_title("interference per pair", fontsize=self.FONT)
        y = np.arange(len(self.names))
        self._loss_bars = self.ax_loss.barh(y, np.zeros(len(y)), color=["C2", "C0", "0.35", "C3"], height=0.6)
        self.ax_loss.set_yticks(y, self.names)
        self.ax_loss.invert_yaxis()
        self.ax_loss.xaxis.set_major_locator(MaxNLocator(nbins=3))
        self.ax_loss.tick_params(labelsize=self.FONT)
        self.ax_loss.set_title("expected loss", fontsize=self.FONT)
        self.ax_loss.set_xlabel("linear: exact; ReLU: sampled", fontsize=self.FONT)
        self._init_title()
        self._freeze_layout()  # the pair axis' widest tick labels ("0.4") are those of its first limits

    def update(self, W: Float[Tensor, "2 feats"], values: Sequence[float], *, title: str = "") -> Figure:
        """Redraw for weights ``W`` and loss ``values`` (benefit, interference, linear total, ReLU total)."""
        if tuple(W.shape) != (2, self.n_features) or len(values) != 4:
            raise ValueError(f"W must be (2, {self.n_features}) and values 4 numbers")
        w = to_numpy(W)
        for i, line in enumerate(self._lines):
            line.set_data([0, w[0, i]], [0, w[1, i]])
        self._dots.set_offsets(w.T)
        for label, (x, y) in zip(self._labels, w.T):  # the feature's number just beyond its tip
            r = float(np.hypot(x, y))
            scale = (r + 0.22) / r if r > 1e-6 else 0.0
            label.set_position((float(np.clip(x * scale, -1.35, 1.35)), float(np.clip(y * scale, -1.35, 1.35))))
            label.set_visible(r > 1e-6)  # a feature of length 0 has no tip to number
        g = w.T @ w
        for k, (i, j) in enumerate(self.pairs):
            self._pair_lin[k].set_height(g[i, j] ** 2)
            self._pair_relu[k].set_height(max(g[i, j], 0.0) ** 2)
        self.ax_pair.set_ylim(0, max(1.4, float((g**2).max()) * 1.35))
        for bar, v in zip(self._loss_bars, values):
            bar.set_width(v)
        self.ax_loss.set_xlim(0, max(values) * 1.1 + 1e-9)
        self._title.set_text(title)
        return self.figure


def plot_loss_terms(labels: Sequence[str], terms: LossTerms, *, measured: Tensor | None = None, xlabel: str = "") -> Figure:
    """Stacked bars of a :class:`~superpos_lib.metrics.LossTerms` per instance (feature benefit,
    interference, bias), with Monte-Carlo estimates of the loss as dots if given.

    The loss axis is logarithmic, so that losses that differ by orders of magnitude (the same
    model at densities from 1 to 0.01, say) all show; a term too small to see there is a sliver
    on top of the others.
    """
    b, i, c = (to_numpy(t) for t in (terms.benefit, terms.interference, terms.bias))
    if len(labels) != len(b):
        raise ValueError(f"labels has {len(labels)} entries for {len(b)} instances")
    x = np.arange(len(b))
    totals = b + i + c
    shown = np.concatenate([totals, to_numpy(measured) if measured is not None else totals])
    shown = shown[shown > 0]
    if not shown.size:
        raise ValueError("terms has no positive total loss to draw on a log axis")
    fig = Figure(figsize=(6.0, 3.2), layout="constrained")
    ax = fig.add_subplot()
    ax.set_yscale("log")
    ax.bar(x, b, color="C2", label="feature benefit term")
    ax.bar(x, i, bottom=b, color="C0", label="interference term")
    ax.bar(x, c, bottom=b + i, color="0.6", label="bias term")
    if measured is not None:
        ax.plot(x, to_numpy(measured), "k.", ms=9, label="Monte-Carlo loss")
    ax.set_ylim(shown.min() / 3, shown.max() * 3)
    ax.set_xticks(x, list(labels), fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.set_xlabel(xlabel, fontsize=FONT + 1)
    ax.set_ylabel("expected loss (log scale)", fontsize=FONT + 1)
    ax.legend(fontsize=FONT, loc="upper right")
    return fig
