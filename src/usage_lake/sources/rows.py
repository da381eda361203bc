"""Result rows to Arrow, in bulk: the parsing every source shares.

A page's envelope is already decoded (`http.Page`); its result rows are still raw JSON. They are streamed
as newline-delimited JSON into Arrow's JSON reader, which parses blocks on its own threads against an
explicit schema; then the rows are flattened with vectorised compute: no Python loop per row. Unknown fields
are ignored; a missing required field or a wrong type is a `ResponseShapeError` that names the field and where.

The checks every page passes before its rows count (vectorised; only the error path loops to name the row):
required fields present (`require`), counters not negative (`require_non_negative`), and each (bucket,
dimensions) group at most once (`require_unique`: a repeated group would be counted twice). A source that fills
an absent optional object with zeros records how many rows it filled in the table's metadata (`mark_defaulted`);
the ingest loop takes it off again (`take_defaulted`) and notes it in the run log.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from itertools import accumulate

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from usage_lake.errors import ResponseShapeError
from usage_lake.lake.schema import TIMESTAMP
from usage_lake.sources.http import Bucket
from usage_lake.times import format_timestamp

__all__ = [
    "bucket_columns", "field_at", "first_repeat", "mark_defaulted", "parse_rows", "require", "require_non_negative", "require_unique",
    "row_name", "stamp_columns", "take_defaulted",
]

_STR = pa.string()


def parse_rows(buckets: Sequence[Bucket], row_schema: pa.Schema, where: str) -> tuple[pa.Table, pa.Array]:
    """All result rows parsed against `row_schema`, and for each row the index of its bucket."""
    raws = [row for bucket in buckets for row in bucket.results]
    counts = [len(bucket.results) for bucket in buckets]
    offsets = pa.array([0, *accumulate(counts)], pa.int32())
    bucket_index = pc.list_parent_indices(pa.ListArray.from_arrays(offsets, pa.nulls(len(raws))))
    if not raws:
        return row_schema.empty_table(), bucket_index
    try:
        reader = pajson.open_json(
            _NdjsonStream(raws),
            read_options=pajson.ReadOptions(block_size=_BLOCK_SIZE),
            parse_options=pajson.ParseOptions(explicit_schema=row_schema, unexpected_field_behavior="ignore"),
        )
        rows = reader.read_all()
    except pa.ArrowInvalid as exc:
        raise ResponseShapeError(f"{where}: {_first_bad_row(raws, row_schema) or exc}") from None
    if rows.num_rows != len(raws):
        raise ResponseShapeError(f"{where}: expected {len(raws)} result rows, parsed {rows.num_rows}")
    return rows, bucket_index


def _first_bad_row(raws: list, row_schema: pa.Schema) -> str | None:
    """On the error path only: name the first row and field whose JSON type does not match the schema."""
    for number, raw in enumerate(raws):
        try:
            row = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            return f"result row {number} is not valid JSON ({exc})"
        if not isinstance(row, dict):
            return f"result row {number} is a JSON {type(row).__name__}, not an object"
        problem = _type_problem(row, row_schema, "")
        if problem:
            return f"result row {number}: {problem}"
    return None


def _type_problem(value: dict, fields: Iterable[pa.Field], prefix: str) -> str | None:
    for field in fields:
        item, name = value.get(field.name), f"{prefix}{field.name}"
        if item is None:
            continue
        if pa.types.is_struct(field.type):
            if not isinstance(item, dict):
                return f"field `{name}` is {item!r}, expected an object"
            problem = _type_problem(item, field.type, name + ".")
            if problem:
                return problem
        elif pa.types.is_int64(field.type) and (not isinstance(item, int) or isinstance(item, bool) or not -2**63 <= item < 2**63):
            return f"field `{name}` is {item!r}, expected a whole number"
        elif pa.types.is_string(field.type) and not isinstance(item, str):
            return f"field `{name}` is {item!r}, expected a string"
    return None


_BLOCK_SIZE = 1 << 20  # Arrow parses the stream in blocks of this size, on its own threads


class _NdjsonStream(io.RawIOBase):
    """The raw result rows as newline-delimited JSON, produced a chunk at a time.

    Streaming instead of joining the whole page keeps a second copy of a (possibly 100+ MB) page out of
    memory. A literal newline inside a row can only be whitespace (JSON escapes them inside strings), so
    pretty-printed rows are flattened by turning their newlines into spaces.
    """

    ROWS_PER_CHUNK = 2000

    def __init__(self, raws: list) -> None:
        self._raws = raws
        self._next = 0
        self._chunk = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self._chunk:
            if self._next >= len(self._raws):
                return 0
            part = self._raws[self._next:self._next + self.ROWS_PER_CHUNK]
            self._next += len(part)
            chunk = b"\n".join(part) + b"\n"
            if chunk.count(b"\n") != len(part):
                chunk = b"\n".join(bytes(raw).replace(b"\n", b" ") for raw in part) + b"\n"
            self._chunk = memoryview(chunk)
        size = min(len(buffer), len(self._chunk))
        buffer[:size] = self._chunk[:size]
        self._chunk = self._chunk[size:]
        return size


def field_at(rows: pa.Table, path: tuple[str, ...]) -> pa.Array:
    column = rows.column(path[0]).combine_chunks()
    for name in path[1:]:
        # a missing parent object makes the child null too, so the required-field check catches both
        column = pc.struct_field(column, name)
    return column


def row_name(position: int, buckets: Sequence[Bucket], bucket_index: pa.Array) -> str:
    """'result 3 of bucket 2026-11-20T05:00:00Z (day 2026-11-20)' for the row at `position` of a page's table."""
    bucket_number = bucket_index[position].as_py()
    bucket = buckets[bucket_number]
    row_in_bucket = position - sum(len(b.results) for b in buckets[:bucket_number])
    return f"result {row_in_bucket} of bucket {format_timestamp(bucket.starting_at)} (day {bucket.starting_at.date()})"


def require(column: pa.Array | pa.ChunkedArray, name: str, buckets: Sequence[Bucket], bucket_index: pa.Array, where: str) -> None:
    if column.null_count == 0:
        return
    position = pc.index(pc.is_null(column), True).as_py()
    raise ResponseShapeError(
        f"{where}: {row_name(position, buckets, bucket_index)} is missing required field "
        f"`{name}` (or it is null); {column.null_count} row(s) affected"
    )


def require_non_negative(column: pa.Array | pa.ChunkedArray, name: str, buckets: Sequence[Bucket], bucket_index: pa.Array,
                         where: str) -> None:
    """A count below zero is not a count: refuse the page rather than store a negative (and a negative estimate)."""
    if len(column) == 0 or (pc.min(column).as_py() or 0) >= 0:
        return
    negative = pc.less(column, 0)
    position = pc.index(negative, True).as_py()
    raise ResponseShapeError(
        f"{where}: {row_name(position, buckets, bucket_index)} has `{name}` = {column[position].as_py()}, a negative count; "
        f"{pc.sum(negative).as_py()} row(s) affected. The page is refused and the stored day kept"
    )


def require_unique(table: pa.Table, keys: Sequence[str], buckets: Sequence[Bucket], bucket_index: pa.Array, where: str) -> None:
    """Each (bucket, dimensions) group at most once per page: a repeated group would be counted twice."""
    repeat = first_repeat(table, keys)
    if repeat is None:
        return
    first, again = repeat
    group = ", ".join(f"{k}={table.column(k)[again].as_py()!r}" for k in keys if k != "bucket_start")
    raise ResponseShapeError(
        f"{where}: {row_name(again, buckets, bucket_index)} repeats the group of {row_name(first, buckets, bucket_index)} "
        f"({group}); a group appears once per bucket, so the page is refused rather than counted twice"
    )


def first_repeat(table: pa.Table, keys: Sequence[str]) -> tuple[int, int] | None:
    """(first row, repeating row) of the first key seen twice, or None. Detection is vectorised (one integer per
    row, equal exactly when the keys are: about 60 ms for a large org's 240,000-row day); only when a repeat exists
    does a loop find where."""
    if table.num_rows < 2:
        return None
    codes = _key_codes(table, keys)
    if pc.count_distinct(codes).as_py() == table.num_rows:
        return None
    seen: dict[int, int] = {}
    for position, code in enumerate(codes.to_pylist()):
        if code in seen:
            return seen[code], position
        seen[code] = position
    return None  # pragma: no cover - count_distinct found a repeat


def _key_codes(table: pa.Table, keys: Sequence[str]) -> pa.Array:
    """One int64 per row that is equal for two rows exactly when all their `keys` are (nulls equal nulls): each key
    column dictionary-encoded (null as a value of its own), the codes combined positionally into one contiguous
    array (a kernel call per chunk would cost more than the arithmetic), re-encoded whenever the product nears
    64 bits. A key that is null on every row (a dimension not grouped by) tells rows nothing and is skipped."""
    code: pa.Array | None = None
    size = 1
    for key in keys:
        column = table.column(key)
        if column.null_count == len(column):
            continue
        encoded = pc.dictionary_encode(column, null_encoding="encode")  # one dictionary shared by every chunk
        width = len(encoded.chunk(0).dictionary)
        index = pa.concat_arrays([chunk.indices for chunk in encoded.chunks]).cast(pa.int64())
        if code is None:
            code, size = index, width
            continue
        if size * width >= 2**62:
            recoded = pc.dictionary_encode(code)
            code, size = recoded.indices.cast(pa.int64()), len(recoded.dictionary)
        code, size = pc.add(pc.multiply(code, width), index), size * width
    return code if code is not None else pa.repeat(pa.scalar(0, pa.int64()), table.num_rows)


_DEFAULTED = b"usage_lake.defaulted"


def mark_defaulted(table: pa.Table, counts: Mapping[str, int]) -> pa.Table:
    """Record on the table how many rows had an absent optional field filled with its default."""
    counts = {name: n for name, n in counts.items() if n}
    return table.replace_schema_metadata({_DEFAULTED: json.dumps(counts).encode()}) if counts else table


def take_defaulted(table: pa.Table) -> tuple[pa.Table, dict[str, int]]:
    """The table without that record, and the record ({field: rows filled})."""
    metadata = table.schema.metadata or {}
    if _DEFAULTED not in metadata:
        return table, {}
    return table.replace_schema_metadata(None), json.loads(metadata[_DEFAULTED])


def bucket_columns(buckets: Sequence[Bucket], bucket_index: pa.Array) -> dict[str, pa.Array]:
    starts = pa.array([b.starting_at for b in buckets], TIMESTAMP)
    ends = pa.array([b.ending_at for b in buckets], TIMESTAMP)
    return {"bucket_start": starts.take(bucket_index), "bucket_end": ends.take(bucket_index)}


def stamp_columns(n: int, run_id: str, ingested_at: datetime) -> dict[str, pa.Array]:
    return {
        "ingested_at": pa.repeat(pa.scalar(ingested_at, TIMESTAMP), n),
        "run_id": pa.repeat(run_id, n).cast(_STR),
    }
