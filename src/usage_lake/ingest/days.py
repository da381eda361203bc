"""Day assembly: hold one window's rows per UTC day until no later page can add to the day.

Two rules decide when a day is done and whether it may be written:

- **No later page can add to it.** A page may end in the middle of a bucket's results and the next page carry
  on with the same bucket (its first bucket repeats the previous page's last one). So a day is done only when a
  bucket *starting* at or after the day's end arrives, or when the query ends, never merely because a bucket
  ending at midnight arrived.
- **Its buckets reach its end.** The API returns every bucket of the range, empty ones included, so a day's
  buckets must run without a hole from its start to its end (for the window's last day: the window's end,
  rounded down to a whole bucket). A query that stops short (`has_more` false with buckets missing) leaves the
  day incomplete: it is not written over the stored day, and `problem` says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.errors import PaginationError, ResponseShapeError
from usage_lake.ingest.plan import Window
from usage_lake.ingest.raw import PageRef
from usage_lake.sources.base import WIDTHS
from usage_lake.sources.http import Page
from usage_lake.sources.rows import first_repeat
from usage_lake.times import DAY, format_timestamp, midnight

__all__ = ["DayAssembler", "PendingDay", "split_by_day"]


@dataclass
class PendingDay:
    tables: list[pa.Table] = field(default_factory=list)
    pages: dict[str, PageRef] = field(default_factory=dict)  # raw key -> page
    reached: datetime | None = None  # end of the unbroken run of buckets from the day's start
    hole: str | None = None  # the first stretch of the day no bucket covered
    split: bool = False  # a bucket's results continued on a later page
    problem: str | None = None  # set when the day is done: why it must not be written (None: complete)


class DayAssembler:
    """Holds one window's rows per UTC day until every page covering the day has arrived."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.width = WIDTHS[window.endpoint.bucket_width]
        self.covered_until = window.start
        self.last_start: datetime | None = None  # the latest bucket seen
        self.pending: dict[date, PendingDay] = {day: PendingDay() for day in window.days()}
        for day, pending in self.pending.items():
            pending.reached = max(midnight(day), window.start)

    def add(self, page: Page, table: pa.Table, raw_key: str) -> None:
        ref = PageRef.of(page, raw_key)
        name = self.window.endpoint.name
        for number, bucket in enumerate(page.buckets):
            continued = number == 0 and bucket.starting_at == self.last_start and bucket.ending_at == self.covered_until
            if bucket.starting_at < self.covered_until and not continued:
                raise PaginationError(  # the cursor led back to buckets already read: a paging fault, not a shape one
                    f"{name} report page {page.number}: bucket {format_timestamp(bucket.starting_at)} "
                    f"arrived out of order (already had buckets up to {format_timestamp(self.covered_until)})"
                )
            if bucket.starting_at < self.window.start or bucket.ending_at > self.window.end or bucket.ending_at <= bucket.starting_at:
                raise ResponseShapeError(
                    f"{name} report page {page.number}: bucket {format_timestamp(bucket.starting_at)}"
                    f"..{format_timestamp(bucket.ending_at)} lies outside the requested range "
                    f"{format_timestamp(self.window.start)}..{format_timestamp(self.window.end)}"
                )
            pending = self.pending[bucket.starting_at.date()]
            if continued:
                pending.split = True
            else:
                if pending.reached is not None and bucket.starting_at > pending.reached and pending.hole is None:
                    pending.hole = f"no bucket covered {format_timestamp(pending.reached)}..{format_timestamp(bucket.starting_at)}"
                pending.reached = max(pending.reached or bucket.ending_at, bucket.ending_at)
            self.covered_until, self.last_start = bucket.ending_at, bucket.starting_at
            pending.pages[raw_key] = ref
        for day, part in split_by_day(table):
            self.pending[day].tables.append(part)

    def complete_days(self, *, query_done: bool) -> list[tuple[date, PendingDay]]:
        """Pop the days no later page can add to (all of them once the query is done), each with its `problem`."""
        done = [day for day in self.pending
                if query_done or (self.last_start is not None and midnight(day) + DAY <= self.last_start)]
        popped = [(day, self.pending.pop(day)) for day in done]
        for day, pending in popped:
            pending.problem = self._problem(day, pending)
            if pending.split and pending.problem is None:
                self._check_split(day, pending)
        return popped

    def expected_end(self, day: date) -> datetime:
        """Where a day's buckets must reach: midnight, or for the window's last day its end in whole buckets."""
        day_end = midnight(day) + DAY
        if day_end <= self.window.end:
            return day_end
        return self.window.start + (self.window.end - self.window.start) // self.width * self.width

    def _problem(self, day: date, pending: PendingDay) -> str | None:
        if pending.hole:
            return f"{pending.hole}; the API skipped buckets"
        expected = self.expected_end(day)
        if pending.reached is not None and pending.reached < expected:
            if pending.reached <= max(midnight(day), self.window.start):
                return f"no bucket of this day came back (the query ended at {format_timestamp(self.covered_until)} with has_more false)"
            return (f"the buckets reach only {format_timestamp(pending.reached)} of {format_timestamp(expected)} "
                    "(the query ended early with has_more false)")
        return None

    def _check_split(self, day: date, pending: PendingDay) -> None:
        """A bucket carried over two pages: its groups must still be distinct across both."""
        table = pa.concat_tables(pending.tables)
        keys = ["bucket_start", *(f.name for f in table.schema if pa.types.is_string(f.type))]
        repeat = first_repeat(table, keys)
        if repeat is not None:
            row = table.slice(repeat[1], 1).to_pylist()[0]
            group = ", ".join(f"{k}={row[k]!r}" for k in keys[1:] if k not in ("run_id", "bucket_width"))
            raise ResponseShapeError(
                f"{self.window.endpoint.name} report {day}: bucket {format_timestamp(row['bucket_start'])} continued on a "
                f"later page repeats a group it already had ({group}); refusing rather than counting it twice"
            )


def split_by_day(table: pa.Table) -> list[tuple[date, pa.Table]]:
    """A table's rows per UTC day of `bucket_start`."""
    if table.num_rows == 0:
        return []
    days = pc.cast(table.column("bucket_start"), pa.date32())
    first, last = pc.min(days).as_py(), pc.max(days).as_py()
    if first == last:
        return [(first, table)]
    return [(day, table.filter(pc.equal(days, pa.scalar(day, pa.date32())))) for day in pc.unique(days).to_pylist()]
