"""The Claude Code usage report -> `claude_code_usage` (one row per record) and `claude_code_models` (record x model).

The report has no range and no grouping: `starting_at=YYYY-MM-DD` asks for one UTC day, paged by `page` /
`next_page` like the other reports, and each page's `data` are records (an actor's day on one terminal, local
or remote), not time buckets. So the ingest loop sends one query per day of the window (`Kind.DAILY`) and
writes the day when its query ends; a re-read day replaces itself.

Decoding a page groups its records into one bucket per UTC day they are dated (`date` arrives as `YYYY-MM-DD`
in one version of the docs and as an RFC 3339 midnight in another: both are accepted), so the raw page, the
manifest and a rebuild work as they do for the other reports.

Each record is parsed strictly (msgspec): a missing or mistyped field is refused with its path, e.g.
`record 3 (2026-11-20): Expected `int`, got `str` - at `$.core_metrics.num_sessions``. Money: the estimated
cost is a JSON *number* of cents; msgspec reads it from the JSON text straight into a `Decimal` (no float),
and dollars are cents / 100, exact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.config.settings import Settings
from usage_lake.errors import AdminApiError, ResponseShapeError
from usage_lake.lake.schema import AMOUNT_CENTS, AMOUNT_USD, CLAUDE_CODE_MODELS, CLAUDE_CODE_TOOLS, CLAUDE_CODE_USAGE
from usage_lake.money.pricing import PriceTable
from usage_lake.sources.base import Kind
from usage_lake.sources.http import Bucket, Decoded, Headers, Paging, record_page
from usage_lake.times import DAY, midnight, parse_timestamp

__all__ = ["MODEL_ROW", "PAGE_LIMIT", "PATH", "ClaudeCodeReport", "decode_claude_code_page", "endpoint", "record_day"]

PATH = "/v1/organizations/usage_report/claude_code"
PAGE_LIMIT = 1000  # records per page, the documented maximum
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
USER_ACTOR, API_ACTOR = "user_actor", "api_actor"


# -- the record, as documented (reference section 4.2); unknown fields are ignored --------------------------------

class _Actor(msgspec.Struct):
    type: str
    email_address: str | None = None
    api_key_name: str | None = None


class _Lines(msgspec.Struct):
    added: int
    removed: int


class _Core(msgspec.Struct):
    num_sessions: int
    lines_of_code: _Lines
    commits_by_claude_code: int
    pull_requests_by_claude_code: int


class _ToolCounts(msgspec.Struct):
    accepted: int
    rejected: int


class _Tokens(msgspec.Struct):
    input: int
    output: int
    cache_read: int
    cache_creation: int


class _Cost(msgspec.Struct):
    amount: Decimal  # a JSON number of minor units (cents), read exactly from its text
    currency: str


class _Model(msgspec.Struct):
    model: str
    tokens: _Tokens
    estimated_cost: _Cost


class _Record(msgspec.Struct):
    date: str
    actor: _Actor
    core_metrics: _Core
    organization_id: str | None = None
    customer_type: str | None = None
    subscription_type: str | None = None
    terminal_type: str | None = None
    is_remote: bool | None = None
    tool_actions: dict[str, _ToolCounts] = {}
    model_breakdown: list[_Model] = []


class _Dated(msgspec.Struct):
    date: str


_decode_record = msgspec.json.Decoder(_Record).decode
_decode_dated = msgspec.json.Decoder(_Dated).decode

MODEL_ROW = pa.struct([
    pa.field("model", pa.string()),
    *(pa.field(name, pa.int64()) for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")),
    pa.field("estimated_cost_cents", AMOUNT_CENTS),
    pa.field("estimated_cost_usd", AMOUNT_USD),
    pa.field("currency", pa.string()),
])
# what `to_table` returns: the usage columns, and each record's models still nested (split by `outputs`)
_WITH_MODELS = CLAUDE_CODE_USAGE.append(pa.field("model_breakdown", pa.list_(MODEL_ROW)))
_IDENTITY = ("date", "actor_type", "actor_email_address", "actor_api_key_name", "terminal_type", "is_remote")
_HUNDRED = Decimal(100)
_MAX_CENT_DIGITS = AMOUNT_CENTS.precision - AMOUNT_CENTS.scale


def record_day(value: str) -> date:
    """A record's `date`: `YYYY-MM-DD`, or an RFC 3339 timestamp at midnight UTC (the docs disagree)."""
    if _DAY.fullmatch(value):
        return date.fromisoformat(value)
    stamp = parse_timestamp(value)  # ValueError if it is neither
    if stamp != midnight(stamp.date()):
        raise ValueError(f"{value!r} is not midnight UTC")
    return stamp.date()


def decode_claude_code_page(body: bytes | bytearray) -> Decoded:
    """`{data: [record...], has_more, next_page}`, the records grouped into one bucket per UTC day they cover."""
    page = record_page(body)
    buckets: list[Bucket] = []
    for number, raw in enumerate(page.records):
        try:
            day = record_day(_decode_dated(raw).date)
        except msgspec.ValidationError as exc:
            raise msgspec.ValidationError(f"record {number}: {exc}") from None
        except ValueError as exc:
            raise msgspec.ValidationError(f"record {number}: `date` {exc}; expected YYYY-MM-DD or an RFC 3339 midnight UTC") from None
        start = midnight(day)
        if buckets and buckets[-1].starting_at == start:
            buckets[-1].results.append(raw)
        else:
            buckets.append(Bucket(starting_at=start, ending_at=start + DAY, results=[raw]))
    return Decoded(buckets=buckets, has_more=page.has_more, cursor=page.cursor)


CLAUDE_CODE_PAGES = Paging("page", "next_page", decode_claude_code_page)


def claude_code_table(buckets: Sequence[Bucket], *, run_id: str, ingested_at: datetime, where: str) -> pa.Table:
    """One row per record, with its models nested in `model_breakdown` (`outputs` splits them out)."""
    rows: list[dict[str, Any]] = []
    for bucket in buckets:
        for raw in bucket.results:
            number = len(rows)
            try:
                record = _decode_record(raw)
            except msgspec.ValidationError as exc:
                raise ResponseShapeError(f"{where}: record {number} ({bucket.starting_at.date()}): {exc}") from None
            row = _row(record, bucket.starting_at.date(), f"{where}: record {number} ({bucket.starting_at.date()})")
            rows.append(row | {"ingested_at": ingested_at, "run_id": run_id})
    return pa.Table.from_pylist(rows, schema=_WITH_MODELS) if rows else _WITH_MODELS.empty_table()


def _row(record: _Record, day: date, where: str) -> dict[str, Any]:
    actor = record.actor
    if actor.type == USER_ACTOR and not actor.email_address:
        raise ResponseShapeError(f"{where}: a user_actor without `actor.email_address`")
    if actor.type == API_ACTOR and not actor.api_key_name:
        raise ResponseShapeError(f"{where}: an api_actor without `actor.api_key_name`")
    core = record.core_metrics
    row: dict[str, Any] = {
        "date": day,
        "actor_type": actor.type,
        "actor_email_address": actor.email_address,
        "actor_api_key_name": actor.api_key_name,
        "organization_id": record.organization_id,
        "customer_type": record.customer_type,
        "subscription_type": record.subscription_type,
        "terminal_type": record.terminal_type,
        "is_remote": record.is_remote,
        "num_sessions": core.num_sessions,
        "lines_added": core.lines_of_code.added,
        "lines_removed": core.lines_of_code.removed,
        "commits": core.commits_by_claude_code,
        "pull_requests": core.pull_requests_by_claude_code,
    }
    for tool in CLAUDE_CODE_TOOLS:
        counts = record.tool_actions.get(tool)
        row[f"{tool}_accepted"] = counts.accepted if counts else None
        row[f"{tool}_rejected"] = counts.rejected if counts else None
    others = [(tool, {"accepted": c.accepted, "rejected": c.rejected}) for tool, c in record.tool_actions.items()
              if tool not in CLAUDE_CODE_TOOLS]
    row["other_tool_actions"] = others or None
    row["model_breakdown"] = [_model(m, f"{where}: model_breakdown[{i}]") for i, m in enumerate(record.model_breakdown)]
    return row


def _model(item: _Model, where: str) -> dict[str, Any]:
    cents = item.estimated_cost.amount
    exponent = cents.as_tuple().exponent
    if not cents.is_finite() or not isinstance(exponent, int):
        raise ResponseShapeError(f"{where}: `estimated_cost.amount` {cents} is not a number of cents")
    if exponent < -AMOUNT_CENTS.scale:
        raise ResponseShapeError(f"{where}: `estimated_cost.amount` {cents} has more than {AMOUNT_CENTS.scale} decimal places; refusing to round money")
    if cents.adjusted() >= _MAX_CENT_DIGITS:
        raise ResponseShapeError(f"{where}: `estimated_cost.amount` {cents} does not fit decimal({AMOUNT_CENTS.precision},{AMOUNT_CENTS.scale})")
    tokens = item.tokens
    return {
        "model": item.model,
        "input_tokens": tokens.input,
        "output_tokens": tokens.output,
        "cache_read_tokens": tokens.cache_read,
        "cache_creation_tokens": tokens.cache_creation,
        "estimated_cost_cents": cents,
        "estimated_cost_usd": cents / _HUNDRED if item.estimated_cost.currency == "USD" else None,  # no exchange rates
        "currency": item.estimated_cost.currency,
    }


def split_models(table: pa.Table) -> dict[str, pa.Table]:
    """`claude_code_usage` and `claude_code_models` from `claude_code_table` rows."""
    if "model_breakdown" not in table.column_names:  # an empty day: nothing nested
        return {"claude_code_usage": table.select(CLAUDE_CODE_USAGE.names).cast(CLAUDE_CODE_USAGE),
                "claude_code_models": CLAUDE_CODE_MODELS.empty_table()}
    nested = table.column("model_breakdown").combine_chunks()
    parents = pc.list_parent_indices(nested)
    models = pc.list_flatten(nested)
    columns: dict[str, pa.Array] = {name: table.column(name).take(parents) for name in _IDENTITY}
    for field in MODEL_ROW:
        columns[field.name] = pc.struct_field(models, field.name)
    for name in ("ingested_at", "run_id"):
        columns[name] = table.column(name).take(parents)
    usage = table.drop_columns(["model_breakdown"]).cast(CLAUDE_CODE_USAGE)
    return {"claude_code_usage": usage, "claude_code_models": pa.table(columns).select(CLAUDE_CODE_MODELS.names).cast(CLAUDE_CODE_MODELS)}


@dataclass(frozen=True)
class ClaudeCodeReport:
    """One query per UTC day of the window; the window is the usage lookback (data lands within about an hour)."""

    name: str = "claude_code"
    table: str = "claude_code_usage"
    path: str = PATH
    bucket_width: str = "1d"
    page_limit: int = PAGE_LIMIT

    @property
    def kind(self) -> Kind:
        return Kind.DAILY

    @property
    def paging(self) -> Paging:
        return CLAUDE_CODE_PAGES

    @property
    def required(self) -> bool:
        return False

    @property
    def max_span(self) -> timedelta:
        return timedelta(days=31)  # a query is one day whatever the span: never the reason a slice is short

    @property
    def headers(self) -> Headers:
        return ()

    @property
    def earliest(self) -> datetime | None:
        return None

    def lookback_days(self, settings: Settings) -> int:
        return settings.usage_lookback_days

    def window_end(self, now: datetime, today: datetime) -> datetime:
        return now

    def page_params(self, start: datetime, end: datetime, bytes_per_bucket: int | None, budget: int) -> list[tuple[str, str]]:
        return self.params(start, end)  # a fixed number of records a page

    def params(self, start: datetime, end: datetime) -> list[tuple[str, str]]:
        """The query for the UTC day starting at `start` (`end` is the next midnight)."""
        return [("starting_at", start.date().isoformat()), ("limit", str(self.page_limit))]

    def to_table(self, buckets: Sequence[Bucket], *, run_id: str, ingested_at: datetime, where: str,
                 prices: PriceTable | None = None) -> pa.Table:
        return claude_code_table(buckets, run_id=run_id, ingested_at=ingested_at, where=where)

    def outputs(self, table: pa.Table) -> dict[str, pa.Table]:
        return split_models(table)

    def is_not_ready(self, error: AdminApiError) -> bool:
        return False


def endpoint(settings: Settings) -> ClaudeCodeReport:
    return ClaudeCodeReport()
