"""Which time ranges a run asks each bucketed endpoint for.

Incremental: whole UTC days from today - the endpoint's lookback through the endpoint's `window_end` (now for
usage; today 00:00 for cost, which has no bucket for a day that has not ended). Backfill: the requested days,
with the same clamps.

The plan is cut into slices of whole days no longer than any endpoint's maximum query span (7 days for
hourly usage, 31 for daily usage and cost, 1 for minute usage). A slice holds one query per endpoint over the
same days, so a backfill that must stop early stops at a slice boundary with every endpoint done up to it.
Within its query, how many buckets each page asks for follows the size of a bucket (`paging`): a small
organization's query is one page.

Cost stays in the slice's query although the API would take 31 days at once: each cost day's `focus` day is
built as it is written, from the usage day the same slice has written before it, so a cost query must not run
ahead of usage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from usage_lake.config.events import Mode, RunRequest
from usage_lake.config.settings import Settings
from usage_lake.sources.base import Endpoint
from usage_lake.times import DAY, midnight

__all__ = ["Slice", "Window", "run_windows", "slices"]


@dataclass(frozen=True)
class Window:
    endpoint: Endpoint
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


def run_windows(request: RunRequest, endpoints: Iterable[Endpoint], now: datetime, settings: Settings) -> list[Window]:
    """One window per endpoint for the whole run; an endpoint with nothing to fetch yet gets none."""
    today = midnight(now.date())
    windows = []
    for endpoint in endpoints:
        if request.mode == Mode.BACKFILL:
            assert request.start is not None and request.end is not None
            start, end = midnight(request.start), midnight(request.end)
        else:
            start, end = today - endpoint.lookback_days(settings) * DAY, now
        end = min(end, endpoint.window_end(now, today))
        if endpoint.earliest is not None:
            start = max(start, endpoint.earliest)
        if start < end:
            windows.append(Window(endpoint, start, end))
    return windows


def slices(windows: list[Window]) -> list[Slice]:
    """Cut the run's windows into slices of whole days that every endpoint can fetch in one query."""
    if not windows:
        return []
    step = max(DAY, min(w.endpoint.max_span for w in windows) // DAY * DAY)
    cursor, end = min(w.start for w in windows), max(w.end for w in windows)
    plan = []
    while cursor < end:
        upper = cursor + step
        parts = tuple(
            Window(w.endpoint, max(w.start, cursor), min(w.end, upper))
            for w in windows
            if max(w.start, cursor) < min(w.end, upper)
        )
        plan.append(Slice(cursor.date(), (min(upper, end) - timedelta(microseconds=1)).date() + DAY, parts))
        cursor = upper
    return plan
