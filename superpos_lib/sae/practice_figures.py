"""Figures of chapter 10, "SAEs in practice": the scorecard of every variant, the L0 sweep,
and what absorption looks like in a dictionary. One colour per variant
(:data:`~superpos_lib.sae.figures.SAE_COLOURS`); at most 6.5 inches wide, text at least 9 pt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from ..ui import to_numpy
from .data import GroundTruthData
from .figures import SAE_COLOURS
from .metrics import cosine_matrix
from .practice import FeatureQuality

__all__ = ["KIND_LABELS", "plot_scorecard", "plot_frontiers", "plot_l0_sweep", "plot_absorption_map"]

KIND_LABELS = {"relu_l1": "ReLU + L1", "topk": "TopK", "jumprelu": "JumpReLU", "gated": "gated",
               "batchtopk": "BatchTopK", "matryoshka": "Matryoshka"}
"""How the figures name each variant."""

SCORES = {"fvu": ("FVU", "lower is better"), "absorption": ("absorption rate", "lower is better"),
          "f1": ("latent F1", "higher is better"), "mcc": ("MCC", "higher is better")}


def plot_scorecard(results: Mapping[str, FeatureQuality], scores: Sequence[str] = ("fvu", "absorption", "f1")) -> Figure:
    """One panel per score, one row per variant: every seed as a dot, their mean as a bar."""
    if not results:
        raise ValueError("results is empty")
    bad = [s for s in scores if s not in SCORES]
    if bad or not scores:
        raise ValueError(f"scores must be some of {list(SCORES)}, got {list(scores)}")
    kinds = list(results)
    fig = Figure(figsize=(6.5, 0.42 * len(kinds) + 1.1), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(scores), sharey=True))
    y = np.arange(len(kinds))[::-1]  # the first kind on top
    for ax, score in zip(axes, scores):
        for i, kind in zip(y, kinds):
            v = to_numpy(getattr(results[kind], score))
            colour = SAE_COLOURS.get(kind, "0.4")
            ax.barh(i, float(np.nanmean(v)), color=colour, alpha=0.35, height=0.7)
            ax.plot(v, np.full(len(v), i), "o", color=colour, ms=4)
        name, hint = SCORES[score]
        ax.set_title(f"{name}\n({hint})", fontsize=10)
        ax.tick_params(axis="x", labelsize=9)
        ax.set_xlim(left=0)
    axes[0].set_yticks(y, [KIND_LABELS.get(k, k) for k in kinds], fontsize=9)
    return fig


def plot_frontiers(results: Mapping[str, FeatureQuality], scores: Sequence[str] = ("fvu", "absorption", "f1")) -> Figure:
    """One panel per score against L0, one line per variant through its sparsity sweep
    (:func:`~superpos_lib.sae.practice.sparsity_sweep`), points in order of L0."""
    if not results:
        raise ValueError("results is empty")
    bad = [s for s in scores if s not in SCORES]
    if bad or not scores:
        raise ValueError(f"scores must be some of {list(SCORES)}, got {list(scores)}")
    fig = Figure(figsize=(6.5, 3.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(scores), sharex=True))
    for ax, score in zip(axes, scores):
        for kind, q in results.items():
            l0 = to_numpy(q.l0)
            order = np.argsort(l0)
            ax.plot(l0[order], to_numpy(getattr(q, score))[order], "o-", ms=3.5, color=SAE_COLOURS.get(kind, "0.4"),
                    label=KIND_LABELS.get(kind, kind))
        name, hint = SCORES[score]
        ax.set_title(f"{name}\n({hint})", fontsize=10)
        ax.set_xlabel("L0", fontsize=10)
        ax.tick_params(labelsize=9)
        ax.set_ylim(bottom=0)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=min(3, len(results)),
               fontsize=9, frameon=False)
    return fig


def plot_l0_sweep(ks: Sequence[float], quality: FeatureQuality, true_l0: float) -> Figure:
    """FVU (left) and feature quality, latent F1 and MCC (right), against the k an SAE was trained
    with; a dotted line at the data's true L0."""
    k = np.asarray([float(v) for v in ks])
    if k.ndim != 1 or len(k) != len(quality.l0):
        raise ValueError(f"ks must give one k per SAE of quality ({len(quality.l0)}), got {len(k)}")
    fig = Figure(figsize=(6.5, 2.9), layout="constrained")
    ax_fvu, ax_q = fig.subplots(1, 2)
    ax_fvu.plot(k, to_numpy(quality.fvu), "o-", color="C5")
    ax_fvu.set_ylabel("FVU", fontsize=10)
    ax_fvu.set_title("reconstruction keeps improving", fontsize=10)
    ax_q.plot(k, to_numpy(quality.f1), "o-", color="C3", label="latent F1")
    ax_q.plot(k, to_numpy(quality.mcc), "s--", color="0.35", label="MCC", ms=4)
    ax_q.set_title("feature quality does not", fontsize=10)
    ax_q.set_ylim(0, 1.02)
    ax_q.legend(fontsize=9, loc="lower left")
    for ax in (ax_fvu, ax_q):
        ax.set_xscale("log")
        ax.set_xticks(k, [f"{v:g}" for v in k], fontsize=9)
        ax.minorticks_off()
        ax.tick_params(axis="y", labelsize=9)
        ax.axvline(true_l0, color="0.5", ls=":", lw=1)
        ax.set_xlabel("k (mean active latents)", fontsize=10)
    ax_fvu.text(true_l0 * 1.06, ax_fvu.get_ylim()[1] * 0.95, "true L0", fontsize=9, va="top", color="0.4")
    return fig


def plot_absorption_map(decoders: Mapping[str, Tensor], data: GroundTruthData, parents: Sequence[int] = (0, 1)) -> Figure:
    """For each SAE (name → decoder ``(d_sae, d_in)``): the cosine of a few parents and their
    children (rows) with the latent nearest to each of them (columns). A clean dictionary is a
    diagonal; an absorbing one has child latents that also point along the parent."""
    h = data.hierarchy
    if h is None:
        raise ValueError("data has no hierarchy: there is nothing to absorb")
    if not decoders:
        raise ValueError("decoders is empty")
    rows, labels = [], []
    for p in parents:
        if not 0 <= p < h.n_parents:
            raise ValueError(f"parents must be in [0, {h.n_parents}), got {list(parents)}")
        rows.append(p)
        labels.append(f"parent {p}")
        for j, c in enumerate(h.child_features(p)):
            rows.append(c)
            labels.append(f"  child {p}.{j + 1}")
    true = data.features[rows].cpu()
    fig = Figure(figsize=(6.5, 3.1), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(decoders)))
    im = None
    for ax, (name, W) in zip(axes, decoders.items()):
        cos = cosine_matrix(true, W)  # (rows, d_sae)
        nearest = cos.argmax(1)
        shown = to_numpy(cosine_matrix(true, W[nearest]))
        im = ax.imshow(shown, vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_title(KIND_LABELS.get(name, name), fontsize=10)
        ax.set_xticks(range(len(rows)), [str(i + 1) for i in range(len(rows))], fontsize=9)
        ax.set_xlabel("the latent nearest to row …", fontsize=9)
        ax.set_yticks(range(len(rows)), labels if ax is axes[0] else [""] * len(rows), fontsize=9)
    fig.colorbar(im, ax=list(axes), shrink=0.8).ax.tick_params(labelsize=9)
    return fig
