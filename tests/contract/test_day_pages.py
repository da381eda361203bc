"""When a day is complete, pinned with exact pages (respx) through the whole run: a bucket whose results go on
over two pages (issue 8, item 12) and a query that stops short (item 11)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import respx
from support import FAST_RETRY

from usage_lake.app.jobs import IngestJob
from usage_lake.config.events import Mode, RunRequest
from usage_lake.config.secrets import AdminKey
from usage_lake.config.settings import Settings
from usage_lake.errors import ResponseShapeError
from usage_lake.ingest.runlog import RunRecord, write_record
from usage_lake.lake import LocalLake
from usage_lake.lake.curated import DayAction, read_table
from usage_lake.lake.layout import partition_key
from usage_lake.times import format_timestamp

BASE_URL = "https://api.example.test"
PATH = "/v1/organizations/usage_report/messages"
DAY = date(2026, 10, 1)
NOW = datetime(2026, 10, 10, 12, tzinfo=UTC)


def row(key: str, output_tokens: int) -> dict:
    return {"uncached_input_tokens": 10, "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
            "cache_read_input_tokens": 0, "output_tokens": output_tokens, "server_tool_use": {"web_search_requests": 0},
            "api_key_id": key, "workspace_id": None, "model": "claude-sonnet-4-20250514", "service_tier": "standard",
            "context_window": "0-200k", "inference_geo": "not_available"}


def bucket(start: datetime, *rows: dict, hours: int = 1) -> dict:
    return {"starting_at": format_timestamp(start), "ending_at": format_timestamp(start + timedelta(hours=hours)), "results": list(rows)}


def hour(h: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=h)


def pages_route(router: respx.MockRouter, pages: list[dict]) -> None:
    """Serve `pages` in order through `page` cursors, as the API does."""
    def answer(request: httpx.Request) -> httpx.Response:
        index = int(request.url.params.get("page", "page_0").removeprefix("page_"))
        page = dict(pages[index])
        more = index + 1 < len(pages) and page.pop("has_more", True)
        return httpx.Response(200, json={**page, "has_more": more, "next_page": f"page_{index + 1}" if more else None})

    router.get(PATH).mock(side_effect=answer)


@pytest.fixture
def run(tmp_path) -> Iterator[Callable[..., tuple]]:
    lake = LocalLake(tmp_path / "lake")
    # a previous run measured the buckets, so a run sends one query for its range, as these pages are written for
    # (with nothing known it would ask for the first day alone, and these canned pages ignore the range)
    previous = RunRecord(run_id="previous", mode="backfill", reports=("usage",), started_at=datetime.now(UTC))
    previous.bytes_per_bucket = {("usage", "1h"): 1_000}
    write_record(lake, previous)

    def run_once(start: date = DAY, end: date = DAY + timedelta(days=1)):
        job = IngestJob(settings=Settings(base_url=BASE_URL), key=AdminKey("sk-ant-admin01-test"), lake=lake, retry=FAST_RETRY)
        return job.run(RunRequest(mode=Mode.BACKFILL, start=start, end=end, now=NOW, reports=("usage",))), lake

    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        run_once.router = router  # type: ignore[attr-defined]
        yield run_once


def full_day(day: date, tokens: int = 1) -> list[dict]:
    return [bucket(hour(h, day), row("apikey_a", tokens)) for h in range(24)]


def test_item12_a_bucket_split_over_two_pages_is_written_whole(run):
    # page 1: the whole day, its last bucket (23:00) holding only key a; page 2: the same bucket again, with key b
    pages_route(run.router, [
        {"data": full_day(DAY)},
        {"data": [bucket(hour(23), row("apikey_b", 700))]},
    ])
    record, lake = run()

    assert record.outcome == "succeeded"
    assert [(d.day, d.action, d.rows) for d in record.days] == [(DAY, DayAction.WRITTEN, 25)]
    usage = read_table(lake, "usage_messages", [DAY])
    assert usage.num_rows == 25
    assert sum(usage.column("output_tokens").to_pylist()) == 24 + 700
    last_hour = [key for key, start in zip(usage.column("api_key_id").to_pylist(), usage.column("bucket_start").to_pylist(), strict=True)
                 if start == hour(23)]
    assert sorted(last_hour) == ["apikey_a", "apikey_b"]


def test_item12_a_split_bucket_spanning_a_day_boundary_completes_the_day_only_after_the_next_page(run):
    # two days; page 1 ends with day 1's last bucket, page 2 continues it and then brings day 2
    pages_route(run.router, [
        {"data": full_day(DAY)},
        {"data": [bucket(hour(23), row("apikey_b", 700)), *full_day(DAY + timedelta(days=1), tokens=2)]},
    ])
    record, lake = run(DAY, DAY + timedelta(days=2))

    assert [(d.day, d.action, d.rows) for d in record.days] == [(DAY, DayAction.WRITTEN, 25), (DAY + timedelta(days=1), DayAction.WRITTEN, 24)]
    assert sum(read_table(lake, "usage_messages", [DAY]).column("output_tokens").to_pylist()) == 724


def test_item12_a_split_bucket_that_repeats_a_group_is_refused(run):
    pages_route(run.router, [
        {"data": full_day(DAY)},
        {"data": [bucket(hour(23), row("apikey_a", 5))]},  # key a again, in the same bucket
    ])
    with pytest.raises(ResponseShapeError, match=r"usage report 2026-10-01: bucket 2026-10-01T23:00:00Z continued on a later page "
                                                 r"repeats a group it already had \(api_key_id='apikey_a'"):
        run()


def test_item11_a_query_that_stops_short_does_not_replace_a_complete_day(run):
    pages_route(run.router, [{"data": full_day(DAY)}])
    first, lake = run()
    assert [d.action for d in first.days] == [DayAction.WRITTEN]
    stored = lake.get(partition_key("usage_messages", DAY))

    run.router.routes.clear()
    pages_route(run.router, [{"data": full_day(DAY, tokens=9)[:12], "has_more": False}])  # 12 of 24 buckets, then "no more"
    second, _ = run()

    assert second.outcome == "succeeded"
    assert [(d.day, d.action, d.rows) for d in second.days] == [(DAY, DayAction.INCOMPLETE, 12)]
    assert lake.get(partition_key("usage_messages", DAY)) == stored
    assert read_table(lake, "usage_messages", [DAY]).num_rows == 24
    (note,) = [n for n in second.notes if "2026-10-01" in n]
    assert "not written" in note and "reach only 2026-10-01T12:00:00Z of 2026-10-02T00:00:00Z" in note
    assert second.summary()["days_incomplete"] == 1


def test_item11_a_hole_in_the_buckets_leaves_the_day_unwritten(run):
    day = full_day(DAY)
    pages_route(run.router, [{"data": day[:5] + day[6:]}])  # 05:00 is missing
    record, lake = run()

    assert [d.action for d in record.days] == [DayAction.INCOMPLETE]
    assert any("no bucket covered 2026-10-01T05:00:00Z..2026-10-01T06:00:00Z" in n for n in record.notes)
    assert not lake.exists(partition_key("usage_messages", DAY))


def test_item11_today_is_complete_at_the_last_whole_bucket_before_now(run):
    today = NOW.date()
    pages_route(run.router, [{"data": full_day(today)[:12]}])  # 00:00..12:00, and now is 12:00
    record, lake = run(today, today + timedelta(days=1))

    assert [(d.day, d.action, d.rows) for d in record.days] == [(today, DayAction.WRITTEN, 12)]
