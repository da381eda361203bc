"""The Cost Report (`/v1/organizations/cost_report`) -> `cost_report`.

Billed USD per UTC day, workspace and description. A day appears only once it has ended (the API answers 400
"ending date must be after starting date" for a range with no complete day), so the window ends at today 00:00.

Money: `amount` arrives as a decimal string of cents. It is cast straight to decimal128 (exact; Arrow
refuses any cast that would lose digits) and dollars are the same unscaled integer read at two more
decimal places, so "123.78912" cents becomes exactly 1.2378912 USD without passing through a float.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.config.settings import Settings
from usage_lake.errors import AdminApiError, ResponseShapeError
from usage_lake.lake.schema import AMOUNT_CENTS, AMOUNT_USD, COST_DIMENSIONS, COST_REPORT
from usage_lake.money.pricing import PriceTable
from usage_lake.sources.base import BucketedReport
from usage_lake.sources.http import Bucket
from usage_lake.sources.rows import bucket_columns, parse_rows, require, require_unique, stamp_columns

__all__ = ["COST_GROUP_BY", "COST_KEY", "COST_ROW", "CostReport", "cost_table", "endpoint", "parse_cents"]

PATH = "/v1/organizations/cost_report"
COST_GROUP_BY = ("workspace_id", "description")
COST_TOO_RECENT = "ending date must be after starting date"
_STR = pa.string()

COST_ROW = pa.schema(
    [(name, _STR) for name in ("amount", "currency", "workspace_id", "description", "cost_type", "model",
                               "token_type", "service_tier", "context_window", "inference_geo")]
)
COST_REQUIRED = ("amount", "currency")
# one row per day and group: the same key twice would count its amount twice
COST_KEY = ("bucket_start", *COST_DIMENSIONS)
_DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def cost_table(buckets: Sequence[Bucket], *, run_id: str, ingested_at: datetime, where: str) -> pa.Table:
    """`cost_report` rows, with `amount` as exact decimal cents and dollars."""
    rows, bucket_index = parse_rows(buckets, COST_ROW, where)
    n = len(rows)
    for name in COST_REQUIRED:
        require(rows.column(name), name, buckets, bucket_index, where)
    cents = parse_cents(rows.column("amount"), where)
    dollars = pa.Array.from_buffers(AMOUNT_USD, len(cents), cents.buffers())
    is_usd = pc.equal(rows.column("currency").combine_chunks(), "USD")
    columns: dict[str, pa.Array] = {}
    columns |= bucket_columns(buckets, bucket_index)
    for name in COST_REPORT.names:
        if name in COST_ROW.names:
            columns[name] = rows.column(name)
    columns["amount_cents"] = cents
    columns["amount_usd"] = pc.if_else(is_usd, dollars, pa.scalar(None, AMOUNT_USD))  # no exchange rates: other currencies stay null
    columns |= stamp_columns(n, run_id, ingested_at)
    table = pa.table(columns, schema=COST_REPORT)
    require_unique(table, COST_KEY, buckets, bucket_index, where)
    return table


def parse_cents(amounts: pa.ChunkedArray, where: str, name: str = "amount") -> pa.Array:
    """Decimal strings of cents as exact decimal128 cents; a value that is not one (or would round) is refused."""
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
            raise ResponseShapeError(f"{where}: `{name}` {value!r} is not a decimal string of cents")
        if int(exact.as_tuple().exponent) < -AMOUNT_CENTS.scale:
            raise ResponseShapeError(f"{where}: `{name}` {value!r} has more than {AMOUNT_CENTS.scale} decimal places; refusing to round money")
    raise ResponseShapeError(f"{where}: `{name}` values do not fit decimal({AMOUNT_CENTS.precision},{AMOUNT_CENTS.scale})")



@dataclass(frozen=True)
class CostReport(BucketedReport):
    """Cost: whole UTC days that have ended (daily buckets only: up to 31 a page)."""

    def lookback_days(self, settings: Settings) -> int:
        return settings.cost_lookback_days

    def window_end(self, now: datetime, today: datetime) -> datetime:
        return today

    def to_table(self, buckets: Sequence[Bucket], *, run_id: str, ingested_at: datetime, where: str,
                 prices: PriceTable | None = None) -> pa.Table:
        return cost_table(buckets, run_id=run_id, ingested_at=ingested_at, where=where)

    def is_not_ready(self, error: AdminApiError) -> bool:
        """A range with no complete day yet is not an error, just nothing to fetch."""
        return error.status == 400 and COST_TOO_RECENT in (error.api_message or "")


def endpoint(settings: Settings) -> CostReport:
    return CostReport("cost", "cost_report", PATH, "1d", COST_GROUP_BY)
