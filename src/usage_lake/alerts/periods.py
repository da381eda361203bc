"""The periods budgets are measured over: a UTC day, an ISO week (Monday 00:00 UTC), a calendar month.

A period stays open - evaluated by every run - from its start until GRACE_DAYS after its end: the cost report
bills a day or two late and a period's last hour lands after midnight, so its figure is final only then.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from usage_lake.config.budgets import Period
from usage_lake.times import midnight

__all__ = ["FORECAST_AFTER_DAYS", "GRACE_DAYS", "Span", "open_spans", "span_of"]

GRACE_DAYS = 3
FORECAST_AFTER_DAYS = {Period.WEEKLY: 3, Period.MONTHLY: 5}  # whole days of the period before a forecast means much


@dataclass(frozen=True)
class Span:
    """One period: [start, end) in whole UTC days."""

    period: Period
    start: date
    end: date  # exclusive

    @property
    def id(self) -> str:
        """How the period appears in keys: 2026-11-22, 2026-W47, 2026-11."""
        if self.period == Period.DAILY:
            return self.start.isoformat()
        if self.period == Period.WEEKLY:
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start:%Y-%m}"

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def title(self) -> str:
        """How people read it: 2026-11-22, the week of 2026-11-16 (2026-W47), November 2026."""
        if self.period == Period.DAILY:
            return self.start.isoformat()
        if self.period == Period.WEEKLY:
            return f"the week of {self.start} ({self.id})"
        return f"{self.start:%B %Y}"

    @property
    def title_short(self) -> str:
        """2026-11-22, 2026-W47, November 2026 (for subjects)."""
        return self.id if self.period == Period.WEEKLY else self.title

    @property
    def noun(self) -> str:
        return {Period.DAILY: "day", Period.WEEKLY: "week", Period.MONTHLY: "month"}[self.period]

    def through(self, now: datetime) -> date:
        """The last day with figures at `now`: today while the period runs, else its last day."""
        return min(self.last, now.date())

    def ended(self, now: datetime) -> bool:
        return now.date() > self.last

    def elapsed_days(self, now: datetime) -> int | None:
        """Whole days of the period before today (None once it has ended)."""
        return None if self.ended(now) else (now.date() - self.start).days


def span_of(period: Period, day: date) -> Span:
    if period == Period.DAILY:
        return Span(period, day, day + timedelta(days=1))
    if period == Period.WEEKLY:
        start = day - timedelta(days=day.weekday())
        return Span(period, start, start + timedelta(days=7))
    start = day.replace(day=1)
    return Span(period, start, start + timedelta(days=calendar.monthrange(start.year, start.month)[1]))


def open_spans(period: Period, now: datetime) -> list[Span]:
    """The periods still evaluated at `now`, oldest first: those that ended less than GRACE_DAYS ago, then the current one."""
    spans = [span_of(period, now.date())]
    while now < midnight(spans[0].start) + timedelta(days=GRACE_DAYS):  # the one before may still be open
        before = span_of(period, spans[0].start - timedelta(days=1))
        if now >= midnight(before.end) + timedelta(days=GRACE_DAYS):
            break
        spans.insert(0, before)
    return spans
