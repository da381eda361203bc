"""Which time ranges a run asks each bucketed endpoint for.

Incremental: whole UTC days from today - the endpoint's lookback through the endpoint's `window_end` (now for
usage; today 00:00 for cost, which has no bucket for a day that has not ended). Backfill: the requested days,
with the same clamps.

The plan is cut into slices of whole days: the shortest span among the endpoints' fullest pages (7 days for
hourly usage, 31 for daily usage and cost, 1 for minute usage). A run checks its time between slices, so a
backfill that must stop early stops at a slice boundary with every endpoint done up to it.

Each endpoint queries as many whole slices at once as its own fullest page spans: hourly usage one 7-day
slice per query, cost four (28 days) in the query of the first of them. So a 31-day hourly backfill is 5
usage queries and 2 cost queries, not 5 and 5; a small organization's query is one page (see `paging`). The
price: a backfill that stops inside a 28-day cost query fetches the rest of it again after the hand-over.
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
    windows: tuple[Window, ...]  # the queries that begin in this slice (some reach into later slices)


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
        if start < end:
            windows.append(Window(endpoint, start, end))
    return windows


def slices(windows: list[Window]) -> list[Slice]:
    """Cut the run's windows into slices of whole days; each endpoint's queries span whole slices."""
    if not windows:
        return []
    step = max(DAY, min(w.endpoint.max_span for w in windows) // DAY * DAY)
    first, end = min(w.start for w in windows), max(w.end for w in windows)
    spans = [max(step, w.endpoint.max_span // step * step) for w in windows]  # whole slices per query
    plan = []
    cursor = first
    while cursor < end:
        upper = cursor + step
        parts = tuple(
            Window(w.endpoint, max(w.start, cursor), min(w.end, cursor + span))
            for w, span in zip(windows, spans, strict=True)
            if not (cursor - first) % span and max(w.start, cursor) < min(w.end, cursor + span)
        )
        plan.append(Slice(cursor.date(), (min(upper, end) - timedelta(microseconds=1)).date() + DAY, parts))
        cursor = upper
    return plan
