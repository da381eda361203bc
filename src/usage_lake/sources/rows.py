"""Result rows to Arrow, in bulk: the parsing every source shares.

A page's envelope is already decoded (`http.Page`); its result rows are still raw JSON. They are streamed
as newline-delimited JSON into Arrow's JSON reader, which parses blocks on its own threads against an
explicit schema; then the rows are flattened with vectorised compute: no Python loop per row. Unknown fields
are ignored; a missing required field or a wrong type is a `ResponseShapeError` that names the field and where.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import accumulate

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from usage_lake.errors import ResponseShapeError
from usage_lake.lake.schema import TIMESTAMP
from usage_lake.sources.http import Bucket

__all__ = ["bucket_columns", "field_at", "parse_rows", "require", "stamp_columns"]

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


def require(column: pa.Array | pa.ChunkedArray, name: str, buckets: Sequence[Bucket], bucket_index: pa.Array, where: str) -> None:
    if column.null_count == 0:
        return
    position = pc.index(pc.is_null(column), True).as_py()
    bucket_number = bucket_index[position].as_py()
    bucket = buckets[bucket_number]
    row_in_bucket = position - sum(len(b.results) for b in buckets[:bucket_number])
    raise ResponseShapeError(
        f"{where}: result {row_in_bucket} of bucket {bucket.starting_at.isoformat()} is missing required field "
        f"`{name}` (or it is null); {column.null_count} row(s) affected"
    )


def bucket_columns(buckets: Sequence[Bucket], bucket_index: pa.Array) -> dict[str, pa.Array]:
    starts = pa.array([b.starting_at for b in buckets], TIMESTAMP)
    ends = pa.array([b.ending_at for b in buckets], TIMESTAMP)
    return {"bucket_start": starts.take(bucket_index), "bucket_end": ends.take(bucket_index)}


def stamp_columns(n: int, run_id: str, ingested_at: datetime) -> dict[str, pa.Array]:
    return {
        "ingested_at": pa.repeat(pa.scalar(ingested_at, TIMESTAMP), n),
        "run_id": pa.repeat(run_id, n).cast(_STR),
    }
