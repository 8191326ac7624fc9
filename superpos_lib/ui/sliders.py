"""Kernel-free interactivity for the static site: plotly figures with a slider over frames.

A reader of the static site has no kernel to retrain anything, so the chapters precompute a
sweep (one model per density, say) and a plotly slider steps through it in the browser. These
helpers build that slider; the figure builders live with their topics.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["frame_slider", "check_sweep"]


def check_sweep(labels: Sequence[str], active: int, n_frames: int) -> None:
    """``ValueError`` unless there is one label per frame and ``active`` indexes a frame."""
    if len(labels) != n_frames:
        raise ValueError(f"labels has {len(labels)} entries for {n_frames} frames")
    if isinstance(active, bool) or not isinstance(active, int) or not 0 <= active < n_frames:
        raise ValueError(f"active must be an integer in [0, {n_frames}), got {active!r}")


def frame_slider(labels: Sequence[str], active: int = 0, *, prefix: str = "") -> dict:
    """A plotly slider whose k-th step shows frame ``str(k)`` at once (no animation)."""
    check_sweep(labels, active, len(labels))
    steps = [
        {"label": label, "method": "animate",
         "args": [[str(k)], {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}]}
        for k, label in enumerate(labels)
    ]
    return {"active": active, "steps": steps, "currentvalue": {"prefix": prefix}, "pad": {"t": 40}}
