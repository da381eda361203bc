"""Budget periods: a UTC day, an ISO week from Monday 00:00 UTC, a calendar month; each open until 3 days after it ends."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from usage_lake.alerts.periods import open_spans, span_of
from usage_lake.config.budgets import Period


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_each_period_and_its_id() -> None:
    assert (span_of(Period.DAILY, date(2026, 11, 22)).id, span_of(Period.DAILY, date(2026, 11, 22)).days) == ("2026-11-22", 1)
    week = span_of(Period.WEEKLY, date(2026, 11, 29))  # a Sunday: the week began on Monday the 23rd
    assert (week.start, week.end, week.id) == (date(2026, 11, 23), date(2026, 11, 30), "2026-W48")
    assert span_of(Period.WEEKLY, date(2027, 1, 1)).id == "2026-W53"  # ISO: the week of Monday 2026-12-28 is 2026's 53rd
    february = span_of(Period.MONTHLY, date(2028, 2, 10))
    assert (february.start, february.last, february.days, february.id) == (date(2028, 2, 1), date(2028, 2, 29), 29, "2028-02")


@pytest.mark.parametrize(("period", "now", "ids"), [
    (Period.DAILY, at(2026, 11, 23, 14, 30), ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"]),
    (Period.WEEKLY, at(2026, 12, 2, 23, 59), ["2026-W48", "2026-W49"]),  # Wednesday: last week still open
    (Period.WEEKLY, at(2026, 12, 3, 0, 0), ["2026-W49"]),  # Thursday 00:00: 3 days after it ended, last week closes
    (Period.MONTHLY, at(2026, 12, 3, 23, 0), ["2026-11", "2026-12"]),
    (Period.MONTHLY, at(2026, 12, 4, 0, 0), ["2026-12"]),
])
def test_a_period_stays_open_three_days_after_its_end(period: Period, now: datetime, ids: list[str]) -> None:
    assert [span.id for span in open_spans(period, now)] == ids


def test_elapsed_days_for_the_forecast() -> None:
    month = span_of(Period.MONTHLY, date(2026, 11, 1))
    assert month.elapsed_days(at(2026, 11, 6, 9)) == 5 and month.elapsed_days(at(2026, 12, 1, 0, 30)) is None
    assert month.through(at(2026, 12, 1, 0, 30)) == date(2026, 11, 30) and month.ended(at(2026, 12, 1, 0, 30))
