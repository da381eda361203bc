"""Writing a view: a table for people, CSV for spreadsheets, JSON for scripts.

`table` shows names rather than ids, money as `$1,234.56`, counts with separators, rates as `87.5%`, and a
totals row. By default a table is *compact*: the fewest columns that answer the view's question, money as
`$1,234`, names cut with `…`; `wide=True` shows every column of the table. `width` is the terminal's width:
rich lays the columns out to fit it (names give way first); `None` (a pipe or a file) keeps full values.
A table shows at most `limit` rows (default 1,000) and says how many more there are; totals cover all.
Every string in a table is made safe to print (`usage_lake.sanitize.display`): no control character, bidi
override or newline reaches a terminal.

`csv` and `json` carry every column of the view (ids beside names) with money as exact decimals: CSV as plain
decimal text, JSON as strings (a JSON number would become a float in most readers). CSV text cells that a
spreadsheet would read as a formula get a leading `'` unless `raw_csv`; JSON keeps exact strings.
Days are `YYYY-MM-DD`, timestamps UTC ISO 8601 with a `Z`.

For results too big for memory (`sql`, `export`), `write_batches` writes a `pyarrow.RecordBatchReader` to a
file object batch by batch in csv, json (one array) or parquet.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any, Literal

import pyarrow as pa

from usage_lake import tables, words
from usage_lake.reporting.views import Column, View
from usage_lake.sanitize import DISPLAY_LENGTH, csv_cell, display

__all__ = ["FORMATS", "TABLE_LIMIT", "Format", "plain_decimal", "render", "show", "show_cell", "shown_columns", "sql_view", "table_lines", "to_csv",
           "to_json", "to_text", "totals_row", "write_batches", "write_result"]

Format = Literal["table", "csv", "json"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json")
TABLE_LIMIT = 1000  # rows a table shows unless told otherwise
PIPED_NAME_LENGTH = 256  # a name in a piped table (no terminal width): long, but never megabytes


def render(view: View, fmt: Format, *, wide: bool = False, raw_csv: bool = False, limit: int | None = None,
           width: int | None = None) -> str:
    if fmt == "csv":
        return to_csv(view.table, raw=raw_csv)
    if fmt == "json":
        return to_json(view)
    return to_text(view, wide=wide, limit=limit, width=width)


# -- exact values ---------------------------------------------------------------------------------------

def plain_decimal(value: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros: 12.5, 0.000625, 100."""
    return words.decimal_text(value)


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


def _csv_rows(rows: Iterable[dict[str, Any]], raw: bool) -> Iterable[list[Any]]:
    for row in rows:  # only text from the data is neutralised: a number (-5, a decimal as text) stays a number
        yield [csv_cell(v, raw=raw) if isinstance(v, str) else "" if v is None else json.dumps(c) if isinstance(c := _cell(v), dict | list)
               else c for v in row.values()]


class _CsvWriter:
    """csv.writer, but a row with a bare CR in a cell is written fully quoted (the minimal quoting of a `\n`
    line terminator would leave it bare, and a reader would split the row there)."""

    def __init__(self, out: IO[str]) -> None:
        self._minimal = csv.writer(out, lineterminator="\n")
        self._all = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, row: list[Any]) -> None:
        cr = any(isinstance(c, str) and "\r" in c for c in row)
        (self._all if cr else self._minimal).writerow(row)

    def writerows(self, rows: Iterable[list[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def to_csv(table: pa.Table, *, raw: bool = False) -> str:
    """Every column; text cells that would be formulas neutralised (a leading `'`) unless `raw`."""
    out = io.StringIO()
    writer = _CsvWriter(out)
    writer.writerow([csv_cell(name, raw=raw) for name in table.column_names])
    writer.writerows(_csv_rows(table.to_pylist(), raw))
    return out.getvalue()


def _json_cell(value: Any) -> Any:
    """As `_cell`; a rate (a float in the view: cache hit, tool accept) as a decimal string too, like money and percents."""
    if isinstance(value, float):
        return words.decimal_text(Decimal(str(value)))
    return _cell(value)


def to_json(view: View) -> str:
    document = {"view": view.name, "title": view.title, "notes": view.notes,
                "rows": [{k: _json_cell(v) for k, v in row.items()} for row in view.table.to_pylist()]}
    return json.dumps(document, indent=2) + "\n"


def _csv_batch(batch: pa.RecordBatch, raw: bool) -> bytes | None:
    """A batch as CSV rows (no header) built column-wise by Arrow compute: cells as `_cell` and `csv_cell` make them
    (exact decimals without trailing zeros, UTC ISO timestamps with a Z, formula-like text neutralised), quoted only
    where needed, as the csv module does. None for nested types (written cell by cell)."""
    import pyarrow.compute as pc

    if batch.num_rows == 0:
        return b""
    columns = []
    for column in batch.columns:
        kind = column.type
        if pa.types.is_nested(kind) or pa.types.is_dictionary(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            return None
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            if not raw:
                formula = pc.fill_null(pc.match_substring_regex(column, "^[=+\\-@\t\r]"), False)
                column = pc.if_else(formula, pc.binary_join_element_wise("'", column, ""), column)
            needs = pc.fill_null(pc.match_substring_regex(column, '[",\r\n]'), False)
            quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
            column = pc.if_else(needs, quoted, column)
        elif pa.types.is_decimal(kind):
            text = pc.cast(column, pa.string())
            if kind.scale > 0:
                text = pc.replace_substring_regex(pc.replace_substring_regex(text, r"(\.\d*?[1-9])0+$", r"\1"), r"\.0+$", "")
            column = pc.if_else(pc.equal(text, "-0"), "0", text)
        elif pa.types.is_timestamp(kind):
            seconds = pc.strftime(pc.floor_temporal(column, unit="second").cast(pa.timestamp("s", tz=kind.tz)), format="%Y-%m-%dT%H:%M:%S")
            millis = pc.millisecond(column)
            with_ms = pc.binary_join_element_wise(seconds, ".", pc.utf8_lpad(pc.cast(millis, pa.string()), 3, "0"), "Z", "")
            column = pc.if_else(pc.equal(millis, 0), pc.binary_join_element_wise(seconds, "Z", ""), with_ms)
        elif pa.types.is_boolean(kind):
            column = pc.if_else(column, "True", "False")
        else:
            column = pc.cast(column, pa.string())
        columns.append(column)
    lines = pc.binary_join_element_wise(*columns, ",", null_handling="replace", null_replacement="")
    return ("\n".join(lines.to_pylist()) + "\n").encode("utf-8")


def write_batches(reader: pa.RecordBatchReader, fmt: Literal["csv", "json", "parquet"], out: IO[bytes], *,
                  raw_csv: bool = False, envelope: dict[str, Any] | None = None) -> int:
    """Write every batch of `reader` to the binary file `out` as it comes (memory: one batch); the number of rows.
    CSV: a header, then rows (formula cells neutralised unless `raw_csv`); JSON: one array of objects (money as
    strings), or with `envelope` that object with the array as its `rows`; Parquet: one file, a row group per batch."""
    rows = 0
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetWriter(out, reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
        return rows
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        if fmt == "csv":
            writer = _CsvWriter(text)
            writer.writerow([csv_cell(name, raw=raw_csv) for name in reader.schema.names])
            for batch in reader:
                fast = _csv_batch(batch, raw_csv)
                if fast is None:  # nested values: cell by cell
                    writer.writerows(_csv_rows(batch.to_pylist(), raw_csv))
                else:
                    text.flush()
                    out.write(fast)
                rows += batch.num_rows
        else:
            head, tail = ("[", "]\n") if envelope is None else (json.dumps({**envelope, "rows": []})[:-2], "]}\n")
            text.write(head)
            for batch in reader:
                for row in batch.to_pylist():
                    text.write(("\n" if rows == 0 else ",\n") + json.dumps({k: _cell(v) for k, v in row.items()}))
                    rows += 1
            text.write(("\n" if rows else "") + tail)
        text.flush()
    finally:
        text.detach()
    return rows


# -- for people ------------------------------------------------------------------------------------------

def show(value: Any, kind: str, *, compact: bool = False, limit: int | None = DISPLAY_LENGTH) -> str:
    """A value as a table cell: money `$1,234.56` (compact `$1,234`), counts `1,234`, rates `87.5%`, text made safe."""
    if value is None:
        return words.NOTHING
    if kind == "usd":
        return words.money(Decimal(value), compact=compact)
    if kind == "int":
        return words.count(value)
    if kind == "rate":
        return words.percent(value)
    if kind == "percent":
        return words.percent_text(Decimal(value))
    cell = _cell(value)
    return display(json.dumps(cell) if isinstance(cell, dict | list) else str(cell), limit)


def show_cell(row: dict[str, Any], column: Column, compact: bool, limit: int | None) -> str:
    kind = column.kind
    if kind == "measure":  # a budget's figure: money for money measures, else a count
        kind = "usd" if "cost" in str(row.get("measure") or "") else "int"
    return show(row.get(column.name), kind, compact=compact, limit=limit)


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


def shown_columns(view: View, *, wide: bool = False) -> list[Column]:
    """The columns a table shows: all with `wide`, else the view's compact set."""
    if wide or view.compact is None:
        return list(view.columns)
    return [c for c in view.columns if c.name in view.compact]


def write_result(reader: pa.RecordBatchReader, fmt: Format, out: IO[bytes], *, raw_csv: bool = False, limit: int | None = None,
                 width: int | None = None) -> int:
    """A query's result written as it streams: csv and json batch by batch; a table shows the first `limit` rows
    (default 1,000) and counts the rest without keeping them. The number of rows."""
    if fmt != "table":
        return write_batches(reader, fmt, out, raw_csv=raw_csv, envelope={"view": "sql", "title": "query result", "notes": []})
    limit = TABLE_LIMIT if limit is None else limit
    head: list[pa.RecordBatch] = []
    kept = total = 0
    for batch in reader:
        total += batch.num_rows
        if limit <= 0 or kept < limit:
            part = batch if limit <= 0 else batch.slice(0, limit - kept)
            head.append(part)
            kept += part.num_rows
    table = pa.Table.from_batches(head, schema=reader.schema)
    text = to_text(sql_view(table, f"{total:,} row(s)"), limit=0, width=width, more_rows=total - kept)
    out.write(text.encode("utf-8"))
    return total


def table_lines(columns: Sequence[Column], body: list[list[str]], *, width: int | None, total: bool = False) -> list[str]:
    """Cells (already shown, safe text) as table lines: `usage_lake.tables.table_lines` with the views' columns."""
    return tables.table_lines([(display(c.header, None), c.kind) for c in columns], body, width=width, total=total)


def to_text(view: View, *, wide: bool = False, limit: int | None = None, width: int | None = None, more_rows: int = 0) -> str:
    """The view as a table laid out by rich: `width` columns at most (None: as wide as the values need)."""
    columns: Sequence[Column] = shown_columns(view, wide=wide)
    compact = not wide
    name_limit = DISPLAY_LENGTH if width is not None else PIPED_NAME_LENGTH
    limit = TABLE_LIMIT if limit is None else limit
    all_rows = view.table.to_pylist()
    rows = all_rows[:limit] if limit > 0 else all_rows
    body = [[show_cell(row, c, compact, name_limit) for c in columns] for row in rows]
    if view.totals and all_rows:
        totals = totals_row(view)
        body.append(["total" if i == 0 else show(totals.get(c.name), c.kind, compact=compact) if c.name in totals else ""
                     for i, c in enumerate(columns)])
    lines = [display(view.title, None), ""]
    if all_rows:
        lines += table_lines(columns, body, width=width, total=view.totals)
    else:
        lines += [" ".join(display(c.header) for c in columns), "(no rows)"]
    more_rows += len(all_rows) - len(rows)
    if more_rows:
        lines.append(f"... and {more_rows:,} more row(s) (a larger --limit, or --format csv, shows them)")
    if view.notes:
        lines += [""] + [display(n, None) for n in view.notes]
    if width is not None:  # notes and the title wrap at the terminal's width
        import textwrap

        lines = [part for line in lines for part in (textwrap.wrap(line, width, break_long_words=True) if len(line) > width else [line])]
    return "\n".join(lines) + "\n"
