"""The `focus` table in the lake: a day is built from the stored cost and usage days and written whole, beside them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

from usage_lake.focus.build import Unmatched, focus_rows
from usage_lake.focus.names import names_on
from usage_lake.lake.curated import DayAction, read_parquet, read_table, store_day
from usage_lake.lake.layout import partition_key
from usage_lake.lake.schema import COST_REPORT, FOCUS, USAGE_COUNTERS, USAGE_MESSAGES
from usage_lake.lake.store import Lake
from usage_lake.money.pricing import PriceTable
from usage_lake.times import day_range

__all__ = ["FOCUS_TABLE", "FocusDay", "focus_table", "write_focus_day"]

logger = logging.getLogger(__name__)

FOCUS_TABLE = "focus"
_USAGE_COLUMNS = ["workspace_id", "model", "service_tier", "context_window", "inference_geo", *USAGE_COUNTERS]


@dataclass(frozen=True)
class FocusDay:
    day: date
    rows: int
    action: DayAction
    notes: list[str] = field(default_factory=list)


def write_focus_day(lake: Lake, day: date, *, prices: PriceTable, include_estimated_priority: bool = False,
                    unmatched: Unmatched | None = None) -> FocusDay:
    """Rebuild `focus` for `day` from the lake's `cost_report` and `usage_messages` partitions of that day.

    Called once the cost day is written: the focus day is replaced with it. A day without a cost partition
    writes nothing (and an existing focus day is kept, as the cost day it came from is). Token rows that match no
    usage go to the run's `unmatched` (told once per run), else into the day's notes.
    """
    cost = _day(lake, "cost_report", day, COST_REPORT.names)
    if cost is None or cost.num_rows == 0:
        return FocusDay(day, 0, DayAction.KEPT if lake.exists(partition_key(FOCUS_TABLE, day)) else DayAction.EMPTY)
    usage = _day(lake, "usage_messages", day, _USAGE_COLUMNS)
    notes = []
    if usage is None:
        if unmatched is not None:
            unmatched.no_usage.add(day)  # told once per run
        else:
            notes.append(f"focus {day}: no usage_messages partition: token rows have no quantities")
    rows, more = focus_rows(cost, usage if usage is not None else _empty_usage(), day=day, names=names_on(lake, day),
                            prices=prices.on(day).with_observed({}), include_estimated_priority=include_estimated_priority,
                            unmatched=unmatched)
    action = store_day(lake, FOCUS_TABLE, day, rows)
    for note in notes + more:
        logger.warning("%s", note)
    return FocusDay(day, rows.num_rows, action, notes + more)


def focus_table(lake: Lake, start: date, end: date) -> pa.Table:
    """The `focus` rows of the days [start, end), FOCUS columns only, decimals exact (for export)."""
    return read_table(lake, FOCUS_TABLE, day_range(start, end)).select(FOCUS.names)


def _day(lake: Lake, table: str, day: date, columns: list[str]) -> pa.Table | None:
    key = partition_key(table, day)
    if not lake.exists(key):
        return None
    return read_parquet(lake.get(key), table=table, columns=columns)


def _empty_usage() -> pa.Table:
    return USAGE_MESSAGES.empty_table().select(_USAGE_COLUMNS)
