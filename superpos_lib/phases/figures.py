"""Figures of chapter 5, "Phase changes and learning dynamics" (TMS §5; Chen et al. 2023).

Phase diagrams (analytic and trained, side by side), the candidate solutions' losses against
density, the phase explorer's figure, and one model's path through the k-gons.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import torch
from jaxtyping import Float
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from .. import metrics
from ..ui import Frame, to_numpy
from ..ui.drawers import draw_features_2d
from .diagram import SOLUTIONS, PhaseGrid, candidate_losses, phase_boundary
from .kgons import Dwell, Trajectory
from .optimum import ExactOptimum

__all__ = ["PHASE_COLOURS", "draw_phase_diagram", "plot_phase_diagrams", "plot_candidate_losses", "PhaseFrame",
           "plot_kgon_dynamics"]

PHASE_COLOURS = ("#d9d9d9", "#4c72b0", "#dd5555")  # not represented, dedicated dimension, superposition
FONT = 9
"""Smallest text of the static figures, in points: 9 pt as displayed, since they are shown at
100 dpi and no wider than the page (6.72 inches)."""


def _phase_cmap():
    return matplotlib.colors.ListedColormap(PHASE_COLOURS)


def draw_phase_diagram(ax: Axes, r: Tensor, p: Tensor, labels: Tensor, *, boundary: bool = False,
                       fontsize: float = 9) -> None:
    """Colour each ``(r, p)`` cell by its solution (grey: not represented, blue: dedicated, red:
    superposed); axis labels and ticks at ``fontsize`` points."""
    r_np, p_np, lab = to_numpy(r), to_numpy(p), to_numpy(labels)
    if lab.shape != (len(p_np), len(r_np)):
        raise ValueError(f"labels must be (len(p), len(r)) = {(len(p_np), len(r_np))}, got {lab.shape}")

    def edges(v):
        lv = np.log(v)
        mid = (lv[1:] + lv[:-1]) / 2
        return np.exp(np.concatenate([[2 * lv[0] - mid[0]], mid, [2 * lv[-1] - mid[-1]]]))

    ax.pcolormesh(edges(r_np), edges(p_np), lab, cmap=_phase_cmap(), vmin=-0.5, vmax=2.5, shading="flat")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if boundary:
        rr = np.geomspace(r_np.min(), r_np.max(), 200)
        ax.plot(rr, to_numpy(phase_boundary(torch.as_tensor(rr))), color="k", lw=1.2, ls="--", label="p = 4r/(5r+2)")
    ax.set_xlabel("relative importance r of the extra feature", fontsize=fontsize)
    ax.set_ylabel("feature density p", fontsize=fontsize)
    ax.tick_params(labelsize=fontsize)


def _phase_legend(fig: Figure) -> None:
    handles = [matplotlib.patches.Patch(color=c, label=s) for c, s in zip(PHASE_COLOURS, SOLUTIONS)]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=FONT, title="the extra feature:",
               title_fontsize=FONT, frameon=False)


def plot_phase_diagrams(grid: PhaseGrid, *, boundary: bool = True, title: str = "") -> Figure:
    """The analytic and the trained phase diagram of a :class:`~superpos_lib.phases.PhaseGrid`, side by side.

    Cells where the trained models disagree with the analysis are marked with a dot.
    """
    fig = Figure(figsize=(6.72, 4.0), layout="constrained")
    ax_a, ax_e = fig.subplots(1, 2, sharey=True)
    draw_phase_diagram(ax_a, grid.r, grid.p, grid.analytic, boundary=boundary)
    draw_phase_diagram(ax_e, grid.r, grid.p, grid.labels, boundary=boundary)
    ax_a.set_title("analytic: the lowest-loss candidate", fontsize=FONT)
    ax_e.set_title(f"trained: {grid.n_models} models\n({grid.n_seeds} seeds per cell)", fontsize=FONT)
    rr, pp = np.meshgrid(to_numpy(grid.r), to_numpy(grid.p))
    wrong = to_numpy(grid.labels) != to_numpy(grid.analytic)
    dots = ax_e.scatter(rr[wrong], pp[wrong], s=5, color="k", label="right: trained ≠ analytic")
    ax_e.set_ylabel("")
    for ax in (ax_a, ax_e):
        ax.set_xlabel("importance r of the extra feature", fontsize=FONT)
    # one legend, on the analytic diagram: on the trained one it would hide disagreements
    handles = ax_a.get_legend_handles_labels()[0] + ([dots] if wrong.any() else [])
    if handles:
        ax_a.legend(handles=handles, fontsize=FONT, loc="lower left")
    if title:
        fig.suptitle(title, fontsize=FONT + 1)
    _phase_legend(fig)
    return fig


def plot_candidate_losses(r: float, p: Tensor, *, trained: Tensor | None = None,
                          optimum: ExactOptimum | None = None) -> Figure:
    """The three candidate losses of the ``n = 2, m = 1`` model against density at one ``r``,
    with the trained models' losses (dots) if given.

    With an :class:`~superpos_lib.phases.ExactOptimum` (computed at this ``r``) the figure gets
    its loss as a line, and a second panel with every loss divided by the best candidate's;
    the optimum is drawn solid where it is a symmetric pair and dash-dotted where it is not.
    """
    p_np = to_numpy(p)
    losses = to_numpy(candidate_losses(r, torch.as_tensor(p_np, dtype=torch.float64)))
    fig = Figure(figsize=(5.4, 3.2) if optimum is None else (6.72, 4.2), layout="constrained")
    axes = [fig.add_subplot()] if optimum is None else list(fig.subplots(1, 2))
    best = losses.min(-1, keepdims=True)
    opt_curves = []
    if optimum is not None:
        if not torch.allclose(optimum.r.double(), torch.tensor(float(r), dtype=torch.float64)):
            raise ValueError(f"optimum must be computed at r = {r:g}")
        op = to_numpy(optimum.p).ravel()
        o_loss = to_numpy(optimum.loss).ravel()
        o_best = to_numpy(candidate_losses(r, torch.as_tensor(op, dtype=torch.float64))).min(-1)
        sym = to_numpy(optimum.symmetric).ravel()
        opt_curves = [(o_loss, sym), (o_loss / o_best, sym)]
    for i, ax in enumerate(axes):
        scale = 1 if i == 0 else best
        for k, (name, colour) in enumerate(zip(SOLUTIONS, PHASE_COLOURS)):
            # not represented (k = 0) dashed on top: at r = 1 it coincides with the dedicated dimension
            ax.plot(p_np, losses[:, k] / scale[..., 0] if i else losses[:, k], color=colour if k else "0.45",
                    lw=1.6 if k == 0 else 2, ls="--" if k == 0 else "-", zorder=2.5 if k == 0 else 2, label=name)
        if opt_curves:
            y, sym = opt_curves[i]
            ax.plot(op, np.where(sym, y, np.nan), color="k", lw=1.3, label="exact optimum: symmetric pair")
            ax.plot(op, np.where(sym, np.nan, y), color="k", lw=1.3, ls="-.", label="exact optimum: lopsided pair")
        if trained is not None:
            t = to_numpy(trained)
            ax.plot(p_np, t / best[:, 0] if i else t, "k.", ms=5, label="trained (best seed)")
        ax.axvline(float(phase_boundary(r)), color="k", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("feature density p", fontsize=FONT)
        ax.tick_params(labelsize=FONT)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("loss", fontsize=FONT)
    axes[0].set_title(f"candidate solutions at r = {r:g}", fontsize=FONT)
    if optimum is None:
        axes[0].legend(fontsize=FONT)
    else:
        axes[1].axhline(1.0, color="0.8", lw=0.6, zorder=0)
        axes[1].set_ylim(0.86, 1.1)
        axes[1].set_ylabel("loss / best candidate's loss", fontsize=FONT)
        axes[1].set_title("relative to the best candidate", fontsize=FONT)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=FONT, frameon=False)
    return fig


class PhaseFrame(Frame):
    """The phase explorer's figure: where ``(r, p)`` sits on the analytic diagram, what the
    trained model does, and its loss against the three candidates."""

    def __init__(self, r_grid: Tensor, p_grid: Tensor, analytic: Tensor):
        fig = self._new_figure(2.8)
        self.ax_dia, self.ax_w, self.ax_bar = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.25, 0.75, 1.1]})
        self.figure = fig
        draw_phase_diagram(self.ax_dia, r_grid, p_grid, analytic, boundary=True, fontsize=self.FONT)
        self.ax_dia.set_xlabel("relative importance r", fontsize=self.FONT)
        self.ax_dia.set_ylabel("density p", fontsize=self.FONT)
        for axis in (self.ax_dia.xaxis, self.ax_dia.yaxis):  # plain text: mathtext ticks are slow to redraw
            axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        (self._marker,) = self.ax_dia.plot([1], [0.1], "o", ms=9, mec="k", mew=1.5, clip_on=False)  # whole at a corner
        self.ax_dia.set_title("analytic phase diagram", fontsize=self.FONT)
        self._w = self.ax_w.bar([0, 1], [0, 0], color=["0.45", "C1"])
        self.ax_w.axhline(0, color="0.3", lw=0.6)
        self.ax_w.set_xticks([0, 1], ["W₀", "W₁"])
        self.ax_w.set_xlabel("importance 1, r", fontsize=self.FONT)
        self.ax_w.set_ylim(-1.5, 1.5)
        self.ax_w.tick_params(labelsize=self.FONT)
        self.ax_w.set_title("trained weights", fontsize=self.FONT)
        # horizontal bars: the candidates' names fit beside them, not under them
        self._bars = self.ax_bar.barh(np.arange(3), np.zeros(3), color=PHASE_COLOURS, edgecolor="0.3", height=0.6)
        self._trained = self.ax_bar.axvline(0, color="k", lw=1.5, ls="--")
        self.ax_bar.set_yticks(np.arange(3), [s.replace(" ", "\n", 1) for s in SOLUTIONS])
        self.ax_bar.invert_yaxis()
        self.ax_bar.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=3))
        self.ax_bar.tick_params(labelsize=self.FONT)
        self.ax_bar.set_xlabel("dashed: trained model", fontsize=self.FONT)
        self.ax_bar.set_title("loss of each candidate", fontsize=self.FONT)
        self._init_title()
        self._freeze_layout()

    def update(self, r: float, p: float, W: Float[Tensor, "1 2"], label: int, candidates: Tensor, loss: float,
               *, title: str = "") -> Figure:
        """Redraw for the model trained at ``(r, p)``."""
        if tuple(W.shape) != (1, 2) or candidates.shape != (3,):
            raise ValueError(f"W must be (1, 2) and candidates (3,), got {tuple(W.shape)} and {tuple(candidates.shape)}")
        self._marker.set_data([r], [p])
        self._marker.set_markerfacecolor(PHASE_COLOURS[label])
        for bar, v in zip(self._w, to_numpy(W)[0]):
            bar.set_height(v)
        c = to_numpy(candidates)
        for bar, v in zip(self._bars, c):
            bar.set_width(v)
        self._trained.set_xdata([loss, loss])
        self.ax_bar.set_xlim(0, max(c.max(), loss) * 1.15)
        self._title.set_text(title)
        return self.figure


def plot_kgon_dynamics(traj: Trajectory, instance: int, levels: dict[int, float], *, dwell: Dwell | None = None,
                       fractions: tuple[float, ...] = (0.3, 0.6, 0.9, 0.99)) -> Figure:
    """One model's training on one-hot data, on a log-step axis: its exact loss with the
    k-gon losses marked (``k = 0``: the origin) and, given its :class:`Dwell`, the smooth
    exponential control; its feature norms; and its feature directions when the loss has
    fallen each of ``fractions`` of the way from its first value to its last, and at the end."""
    if not 0 <= instance < traj.loss.shape[1]:
        raise ValueError(f"instance must be in [0, {traj.loss.shape[1]}), got {instance!r}")
    keep = to_numpy(traj.steps) > 0                                   # a log axis has no step 0
    steps = to_numpy(traj.steps)[keep]
    loss_all = to_numpy(traj.loss[:, instance])
    loss = loss_all[keep]
    norms = np.linalg.norm(to_numpy(traj.W[:, instance]), axis=1)[keep]   # (T, feats)
    fig = Figure(figsize=(6.72, 5.6), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.5, 1])
    ax_loss, ax_norm = top.subplots(1, 2)
    ax_loss.plot(steps, loss, color="C0", lw=1.6, label="exact loss")
    if dwell is not None:
        start, end = float(loss_all[0]), float(loss_all[-1])
        control = end + (start - end) * np.exp(-(steps - float(traj.steps[0])) / dwell.tau)
        ax_loss.plot(steps, control, color="0.4", lw=1.1, ls="--", label="smooth control")
        ax_loss.legend(fontsize=9, loc="lower left")
    for k, v in sorted(levels.items()):
        ax_loss.axhline(v, color="0.6", lw=0.7, ls=":")
        ax_loss.annotate("origin" if k == 0 else f"{k}-gon", xy=(1, v), xycoords=("axes fraction", "data"),
                         xytext=(3, 0), textcoords="offset points", va="center", fontsize=9, color="0.3")
    for ax in (ax_loss, ax_norm):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step", fontsize=9)
        ax.tick_params(labelsize=9)
    ax_loss.set_ylabel("exact loss", fontsize=9)
    ax_loss.set_title("loss and the k-gon losses", fontsize=10)
    for i in range(norms.shape[1]):
        ax_norm.plot(steps, norms[:, i], lw=1.2)
    ax_norm.axhline(metrics.REPRESENTED, color="0.7", ls="--", lw=0.6)
    ax_norm.set_ylim(max(norms.min(), 1e-4) / 2, norms.max() * 1.5)
    ax_norm.set_ylabel("‖Wᵢ‖", fontsize=9)
    ax_norm.set_title("feature norms", fontsize=10)
    drop = loss_all[0] - loss_all[-1]
    picks = [int(np.argmax(loss_all <= loss_all[0] - f * drop)) for f in fractions] + [len(loss_all) - 1]
    picks = sorted(set(picks))
    axes = bottom.subplots(1, len(picks))
    for ax, t in zip(np.atleast_1d(axes), picks):
        draw_features_2d(ax, traj.W[t, instance], lim=1.6)
        ax.set_title(f"step {int(traj.steps[t]):,}\nloss {loss_all[t]:.4f}", fontsize=9)
        for a in (ax_loss, ax_norm):
            a.axvline(max(float(traj.steps[t]), float(steps[0])), color="0.85", lw=0.6, zorder=0)
    return fig
