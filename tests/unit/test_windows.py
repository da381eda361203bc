"""Which ranges a run fetches (windows, slices) and the exact query each report sends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from usage_lake.config.events import RunRequest
from usage_lake.config.settings import Settings
from usage_lake.ingest.plan import Window, run_windows, slices
from usage_lake.sources import registry


def usage_report(width: str):
    return registry.endpoint("usage", Settings(usage_bucket_width=width))


def cost_report():
    return registry.endpoint("cost", Settings())


def lookbacks(usage_lookback_days: int, cost_lookback_days: int) -> Settings:
    return Settings(usage_lookback_days=usage_lookback_days, cost_lookback_days=cost_lookback_days)

NOW = datetime(2026, 11, 23, 14, 37, 12, tzinfo=UTC)
USAGE = usage_report("1h")
COST = cost_report()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def span(window: Window) -> tuple[str, datetime, datetime]:
    return (window.endpoint.name, window.start, window.end)


def backfill(start: date, end: date) -> RunRequest:
    return RunRequest(mode="backfill", start=start, end=end)


# --- incremental ---------------------------------------------------------------------------------------------

def test_incremental_usage_runs_to_now_and_cost_to_today_midnight() -> None:
    windows = run_windows(RunRequest(mode="incremental"), [USAGE, COST], NOW, lookbacks(3, 3))
    assert [span(w) for w in windows] == [
        ("usage", utc(2026, 11, 20), utc(2026, 11, 23, 14, 37, 12)),
        ("cost", utc(2026, 11, 20), utc(2026, 11, 23)),
    ]


def test_incremental_lookbacks_are_independent() -> None:
    windows = run_windows(RunRequest(mode="incremental"), [USAGE, COST], NOW, lookbacks(1, 10))
    assert [span(w) for w in windows] == [
        ("usage", utc(2026, 11, 22), NOW),
        ("cost", utc(2026, 11, 13), utc(2026, 11, 23)),
    ]


def test_cost_lookback_zero_gives_no_cost_window() -> None:
    windows = run_windows(RunRequest(mode="incremental"), [USAGE, COST], NOW, lookbacks(3, 0))
    assert [span(w) for w in windows] == [("usage", utc(2026, 11, 20), NOW)]


def test_usage_lookback_zero_still_fetches_today_so_far() -> None:
    windows = run_windows(RunRequest(mode="incremental"), [USAGE], NOW, lookbacks(0, 3))
    assert [span(w) for w in windows] == [("usage", utc(2026, 11, 23), NOW)]


def test_only_the_requested_reports_get_windows() -> None:
    windows = run_windows(RunRequest(mode="incremental", reports=("cost",)), [COST], NOW, lookbacks(3, 3))
    assert [span(w) for w in windows] == [("cost", utc(2026, 11, 20), utc(2026, 11, 23))]


# --- backfill slices -----------------------------------------------------------------------------------------

def backfill_plan(width: str, start: date = date(2026, 1, 1), end: date = date(2026, 3, 1)):
    windows = run_windows(backfill(start, end), [usage_report(width), COST], NOW, lookbacks(3, 3))
    return windows, slices(windows)


def test_backfill_windows_cover_the_requested_days() -> None:
    windows, _ = backfill_plan("1h")
    assert [span(w) for w in windows] == [
        ("usage", utc(2026, 1, 1), utc(2026, 3, 1)),
        ("cost", utc(2026, 1, 1), utc(2026, 3, 1)),
    ]


def test_hourly_backfill_is_cut_into_seven_day_slices() -> None:
    _, plan = backfill_plan("1h")
    # 59 days: eight slices of 7 days and a last one of 3
    assert len(plan) == 9
    assert (plan[0].start, plan[0].end) == (date(2026, 1, 1), date(2026, 1, 8))
    assert [p.start for p in plan] == [date(2026, 1, 1) + timedelta(days=7 * i) for i in range(9)]
    assert [p.end for p in plan[:-1]] == [p.start for p in plan[1:]]
    assert plan[-1].start == date(2026, 2, 26)


def test_last_slice_windows_are_clipped_to_the_backfill_end() -> None:
    _, plan = backfill_plan("1h")
    assert [span(w) for w in plan[-1].windows] == [
        ("usage", utc(2026, 2, 26), utc(2026, 3, 1)),
        ("cost", utc(2026, 2, 26), utc(2026, 3, 1)),
    ]


def test_last_slice_end_is_clipped_to_the_backfill_end() -> None:
    _, plan = backfill_plan("1h")
    assert plan[-1].end == date(2026, 3, 1)


def test_each_slice_has_one_window_per_report_over_the_same_days() -> None:
    _, plan = backfill_plan("1h")
    covered: dict[str, list[date]] = {"usage": [], "cost": []}
    for part in plan:
        assert [w.endpoint.name for w in part.windows] == ["usage", "cost"]
        usage, cost = part.windows
        assert (usage.start, usage.end) == (cost.start, cost.end)
        assert usage.start == utc(part.start.year, part.start.month, part.start.day)
        assert usage.end - usage.start <= USAGE.max_span
        for window in part.windows:
            covered[window.endpoint.name] += window.days()
    every_day = [date(2026, 1, 1) + timedelta(days=i) for i in range(59)]
    assert covered == {"usage": every_day, "cost": every_day}


def test_daily_backfill_is_cut_into_31_day_slices() -> None:
    _, plan = backfill_plan("1d")
    assert [(p.start, [span(w) for w in p.windows]) for p in plan] == [
        (date(2026, 1, 1), [("usage", utc(2026, 1, 1), utc(2026, 2, 1)), ("cost", utc(2026, 1, 1), utc(2026, 2, 1))]),
        (date(2026, 2, 1), [("usage", utc(2026, 2, 1), utc(2026, 3, 1)), ("cost", utc(2026, 2, 1), utc(2026, 3, 1))]),
    ]


def test_minute_backfill_is_cut_into_one_day_slices() -> None:
    _, plan = backfill_plan("1m", date(2026, 1, 1), date(2026, 1, 4))
    assert [(p.start, p.end) for p in plan] == [
        (date(2026, 1, 1), date(2026, 1, 2)), (date(2026, 1, 2), date(2026, 1, 3)), (date(2026, 1, 3), date(2026, 1, 4)),
    ]
    assert all(w.end - w.start == timedelta(days=1) for p in plan for w in p.windows)


def test_backfill_ending_tomorrow_clips_usage_at_now_and_cost_at_today() -> None:
    windows = run_windows(backfill(date(2026, 11, 20), date(2026, 11, 24)), [USAGE, COST], NOW, lookbacks(3, 3))
    assert [span(w) for w in windows] == [
        ("usage", utc(2026, 11, 20), NOW),
        ("cost", utc(2026, 11, 20), utc(2026, 11, 23)),
    ]


def test_backfill_of_today_only_has_no_cost_window() -> None:
    windows = run_windows(backfill(date(2026, 11, 23), date(2026, 11, 24)), [USAGE, COST], NOW, lookbacks(3, 3))
    assert [span(w) for w in windows] == [("usage", utc(2026, 11, 23), NOW)]
    plan = slices(windows)
    assert [(p.start, [span(w) for w in p.windows]) for p in plan] == [(date(2026, 11, 23), [("usage", utc(2026, 11, 23), NOW)])]


def test_no_windows_no_slices() -> None:
    assert slices([]) == []


# --- Window.days ---------------------------------------------------------------------------------------------

def test_window_ending_at_midnight_does_not_touch_the_next_day() -> None:
    window = Window(COST, utc(2026, 11, 20), utc(2026, 11, 23))
    assert window.days() == [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]


def test_window_ending_mid_day_touches_that_day() -> None:
    window = Window(USAGE, utc(2026, 11, 22), NOW)
    assert window.days() == [date(2026, 11, 22), date(2026, 11, 23)]


def test_window_of_one_minute_touches_one_day() -> None:
    assert Window(USAGE, utc(2026, 11, 23, 23, 59), utc(2026, 11, 24)).days() == [date(2026, 11, 23)]


# --- Report.params -------------------------------------------------------------------------------------------

USAGE_GROUP_BY = [
    ("group_by[]", "api_key_id"),
    ("group_by[]", "workspace_id"),
    ("group_by[]", "model"),
    ("group_by[]", "service_tier"),
    ("group_by[]", "context_window"),
    ("group_by[]", "inference_geo"),
]


@pytest.mark.parametrize("width,limit", [("1h", "24"), ("1d", "1"), ("1m", "1440")])
def test_usage_params_are_exact(width: str, limit: str) -> None:
    params = usage_report(width).params(utc(2026, 10, 1), utc(2026, 10, 2))
    assert params == [
        ("starting_at", "2026-10-01T00:00:00Z"),
        ("ending_at", "2026-10-02T00:00:00Z"),
        ("bucket_width", width),
        ("limit", limit),  # one day of buckets while their size is unknown
        *USAGE_GROUP_BY,
    ]
    assert dict(usage_report(width).params(utc(2026, 10, 1), utc(2026, 10, 2), 7))["limit"] == "7"


MB = 1_000_000


@pytest.mark.parametrize(("width", "bytes_per_bucket", "limit"), [
    ("1h", None, 24),  # unknown: one day
    ("1h", 3_800, 168),  # a small org (3.8 KB an hour): the API's maximum, 7 days
    ("1h", 4_604_000, 24),  # the large org (110.5 MB a day): one day, as before
    ("1h", 20 * MB, 24),  # bigger than the budget a day: still one day (a page never splits a day)
    ("1h", 1.3 * MB, 96),  # 134 MB budget / 1.3 MB = 103 buckets: 4 whole days
    ("1h", 0.79 * MB, 168),  # 169 buckets fit: capped at 168
    ("1d", None, 1),
    ("1d", 4_000, 31),
    ("1d", 110.5 * MB, 1),
    ("1d", 30 * MB, 4),
    ("1m", None, 1440),
    ("1m", 10, 1440),
    ("1m", 1 * MB, 1440),  # a minute page is one day whatever it weighs (the API's maximum is one day)
])
def test_page_limit_is_whole_days_within_the_budget_and_the_api_maximum(width, bytes_per_bucket, limit) -> None:
    assert usage_report(width).page_limit(bytes_per_bucket) == limit


def test_usage_limit_never_exceeds_the_documented_maximum() -> None:
    # reference 2.2: 1d <= 31, 1h <= 168, 1m <= 1440 buckets per page
    maxima = {"1d": 31, "1h": 168, "1m": 1440}
    for width, maximum in maxima.items():
        for size in (None, 1, 100, 10_000, 10**6, 10**9):
            assert 1 <= usage_report(width).page_limit(size) <= maximum


def test_cost_pages_are_up_to_31_days() -> None:
    assert (COST.page_limit(), COST.page_limit(50_000), COST.page_limit(10 * MB)) == (1, 31, 13)


def test_cost_params_are_exact() -> None:
    assert COST.params(utc(2026, 11, 20), utc(2026, 11, 23)) == [
        ("starting_at", "2026-11-20T00:00:00Z"),
        ("ending_at", "2026-11-23T00:00:00Z"),
        ("bucket_width", "1d"),
        ("limit", "1"),
        ("group_by[]", "workspace_id"),
        ("group_by[]", "description"),
    ]


def test_params_render_any_offset_in_utc_with_a_z() -> None:
    plus_one = timezone(timedelta(hours=1))
    params = dict(USAGE.params(datetime(2026, 11, 20, 1, 0, tzinfo=plus_one), datetime(2026, 11, 23, 15, 37, 12, tzinfo=plus_one)))
    assert params["starting_at"] == "2026-11-20T00:00:00Z"
    assert params["ending_at"] == "2026-11-23T14:37:12Z"
