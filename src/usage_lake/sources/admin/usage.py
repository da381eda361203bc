"""The Messages Usage Report (`/v1/organizations/usage_report/messages`) -> `usage_messages`.

Tokens per time bucket and group (API key, workspace, model, tier, context window, geo), each row with its
list-price estimate. Usage for the hour in progress is there within minutes, so the window runs up to now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.config.settings import Settings
from usage_lake.errors import ResponseShapeError
from usage_lake.lake.schema import ESTIMATED_USD, USAGE_DIMENSIONS, USAGE_MESSAGES
from usage_lake.money.estimate import default_prices, estimate_basis, estimated_cost, overflowing_row
from usage_lake.money.pricing import PriceTable
from usage_lake.sources.base import BucketedReport
from usage_lake.sources.http import Bucket
from usage_lake.sources.rows import (
    bucket_columns,
    field_at,
    mark_defaulted,
    parse_rows,
    require,
    require_non_negative,
    require_unique,
    row_name,
    stamp_columns,
)

__all__ = [
    "OPTIONAL_OBJECTS", "USAGE_COUNTER_PATHS", "USAGE_GROUP_BY", "USAGE_KEY", "USAGE_ROW", "UsageReport", "counters_by_column",
    "endpoint", "usage_table",
]

PATH = "/v1/organizations/usage_report/messages"
USAGE_GROUP_BY = ("api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo")
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
# contract column <- path in the API row; every one of these is required, except that a row without one of the
# OPTIONAL_OBJECTS at all (objects the API added over time) counts their fields as 0, noted in the run log
USAGE_COUNTER_PATHS = {
    "uncached_input_tokens": ("uncached_input_tokens",),
    "cache_creation_5m_input_tokens": ("cache_creation", "ephemeral_5m_input_tokens"),
    "cache_creation_1h_input_tokens": ("cache_creation", "ephemeral_1h_input_tokens"),
    "cache_read_input_tokens": ("cache_read_input_tokens",),
    "output_tokens": ("output_tokens",),
    "web_search_requests": ("server_tool_use", "web_search_requests"),
}
OPTIONAL_OBJECTS = ("cache_creation", "server_tool_use")
# one row per bucket and group: the same key twice in a day would count the group twice
USAGE_KEY = ("bucket_start", *USAGE_DIMENSIONS)


def usage_table(buckets: Sequence[Bucket], *, bucket_width: str, run_id: str, ingested_at: datetime, where: str,
                prices: PriceTable | None = None) -> pa.Table:
    """`usage_messages` rows for every result of every bucket, in the API's order, each with its estimated cost."""
    rows, bucket_index = parse_rows(buckets, USAGE_ROW, where)
    n = len(rows)
    columns: dict[str, pa.Array] = {}
    columns |= bucket_columns(buckets, bucket_index)
    columns["bucket_width"] = pa.repeat(bucket_width, n).cast(_STR)
    for name in USAGE_DIMENSIONS:
        columns[name] = rows.column(name)
    absent = {name: rows.column(name).combine_chunks().is_null() for name in OPTIONAL_OBJECTS if rows.column(name).null_count}
    for name, path in USAGE_COUNTER_PATHS.items():
        column = field_at(rows, path)
        if path[0] in absent:
            column = pc.if_else(absent[path[0]], pa.scalar(0, _INT), column)
        require(column, ".".join(path), buckets, bucket_index, where)
        require_non_negative(column, ".".join(path), buckets, bucket_index, where)
        columns[name] = column
    columns |= stamp_columns(n, run_id, ingested_at)
    columns["estimated_cost_usd"] = pa.nulls(n, ESTIMATED_USD)
    columns["estimate_basis"] = pa.nulls(n, pa.string())
    table = pa.table(columns, schema=USAGE_MESSAGES)
    require_unique(table, USAGE_KEY, buckets, bucket_index, where)
    prices = prices or default_prices()
    try:
        estimate = estimated_cost(table, prices)
    except pa.ArrowInvalid:
        found = overflowing_row(table, prices)
        if found is None:
            raise
        position, name = found
        raise ResponseShapeError(
            f"{where}: {row_name(position, buckets, bucket_index)} has `{'.'.join(USAGE_COUNTER_PATHS[name])}` = "
            f"{table.column(name)[position].as_py():,}, too large to be a count for one bucket and group (its estimated "
            "cost passes 64-bit pico-dollars). The page is refused and the stored day kept"
        ) from None
    table = table.set_column(table.schema.get_field_index("estimated_cost_usd"), USAGE_MESSAGES.field("estimated_cost_usd"), estimate)
    table = table.set_column(table.schema.get_field_index("estimate_basis"), USAGE_MESSAGES.field("estimate_basis"),
                             estimate_basis(table, prices))
    return mark_defaulted(table, {name: pc.sum(missing).as_py() for name, missing in absent.items()})



def counters_by_column(api_totals: dict[str, int]) -> dict[str, int]:
    """Totals keyed by API field path ("cache_creation.ephemeral_5m_input_tokens") re-keyed by lake column."""
    return {column: api_totals[".".join(path)] for column, path in USAGE_COUNTER_PATHS.items()}


@dataclass(frozen=True)
class UsageReport(BucketedReport):
    """Usage: the window ends now (the hour in progress is already reported)."""

    def lookback_days(self, settings: Settings) -> int:
        return settings.usage_lookback_days

    def window_end(self, now: datetime, today: datetime) -> datetime:
        return now

    def to_table(self, buckets: Sequence[Bucket], *, run_id: str, ingested_at: datetime, where: str,
                 prices: PriceTable | None = None) -> pa.Table:
        return usage_table(buckets, bucket_width=self.bucket_width, run_id=run_id, ingested_at=ingested_at,
                           where=where, prices=prices)


def endpoint(settings: Settings) -> UsageReport:
    width = settings.usage_bucket_width
    return UsageReport("usage", "usage_messages", PATH, width, USAGE_GROUP_BY)
