"""Derived tables: what is built from a curated day once it is written, keyed by that day's table.

`DERIVED[table]` lists the builders run after a day of `table` is written (the FOCUS day after a cost day).
A builder gets the run's context and the day and returns notes for the run log. Derived data never fails the
run that fetched its source: a builder that raises is logged and noted, and `usage-lake rebuild` redoes it.
Adding a derived table is one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from usage_lake.config.settings import Settings
from usage_lake.focus import write_focus_day
from usage_lake.lake.store import Lake
from usage_lake.money.pricing import PriceTable

__all__ = ["DERIVED", "Builder", "Context", "derived_for"]


@dataclass(frozen=True)
class Context:
    lake: Lake
    prices: PriceTable
    settings: Settings


Builder = Callable[[Context, date], list[str]]


def _focus(ctx: Context, day: date) -> list[str]:
    """The day's `focus` rows, from the cost day just written (and the usage day in the lake)."""
    return write_focus_day(ctx.lake, day, prices=ctx.prices,
                           include_estimated_priority=ctx.settings.focus_include_estimated_priority).notes


DERIVED: dict[str, tuple[tuple[str, Builder], ...]] = {
    "cost_report": (("focus", _focus),),
}


def derived_for(table: str) -> tuple[tuple[str, Builder], ...]:
    """(name, builder) of every derived table built from a written day of `table`."""
    return DERIVED.get(table, ())
