"""Report pages to curated Arrow tables, in bulk.

The page envelope is already decoded (`client.Page`); its result rows are still raw JSON. They are streamed
as newline-delimited JSON into Arrow's JSON reader, which parses blocks on its own threads against an
explicit schema; then the rows are flattened with vectorised compute: no Python loop per row. Unknown fields are ignored; a missing
required field, a wrong type or a malformed amount is a `ResponseShapeError` that names the field and where.

Money: `amount` arrives as a decimal string of cents. It is cast straight to decimal128 (exact; Arrow
refuses any cast that would lose digits) and dollars are the same unscaled integer read at two more
decimal places, so "123.78912" cents becomes exactly 1.2378912 USD without passing through a float.
"""

from __future__ import annotations

import io
import re
from itertools import accumulate
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from usage_lake.client import Bucket, ResponseShapeError
from usage_lake.estimate import default_prices, estimated_cost
from usage_lake.pricing import PriceTable
from usage_lake.schema import AMOUNT_CENTS, AMOUNT_USD, COST_REPORT, ESTIMATED_USD, TIMESTAMP, USAGE_DIMENSIONS, USAGE_MESSAGES

_INT = pa.int64()
_STR = pa.string()

# The API's row shapes, as documented; fields not listed here are ignored.
USAGE_ROW = pa.schema(
    [
        ("uncached_input_tokens", _INT),
        ("cache_creation", pa.struct([("ephemeral_5m_input_tokens", _INT), ("ephemeral_1h_input_tokens", _INT)])),
        ("cache_read_input_tokens", _INT),
        ("output_tokens", _INT),
        ("server_tool_use", pa.struct([("web_search_requests", _INT)])),
        *((name, _STR) for name in USAGE_DIMENSIONS),
    ]
)
# contract column <- path in the API row; every one of these is required
USAGE_COUNTER_PATHS = {
    "uncached_input_tokens": ("uncached_input_tokens",),
    "cache_creation_5m_input_tokens": ("cache_creation", "ephemeral_5m_input_tokens"),
    "cache_creation_1h_input_tokens": ("cache_creation", "ephemeral_1h_input_tokens"),
    "cache_read_input_tokens": ("cache_read_input_tokens",),
    "output_tokens": ("output_tokens",),
    "web_search_requests": ("server_tool_use", "web_search_requests"),
}

COST_ROW = pa.schema(
    [(name, _STR) for name in ("amount", "currency", "workspace_id", "description", "cost_type", "model",
                               "token_type", "service_tier", "context_window", "inference_geo")]
)
COST_REQUIRED = ("amount", "currency")
_DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def usage_table(buckets: Sequence[Bucket], *, bucket_width: str, run_id: str, ingested_at: datetime, where: str,
                prices: PriceTable | None = None) -> pa.Table:
    """`usage_messages` rows for every result of every bucket, in the API's order, each with its estimated cost."""
    rows, bucket_index = _parse_rows(buckets, USAGE_ROW, where)
    n = len(rows)
    columns: dict[str, pa.Array] = {}
    columns |= _bucket_columns(buckets, bucket_index)
    columns["bucket_width"] = pa.repeat(bucket_width, n).cast(_STR)
    for name in USAGE_DIMENSIONS:
        columns[name] = rows.column(name)
    for name, path in USAGE_COUNTER_PATHS.items():
        column = _field(rows, path)
        _require(column, ".".join(path), buckets, bucket_index, where)
        columns[name] = column
    columns |= _stamp_columns(n, run_id, ingested_at)
    columns["estimated_cost_usd"] = pa.nulls(n, ESTIMATED_USD)
    table = pa.table(columns, schema=USAGE_MESSAGES)
    return table.set_column(table.schema.get_field_index("estimated_cost_usd"), USAGE_MESSAGES.field("estimated_cost_usd"),
                            estimated_cost(table, prices or default_prices()))


def cost_table(buckets: Sequence[Bucket], *, run_id: str, ingested_at: datetime, where: str) -> pa.Table:
    """`cost_report` rows, with `amount` as exact decimal cents and dollars."""
    rows, bucket_index = _parse_rows(buckets, COST_ROW, where)
    n = len(rows)
    for name in COST_REQUIRED:
        _require(rows.column(name), name, buckets, bucket_index, where)
    cents = _cents(rows.column("amount"), where)
    dollars = pa.Array.from_buffers(AMOUNT_USD, len(cents), cents.buffers())
    is_usd = pc.equal(rows.column("currency").combine_chunks(), "USD")
    columns: dict[str, pa.Array] = {}
    columns |= _bucket_columns(buckets, bucket_index)
    for name in COST_REPORT.names:
        if name in COST_ROW.names:
            columns[name] = rows.column(name)
    columns["amount_cents"] = cents
    columns["amount_usd"] = pc.if_else(is_usd, dollars, pa.scalar(None, AMOUNT_USD))  # no exchange rates: other currencies stay null
    columns |= _stamp_columns(n, run_id, ingested_at)
    return pa.table(columns, schema=COST_REPORT)


def _parse_rows(buckets: Sequence[Bucket], row_schema: pa.Schema, where: str) -> tuple[pa.Table, pa.Array]:
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


def _field(rows: pa.Table, path: tuple[str, ...]) -> pa.Array:
    column = rows.column(path[0]).combine_chunks()
    for name in path[1:]:
        # a missing parent object makes the child null too, so the required-field check catches both
        column = pc.struct_field(column, name)
    return column


def _require(column: pa.Array | pa.ChunkedArray, name: str, buckets: Sequence[Bucket], bucket_index: pa.Array, where: str) -> None:
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


def _cents(amounts: pa.ChunkedArray, where: str) -> pa.Array:
    amounts = amounts.combine_chunks()
    try:
        return pc.cast(amounts, AMOUNT_CENTS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    for value in amounts.to_pylist():  # only on failure: find the value to name in the error
        try:
            exact = Decimal(value) if _DECIMAL_TEXT.fullmatch(value) else Decimal("NaN")
        except InvalidOperation:
            exact = Decimal("NaN")
        if not exact.is_finite():
            raise ResponseShapeError(f"{where}: `amount` {value!r} is not a decimal string of cents")
        if exact.as_tuple().exponent < -AMOUNT_CENTS.scale:  # type: ignore[operator]
            raise ResponseShapeError(f"{where}: `amount` {value!r} has more than {AMOUNT_CENTS.scale} decimal places; refusing to round money")
    raise ResponseShapeError(f"{where}: `amount` values do not fit decimal({AMOUNT_CENTS.precision},{AMOUNT_CENTS.scale})")


def _bucket_columns(buckets: Sequence[Bucket], bucket_index: pa.Array) -> dict[str, pa.Array]:
    starts = pa.array([b.starting_at for b in buckets], TIMESTAMP)
    ends = pa.array([b.ending_at for b in buckets], TIMESTAMP)
    return {"bucket_start": starts.take(bucket_index), "bucket_end": ends.take(bucket_index)}


def _stamp_columns(n: int, run_id: str, ingested_at: datetime) -> dict[str, pa.Array]:
    return {
        "ingested_at": pa.repeat(pa.scalar(ingested_at, TIMESTAMP), n),
        "run_id": pa.repeat(run_id, n).cast(_STR),
    }


def counters_by_column(api_totals: dict[str, int]) -> dict[str, int]:
    """Totals keyed by API field path ("cache_creation.ephemeral_5m_input_tokens") re-keyed by lake column."""
    return {column: api_totals[".".join(path)] for column, path in USAGE_COUNTER_PATHS.items()}
