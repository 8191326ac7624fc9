"""Shared test settings: small, deterministic, quiet."""

import contextlib
import os
import re

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
os.environ.setdefault("SUPERPOS_PROGRESS", "0")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@contextlib.contextmanager
def bad_input(name: str):
    """Expect the error a user gets for a bad argument ``name``: a ``ValueError`` whose message
    names it as a word (``"d_sae"`` matches "d_sae must be ...", not "d_sae_max", nor a type
    checker's message quoting a signature).

    The suite runs the library under a run-time shape and type checker (jaxtyping + beartype,
    ``pyproject.toml``), which would catch a wrongly shaped argument first; learners run none,
    so inside this block the checker is off and the library's own validation answers.
    ``tests/test_typecheck.py`` proves the checker is on everywhere else.
    """
    import jaxtyping

    before = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        with pytest.raises(ValueError, match=rf"(?<![\w.]){re.escape(name)}(?!\w)") as info:
            yield info
    finally:
        jaxtyping.config.update("jaxtyping_disable", before)


# The static site shows a chapter's figure at most this wide (CSS px; measured in Chromium at a
# 1,280-px window), and the notebooks draw static figures at matplotlib's 100 dpi.
SITE_FIGURE_PX = 672
MIN_TEXT_PX = 12  # 9 pt at the browser's 96 px per inch


def displayed_text_px(fig, *, dpi: float = 100) -> dict[str, float]:
    """Each visible text of a matplotlib figure and its size in CSS px as the site shows it."""
    from matplotlib.text import Text

    shrink = min(1.0, SITE_FIGURE_PX / (fig.get_size_inches()[0] * dpi))
    return {
        t.get_text(): t.get_fontsize() / 72 * dpi * shrink
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip()
    }


def assert_readable(fig, *, dpi: float = 100, min_px: float = MIN_TEXT_PX) -> None:
    """Every text on ``fig`` is at least ``min_px`` tall on the site (9 pt by default)."""
    fig.canvas.draw()  # tick labels exist only once drawn
    small = {text: round(px, 1) for text, px in displayed_text_px(fig, dpi=dpi).items() if px < min_px - 1e-6}
    assert not small, f"text below {min_px} px as displayed: {small}"


def drawn_texts(fig, *, dpi: float = 100) -> list[tuple[object, object]]:
    """Every non-empty text matplotlib draws when saving ``fig`` at ``dpi``, with its extent in
    that image's pixels (tick labels of ticks outside the view are not drawn, so not listed)."""
    import io
    from unittest import mock

    from matplotlib.text import Text

    drawn, original = {}, Text.draw

    def draw(self, renderer):
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            drawn[id(self)] = (self, self.get_window_extent(renderer))

    with mock.patch.object(Text, "draw", draw):
        fig.savefig(io.BytesIO(), format="png", dpi=dpi)
    return list(drawn.values())


def _overlap(a, b, tol: float) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tol and min(a.y1, b.y1) - max(a.y0, b.y0) > tol


def assert_laid_out(fig, *, dpi: float = 100, tol: float = 1.0) -> None:
    """Nothing of ``fig`` is cut off or drawn over something else, as saved at ``dpi``: every text
    lies inside the figure; no two texts overlap; no text overlaps an axes other than its own
    (titles, tick labels, colour-bar labels, legends); no two axes overlap (colour bars included).
    ``tol``: pixels of overlap tolerated (touching edges)."""
    from matplotlib.transforms import Affine2D

    width, height = fig.get_size_inches() * dpi
    texts = drawn_texts(fig, dpi=dpi)
    owner = {}
    for ax in fig.axes:
        for legend in [ax.get_legend()] if ax.get_legend() else []:
            for t in legend.texts:
                owner[id(t)] = ax
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    scale = Affine2D().scale(dpi / fig.dpi)  # the figure's own dpi to the image's
    boxes = {ax: ax.get_window_extent().transformed(scale) for ax in axes}  # subfigures' axes too
    problems = []
    for t, box in texts:
        name = repr(t.get_text())
        if box.x0 < -tol or box.y0 < -tol or box.x1 > width + tol or box.y1 > height + tol:
            problems.append(f"{name} is cut off ({box.x0:.0f}..{box.x1:.0f} x {box.y0:.0f}..{box.y1:.0f} "
                            f"in {width:.0f} x {height:.0f} px)")
        mine = owner.get(id(t), t.axes)
        problems += [f"{name} overlaps the axes of {ax.get_title() or ax.get_label()!r}"
                     for ax, ab in boxes.items() if ax is not mine and _overlap(box, ab, tol)]
    for i, (t, box) in enumerate(texts):
        problems += [f"{t.get_text()!r} overlaps {u.get_text()!r}" for u, other in texts[i + 1:] if _overlap(box, other, tol)]
    for i, a in enumerate(axes):
        problems += [f"axes {a.get_title() or a.get_label()!r} overlaps {b.get_title() or b.get_label()!r}"
                     for b in axes[i + 1:] if _overlap(boxes[a], boxes[b], tol)]
    assert not problems, "\n".join(problems)


def midpoint_loss(W, b, r: float, p: float, n: int = 400) -> float:
    """The n = 2, m = 1 toy model's expected loss (mean over the two features) by the midpoint
    rule over each presence pattern: an integration scheme independent of the library's."""
    u = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    imp = torch.tensor([1.0, r], dtype=torch.float64)
    W = torch.as_tensor(W, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)

    def err(x):  # x: (..., 2)
        out = torch.relu(x @ (W[:, None] * W[None, :]) + b)
        return ((x - out) ** 2 * imp).sum(-1)

    zero = torch.zeros(2, dtype=torch.float64)
    x0 = torch.stack([u, torch.zeros_like(u)], -1)
    x1 = torch.stack([torch.zeros_like(u), u], -1)
    a, c = torch.meshgrid(u, u, indexing="ij")
    both = torch.stack([a, c], -1)
    total = (1 - p) ** 2 * err(zero) + p * (1 - p) * (err(x0).mean() + err(x1).mean()) + p**2 * err(both).mean()
    return float(total) / 2
