"""A kernel-free 3-D viewer of toy models' polytopes (TMS §6, "The Geometry of Superposition").

With ``m = 3`` hidden dimensions a toy model's feature directions ``W_i`` are points in space,
and their convex hull is the polytope the model chose (an octahedron, a square antiprism, ...).
:func:`polytope_viewer` draws one rotatable 3-D scene per model with plotly: it works in a
browser with no kernel, so the static site shows it as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from jaxtyping import Float
from torch import Tensor

from .. import metrics
from ..checks import check_matrix, check_positive_int
from ..ui import rgb, to_numpy
from ..ui.style import SUPERPOSITION_CMAP

__all__ = ["polytope_viewer"]

FONT_PX = 13  # every text of the figure (the site shows plotly figures at their own pixel size)
ROW_PX = 250  # height of one row of scenes
HULL_COLOUR = "rgb(120,150,200)"
# Feature dimensionality D_i on a fixed scale: dark when a feature has a dimension to itself
# (D = 1, no superposition), bright the smaller its share, as the book's superposition colours.
D_TICKS = {0.0: "0", 0.25: "1/4", 1 / 3: "1/3", 0.5: "1/2", 0.75: "3/4", 1.0: "1"}
_SCALE_STEPS = 11


def _d_colourscale() -> list[list]:
    cmap = matplotlib.colormaps[SUPERPOSITION_CMAP]
    return [[d, rgb(cmap(0.9 * (1 - d)))] for d in np.linspace(0, 1, _SCALE_STEPS)]


def _check_model(w: object, name: str) -> Tensor:
    if not isinstance(w, Tensor) or w.ndim != 2 or w.shape[0] != 3 or w.shape[1] < 1:
        raise ValueError(f"{name} must be a (3, n) tensor of feature directions (columns), "
                         f"got {tuple(getattr(w, 'shape', ())) if isinstance(w, Tensor) else type(w).__name__}")
    return check_matrix(w, name)


def _has_volume(tips: np.ndarray) -> bool:
    """Whether points ``(n, 3)`` span a solid (a hull plotly can build: 4+ points, not coplanar)."""
    if len(tips) < 4:
        return False
    s = np.linalg.svd(tips - tips.mean(0), compute_uv=False)
    return bool(s[-1] > 1e-3 * max(s[0], 1e-12))


def polytope_viewer(
    weights: Sequence[Float[Tensor, "3 _feats"]],
    titles: Sequence[str],
    *,
    dimensionality: Sequence[Float[Tensor, "_feats"]] | None = None,
    cols: int = 3,
):
    """Toy models with 3 hidden dimensions as polytopes: one rotatable 3-D scene per model.

    Each feature is a line from the origin to ``W_i`` with a marker at its tip, coloured by its
    dimensionality ``D_i`` on one fixed scale (0 to 1, one shared colour bar); hovering a tip
    reads "feature i · ‖W_i‖ = … · D_i = …". The convex hull of the represented tips
    (``‖W_i‖ > metrics.REPRESENTED``) is a translucent solid that plotly builds in the browser
    (``Mesh3d``, ``alphahull=0``); a model whose represented tips span no solid (fewer than four,
    or coplanar) gets no hull. Every scene has the same cube of space, hidden axes and the same
    camera, so sizes compare across models.

    Args:
        weights: one model's ``W`` each, ``(3, n_k)``: columns are feature directions (``n_k`` may
            differ between models).
        titles: one per model, shown above its scene.
        dimensionality: each model's ``D_i``, ``(n_k,)``; by default computed from ``W``
            (:func:`superpos_lib.metrics.feature_dimensionality`).
        cols: scenes per row.

    Returns:
        A ``plotly.graph_objects.Figure``; per model, in order: the lines, the tips, and (when
        there is one) the hull.
    """
    if isinstance(weights, Tensor) or not isinstance(weights, Sequence) or len(weights) == 0:
        raise ValueError(f"weights must be a non-empty sequence of (3, n) tensors, got {type(weights).__name__}")
    models = [_check_model(w, f"weights[{k}]") for k, w in enumerate(weights)]
    if isinstance(titles, str) or len(titles) != len(models):
        got = repr(titles) if isinstance(titles, str) else f"{len(titles)} entries"
        raise ValueError(f"titles must have one entry per model ({len(models)}), got {got}")
    cols = check_positive_int(cols, "cols")
    if dimensionality is None:
        dims = [metrics.feature_dimensionality(w.detach()[None].float())[0] for w in models]
    else:
        if len(dimensionality) != len(models):
            raise ValueError(f"dimensionality has {len(dimensionality)} entries for {len(models)} models")
        dims = []
        for k, (d, w) in enumerate(zip(dimensionality, models)):
            if not isinstance(d, Tensor) or tuple(d.shape) != (w.shape[1],):
                shape = tuple(d.shape) if isinstance(d, Tensor) else type(d).__name__
                raise ValueError(f"dimensionality[{k}] must have shape ({w.shape[1]},) like weights[{k}], got {shape}")
            dims.append(d)

    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    cols = min(cols, len(models))
    rows = -(-len(models) // cols)
    fig = make_subplots(
        rows=rows, cols=cols, specs=[[{"type": "scene"}] * cols for _ in range(rows)],
        subplot_titles=list(titles), horizontal_spacing=0.02, vertical_spacing=0.12 / rows,
    )
    reach = 1.1 * max(float(w.detach().norm(dim=0).max()) for w in models)
    reach = reach if reach > 1e-6 else 1.0
    scale = _d_colourscale()
    for k, (w, d) in enumerate(zip(models, dims)):
        tips, dk = to_numpy(w).T, to_numpy(d)
        norms = np.linalg.norm(tips, axis=1)
        row, col = k // cols + 1, k % cols + 1
        xs, ys, zs, line_d = [], [], [], []
        for tip, di in zip(tips, dk):
            xs += [0.0, tip[0], None]
            ys += [0.0, tip[1], None]
            zs += [0.0, tip[2], None]
            line_d += [di, di, di]
        colour = {"cmin": 0.0, "cmax": 1.0, "colorscale": scale}
        fig.add_trace(go.Scatter3d(
            x=xs, y=ys, z=zs, mode="lines", line={"width": 5, "color": line_d, **colour},
            hoverinfo="skip", showlegend=False, name="features",
        ), row=row, col=col)
        hover = [f"feature {i} · ‖W<sub>{i}</sub>‖ = {n:.2f} · D<sub>{i}</sub> = {di:.2f}"
                 for i, (n, di) in enumerate(zip(norms, dk))]
        bar = {"title": {"text": "feature dimensionality D<sub>i</sub>", "side": "top", "font": {"size": FONT_PX}}, "orientation": "h",
               "x": 0.5, "xanchor": "center", "y": -0.02, "yanchor": "top", "len": 0.6, "thickness": 12,
               "tickvals": list(D_TICKS), "ticktext": list(D_TICKS.values())}
        fig.add_trace(go.Scatter3d(
            x=tips[:, 0], y=tips[:, 1], z=tips[:, 2], mode="markers", text=hover,
            hovertemplate="%{text}<extra></extra>", showlegend=False, name="tips",
            marker={"size": 6, "color": dk.tolist(), **colour, "showscale": k == 0, "colorbar": bar,
                    "line": {"width": 0}},
        ), row=row, col=col)
        solid = tips[norms > metrics.REPRESENTED]
        if _has_volume(solid):
            fig.add_trace(go.Mesh3d(
                x=solid[:, 0], y=solid[:, 1], z=solid[:, 2], alphahull=0, color=HULL_COLOUR, opacity=0.25,
                flatshading=True, hoverinfo="skip", showlegend=False, name="hull",
            ), row=row, col=col)
    axis = {"range": [-reach, reach], "visible": False, "showbackground": False}
    camera = {"eye": {"x": 1.2, "y": 0.7, "z": 0.55}, "center": {"x": 0, "y": 0, "z": 0}}
    fig.update_scenes(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube", camera=camera, dragmode="turntable")
    fig.update_annotations(font={"size": FONT_PX})
    fig.update_layout(
        height=ROW_PX * rows + 110, margin={"l": 10, "r": 10, "t": 40, "b": 70}, template="plotly_white",
        font={"size": FONT_PX}, showlegend=False,
    )
    return fig
