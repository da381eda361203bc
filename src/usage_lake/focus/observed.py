"""Prices learned from the bill: the `observed_prices` table, derived from a day's `focus` rows.

A billed FOCUS token row carries the cost report's amount (`BilledCost`) and the usage tokens behind it
(`ConsumedQuantity`); summed per day, model, token type, service tier, context window and geo, their quotient is
the unit price the organization actually paid (USD per 1,000,000 tokens, to 18 decimal places; the billed amount
and the tokens are kept exactly beside it), next to the list price in force that day and their ratio (only where the
cost report splits the row by tier, context window and geo: a null dimension makes the list price ambiguous).

The table is written with the `focus` day it comes from (`observe_day`, called by the run and the rebuild), and
read back (`learned_prices`) to price a model the list does not know at its most recent observed price, or,
when the user accepts observed prices (`ACCEPT_OBSERVED_PRICES`), every combination the bill shows. `drifts`
finds the observed prices that differ from the list by more than 0.5 % on a day the model billed at least 1M tokens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.focus.build import BILLED, TOKEN_COUNTERS
from usage_lake.focus.table import FOCUS_TABLE
from usage_lake.lake.curated import DayAction, partition_days, read_parquet, read_table, store_day
from usage_lake.lake.layout import partition_key
from usage_lake.lake.schema import OBSERVED_PRICES, OBSERVED_UNIT_PRICE
from usage_lake.lake.store import Lake
from usage_lake.money.estimate import estimate_basis, estimated_cost, unpriced_tokens
from usage_lake.money.pricing import RATE_FIELDS, ObservedKey, PriceTable

__all__ = [
    "DRIFT_MIN_TOKENS", "DRIFT_TOLERANCE", "LOOKBACK_DAYS", "OBSERVED_TABLE", "TOKEN_RATES", "Drift", "learned_prices",
    "observe_day", "observed_rows", "read_observed", "reprice_usage_days",
]

logger = logging.getLogger(__name__)

OBSERVED_TABLE = "observed_prices"
USAGE_TABLE = "usage_messages"
DRIFT_TOLERANCE = Decimal("0.005")  # an observed price more than 0.5 % off the list price is reported
DRIFT_MIN_TOKENS = 1_000_000  # ... on a day the model billed at least this many tokens
LOOKBACK_DAYS = 31  # the most recent observed price is looked for in the last this many observed days
# the cost report's token_type -> the TokenRates field it prices
_COUNTER_RATES = dict(zip(("uncached_input_tokens", "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens",
                           "cache_read_input_tokens", "output_tokens"), RATE_FIELDS, strict=True))
TOKEN_RATES = {token_type: _COUNTER_RATES[counter] for token_type, counter in TOKEN_COUNTERS.items()}
_KEY = ("x_Model", "x_TokenType", "x_ServiceTier", "x_ContextWindow", "x_InferenceGeo")
_PLACES = Decimal(1).scaleb(-OBSERVED_UNIT_PRICE.scale)
_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Drift:
    """An observed unit price off the list price by more than the tolerance."""

    day: date
    model: str
    token_type: str
    service_tier: str | None
    context_window: str | None
    inference_geo: str | None
    tokens: int
    observed: Decimal  # USD per MTok
    listed: Decimal

    @property
    def percent(self) -> Decimal:
        """(observed / list - 1) in percent, to one decimal place."""
        return ((self.observed / self.listed - 1) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


def observed_rows(focus: pa.Table, day: date) -> pa.Table:
    """The day's observed prices from its FOCUS rows: billed USD token rows that have a quantity."""
    if focus.num_rows == 0:
        return OBSERVED_PRICES.empty_table()
    billed = focus.filter(pc.and_(
        pc.and_(pc.equal(focus.column("x_CostBasis"), BILLED), pc.fill_null(pc.equal(focus.column("BillingCurrency"), "USD"), False)),
        pc.and_(pc.is_in(focus.column("x_TokenType"), pa.array(list(TOKEN_RATES))),
                pc.fill_null(pc.greater(focus.column("ConsumedQuantity"), pa.scalar(0, focus.schema.field("ConsumedQuantity").type)), False))))
    if billed.num_rows == 0:
        return OBSERVED_PRICES.empty_table()
    grouped = billed.select([*_KEY, "BilledCost", "ConsumedQuantity", "ListUnitPrice"]).group_by(list(_KEY), use_threads=False).aggregate(
        [("BilledCost", "sum"), ("ConsumedQuantity", "sum"), ("ListUnitPrice", "max")])
    rows = []
    for group in sorted(grouped.to_pylist(), key=lambda g: tuple("" if g[k] is None else g[k] for k in _KEY)):
        tokens = int(group["ConsumedQuantity_sum"])
        billed_usd: Decimal = group["BilledCost_sum"]
        # a dimension the cost report left null (not split) leaves the list price of the row ambiguous (US geo costs
        # 1.1x, batch half): no list price, no ratio, no drift for it
        split = all(group[k] is not None for k in ("x_ServiceTier", "x_ContextWindow", "x_InferenceGeo"))
        listed: Decimal | None = group["ListUnitPrice_max"] if split else None
        with localcontext() as context:
            context.prec = 60
            unit = (billed_usd * _MILLION / tokens).quantize(_PLACES, rounding=ROUND_HALF_EVEN)
            ratio = None if not listed else (unit / listed).quantize(_PLACES, rounding=ROUND_HALF_EVEN)
        rows.append({
            "day": day, "model": group["x_Model"], "token_type": group["x_TokenType"], "service_tier": group["x_ServiceTier"],
            "context_window": group["x_ContextWindow"], "inference_geo": group["x_InferenceGeo"], "tokens": tokens,
            "billed_usd": billed_usd, "unit_price_usd_per_mtok": unit, "list_price_usd_per_mtok": listed, "ratio": ratio,
        })
    return pa.Table.from_pylist(rows, schema=OBSERVED_PRICES)


def observe_day(lake: Lake, day: date, prices: PriceTable) -> tuple[PriceTable, list[str]]:
    """Write the day's `observed_prices` from its stored `focus` day; the prices with what it learned, and notes for
    the run log. Derived data never fails the run: a failure is a note (and `usage-lake rebuild` redoes it)."""
    try:
        key = partition_key(FOCUS_TABLE, day)
        focus = read_parquet(lake.get(key), table=FOCUS_TABLE) if lake.exists(key) else None
        if focus is None:
            return prices, []
        rows = observed_rows(focus, day)
        if store_day(lake, OBSERVED_TABLE, day, rows) != DayAction.WRITTEN:
            return prices, []
    except Exception as exc:
        logger.exception("observed prices %s: not written", day)
        return prices, [f"observed_prices {day}: not written: {type(exc).__name__}: {exc} (`usage-lake rebuild` redoes it)"]
    return prices.with_observed({**prices.observed, **_latest([rows])}, prefer=prices.prefer_observed), []


def reprice_usage_days(lake: Lake, days: list[date], prices: PriceTable) -> dict[str, int]:
    """Estimate again the stored `usage_messages` days that hold unpriced rows, with `prices` (which learned observed
    prices since they were written); rewrite a day only when that priced something. The tokens still unpriced, per
    model."""
    left: dict[str, int] = {}
    for day in days:
        key = partition_key(USAGE_TABLE, day)
        if not lake.exists(key):
            continue
        usage = read_parquet(lake.get(key), table=USAGE_TABLE)
        before = unpriced_tokens(usage)
        if not before:
            continue
        cost, basis = estimated_cost(usage, prices), estimate_basis(usage, prices)
        names = usage.schema.names
        usage = usage.set_column(names.index("estimated_cost_usd"), usage.schema.field("estimated_cost_usd"), cost)
        usage = usage.set_column(names.index("estimate_basis"), usage.schema.field("estimate_basis"), basis)
        after = unpriced_tokens(usage)
        if after != before:
            store_day(lake, USAGE_TABLE, day, usage)
        for model, tokens in after.items():
            left[model] = left.get(model, 0) + tokens
    return left


def read_observed(lake: Lake, until: date | None = None, days: int = LOOKBACK_DAYS) -> pa.Table:
    """The `observed_prices` rows of the last `days` observed days up to `until` (inclusive), oldest first."""
    stored = [d for d in partition_days(lake, OBSERVED_TABLE) if until is None or d <= until]
    return read_table(lake, OBSERVED_TABLE, stored[-days:] if days else stored)


def learned_prices(lake: Lake, prices: PriceTable, *, until: date | None = None, accept: bool = False) -> PriceTable:
    """`prices` with the most recent observed price of every combination the lake's recent bills show."""
    try:
        observed = read_observed(lake, until)
    except Exception as exc:  # an unreadable table costs the fallback, never the run
        logger.warning("observed prices could not be read (%s: %s): models without a list price stay unpriced", type(exc).__name__, exc)
        return prices
    return prices.with_observed(_latest([observed]), prefer=accept)


def drifts(observed: pa.Table, *, tolerance: Decimal = DRIFT_TOLERANCE, min_tokens: int = DRIFT_MIN_TOKENS) -> list[Drift]:
    """Observed prices off the list by more than `tolerance`, on a day the model billed at least `min_tokens` tokens."""
    rows = observed.to_pylist()
    volume: dict[tuple[date, str], int] = {}
    for row in rows:
        volume[(row["day"], row["model"])] = volume.get((row["day"], row["model"]), 0) + row["tokens"]
    found = []
    for row in rows:
        listed, ratio = row["list_price_usd_per_mtok"], row["ratio"]
        if listed and ratio is not None and volume[(row["day"], row["model"])] >= min_tokens and abs(ratio - 1) > tolerance:
            found.append(Drift(row["day"], row["model"], row["token_type"], row["service_tier"], row["context_window"],
                               row["inference_geo"], row["tokens"], row["unit_price_usd_per_mtok"], listed))
    return found


def _latest(tables: list[pa.Table]) -> dict[ObservedKey, Decimal]:
    """The most recent unit price of each (model, rate, tier, context window, geo), from rows in day order."""
    latest: dict[ObservedKey, Decimal] = {}
    for table in tables:
        for row in table.select(["day", "model", "token_type", "service_tier", "context_window", "inference_geo",
                                 "unit_price_usd_per_mtok"]).to_pylist():
            rate = TOKEN_RATES.get(row["token_type"])
            if row["model"] is None or rate is None:
                continue
            latest[(row["model"], rate, row["service_tier"], row["context_window"], row["inference_geo"])] = row["unit_price_usd_per_mtok"]
    return latest
