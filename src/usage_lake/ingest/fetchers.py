"""Per-kind fetchers: how a report window's pages become written days (`sources.base.Kind`).

- `bucketed`: time buckets over the window, one query (two while the size of a bucket is unknown, see
  `paging`); each UTC day is assembled from its pages (`days.DayAssembler`) and written once no later page can
  add to it;
- `daily`: one query per UTC day of the window (the Claude Code report, the Analytics API); the day is written
  when its query ends, and a row dated outside the day is refused.

Snapshot endpoints are taken by `snapshot.SnapshotTaker`. A new kind is a function here and one line in
`FETCHERS`; the run (`run.Ingestion`) only picks the fetcher by the endpoint's kind.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Protocol

import pyarrow as pa

from usage_lake.errors import AdminApiError, ResponseShapeError
from usage_lake.ingest.days import DayAssembler, PendingDay
from usage_lake.ingest.paging import PageSizes, pages
from usage_lake.ingest.plan import Window
from usage_lake.ingest.raw import PageRef, store_page
from usage_lake.ingest.runlog import DayResult, RunRecord
from usage_lake.lake.curated import DayAction
from usage_lake.lake.personal import PersonalData
from usage_lake.lake.store import Lake
from usage_lake.money.pricing import PriceTable
from usage_lake.sources.base import Kind
from usage_lake.sources.http import AdminClient
from usage_lake.sources.rows import take_defaulted
from usage_lake.times import DAY, format_timestamp, midnight


class Run(Protocol):
    """What a fetcher needs of the run it fetches for (`run.Ingestion`): its client, lake, prices and run log, and
    where a page's rows and a finished day go."""

    client: AdminClient
    lake: Lake
    personal: PersonalData
    prices: PriceTable
    record: RunRecord
    page_budget: int
    page_sizes: PageSizes

    def note_defaulted(self, endpoint: str, defaulted: dict[str, int]) -> None: ...
    def check_prices(self, usage: pa.Table) -> None: ...
    def write_day(self, window: Window, day: date, pending: PendingDay) -> None: ...
    def note_day(self, result: DayResult) -> None: ...

__all__ = ["FETCHERS", "Run", "fetch", "fetch_bucketed", "fetch_daily"]


def fetch_daily(run: Run, window: Window) -> None:
    """A daily report: one query per UTC day of the window, the day written when its query ends."""
    endpoint = window.endpoint
    for day in window.days():
        start = midnight(day)
        end = min(start + DAY, window.end)
        pending = PendingDay()
        for page in run.client.iter_pages(endpoint.path, endpoint.page_params(start, end, None, run.page_budget),
                                          endpoint.paging, endpoint.headers):
            run.record.pages += 1
            where = f"{endpoint.name} report page {page.number} ({page.path}, {day})"
            stray = next((b for b in page.buckets if not start <= b.starting_at < start + DAY), None)
            if stray is not None:
                raise ResponseShapeError(f"{where}: holds records dated {format_timestamp(stray.starting_at)}, not {day}")
            raw_key, reused = store_page(run.lake, endpoint.name, day, page.body, run.personal)
            run.record.raw_pages_reused += reused
            table = endpoint.to_table(page.buckets, run_id=run.record.run_id, ingested_at=page.fetched_at, where=where, prices=run.prices)
            table, defaulted = take_defaulted(table)
            run.note_defaulted(endpoint.name, defaulted)
            pending.tables.append(table)
            pending.pages[raw_key] = PageRef.of(page, raw_key)
        run.write_day(window, day, pending)


def fetch_bucketed(run: Run, window: Window) -> None:
    """A bucketed report: pages over the whole window, each UTC day written once every page covering it is in."""
    endpoint = window.endpoint
    days = DayAssembler(window)
    try:
        # the raw copy is gzipped and stored on a second thread (zlib and boto3 release the GIL) while this
        # thread parses the same page; both finish before the page counts towards a day
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="raw") as raw_writer:
            for page in pages(run.client, window, run.page_sizes):
                run.record.pages += 1
                day = page.buckets[0].starting_at.date() if page.buckets else window.start.date()
                stored = raw_writer.submit(store_page, run.lake, endpoint.name, day, page.body, run.personal)
                table = endpoint.to_table(page.buckets, run_id=run.record.run_id, ingested_at=page.fetched_at,
                                          where=f"{endpoint.name} report page {page.number} ({page.path})", prices=run.prices)
                table, defaulted = take_defaulted(table)
                run.note_defaulted(endpoint.name, defaulted)
                if "estimated_cost_usd" in table.column_names:
                    run.check_prices(table)
                raw_key, reused = stored.result()
                run.record.raw_pages_reused += reused
                days.add(page, table, raw_key=raw_key)
                del page, table, stored  # free the body before the next page downloads
                for day, pending in days.complete_days(query_done=False):
                    run.write_day(window, day, pending)
    except AdminApiError as exc:
        if not endpoint.is_not_ready(exc):
            raise
        for day in days.pending:
            run.note_day(DayResult(endpoint.name, day, 0, DayAction.NOT_READY))
        run.record.notes.append(f"{endpoint.name}: no complete data yet for {window.start.date()}..{window.end.date()} ({exc.api_message})")
        return
    for day, pending in days.complete_days(query_done=True):
        run.write_day(window, day, pending)


FETCHERS: dict[Kind, Callable[[Run, Window], None]] = {
    Kind.BUCKETED: fetch_bucketed,
    Kind.DAILY: fetch_daily,
}


def fetch(run: Run, window: Window) -> None:
    """Fetch one window with the fetcher of its endpoint's kind."""
    FETCHERS[window.endpoint.kind](run, window)
