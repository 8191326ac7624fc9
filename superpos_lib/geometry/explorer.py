"""The live explorer of chapter 6: density, one feature's importance, ``n`` and ``m`` = 2 or 3.

Every move retrains ``n_seeds`` uniform toy models (all importances 1 but feature 0's) and
shows the lowest-loss one: its feature directions (in 2-D, or in 3-D for ``m = 3``), every
feature's dimensionality ``D_i`` against the named fractions, and the loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from jaxtyping import Float
from matplotlib.figure import Figure
from torch import Tensor

from ..metrics import feature_dimensionality
from ..models import ToyModelConfig
from ..ui import Frame, ToyModelExplorer, importance_colours, to_numpy
from ..ui.drawers import draw_features_2d
from .fractions import FRACTIONS

__all__ = ["GeometryFrame", "GeometryFrame3D", "GeometryExplorer"]


class GeometryFrame(Frame):
    """The explorer's figure for ``m = 2``: directions, ``D_i`` bars with the named fractions, loss."""

    projection: ClassVar[str | None] = None

    def __init__(self, n_features: int, d_hidden: int, total_steps: int):
        want = 3 if self.projection == "3d" else 2
        if d_hidden != want or n_features < 1 or total_steps < 1:
            raise ValueError(f"{type(self).__name__} needs d_hidden = {want}, n_features and total_steps >= 1, "
                             f"got {n_features}, {d_hidden}, {total_steps}")
        self.n_features, self.d_hidden = n_features, d_hidden
        fig = self._new_figure(2.7)
        grid = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.2])
        self.ax_geo = fig.add_subplot(grid[0], projection=self.projection)
        self.ax_bar = fig.add_subplot(grid[1])
        self.ax_loss = fig.add_subplot(grid[2])
        self.figure = fig
        self._init_geometry()
        for value in FRACTIONS.values():
            self.ax_bar.axvline(value, color="0.8", lw=0.7, ls="--", zorder=0)
        self._bars = self.ax_bar.barh(np.arange(n_features), np.zeros(n_features), height=0.8)
        self.ax_bar.set_ylim(n_features - 0.5, -0.5)
        self.ax_bar.set_xlim(0, 1.05)
        self.ax_bar.set_xticks([0, 0.5, 1])
        self.ax_bar.set_xticklabels(["0", "1/2", "1"])
        self.ax_bar.set_yticks([])
        self.ax_bar.tick_params(labelsize=self.FONT)
        self.ax_bar.set_title("Dᵢ (feature 0 on top)", fontsize=self.FONT)
        self._init_loss(total_steps)
        self._freeze_layout()

    def _init_geometry(self) -> None:
        draw_features_2d(self.ax_geo, torch.zeros(2, self.n_features))
        self._lines = self.ax_geo.lines
        self._dots = self.ax_geo.collections[0]
        self.ax_geo.set_title("feature directions", fontsize=self.FONT)

    def _draw_geometry(self, w: np.ndarray, colours: np.ndarray) -> None:
        for i, line in enumerate(self._lines):
            line.set_data([0, w[0, i]], [0, w[1, i]])
            line.set_color(colours[i])
        self._dots.set_offsets(w.T)
        self._dots.set_facecolors(colours)

    def update(self, W: Float[Tensor, "d_hidden feats"], importance: Float[Tensor, "feats"],
               logged_steps: Sequence[int], loss_history: Float[Tensor, "n_logged"], *, title: str = "") -> Figure:
        """Redraw with new weights and loss curve; returns the (same) figure."""
        if tuple(W.shape) != (self.d_hidden, self.n_features):
            raise ValueError(f"W must have shape {(self.d_hidden, self.n_features)}, got {tuple(W.shape)}")
        colours = importance_colours(importance, self.n_features)
        self._draw_geometry(to_numpy(W), colours)
        D = to_numpy(feature_dimensionality(W[None].float())[0])
        for bar, value, colour in zip(self._bars, D, colours):
            bar.set_width(value)
            bar.set_color(colour)
        self._set_loss(logged_steps, loss_history, title)
        return self.figure


class GeometryFrame3D(GeometryFrame):
    """The explorer's figure for ``m = 3``: the directions drawn in a 3-D axes."""

    projection: ClassVar[str | None] = "3d"

    def _init_geometry(self) -> None:
        ax = self.ax_geo
        self._lines = [ax.plot([0, 0], [0, 0], [0, 0], lw=1.6)[0] for _ in range(self.n_features)]
        self._dots = ax.scatter(np.zeros(self.n_features), np.zeros(self.n_features), np.zeros(self.n_features),
                                s=18, depthshade=False)
        for setter in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
            setter(-1.1, 1.1)
        ax.set_box_aspect((1, 1, 1))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_zticks([])
        ax.view_init(elev=20, azim=35)
        ax.set_title("feature directions (3-D)", fontsize=self.FONT)

    def _draw_geometry(self, w: np.ndarray, colours: np.ndarray) -> None:
        for i, line in enumerate(self._lines):
            line.set_data_3d([0, w[0, i]], [0, w[1, i]], [0, w[2, i]])
            line.set_color(colours[i])
        self._dots._offsets3d = (w[0], w[1], w[2])
        self._dots.set_facecolors(colours)
        self._dots.set_edgecolors(colours)


class GeometryExplorer(ToyModelExplorer):
    """Sliders for density, feature 0's importance (the others have 1), ``n`` and ``m`` (2 or 3).

    Arguments as :class:`~superpos_lib.ui.ToyModelExplorer`; initial control values by name,
    e.g. ``GeometryExplorer(first_importance=8, density=0.05)``.
    """

    defaults: ClassVar[dict[str, Any]] = {"density": 0.05, "first_importance": 1.0, "n_features": 5, "d_hidden": 2}
    frame_class = GeometryFrame

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("max_features", 12)
        kwargs.setdefault("max_hidden", 3)
        super().__init__(**kwargs)
        self.controls["d_hidden"].min = 2

    def bounds(self, name: str, settings: dict[str, Any]) -> tuple[float, float] | None:
        if name == "d_hidden":
            return (2, 3)
        return super().bounds(name, settings)

    def model_config(self, s: dict[str, Any]) -> ToyModelConfig:
        return ToyModelConfig(s["n_features"], s["d_hidden"])

    def frame_for(self, s: dict[str, Any]):
        key = (s["n_features"], s["d_hidden"])
        if key not in self._frames:
            cls = GeometryFrame3D if s["d_hidden"] == 3 else GeometryFrame
            self._frames[key] = cls(*key, self.train_config.steps)
        return self._frames[key]
