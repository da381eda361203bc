"""The Analytics API's two endpoints as daily reports: one query per UTC day, hourly buckets, in time order.

Each query asks one UTC day (`time_bucket_width=1h`, `order_by=time&order=asc`, 1,000 rows a page), so the
31-day limit never binds and a day is written when its query ends, as the Claude Code report's are. Rows are
flat (`{starting_at, ending_at, group{...}, usage|cost{...}}`); the page decoder groups consecutive rows of the
same hour into one bucket. Days before 2026-01-01 (the API's floor) are not asked. The window and lookback
follow the legacy reports: usage up to the last whole hour, cost whole days that have ended, each re-read over
its lookback like the legacy report of the same kind. Fields the API adds are kept in the raw pages and ignored
here; `group` keys not asked for are null.

Money: `amount` and `list_amount` are decimal strings of (fractional) cents, cast exactly as the cost report's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.config.settings import Settings
from usage_lake.errors import AdminApiError
from usage_lake.lake.schema import AMOUNT_USD, ANALYTICS_COST, ANALYTICS_USAGE
from usage_lake.money.pricing import PriceTable
from usage_lake.sources.admin.cost import parse_cents
from usage_lake.sources.base import Kind
from usage_lake.sources.http import Bucket, Decoded, Headers, Paging
from usage_lake.sources.rows import bucket_columns, field_at, parse_rows, require, require_non_negative, require_unique, stamp_columns
from usage_lake.times import format_timestamp

__all__ = ["ANALYTICS_BETA", "ANALYTICS_FLOOR", "ANALYTICS_PAGES", "AnalyticsReport", "analytics_cost", "analytics_usage",
           "decode_analytics_page"]

ANALYTICS_BETA = "analytics-usage-cost-2026-08-24"
ANALYTICS_FLOOR = datetime(2026, 1, 1, tzinfo=UTC)
PAGE_ROWS = 1000  # the documented maximum
BASE = "/v1/organizations/analytics"
# at most 5 dimensions (cost: not counting cost_type and token_type): inference_geo is left out (the legacy
# usage report has it); actor is not asked either (it would split rows by user and is null for many)
USAGE_GROUP_BY = ("api_key_id", "workspace_id", "model", "service_tier", "context_window")
COST_GROUP_BY = ("api_key_id", "workspace_id", "model", "service_tier", "cost_type", "token_type")
_STR, _INT = pa.string(), pa.int64()

UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]


class _Times(msgspec.Struct, gc=False):
    starting_at: UtcTimestamp
    ending_at: UtcTimestamp


class _Envelope(msgspec.Struct, gc=False):
    data: list[msgspec.Raw]
    has_more: bool | None = None
    next_page: str | None = None


_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_times = msgspec.json.Decoder(_Times).decode


def decode_analytics_page(body: bytes | bytearray) -> Decoded:
    """`{data: [row...], has_more, next_page, data_refreshed_at}`, rows grouped into buckets by their hour."""
    envelope = _decode_envelope(body)
    buckets: list[Bucket] = []
    for raw in envelope.data:
        times = _decode_times(raw)
        if buckets and buckets[-1].starting_at == times.starting_at and buckets[-1].ending_at == times.ending_at:
            buckets[-1].results.append(raw)
        else:
            buckets.append(Bucket(times.starting_at, times.ending_at, [raw]))
    return Decoded(buckets=buckets, has_more=bool(envelope.has_more and envelope.next_page), cursor=envelope.next_page)


ANALYTICS_PAGES = Paging("page", "next_page", decode_analytics_page)

_ACTOR = pa.struct([("type", _STR), ("user_id", _STR), ("service_account_id", _STR), ("api_key_id", _STR), ("subject", _STR)])
_GROUP = [("api_key_id", _STR), ("workspace_id", _STR), ("model", _STR), ("service_tier", _STR), ("context_window", _STR),
          ("inference_geo", _STR), ("actor_type", _STR), ("actor", _ACTOR)]
USAGE_ROW = pa.schema([
    ("group", pa.struct(_GROUP)),
    ("usage", pa.struct([
        ("uncached_input_tokens", _INT), ("cache_read_input_tokens", _INT), ("output_tokens", _INT), ("total_tokens", _INT),
        ("requests", _INT), ("cache_creation", pa.struct([("ephemeral_5m_input_tokens", _INT), ("ephemeral_1h_input_tokens", _INT)])),
        ("server_tool_use", pa.struct([("web_search_requests", _INT)])),
    ])),
])
COST_ROW = pa.schema([
    ("group", pa.struct([*_GROUP, ("cost_type", _STR), ("token_type", _STR)])),
    ("cost", pa.struct([("amount", _STR), ("list_amount", _STR), ("currency", _STR)])),
])
USAGE_PATHS = {
    "uncached_input_tokens": ("usage", "uncached_input_tokens"),
    "cache_creation_5m_input_tokens": ("usage", "cache_creation", "ephemeral_5m_input_tokens"),
    "cache_creation_1h_input_tokens": ("usage", "cache_creation", "ephemeral_1h_input_tokens"),
    "cache_read_input_tokens": ("usage", "cache_read_input_tokens"),
    "output_tokens": ("usage", "output_tokens"),
    "web_search_requests": ("usage", "server_tool_use", "web_search_requests"),
}
_OPTIONAL = {"web_search_requests"}  # server_tool_use absent: no searches
_DIMS = ("api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo", "actor_type")


def _dimensions(rows: pa.Table) -> dict[str, pa.Array]:
    group = rows.column("group").combine_chunks()
    columns = {name: pc.struct_field(group, name) for name in _DIMS}
    actor = pc.struct_field(group, "actor")
    ids = [pc.struct_field(actor, name) for name in ("user_id", "service_account_id", "api_key_id", "subject")]
    columns["actor_id"] = pc.coalesce(*ids)
    return columns


def usage_rows(buckets: Sequence[Bucket], *, run_id: str, ingested_at: datetime, where: str) -> pa.Table:
    rows, bucket_index = parse_rows(buckets, USAGE_ROW, where)
    columns: dict[str, pa.Array] = {**bucket_columns(buckets, bucket_index), "bucket_width": pa.repeat("1h", len(rows)).cast(_STR)}
    columns |= _dimensions(rows)
    for name, path in USAGE_PATHS.items():
        column = field_at(rows, path)
        if name in _OPTIONAL:
            column = pc.fill_null(column, 0)
        require(column, ".".join(path), buckets, bucket_index, where)
        require_non_negative(column, ".".join(path), buckets, bucket_index, where)
        columns[name] = column
    columns["total_tokens"] = field_at(rows, ("usage", "total_tokens"))
    columns["requests"] = field_at(rows, ("usage", "requests"))
    require_non_negative(columns["requests"].fill_null(0), "usage.requests", buckets, bucket_index, where)
    columns |= stamp_columns(len(rows), run_id, ingested_at)
    table = pa.table(columns, schema=ANALYTICS_USAGE)
    require_unique(table, ("bucket_start", "api_key_id", "workspace_id", "model", "service_tier", "context_window",
                           "inference_geo", "actor_type", "actor_id"), buckets, bucket_index, where)
    return table


def cost_rows(buckets: Sequence[Bucket], *, run_id: str, ingested_at: datetime, where: str) -> pa.Table:
    rows, bucket_index = parse_rows(buckets, COST_ROW, where)
    columns: dict[str, pa.Array] = {**bucket_columns(buckets, bucket_index), "bucket_width": pa.repeat("1h", len(rows)).cast(_STR)}
    columns |= _dimensions(rows)
    group = rows.column("group").combine_chunks()
    columns["cost_type"] = pc.struct_field(group, "cost_type")
    columns["token_type"] = pc.struct_field(group, "token_type")
    cost = rows.column("cost").combine_chunks()
    amount, currency = pc.struct_field(cost, "amount"), pc.struct_field(cost, "currency")
    require(amount, "cost.amount", buckets, bucket_index, where)
    require(currency, "cost.currency", buckets, bucket_index, where)
    is_usd = pc.equal(currency, "USD")
    for prefix, values in (("amount", amount), ("list_amount", pc.struct_field(cost, "list_amount"))):
        cents = parse_cents(pa.chunked_array([values]), where, f"cost.{prefix}")
        dollars = pa.Array.from_buffers(AMOUNT_USD, len(cents), cents.buffers(), null_count=cents.null_count)
        columns[f"{prefix}_cents"] = cents
        columns[f"{prefix}_usd"] = pc.if_else(is_usd, dollars, pa.scalar(None, AMOUNT_USD))  # no exchange rates
    columns["currency"] = currency
    columns |= stamp_columns(len(rows), run_id, ingested_at)
    table = pa.table(columns, schema=ANALYTICS_COST)
    require_unique(table, ("bucket_start", "api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo",
                           "actor_type", "actor_id", "cost_type", "token_type"), buckets, bucket_index, where)
    return table


@dataclass(frozen=True)
class AnalyticsReport:
    """One Analytics API endpoint, asked one UTC day at a time (hourly buckets, time order)."""

    name: str
    table: str
    path: str
    group_by: tuple[str, ...]
    ended_days_only: bool  # cost: whole days that have ended, as the legacy cost report
    bucket_width: str = "1h"

    @property
    def kind(self) -> Kind:
        return Kind.DAILY

    @property
    def paging(self) -> Paging:
        return ANALYTICS_PAGES

    @property
    def required(self) -> bool:
        return False  # beta, beside the legacy reports: its failure never stops the data

    @property
    def headers(self) -> Headers:
        return (("anthropic-beta", ANALYTICS_BETA),)

    @property
    def max_span(self) -> timedelta:
        return timedelta(days=31)  # a query is one day: never the reason a slice is short

    @property
    def earliest(self) -> datetime | None:
        return ANALYTICS_FLOOR

    def lookback_days(self, settings: Settings) -> int:
        return settings.cost_lookback_days if self.ended_days_only else settings.usage_lookback_days

    def window_end(self, now: datetime, today: datetime) -> datetime:
        return today if self.ended_days_only else now.replace(minute=0, second=0, microsecond=0)

    def page_params(self, start: datetime, end: datetime, bytes_per_bucket: int | None, budget: int) -> list[tuple[str, str]]:
        return self.params(start, end)

    def params(self, start: datetime, end: datetime) -> list[tuple[str, str]]:
        start = max(start, ANALYTICS_FLOOR)
        return [("starting_at", format_timestamp(start)), ("ending_at", format_timestamp(end)), ("time_bucket_width", "1h"),
                ("order_by", "time"), ("order", "asc"), ("limit", str(PAGE_ROWS)),
                *(("group_by[]", dim) for dim in self.group_by)]

    def to_table(self, buckets: Sequence[Bucket], *, run_id: str, ingested_at: datetime, where: str,
                 prices: PriceTable | None = None) -> pa.Table:
        build = cost_rows if self.table == "analytics_cost" else usage_rows
        return build(buckets, run_id=run_id, ingested_at=ingested_at, where=where)

    def outputs(self, table: pa.Table) -> dict[str, pa.Table]:
        return {self.table: table}

    def is_not_ready(self, error: AdminApiError) -> bool:
        return False


def _enabled(settings: Settings) -> bool:
    return settings.analytics_api != "off"


def analytics_usage(settings: Settings) -> AnalyticsReport | None:
    return AnalyticsReport("analytics_usage", "analytics_usage", f"{BASE}/usage", USAGE_GROUP_BY, ended_days_only=False) \
        if _enabled(settings) else None


def analytics_cost(settings: Settings) -> AnalyticsReport | None:
    return AnalyticsReport("analytics_cost", "analytics_cost", f"{BASE}/cost", COST_GROUP_BY, ended_days_only=True) \
        if _enabled(settings) else None

