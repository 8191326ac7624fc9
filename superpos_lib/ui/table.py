"""Small result tables that fit the page: HTML in a notebook and on the site, text elsewhere."""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["Table"]


_CELL = "padding:0.15em 0.7em;"


class Table:
    """A table of results with a header row; numbers are formatted with ``number_format``
    (or a column's own format in ``formats``) and aligned right.

    Displays as an HTML table in Jupyter and on the static site (narrow, no horizontal
    scrolling) and prints as aligned text. ``None`` cells show as an en dash.
    """

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[object]], *, number_format: str = ".3f",
                 formats: dict[str, str] | None = None, caption: str = ""):
        self.columns = list(columns)
        self.rows = [list(r) for r in rows]
        if not self.columns:
            raise ValueError("columns is empty")
        for i, r in enumerate(self.rows):
            if len(r) != len(self.columns):
                raise ValueError(f"rows[{i}] has {len(r)} cells for {len(self.columns)} columns")
        unknown = [c for c in (formats or {}) if c not in self.columns]
        if unknown:
            raise ValueError(f"formats names columns {unknown} that the table does not have")
        self.formats = [(formats or {}).get(c, number_format) for c in self.columns]
        self.caption = caption

    def _cell(self, value: object, j: int) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return format(value, self.formats[j])
        return str(value)

    def _numeric(self, j: int) -> bool:
        return all(r[j] is None or isinstance(r[j], (int, float)) for r in self.rows)

    def column(self, name: str) -> list[object]:
        """The values of one column."""
        if name not in self.columns:
            raise ValueError(f"name must be one of {self.columns}, got {name!r}")
        j = self.columns.index(name)
        return [r[j] for r in self.rows]

    def __str__(self) -> str:
        cells = [self.columns] + [[self._cell(v, j) for j, v in enumerate(r)] for r in self.rows]
        widths = [max(len(row[j]) for row in cells) for j in range(len(self.columns))]
        lines = ["  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))) for row in cells]
        return "\n".join(([self.caption] if self.caption else []) + lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        align = ["right" if self._numeric(j) else "left" for j in range(len(self.columns))]
        head = "".join(f'<th style="{_CELL}text-align:{a}">{html.escape(c)}</th>' for c, a in zip(self.columns, align))
        body = "".join(
            "<tr>" + "".join(f'<td style="{_CELL}text-align:{align[j]}">{html.escape(self._cell(v, j))}</td>'
                             for j, v in enumerate(r)) + "</tr>"
            for r in self.rows
        )
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return (f'<table class="superpos-table" style="width:auto">{caption}<thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>")
