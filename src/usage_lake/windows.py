"""Which time ranges a run asks the API for.

Incremental: whole UTC days from today - lookback through now for usage; for cost the window ends at today
00:00, because the cost report has no bucket for a day that has not ended (it answers 400 "ending date must
be after starting date"). Backfill: the requested days, with the same clamps.

The plan is cut into slices of whole days no longer than any report's maximum query span (7 days for
hourly usage, 31 for daily usage and cost, 1 for minute usage). A slice holds one query per report over the
same days, so a backfill that must stop early stops at a slice boundary with every report done up to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from usage_lake.events import RunRequest
from usage_lake.reports import Report

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    report: Report
    start: datetime
    end: datetime

    def days(self) -> list[date]:
        """The UTC days this window touches."""
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass(frozen=True)
class Slice:
    start: date
    end: date  # exclusive
    windows: tuple[Window, ...]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def run_windows(request: RunRequest, reports: Iterable[Report], now: datetime, *,
                usage_lookback_days: int, cost_lookback_days: int) -> list[Window]:
    """One window per report for the whole run; a report with nothing to fetch yet gets none."""
    today = midnight(now.date())
    windows = []
    for report in reports:
        if request.mode == "backfill":
            assert request.start is not None and request.end is not None
            start = midnight(request.start)
            end = midnight(request.end)
        else:
            lookback = usage_lookback_days if report.name == "usage" else cost_lookback_days
            start, end = today - lookback * DAY, now
        end = min(end, now if report.name == "usage" else today)
        if start < end:
            windows.append(Window(report, start, end))
    return windows


def slices(windows: list[Window]) -> list[Slice]:
    """Cut the run's windows into slices of whole days that every report can fetch in one query."""
    if not windows:
        return []
    step = max(DAY, min(w.report.max_span for w in windows) // DAY * DAY)
    cursor, end = min(w.start for w in windows), max(w.end for w in windows)
    plan = []
    while cursor < end:
        upper = cursor + step
        parts = tuple(
            Window(w.report, max(w.start, cursor), min(w.end, upper))
            for w in windows
            if max(w.start, cursor) < min(w.end, upper)
        )
        plan.append(Slice(cursor.date(), (min(upper, end) - timedelta(microseconds=1)).date() + DAY, parts))
        cursor = upper
    return plan
