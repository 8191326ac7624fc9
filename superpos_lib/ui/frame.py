"""The base of every explorer's figure: built once, redrawn in place, exported as PNG.

Building a matplotlib figure costs several times more than redrawing one (layout, ticks,
text), so an explorer keeps its :class:`Frame` and calls its ``update`` for every live frame
while a model trains. Frames that show training add the shared loss panel.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from .drawers import draw_loss
from .style import to_numpy

__all__ = ["Frame"]

_LAYOUTS: dict[tuple, list] = {}
"""Each frame class's layout (its axes' positions) per loss-axis range, computed once."""


class Frame:
    """A figure that an explorer redraws in place: PNG export, a title, an optional loss panel.

    Subclasses build :attr:`figure` in ``__init__`` and redraw it in ``update(...)``, which
    returns the figure.
    """

    figure: Figure
    ax_loss: Axes

    DPI = 100
    """Pixels per inch of the exported PNG. Frames are :attr:`WIDTH` inches wide, so the PNG is
    672 px wide, the width of the site's page, where it is shown one to one (as in a kernel's
    explorer, up to its ``image_width``): text of :attr:`FONT` points is then 12.5 px, 9 pt at the
    browser's 96 px per inch."""
    WIDTH = 6.72
    """Every frame's width in inches."""
    FONT = 9
    """The smallest text of a frame, in points."""
    TITLE_FONT = 10
    """The frame's title (:attr:`title`), in points."""
    TITLE_LINES = 1
    """Lines of title the layout leaves room for."""

    def _new_figure(self, height: float) -> Figure:
        """An empty figure :attr:`WIDTH` wide, laid out by :meth:`_freeze_layout` once it is built."""
        return Figure(figsize=(self.WIDTH, height), layout="constrained")

    def _freeze_layout(self) -> None:
        """Lay the built figure out once (constrained layout) and keep that layout for every redraw.

        A live frame then costs no layout, and nothing moves from frame to frame. The title (if
        any) is laid out with :attr:`TITLE_LINES` lines and the loss axis (if any) with its widest
        tick labels. The layout is computed for the first frame of a class and loss-axis range and
        reused for the others: an explorer that builds a frame per shape pays for one layout, not
        one per shape. The loss axis' range (``0 .. total_steps``) is part of the key because it
        sets the step labels: whether a label sits at the right edge ("1000" for 1000 steps, none
        for 150, whose last tick 160 lies outside) and how wide it is, so a layout made for one
        step count can cut off another's last label (a class whose layout depended on anything
        else would need it in the key too).
        """
        key = (type(self), tuple(self.ax_loss.get_xlim()) if hasattr(self, "_loss_line") else None)
        if key in _LAYOUTS:
            for ax, position in zip(self.figure.axes, _LAYOUTS[key]):
                ax.set_position(position)
        else:
            title = getattr(self, "_title", None)
            if title is not None:
                title.set_text("\n".join(["Ag"] * self.TITLE_LINES))
            ylim = self.ax_loss.get_ylim() if hasattr(self, "_loss_line") else None
            if ylim is not None:
                self.ax_loss.set_ylim(1e-5, 1.0)  # the loss axis' widest tick labels
            self.figure.draw_without_rendering()
            if title is not None:
                title.set_text("")
            if ylim is not None and min(ylim) > 0:
                self.ax_loss.set_ylim(ylim)
            _LAYOUTS[key] = [ax.get_position(original=True) for ax in self.figure.axes]
        # no layout engine at all: with one (even "none"), every savefig would draw twice
        with matplotlib.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
            self.figure.set_layout_engine(None)

    def _init_title(self) -> None:
        self._title = self.figure.suptitle("", fontsize=self.TITLE_FONT)

    def _init_loss(self, total_steps: int, title: str = "training loss (lowest-loss seed)") -> None:
        """Set up :attr:`ax_loss` as a log-scale loss curve that :meth:`_set_loss` redraws."""
        draw_loss(self.ax_loss, [], torch.zeros(0), total_steps=total_steps, fontsize=self.FONT)
        self._loss_line = self.ax_loss.lines[0]
        self.ax_loss.set_yscale("log")
        self.ax_loss.yaxis.set_major_locator(matplotlib.ticker.LogLocator(numticks=4))
        self.ax_loss.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        self.ax_loss.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=4))
        # plain-text tick labels: the default log labels are typeset as mathtext, slow to redraw
        self.ax_loss.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.2g}"))
        self.ax_loss.set_title(title, fontsize=self.FONT)
        self._init_title()

    def _set_loss(self, logged_steps: Sequence[int], loss_history: Tensor, title: str) -> None:
        y = to_numpy(loss_history)
        self._loss_line.set_data(list(logged_steps), y)
        positive = y[np.isfinite(y) & (y > 0)]  # a batch with no active feature has loss 0: not on a log axis
        low, high = (positive.min() / 1.3, positive.max() * 1.3) if positive.size else (1e-6, 1.0)
        self.ax_loss.set_ylim(low, high if high > low else low * 10)
        self._title.set_text(title)

    @property
    def title(self) -> str:
        """The figure's title as drawn."""
        return self._title.get_text()

    def png(self, dpi: int | None = None) -> bytes:
        """The current frame as PNG bytes, at :attr:`DPI` unless given.

        Titles stay where they were first placed: matplotlib would otherwise re-measure every
        tick label to place each title on every redraw, a good part of a live frame's cost.
        """
        for ax in self.figure.axes:
            if ax._autotitlepos:
                ax._autotitlepos = False
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=dpi or self.DPI)
        return buf.getvalue()
