"""Axes-level drawers of a toy model, shared by the figures of several chapters.

Each draws into a given matplotlib ``Axes`` and returns the artists a figure may later update
in place; none touches pyplot's global state.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from jaxtyping import Float
from matplotlib.axes import Axes
from torch import Tensor

from .. import metrics
from .style import GRAM_CMAP, importance_colours, superposition_colours, to_numpy

__all__ = ["draw_features_2d", "draw_gram", "draw_norm_bars", "draw_loss"]


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
    w = to_numpy(W)
    colours = importance_colours(importance, w.shape[1])
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
    g = to_numpy(W.T @ W)
    im = ax.imshow(g, cmap=GRAM_CMAP, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def draw_norm_bars(ax: Axes, W: Float[Tensor, "d_hidden feats"], *, fontsize: float = 9) -> matplotlib.container.BarContainer:
    """Horizontal bars of ``‖W_i‖`` (feature 0 at the top), coloured by superposition."""
    norms = to_numpy(metrics.feature_norms(W[None])[0])
    sup = to_numpy(metrics.superposition(W[None])[0])
    n = len(norms)
    bars = ax.barh(np.arange(n), norms, color=superposition_colours(sup), height=0.8)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(0, max(1.2, float(norms.max()) * 1.05))
    ax.axvline(metrics.REPRESENTED, color="0.7", lw=0.6, ls="--")
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=fontsize)
    return bars


def draw_loss(ax: Axes, steps: Sequence[int], loss: Float[Tensor, "n_logged"], *, total_steps: int | None = None,
              fontsize: float = 9) -> None:
    """A loss curve on a log scale, its labels at ``fontsize`` points."""
    y = to_numpy(loss)
    ax.plot(list(steps), y, color="C0", lw=1.2)
    if total_steps:
        ax.set_xlim(0, total_steps)
    if len(y) and np.all(y > 0):
        ax.set_yscale("log")
    ax.set_xlabel("step", fontsize=fontsize)
    ax.set_ylabel("loss", fontsize=fontsize)
    ax.tick_params(labelsize=fontsize)
