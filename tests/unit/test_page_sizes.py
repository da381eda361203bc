"""Page sizing: the previous run's bucket sizes from the run log, and the largest page average a run keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from usage_lake.config.settings import Settings
from usage_lake.ingest.paging import PageSizes
from usage_lake.ingest.runlog import RunRecord, previous_page_sizes, write_record
from usage_lake.lake import LocalLake
from usage_lake.sources import registry
from usage_lake.sources.http import Bucket, Page

NOW = datetime(2026, 11, 23, 0, 20, tzinfo=UTC)  # just after midnight: yesterday's runs count too
USAGE = registry.endpoint("usage", Settings())


def record(started: datetime, suffix: str, sizes: dict[tuple[str, str], int]) -> RunRecord:
    run = RunRecord(run_id=f"{started:%Y%m%dT%H%M%SZ}-{suffix}", mode="incremental", reports=("usage", "cost"), started_at=started)
    run.bytes_per_bucket = sizes
    return run


def test_the_latest_run_that_measured_wins(tmp_path):
    lake = LocalLake(tmp_path)
    write_record(lake, record(NOW - timedelta(hours=3), "aaaaaa", {("usage", "1h"): 9_000, ("cost", "1d"): 40_000}))
    write_record(lake, record(NOW - timedelta(hours=1), "bbbbbb", {("usage", "1h"): 5_000}))  # no cost this time
    write_record(lake, record(NOW - timedelta(minutes=10), "cccccc", {}))  # failed before its first page
    assert previous_page_sizes(lake, NOW) == {("usage", "1h"): 5_000, ("cost", "1d"): 40_000}


def test_the_width_comes_with_the_figure_and_old_runs_do_not_count(tmp_path):
    lake = LocalLake(tmp_path)
    write_record(lake, record(NOW - timedelta(days=3), "aaaaaa", {("usage", "1h"): 9_000}))
    assert previous_page_sizes(lake, NOW) == {}  # older than yesterday: pages start at one day
    write_record(lake, record(NOW - timedelta(hours=2), "bbbbbb", {("usage", "1d"): 90_000}))
    sizes = PageSizes(previous_page_sizes(lake, NOW))
    assert sizes.bytes_per_bucket(USAGE) is None  # a 1d figure says nothing about hourly buckets
    assert sizes.bytes_per_bucket(registry.endpoint("usage", Settings(usage_bucket_width="1d"))) == 90_000


def test_pages_are_planned_by_the_largest_average_known_and_a_run_records_its_own(tmp_path):
    sizes = PageSizes({("usage", "1h"): 1_000})
    assert sizes.bytes_per_bucket(USAGE) == 1_000
    start = datetime(2026, 11, 20, tzinfo=UTC)
    buckets = [Bucket(start + timedelta(hours=h), start + timedelta(hours=h + 1), []) for h in range(4)]
    for body in (b"x" * 4_001, b"x" * 2_000):
        sizes.observe(USAGE, Page("/p", (), 1, body, buckets, False, None, start, None))
    assert sizes.bytes_per_bucket(USAGE) == 1_001  # ceil(4,001 / 4); the smaller page does not lower it
    assert sizes.this_run() == {("usage", "1h"): 1_001}
    sizes.observe(USAGE, Page("/p", (), 1, b"{}", [], False, None, start, None))  # no buckets: no figure
    assert sizes.this_run() == {("usage", "1h"): 1_001}
    busier_before = PageSizes({("usage", "1h"): 5_000})
    busier_before.observe(USAGE, Page("/p", (), 1, b"x" * 4_001, buckets, False, None, start, None))
    assert busier_before.bytes_per_bucket(USAGE) == 5_000 and busier_before.this_run() == {("usage", "1h"): 1_001}
