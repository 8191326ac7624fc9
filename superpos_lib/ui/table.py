"""Small result tables that fit the page: HTML in a notebook and on the site, text elsewhere."""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["Table"]


class Table:
    """A table of results with a header row; numbers are formatted with ``number_format``.

    Displays as an HTML table in Jupyter and on the static site (narrow, no horizontal
    scrolling) and prints as aligned text. ``None`` cells show as an en dash.
    """

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[object]], *, number_format: str = ".3f",
                 caption: str = ""):
        self.columns = list(columns)
        self.rows = [list(r) for r in rows]
        if not self.columns:
            raise ValueError("columns is empty")
        for i, r in enumerate(self.rows):
            if len(r) != len(self.columns):
                raise ValueError(f"rows[{i}] has {len(r)} cells for {len(self.columns)} columns")
        self.number_format = number_format
        self.caption = caption

    def _cell(self, value: object) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return format(value, self.number_format)
        return str(value)

    def column(self, name: str) -> list[object]:
        """The values of one column."""
        if name not in self.columns:
            raise ValueError(f"name must be one of {self.columns}, got {name!r}")
        j = self.columns.index(name)
        return [r[j] for r in self.rows]

    def __str__(self) -> str:
        cells = [self.columns] + [[self._cell(v) for v in r] for r in self.rows]
        widths = [max(len(row[j]) for row in cells) for j in range(len(self.columns))]
        lines = ["  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))) for row in cells]
        return "\n".join(([self.caption] if self.caption else []) + lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(self._cell(v))}</td>" for v in r) + "</tr>" for r in self.rows
        )
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return (f'<table class="superpos-table" style="width:auto">{caption}<thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>")
