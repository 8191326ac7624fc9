"""Figures of chapter 9, "Sparse autoencoders": what an SAE recovers, and at what price.

Decoder directions over the true features (2-D), recovery heatmaps over dictionary size and
sparsity, the L0–FVU trade-off against PCA's, latent-density histograms, feature splitting,
the recovery table, and the SAE explorer's figure. One colour per variant in every figure
(:data:`SAE_COLOURS`). The chapter's figures are at most 6.5 inches wide with text of at least
9 points, so that it stays readable where the page shows them at about that width.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from jaxtyping import Float
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from ..checks import check_number, check_positive_int
from ..ui import Frame, Table, panel_titles, to_numpy
from .metrics import SAEMetrics, density_histogram, recovery

__all__ = [
    "SAE_COLOURS",
    "draw_sae_directions",
    "plot_sae_directions",
    "plot_recovery_heatmaps",
    "plot_l0_fvu_frontier",
    "plot_density_histograms",
    "plot_feature_splitting",
    "recovery_table",
    "SAEFrame",
]

SAE_COLOURS = {"relu_l1": "C0", "topk": "C1", "jumprelu": "C2", "gated": "C3", "batchtopk": "C8", "matryoshka": "C6",
               "pca": "0.45", "ica": "C4"}
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
    t = to_numpy(true_directions / true_directions.norm(dim=1, keepdim=True).clamp(min=1e-12))
    w = to_numpy(W_dec / W_dec.norm(dim=1, keepdim=True).clamp(min=1e-12))
    dead_np = np.zeros(len(w), bool) if dead is None else to_numpy(dead).astype(bool)
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
    *,
    ncols: int | None = None,
) -> Figure:
    """One panel per SAE: its decoder directions over the true feature directions (2-D), in
    rows of ``ncols`` panels (``None``: all in one row)."""
    n = len(W_decs)
    if n == 0:
        raise ValueError("W_decs is empty")
    deads = [None] * n if deads is None else list(deads)
    if len(deads) != n:
        raise ValueError(f"deads has {len(deads)} entries for {n} SAEs")
    ncols = n if ncols is None else check_positive_int(ncols, "ncols")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    titles = panel_titles(titles, n)
    side = min(2.6, 6.4 / ncols)
    fig = Figure(figsize=(side * ncols + 0.1, (side + 0.45) * nrows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax, W, dead, title in zip(axes, W_decs, deads, titles):
        draw_sae_directions(ax, true_directions, W, dead)
        ax.set_title(title, fontsize=10)
    for ax in axes[n:]:
        ax.set_axis_off()
    handles = [matplotlib.lines.Line2D([], [], color="0.75", lw=6, label="true feature"),
               matplotlib.lines.Line2D([], [], color="C2", lw=1.6, label="live latent"),
               matplotlib.lines.Line2D([], [], color="C3", lw=1.4, ls="--", label="dead latent")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=10, frameon=False)
    return fig


def plot_recovery_heatmaps(
    values: dict[str, Tensor],
    dict_sizes: Sequence[int],
    sparsities: Sequence[float],
    *,
    n_features: int | None = None,
    xlabel: str = "L1 coefficient λ",
    vmin: float = 0.0,
) -> Figure:
    """Heatmaps of recovery scores (e.g. MMCS and matched MMCS), dictionary size × sparsity,
    each cell annotated with its value; one colour scale from ``vmin`` to 1 for all."""
    if not values:
        raise ValueError("values is empty")
    check_number(vmin, "vmin", high=1, high_open=True)
    for name, v in values.items():
        if tuple(v.shape) != (len(dict_sizes), len(sparsities)):
            raise ValueError(f"values[{name!r}] must be ({len(dict_sizes)}, {len(sparsities)}), got {tuple(v.shape)}")
    fig = Figure(figsize=(6.5, 3.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(values), sharey=True))
    for k, (ax, (name, v)) in enumerate(zip(axes, values.items())):
        a = to_numpy(v)
        im = ax.imshow(a, cmap="viridis", vmin=vmin, vmax=1.0, origin="lower", aspect="auto")
        light = vmin + 0.6 * (1 - vmin)  # viridis is light above about 60% of its range
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                ax.text(j, i, f"{a[i, j]:.2f}", ha="center", va="center", fontsize=10,
                        color="k" if a[i, j] > light else "w")
        ax.set_xticks(range(len(sparsities)), [f"{s:g}" for s in sparsities])
        ax.set_xlabel(xlabel)
        if k == 0:
            ylabels = [f"{d}" + (f" ({d / n_features:g}×)" if n_features else "") for d in dict_sizes]
            ax.set_yticks(range(len(dict_sizes)), ylabels)
            ax.set_ylabel("dictionary size d_sae")
        ax.set_title(name, fontsize=11)
    fig.colorbar(im, ax=list(axes), shrink=0.9)
    return fig


def plot_l0_fvu_frontier(
    points: dict[str, tuple[Tensor, Tensor]],
    *,
    baselines: dict[str, tuple[float, float]] | None = None,
    dense_fvu: Float[Tensor, "L"] | None = None,
    max_dense_l0: int = 40,
    true_l0: float | None = None,
) -> Figure:
    """The sparsity–reconstruction trade-off: FVU against L0, one line per SAE variant (its
    sparsity sweep), baselines as single points; lower-left is better.

    ``dense_fvu`` (e.g. :func:`~superpos_lib.sae.pca_fvu`) draws the dense baseline: the FVU of
    the best reconstruction from ``L = 1, 2, ...`` numbers per input, up to ``max_dense_l0``.
    """
    if not points:
        raise ValueError("points is empty")
    fig = Figure(figsize=(5.6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for name, (l0, fvu) in points.items():
        order = np.argsort(to_numpy(l0))
        ax.plot(to_numpy(l0)[order], to_numpy(fvu)[order], "o-", color=SAE_COLOURS.get(name, None), label=name, ms=5)
    for name, (l0, fvu) in (baselines or {}).items():
        ax.plot([l0], [fvu], "s", color=SAE_COLOURS.get(name, "0.3"), ms=8, label=name)
    if dense_fvu is not None:
        curve = to_numpy(dense_fvu)[:max_dense_l0]
        keep = curve > 0  # a log axis cannot show an exact reconstruction
        ax.plot(np.arange(1, len(curve) + 1)[keep], curve[keep], "--", color=SAE_COLOURS["pca"],
                label="PCA, top L components")
    if true_l0 is not None:
        ax.axvline(true_l0, color="0.5", ls=":", lw=1, label=f"true L0 ({true_l0:g})")  # named in the legend:
        # a label by the line would sit on the PCA curve, which starts near FVU 1
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("L0 (active latents per input)")
    ax.set_ylabel("FVU (fraction of variance unexplained)")
    ax.legend(fontsize=9)
    return fig


def recovery_table(
    true_directions: Float[Tensor, "feats d_in"],
    *,
    directions: dict[str, Tensor] | None = None,
    saes: dict[str, tuple[Sequence[float], SAEMetrics]] | None = None,
) -> Table:
    """MMCS, matched MMCS, L0, FVU and the rescale factor γ (shrinkage), one row per baseline set
    of ``directions`` (name → rows ``(n, d_in)``) and per SAE instance (``saes``: variant name →
    its sweep's sparsity values and the :class:`~superpos_lib.sae.SAEMetrics` of the sweep,
    evaluated with the true directions)."""
    rows: list[list[object]] = []
    for name, W in (directions or {}).items():
        r = recovery(true_directions, W)
        rows.append([name, float(r.mmcs[0]), float(r.matched_mmcs[0]), None, None, None])
    for kind, (values, ev) in (saes or {}).items():
        if ev.mmcs is None:
            raise ValueError(f"saes[{kind!r}] was evaluated without true_directions: pass them to evaluate()")
        if len(values) != len(ev.l0):
            raise ValueError(f"saes[{kind!r}] has {len(values)} values for {len(ev.l0)} instances")
        for i, v in enumerate(values):
            gamma = None if ev.rescale is None else float(ev.rescale[i])
            rows.append([f"{kind} ({v:g})", float(ev.mmcs[i]), float(ev.matched_mmcs[i]), float(ev.l0[i]),
                         float(ev.fvu[i]), gamma])
    if not rows:
        raise ValueError("give directions or saes: the table has no rows")
    return Table(["method", "MMCS", "matched", "L0", "FVU", "γ"], rows, formats={"L0": ".2f", "γ": ".2f"})


def plot_density_histograms(densities: dict[str, Tensor], *, bins: int = 30, low: float = -5.0) -> Figure:
    """Histograms of each SAE's latent densities on a log scale; dead latents counted apart."""
    if not densities:
        raise ValueError("densities is empty")
    fig = Figure(figsize=(5.6, 3.0), layout="constrained")
    ax = fig.add_subplot()
    for name, dens in densities.items():
        counts, edges, n_dead = density_histogram(dens, bins=bins, low=low)
        ax.stairs(to_numpy(counts), to_numpy(edges), color=SAE_COLOURS.get(name, None), lw=1.6,
                  label=f"{name} ({n_dead} dead)")
    ax.set_xlabel("log₁₀ latent density (fraction of inputs a latent fires on)")
    ax.set_ylabel("latents")
    ax.legend(fontsize=9)
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
    fig = Figure(figsize=(6.5, 3.0), layout="constrained")
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
    a1.legend(fontsize=9)
    a1.set_title("recovery", fontsize=10)
    a2.set_ylabel("latents per feature (cos > 0.9)")
    a2.set_title("extra latents copy features", fontsize=10)
    return fig


class SAEFrame(Frame):
    """The SAE explorer's figure: decoder directions over the true ones, and the training loss;
    a title of two lines (the setting, then the SAE's scores)."""

    TITLE_LINES = 2

    def __init__(self, total_steps: int):
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        fig = self._new_figure(2.9)
        self.ax_dir, self.ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
        self.figure = fig
        self._init_loss(total_steps)
        self.ax_loss.set_title("training loss (shown SAE)", fontsize=self.FONT)
        self._dir_title()
        self._freeze_layout()

    def _dir_title(self) -> None:
        self.ax_dir.set_title("decoder rows over true features", fontsize=self.FONT)
        self.ax_dir.set_xticks([])
        self.ax_dir.set_yticks([])

    def update(self, true_directions: Tensor, W_dec: Tensor, dead: Tensor | None, logged_steps: Sequence[int],
               loss_history: Tensor, *, title: str = "") -> Figure:
        """Redraw for a newly trained SAE."""
        self.ax_dir.clear()
        draw_sae_directions(self.ax_dir, true_directions, W_dec, dead)
        self._dir_title()
        self._set_loss(logged_steps, loss_history, title)
        return self.figure
