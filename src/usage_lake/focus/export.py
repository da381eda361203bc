"""FOCUS as CSV for a FinOps platform to import: every value as exact text.

Decimals are written digit for digit (never through a float; trailing zeros dropped down to one decimal), date/times in UTC as
`YYYY-MM-DDTHH:MM:SSZ` (the spec's Date/Time Format), and `Tags` as a JSON object (the spec's Key-Value Format).
Nulls are empty cells.
"""

from __future__ import annotations

import json
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = ["csv_columns", "write_csv"]

_STR = pa.string()


def write_csv(table: pa.Table, sink: str | IO[bytes]) -> None:
    """Write `table` (the `focus` columns, or any subset) as CSV with a header row."""
    pacsv.write_csv(csv_columns(table), sink, write_options=pacsv.WriteOptions(quoting_style="needed"))


def csv_columns(table: pa.Table) -> pa.Table:
    """Every column as the text a FOCUS CSV holds."""
    return pa.table({name: _text(table.column(name)) for name in table.column_names})


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    kind = column.type
    if pa.types.is_decimal(kind):
        text = pc.cast(column, _STR)  # exact: Arrow prints the unscaled integer at the column's scale
        if kind.scale > 0:  # trailing zeros dropped, one decimal kept: a reader's type guess stays "decimal"
            text = pc.replace_substring_regex(text, r"(\.\d*?\d)0+$", r"\1")
        return text
    if pa.types.is_timestamp(kind):
        return pc.strftime(pc.cast(column, pa.timestamp("s", tz="UTC"), safe=False), format="%Y-%m-%dT%H:%M:%SZ")
    if pa.types.is_map(kind):
        return _json_objects(column)
    return pc.cast(column, _STR)


def _json_objects(column: pa.ChunkedArray) -> pa.Array:
    """A map<string, string> column as JSON objects, escaping each distinct key and value once."""
    maps = column.combine_chunks()
    if len(maps) == 0:
        return pa.array([], _STR)
    keys = _json_strings(maps.keys)
    values = pc.fill_null(_json_strings(maps.items), "null")
    entries = pc.binary_join_element_wise(keys, values, ":")
    lists = pa.ListArray.from_arrays(maps.offsets, entries, mask=maps.is_null())
    return pc.binary_join_element_wise("{", pc.binary_join(lists, ","), "}", "")


def _json_strings(strings: pa.Array) -> pa.Array:
    encoded = pc.dictionary_encode(strings)
    return pa.array([json.dumps(s, ensure_ascii=False) for s in encoded.dictionary.to_pylist()], _STR).take(encoded.indices)
