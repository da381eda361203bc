"""Derived tables: what is built from a curated day once it is written, keyed by that day's table.

`DERIVED[table]` lists the builders run after a day of `table` is written (the FOCUS day after a cost day, then its observed prices).
A builder gets the run's context and the day and returns notes for the run log. Derived data never fails the
run that fetched its source: a builder that raises is logged and noted, and `usage-lake rebuild` redoes it.
Adding a derived table is one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.config.settings import Settings
from usage_lake.focus import Unmatched, observe_day, write_focus_day
from usage_lake.lake.curated import read_parquet
from usage_lake.lake.layout import partition_key
from usage_lake.lake.store import Lake
from usage_lake.money.pricing import ObservedKey, PriceTable

__all__ = ["DERIVED", "RECONCILE_TOLERANCE_USD", "Builder", "Context", "billed_totals", "derived_for"]


@dataclass(frozen=True)
class Context:
    lake: Lake
    prices: PriceTable
    settings: Settings
    unmatched: Unmatched = field(default_factory=Unmatched)  # cost token rows no usage explains, told once per run
    learned: dict[ObservedKey, Decimal] = field(default_factory=dict)  # observed prices the run learned (issue 19)


Builder = Callable[[Context, date], list[str]]


def _focus(ctx: Context, day: date) -> list[str]:
    """The day's `focus` rows, from the cost day just written (and the usage day in the lake)."""
    return write_focus_day(ctx.lake, day, prices=ctx.prices, include_estimated_priority=ctx.settings.focus_include_estimated_priority,
                           unmatched=ctx.unmatched).notes


def _observed(ctx: Context, day: date) -> list[str]:
    """The day's `observed_prices` (unit prices the bill shows), from the focus day just written; what it learned
    prices the rest of the run (`learned`)."""
    prices, notes = observe_day(ctx.lake, day, ctx.prices.with_observed({**ctx.prices.observed, **ctx.learned},
                                                                         prefer=ctx.prices.prefer_observed))
    ctx.learned.update(prices.observed)
    return notes


RECONCILE_TOLERANCE_USD = Decimal("0.01")


def billed_totals(lake: Lake, day: date) -> tuple[Decimal, Decimal, Decimal] | None:
    """(legacy billed, analytics billed without Priority Tier, analytics Priority Tier) of a day, in USD; None
    unless the lake holds both the cost report's and the Analytics API's day."""
    keys = {table: partition_key(table, day) for table in ("cost_report", "analytics_cost")}
    if not all(lake.exists(key) for key in keys.values()):
        return None
    legacy = read_parquet(lake.get(keys["cost_report"]), table="cost_report", columns=["amount_usd"])
    analytics = read_parquet(lake.get(keys["analytics_cost"]), table="analytics_cost", columns=["amount_usd", "service_tier"])
    priority = pc.fill_null(pc.equal(analytics.column("service_tier"), "priority"), False)

    def total(column: pa.ChunkedArray | pa.Array) -> Decimal:
        return Decimal(pc.sum(column).as_py() or 0)

    return (total(legacy.column("amount_usd")), total(analytics.filter(pc.invert(priority)).column("amount_usd")),
            total(analytics.filter(priority).column("amount_usd")))


def _billed_check(ctx: Context, day: date) -> list[str]:
    """A day whose two billed totals (the cost report, the Analytics API without Priority Tier) differ by more
    than a cent is noted in the run log; `usage-lake report reconcile` shows it per model."""
    totals = billed_totals(ctx.lake, day)
    if totals is None:
        return []
    legacy, analytics, _ = totals
    if abs(analytics - legacy) <= RECONCILE_TOLERANCE_USD:
        return []
    return [f"reconcile {day}: the Analytics API bills ${analytics:,.2f} (Priority Tier aside), the cost report ${legacy:,.2f}: "
            f"a difference of ${analytics - legacy:+,.2f} (`usage-lake report reconcile` shows it per model)"]


DERIVED: dict[str, tuple[tuple[str, Builder], ...]] = {
    "cost_report": (("focus", _focus), ("observed_prices", _observed)),
    "analytics_cost": (("reconcile", _billed_check),),  # after the cost report: the run order fetches it later
}


def derived_for(table: str) -> tuple[tuple[str, Builder], ...]:
    """(name, builder) of every derived table built from a written day of `table`."""
    return DERIVED.get(table, ())
