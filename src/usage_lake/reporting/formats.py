"""Writing a view: an aligned table for people, CSV for spreadsheets, JSON for scripts.

`table` shows names rather than ids, money rounded to the cent, big numbers with separators, rates as
percentages, and a totals row. `csv` and `json` carry every column of the view (ids beside names) with
money as exact decimals: CSV as plain decimal text, JSON as strings (a JSON number would become a float in
most readers). Days are `YYYY-MM-DD`, timestamps UTC ISO 8601 with a `Z`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa

from usage_lake.money import usd
from usage_lake.reporting.views import Column, View

__all__ = ["FORMATS", "Format", "plain_decimal", "render", "show", "sql_view", "to_csv", "to_json", "to_text", "totals_row"]

Format = Literal["table", "csv", "json"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json")


def render(view: View, fmt: Format) -> str:
    if fmt == "csv":
        return to_csv(view.table)
    if fmt == "json":
        return to_json(view)
    return to_text(view)


# -- exact values ---------------------------------------------------------------------------------------

def plain_decimal(value: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros: 12.5, 0.000625, 100."""
    text = format(value.normalize(), "f") if value else "0"
    return text


def _cell(value: Any) -> Any:
    """A value for CSV/JSON: decimals as exact text, timestamps as UTC ISO, nested values kept."""
    if isinstance(value, Decimal):  # a scale-0 decimal is a count (DuckDB sums bigints as HUGEINT): an integer
        return int(value) if value.as_tuple().exponent == 0 else plain_decimal(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S") + (f".{value.microsecond // 1000:03d}" if value.microsecond else "") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _cell(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_cell(v) for v in value]
    return value


def to_csv(table: pa.Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        cells = [_cell(v) for v in row.values()]
        writer.writerow(["" if c is None else json.dumps(c) if isinstance(c, dict | list) else c for c in cells])
    return out.getvalue()


def to_json(view: View) -> str:
    document = {"view": view.name, "title": view.title, "notes": view.notes,
                "rows": [{k: _cell(v) for k, v in row.items()} for row in view.table.to_pylist()]}
    return json.dumps(document, indent=2) + "\n"


# -- for people ------------------------------------------------------------------------------------------

def show(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "usd":
        return usd(Decimal(value))
    if kind == "int":
        return f"{value:,}"
    if kind == "rate":
        return f"{100 * value:.1f}%"
    cell = _cell(value)
    return json.dumps(cell) if isinstance(cell, dict | list) else str(cell)


def sql_view(table: pa.Table, title: str) -> View:
    """A query's result as a view: every column shown as it is (numbers exact, right-aligned), no totals."""
    columns = [Column(name, name, "num" if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) else "text",
                      total=False) for name, t in zip(table.column_names, table.schema.types, strict=True)]
    return View("sql", title, table, columns, totals=False)


def totals_row(view: View) -> dict[str, Any]:
    """Sums of the totalled columns (exact), rates recomputed from the summed parts."""
    rows = view.table.to_pylist()
    totals: dict[str, Any] = {}
    for column in view.columns:
        if column.kind in ("usd", "int") and column.total:
            values = [r.get(column.name) for r in rows if r.get(column.name) is not None]
            totals[column.name] = sum(values, Decimal(0) if column.kind == "usd" else 0) if values else None
    for column in view.columns:
        if column.kind == "rate" and column.rate_of:
            numerator, parts = column.rate_of
            top = sum(r.get(numerator) or 0 for r in rows)
            bottom = sum(r.get(p) or 0 for r in rows for p in parts)
            totals[column.name] = top / bottom if bottom else None
    return totals


def to_text(view: View) -> str:
    columns: Sequence[Column] = view.columns
    body = [[show(row.get(c.name), c.kind) for c in columns] for row in view.table.to_pylist()]
    footer = []
    if view.totals and body:
        totals = totals_row(view)
        footer = [["total" if i == 0 else show(totals.get(c.name), c.kind) if c.name in totals else "" for i, c in enumerate(columns)]]
    headers = [c.header for c in columns]
    widths = [max(len(x) for x in [h, *(r[i] for r in body + footer)]) for i, h in enumerate(headers)]
    left = [c.kind in ("text", "day") for c in columns]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if is_left else cell.rjust(w) for cell, w, is_left in zip(cells, widths, left, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [view.title, "", line(headers), rule, *(line(r) for r in body)]
    if not body:
        lines.append("(no rows)")
    if footer:
        lines += [rule, line(footer[0])]
    if view.notes:
        lines += [""] + view.notes
    return "\n".join(lines) + "\n"
