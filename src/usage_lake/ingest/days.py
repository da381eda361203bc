"""Day assembly: hold one window's rows per UTC day until no later page can add to the day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.errors import ResponseShapeError
from usage_lake.ingest.plan import Window
from usage_lake.ingest.raw import PageRef
from usage_lake.sources.http import Page
from usage_lake.times import DAY, format_timestamp, midnight

__all__ = ["DayAssembler", "PendingDay", "split_by_day"]


@dataclass
class PendingDay:
    tables: list[pa.Table] = field(default_factory=list)
    pages: dict[str, PageRef] = field(default_factory=dict)  # raw key -> page


class DayAssembler:
    """Holds one window's rows per UTC day until every page covering the day has arrived."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.covered_until = window.start
        self.pending: dict[date, PendingDay] = {day: PendingDay() for day in window.days()}

    def add(self, page: Page, table: pa.Table, raw_key: str) -> None:
        ref = PageRef.of(page, raw_key)
        name = self.window.endpoint.name
        for bucket in page.buckets:
            if bucket.starting_at < self.covered_until:
                raise ResponseShapeError(
                    f"{name} report page {page.number}: bucket {format_timestamp(bucket.starting_at)} "
                    f"arrived out of order (already had buckets up to {format_timestamp(self.covered_until)})"
                )
            if bucket.starting_at < self.window.start or bucket.ending_at > self.window.end or bucket.ending_at <= bucket.starting_at:
                raise ResponseShapeError(
                    f"{name} report page {page.number}: bucket {format_timestamp(bucket.starting_at)}"
                    f"..{format_timestamp(bucket.ending_at)} lies outside the requested range "
                    f"{format_timestamp(self.window.start)}..{format_timestamp(self.window.end)}"
                )
            self.covered_until = bucket.ending_at
            self.pending[bucket.starting_at.date()].pages[raw_key] = ref
        for day, part in split_by_day(table):
            self.pending[day].tables.append(part)

    def complete_days(self, *, query_done: bool) -> list[tuple[date, PendingDay]]:
        """Pop the days no later page can add to: all of them once the query is done."""
        done = [day for day in self.pending if query_done or midnight(day) + DAY <= self.covered_until]
        return [(day, self.pending.pop(day)) for day in done]


def split_by_day(table: pa.Table) -> list[tuple[date, pa.Table]]:
    """A table's rows per UTC day of `bucket_start`."""
    if table.num_rows == 0:
        return []
    days = pc.cast(table.column("bucket_start"), pa.date32())
    first, last = pc.min(days).as_py(), pc.max(days).as_py()
    if first == last:
        return [(first, table)]
    return [(day, table.filter(pc.equal(days, pa.scalar(day, pa.date32())))) for day in pc.unique(days).to_pylist()]
