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


class Frame:
    """A figure that an explorer redraws in place: PNG export, a title, an optional loss panel.

    Subclasses build :attr:`figure` in ``__init__`` and redraw it in ``update(...)``, which
    returns the figure.
    """

    figure: Figure
    ax_loss: Axes

    def _init_title(self) -> None:
        self._title = self.figure.suptitle("", fontsize=10)

    def _init_loss(self, total_steps: int, title: str = "training loss (lowest-loss seed)") -> None:
        """Set up :attr:`ax_loss` as a log-scale loss curve that :meth:`_set_loss` redraws."""
        draw_loss(self.ax_loss, [], torch.zeros(0), total_steps=total_steps)
        self._loss_line = self.ax_loss.lines[0]
        self.ax_loss.set_yscale("log")
        self.ax_loss.yaxis.set_major_locator(matplotlib.ticker.LogLocator(numticks=4))
        self.ax_loss.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        # plain-text tick labels: the default log labels are typeset as mathtext, slow to redraw
        self.ax_loss.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.2g}"))
        self.ax_loss.set_title(title, fontsize=9)
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

    def png(self, dpi: int = 80) -> bytes:
        """The current frame as PNG bytes.

        Titles stay where they were first placed: matplotlib would otherwise re-measure every
        tick label to place each title on every redraw, a good part of a live frame's cost.
        """
        for ax in self.figure.axes:
            if ax._autotitlepos:
                ax._autotitlepos = False
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()
