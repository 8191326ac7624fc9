"""Slide-ready copies of the book's figures, for instructors (the instructor's guide).

:func:`export_figures` writes matplotlib figures as PNG and SVG at slide size: a 16:9 canvas of
13.33 × 7.5 inches (1920 × 1080 pixels at the default 144 dpi). A matplotlib figure is scaled
as a whole to fit the canvas and centred on it, so it looks as it does in the book, only
larger (a figure drawn for the page, at most 6.7 inches wide, comes out about twice as large);
text that would still come out smaller than ``min_font`` points on the slide is enlarged to it.
Plotly figures (the sliders of the static site) are laid out again at the slide's size with
their text scaled the same way, and written as self-contained HTML, which works offline and
keeps the slider; PNG and SVG of a plotly figure need the ``kaleido`` package.

:func:`figures_in` picks the figures out of a notebook's results (IPython's ``Out``), so that
after running a chapter one call exports every figure it showed.

Nothing here changes the figures it is given: font sizes changed for the export are restored.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from ..checks import check_number
from .explorer import Explorer

__all__ = ["SLIDE_INCHES", "export_figures", "figures_in", "has_kaleido", "is_figure"]

SLIDE_INCHES = (40 / 3, 7.5)  # 16:9, PowerPoint's and Google Slides' default slide
CSS_PX_PER_INCH = 96  # plotly lays figures out in CSS pixels
MATPLOTLIB_FORMATS = ("png", "svg")
PLOTLY_IMAGE_FORMATS = ("png", "svg")  # with kaleido
FORMATS = ("png", "svg", "html")


def _plotly_figure_type() -> type | None:
    """plotly's figure base class if plotly is loaded (a plotly figure implies it is)."""
    module = sys.modules.get("plotly.basedatatypes")
    return getattr(module, "BaseFigure", None)


def _is_plotly(obj: object) -> bool:
    base = _plotly_figure_type()
    return base is not None and isinstance(obj, base)


def is_figure(obj: object) -> bool:
    """Whether :func:`export_figures` can write ``obj``: a matplotlib or a plotly figure."""
    return isinstance(obj, Figure) or _is_plotly(obj)


def has_kaleido() -> bool:
    """Whether plotly figures can be written as images here (the ``kaleido`` package)."""
    return importlib.util.find_spec("kaleido") is not None


def _title(fig: object) -> str:
    """A figure's own title: matplotlib's ``suptitle`` or label, plotly's ``layout.title``."""
    if isinstance(fig, Figure):
        sup = fig._suptitle  # Figure.get_suptitle() exists from matplotlib 3.8 only
        return (sup.get_text() if sup is not None else "") or fig.get_label()
    return fig.layout.title.text or ""


def _slug(text: str) -> str:
    """``"1 − S = 0.05: WᵀW"`` -> ``"1-s-0-05-wtw"``: a file name any system accepts."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80].strip("-")


def _named(figures: object) -> list[tuple[str, Any]]:
    """``(file stem, figure)`` pairs: a mapping's keys, else each figure's title, else its place."""
    if is_figure(figures):
        figures = [figures]
    if isinstance(figures, Mapping):
        items = list(figures.items())
        if not all(isinstance(name, str) and _slug(name) for name, _ in items):
            raise ValueError("figures: a mapping's keys must be names with a letter or digit, "
                             f"got {[name for name, _ in items]!r}")
        pairs = [(_slug(name), fig) for name, fig in items]
    elif isinstance(figures, Iterable) and not isinstance(figures, (str, bytes)):
        figs = list(figures)
        width = len(str(len(figs)))
        pairs = [(_slug(_title(f)) if is_figure(f) else "", f) for f in figs]
        pairs = [(stem or f"figure-{k + 1:0{width}d}", f) for k, (stem, f) in enumerate(pairs)]
    else:
        raise ValueError("figures must be a figure, a sequence of figures or a mapping from "  # noqa: TRY004
                         f"names to figures, got {type(figures).__name__}")
    if not pairs:
        raise ValueError("figures is empty: nothing to export")
    bad = [type(f).__name__ for _, f in pairs if not is_figure(f)]
    if bad:
        raise ValueError(f"figures must hold matplotlib or plotly figures, got {', '.join(sorted(set(bad)))}")
    seen: dict[str, int] = {}
    unique = []
    for stem, fig in pairs:  # the same title twice: "loss", "loss-2"
        seen[stem] = seen.get(stem, 0) + 1
        unique.append((stem if seen[stem] == 1 else f"{stem}-{seen[stem]}", fig))
    return unique


def _writable(fig: object, formats: tuple[str, ...]) -> tuple[str, ...]:
    """The formats of ``formats`` that ``fig`` can be written in here."""
    if isinstance(fig, Figure):
        return tuple(f for f in formats if f in MATPLOTLIB_FORMATS)
    return tuple(f for f in formats if f == "html" or has_kaleido())


def _check_formats(formats: object, figures: list[tuple[str, Any]]) -> tuple[str, ...]:
    """``formats`` as a tuple, if every figure can be written in one of them and each is of use."""
    if isinstance(formats, str):
        formats = (formats,)
    if not isinstance(formats, Iterable) or not (formats := tuple(formats)) or not all(
            isinstance(f, str) and f in FORMATS for f in formats):
        raise ValueError(f"formats must be a non-empty sequence of {FORMATS}, got {formats!r}")
    formats = tuple(dict.fromkeys(formats))
    if any(_is_plotly(fig) and not _writable(fig, formats) for _, fig in figures):
        raise ValueError(f"formats: a plotly figure can be written as {formats} only with the kaleido package "
                         "(python -m pip install kaleido), which is not installed; add 'html' to formats")
    if any(isinstance(fig, Figure) and not _writable(fig, formats) for _, fig in figures):
        raise ValueError(f"formats: matplotlib figures are written as {MATPLOTLIB_FORMATS}, got {formats!r}")
    unused = [f for f in formats if not any(f in _writable(fig, formats) for _, fig in figures)]
    if unused:
        raise ValueError(f"formats: no figure here can be written as {unused} ('html' is for plotly figures)")
    return formats


def _check_size(size: object) -> tuple[float, float] | None:
    """The canvas in inches, or ``None`` for each figure's own size."""
    if size == "slide":
        return SLIDE_INCHES
    if size == "native":
        return None
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return (check_number(size[0], "size", low=0, low_open=True),
                check_number(size[1], "size", low=0, low_open=True))
    raise ValueError(f"size must be 'slide', 'native' or (width, height) in inches, got {size!r}")


def _write_matplotlib(fig: Figure, stem: Path, formats: tuple[str, ...], canvas: tuple[float, float] | None,
                      min_font: float, dpi: float) -> list[Path]:
    """Scale ``fig`` as a whole to fit ``canvas`` (centred), enlarge small text, restore it after."""
    width, height = (float(v) for v in fig.get_size_inches())
    canvas_w, canvas_h = canvas or (width, height)
    scale = min(canvas_w / width, canvas_h / height)
    box_w, box_h = canvas_w / scale, canvas_h / scale  # the canvas in the figure's own inches
    x0, y0 = (width - box_w) / 2, (height - box_h) / 2
    box = Bbox.from_bounds(x0, y0, box_w, box_h)
    fig.draw_without_rendering()  # tick labels exist once drawn
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    sizes = [t.get_fontsize() for t in texts]
    paths = []
    try:
        for t, pt in zip(texts, sizes):
            if pt * scale < min_font:
                t.set_fontsize(min_font / scale)
        for fmt in formats:
            path = stem.with_suffix(f".{fmt}")
            if fmt == "png":
                fig.savefig(path, format="png", dpi=dpi * scale, bbox_inches=box, metadata={"Software": None})
            else:
                fig.savefig(path, format="svg", bbox_inches=box, metadata={"Date": None})
                _set_svg_size(path, canvas_w, canvas_h)
            paths.append(path)
    finally:
        for t, pt in zip(texts, sizes):
            t.set_fontsize(pt)
    return paths


def _set_svg_size(path: Path, width_in: float, height_in: float) -> None:
    """Declare the canvas's size in the SVG's root (its viewBox, the drawing, stays)."""
    svg = path.read_text(encoding="utf-8")
    head, sep, rest = svg.partition("<svg ")
    tag, close, body = rest.partition(">")
    tag = re.sub(r'\bwidth="[^"]*"', f'width="{width_in * 72:.2f}pt"', tag, count=1)
    tag = re.sub(r'\bheight="[^"]*"', f'height="{height_in * 72:.2f}pt"', tag, count=1)
    path.write_text(head + sep + tag + close + body, encoding="utf-8")


def _scale_fonts(node: object, factor: float, floor_px: float) -> None:
    """Every ``...font`` dict with a size, in a plotly figure's JSON, times ``factor`` (at least ``floor_px``)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("font") and isinstance(value, dict) and isinstance(value.get("size"), (int, float)):
                value["size"] = max(value["size"] * factor, floor_px)
            _scale_fonts(value, factor, floor_px)
    elif isinstance(node, list):
        for value in node:
            _scale_fonts(value, factor, floor_px)


def _write_plotly(fig: Any, stem: Path, formats: tuple[str, ...], canvas: tuple[float, float] | None,
                  min_font: float, dpi: float) -> list[Path]:
    """Lay a copy of ``fig`` out at the canvas's size with its text scaled; HTML, or images with kaleido."""
    import plotly.graph_objects as go

    spec = fig.to_dict()
    layout = spec.setdefault("layout", {})
    template = fig.layout.template
    template_font = template.layout.font.size if template is not None and template.layout else None
    width, height = layout.get("width") or 700, layout.get("height") or 450  # plotly.js's defaults
    canvas_px = (width, height) if canvas is None else tuple(v * CSS_PX_PER_INCH for v in canvas)
    scale = min(canvas_px[0] / width, canvas_px[1] / height)
    floor_px = min_font * CSS_PX_PER_INCH / 72
    layout.setdefault("font", {}).setdefault("size", template_font or 12)
    _scale_fonts(spec, scale, floor_px)
    margin = layout.get("margin") or {}
    layout["margin"] = {k: v * scale if isinstance(v, (int, float)) and k != "autoexpand" else v
                        for k, v in margin.items()}
    layout["width"], layout["height"] = round(canvas_px[0]), round(canvas_px[1])
    copy = go.Figure(spec)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        if fmt == "html":
            copy.write_html(path, include_plotlyjs=True, full_html=True, auto_play=False)
        else:  # kaleido: the canvas in CSS px, drawn at dpi
            copy.write_image(path, format=fmt, width=layout["width"], height=layout["height"],
                             scale=dpi / CSS_PX_PER_INCH)
        paths.append(path)
    return paths


def export_figures(
    figures: Any,
    directory: str | Path,
    *,
    formats: str | Iterable[str] = ("png", "svg"),
    size: str | tuple[float, float] = "slide",
    min_font: float = 14.0,
    dpi: float = 144.0,
) -> list[Path]:
    """Write figures as slide-ready files; returns the paths written, figure by figure.

    Args:
        figures: a matplotlib or plotly figure, a sequence of them, or a mapping from names to
            figures (the output of :func:`figures_in`, say). Files are named after a mapping's
            keys, else after each figure's title (``suptitle``, ``layout.title``), else
            ``figure-1``, ``figure-2``, ...; names are made file-safe (``"WᵀW at p = 0.1"`` ->
            ``wtw-at-p-0-1``) and kept unique.
        directory: where to write (created if missing); existing files of the same name are
            replaced.
        formats: of ``"png"``, ``"svg"`` (matplotlib; plotly with kaleido installed) and
            ``"html"`` (plotly: self-contained, works offline, keeps its slider). Each figure
            is written in those of them it can take; a figure that can take none of them, or a
            format no figure can take, raises ``ValueError`` before anything is written.
            Without kaleido, ``("png", "svg", "html")`` writes every figure of a chapter.
        size: ``"slide"`` (13.33 × 7.5 inches, 16:9), ``"native"`` (each figure's own size),
            or ``(width, height)`` in inches. A matplotlib figure is scaled as a whole to fit
            and centred, its aspect kept; a plotly figure is laid out again at that size.
        min_font: the smallest text, in points on the canvas (0: leave text as scaled).
        dpi: pixels per inch of the PNGs (144: a slide of 1920 × 1080 pixels).
    """
    named = _named(figures)
    fmts = _check_formats(formats, named)
    canvas = _check_size(size)
    min_font = check_number(min_font, "min_font", low=0, high=72)
    dpi = check_number(dpi, "dpi", low=10, high=1200)
    if not isinstance(directory, (str, Path)) or not str(directory):
        raise ValueError(f"directory must be a path (str or pathlib.Path), got {directory!r}")
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise ValueError(f"directory {str(out)!r} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for stem, fig in named:
        write = _write_matplotlib if isinstance(fig, Figure) else _write_plotly
        paths += write(fig, out / stem, _writable(fig, fmts), canvas, min_font, dpi)
    return paths


def figures_in(outputs: Mapping[int, Any]) -> dict[str, Any]:
    """The figures among a notebook's results, in order, named for :func:`export_figures`.

    Pass IPython's ``Out`` (every cell result, by execution count) after running a chapter:
    each matplotlib or plotly figure a cell returned, and each explorer's figure on display,
    is named ``cell-<count>`` (and its title, if it has one). Other results are left out.
    """
    if not isinstance(outputs, Mapping):
        raise ValueError(f"outputs must be a mapping from execution counts to results (IPython's Out), "  # noqa: TRY004
                         f"got {type(outputs).__name__}")
    found: dict[str, Any] = {}
    keys = sorted(outputs, key=lambda k: (not isinstance(k, int), str(k) if not isinstance(k, int) else k))
    for key in keys:
        value = outputs[key]
        if isinstance(value, Explorer) and value.frame is not None:
            value = value.figure  # the frame on display
        if is_figure(value):
            title = _slug(_title(value))
            label = f"cell-{key:02d}" if isinstance(key, int) else _slug(str(key)) or "cell"
            found[f"{label}-{title}" if title else label] = value
    return found
