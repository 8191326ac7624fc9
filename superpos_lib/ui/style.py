"""The book's figure conventions, shared by every chapter's figures (as in TMS).

* feature colour = importance: yellow most important, purple least (``viridis``);
* ``WᵀW`` in red-blue from -1 to 1;
* norm bars coloured by superposition: dark when the feature has a dimension of its own,
  bright when other features interfere with it (``plasma``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib
import numpy as np
from torch import Tensor

__all__ = [
    "IMPORTANCE_CMAP",
    "SUPERPOSITION_CMAP",
    "GRAM_CMAP",
    "to_numpy",
    "importance_colours",
    "superposition_colours",
    "rgb",
    "panel_titles",
]

IMPORTANCE_CMAP = "viridis"
SUPERPOSITION_CMAP = "plasma"
GRAM_CMAP = "RdBu"


def to_numpy(t: Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    """A float numpy copy of a tensor (any device) or array, for drawing."""
    return t.detach().cpu().float().numpy() if isinstance(t, Tensor) else np.asarray(t, dtype=float)


def importance_colours(importance: Tensor | None, n_features: int) -> np.ndarray:
    """RGBA per feature: most important yellow, least purple (uniform importance: one colour)."""
    cmap = matplotlib.colormaps[IMPORTANCE_CMAP]
    if importance is None:
        return np.tile(cmap(0.35), (n_features, 1))
    imp = to_numpy(importance)
    lo, hi = imp.min(), imp.max()
    scaled = np.full(n_features, 0.35) if hi - lo < 1e-12 else 0.1 + 0.85 * (imp - lo) / (hi - lo)
    return cmap(scaled)


def superposition_colours(sup: np.ndarray) -> np.ndarray:
    """RGBA per feature: dark for no superposition, bright from 1 up (the colour bars' scale)."""
    return matplotlib.colormaps[SUPERPOSITION_CMAP](np.clip(sup, 0, 1) * 0.9)


def rgb(colour: Sequence[float] | np.ndarray) -> str:
    """A matplotlib RGB(A) colour as plotly's ``"rgb(r,g,b)"``."""
    r, g, b = (int(round(255 * c)) for c in colour[:3])
    return f"rgb({r},{g},{b})"


def panel_titles(titles: Sequence[str] | None, n: int, *, width: float | None = None, fontsize: float = 9) -> list[str]:
    """One title per panel (empty when ``titles`` is ``None``); ``ValueError`` on a length mismatch.

    Given the panels' ``width`` in inches, each line of a title that would be wider at
    ``fontsize`` points is wrapped at spaces (a title is not cut off by the figure's edge nor
    drawn over its neighbour's).
    """
    if titles is None:
        return [""] * n
    if len(titles) != n:
        raise ValueError(f"titles has {len(titles)} entries for {n} instances")
    if width is None:
        return list(titles)
    chars = max(8, int(width * 72 / (0.6 * fontsize)))  # DejaVu Sans: at most about 0.6 em a character
    return ["\n".join(textwrap.fill(line, chars) for line in title.split("\n")) for title in titles]
