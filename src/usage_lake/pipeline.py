"""The ingestion run: fetch each window page by page, keep every page raw, write each UTC day whole.

For every page: the body goes to `raw/` as received (gzip), its rows become an Arrow table, and the rows
are held per UTC day. A day is written (one Parquet object, replacing the previous one) only once every
page covering it has arrived: when a later bucket shows up or the query ends. A day that comes back empty
while the lake already holds rows for it is kept, not erased, and reported.

A run that nears its time limit stops between slices (a whole number of days) and returns the event that
does the rest; a run that fails keeps every day it completed, records itself, and re-raises.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.alerts import Alerting, Publisher
from usage_lake.client import AdminApiError, AdminClient, Page, ResponseShapeError
from usage_lake.curated import parquet_bytes, store_day
from usage_lake.estimate import default_prices, unpriced_models
from usage_lake.events import REPORTS, RunRequest, format_timestamp
from usage_lake.lake import Lake
from usage_lake.layout import raw_manifest_key, raw_page_key, run_log_key
from usage_lake.pricing import PriceTable
from usage_lake.reports import Report, report_for
from usage_lake.runlog import KEPT, NOT_READY, WRITTEN, DayResult, RunRecord, new_run_id
from usage_lake.schema import TABLES
from usage_lake.settings import Settings
from usage_lake.windows import DAY, Slice, Window, midnight, run_windows, slices

logger = logging.getLogger(__name__)

RESERVE_SECONDS = 30.0  # kept free at the end of a Lambda run to write the run log and return
SAFETY_FACTOR = 1.5  # another slice starts only if the slowest one so far, times this, still fits
RAW_GZIP_LEVEL = 3  # ~15x smaller than the JSON at a quarter of level 6's time


class Deadline(Protocol):
    def remaining_seconds(self) -> float: ...


class NoDeadline:
    """Local runs have no time limit."""

    def remaining_seconds(self) -> float:
        return math.inf


class LambdaDeadline:
    def __init__(self, context) -> None:
        self._context = context

    def remaining_seconds(self) -> float:
        return self._context.get_remaining_time_in_millis() / 1000


@dataclass
class _PendingDay:
    tables: list[pa.Table] = field(default_factory=list)
    raw_pages: dict[str, dict[str, str | None]] = field(default_factory=dict)  # raw key -> page facts


class _DayAssembler:
    """Holds one window's rows per UTC day until every page covering the day has arrived."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.covered_until = window.start
        self.pending: dict[date, _PendingDay] = {day: _PendingDay() for day in window.days()}

    def add(self, page: Page, table: pa.Table, raw_key: str) -> None:
        facts = {"key": raw_key, "fetched_at": page.fetched_at.isoformat(), "request_id": page.request_id}
        for bucket in page.buckets:
            if bucket.starting_at < self.covered_until:
                raise ResponseShapeError(
                    f"{self.window.report.name} report page {page.number}: bucket {format_timestamp(bucket.starting_at)} "
                    f"arrived out of order (already had buckets up to {format_timestamp(self.covered_until)})"
                )
            if bucket.starting_at < self.window.start or bucket.ending_at > self.window.end or bucket.ending_at <= bucket.starting_at:
                raise ResponseShapeError(
                    f"{self.window.report.name} report page {page.number}: bucket {format_timestamp(bucket.starting_at)}"
                    f"..{format_timestamp(bucket.ending_at)} lies outside the requested range "
                    f"{format_timestamp(self.window.start)}..{format_timestamp(self.window.end)}"
                )
            self.covered_until = bucket.ending_at
            self.pending[bucket.starting_at.date()].raw_pages[raw_key] = facts
        for day, part in _split_by_day(table):
            self.pending[day].tables.append(part)

    def complete_days(self, *, query_done: bool) -> list[tuple[date, _PendingDay]]:
        """Pop the days no later page can add to: all of them once the query is done."""
        done = [day for day in self.pending if query_done or midnight(day) + DAY <= self.covered_until]
        return [(day, self.pending.pop(day)) for day in done]


def _split_by_day(table: pa.Table) -> list[tuple[date, pa.Table]]:
    if table.num_rows == 0:
        return []
    days = pc.cast(table.column("bucket_start"), pa.date32())
    first, last = pc.min(days).as_py(), pc.max(days).as_py()
    if first == last:
        return [(first, table)]
    return [(day, table.filter(pc.equal(days, pa.scalar(day, pa.date32())))) for day in pc.unique(days).to_pylist()]


class Ingestion:
    """One run of the pipeline against a client and a lake. `record` is available even after a failure."""

    def __init__(
        self,
        *,
        client: AdminClient,
        lake: Lake,
        settings: Settings,
        run_id: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_day: Callable[[DayResult], None] | None = None,
        prices: PriceTable | None = None,
        publisher: Publisher | None = None,
    ) -> None:
        self.client = client
        self.lake = lake
        self.settings = settings
        self.clock = clock
        self.on_day = on_day
        self.prices = prices or default_prices()
        self.publisher = publisher  # alerts are evaluated after incremental runs when this and a threshold are set
        self.unpriced_models: set[str] = set()
        self.reports = {name: report_for(name, settings.usage_bucket_width) for name in REPORTS}
        started = clock()
        self.record = RunRecord(run_id=run_id or new_run_id(started), mode="", reports=(), started_at=started)

    def run(self, request: RunRequest, deadline: Deadline | None = None) -> RunRecord:
        deadline = deadline or NoDeadline()
        record = self.record
        record.mode, record.reports, record.continues = request.mode, request.reports, request.continues
        now = request.now or self.clock()
        windows = run_windows(
            request, [self.reports[name] for name in request.reports], now,
            usage_lookback_days=self.settings.usage_lookback_days,
            cost_lookback_days=self.settings.cost_lookback_days,
        )
        record.windows = {w.report.name: (w.start, w.end) for w in windows}
        for name in request.reports:
            if name not in record.windows:
                record.notes.append(f"{name}: nothing to fetch yet in this range (the cost report covers whole days that have ended)")
        logger.info("run %s: %s %s", record.run_id, request.mode, ", ".join(
            f"{w.report.name} {format_timestamp(w.start)}..{format_timestamp(w.end)}" for w in windows) or "nothing to fetch")
        try:
            self._run_slices(request, slices(windows), deadline)
            record.outcome = "partial" if record.resume_from else "succeeded"
            if request.mode == "incremental" and self.publisher and self.settings.alerts_enabled and not record.resume_from:
                self._send_alerts(windows, now)  # a backfill never alerts
        except Exception as exc:
            record.outcome, record.error_type, record.error = "failed", type(exc).__name__, str(exc)
            logger.error("run %s failed: %s: %s", record.run_id, type(exc).__name__, exc)
            raise
        finally:
            self._finish()
        return record

    def _send_alerts(self, windows: list[Window], now: datetime) -> None:
        record = self.record
        assert self.publisher is not None
        alerting = Alerting(self.lake, self.settings, self.publisher, run_id=record.run_id, clock=self.clock)
        days = sorted({day for window in windows for day in window.days()})
        try:
            delivery = alerting.deliver(alerting.evaluate(days, now))
        except Exception as exc:  # alerts must not undo an ingest that worked: record it, and the next run tries again
            logger.exception("run %s: alert evaluation failed", record.run_id)
            record.alerts_failed += 1
            record.outcome = "alerts_failed"
            record.notes.append(f"alerts: evaluation failed: {type(exc).__name__}: {exc}")
            return
        record.alerts_sent, record.alerts_failed = len(delivery.sent), len(delivery.failed)
        record.notes += [f"alert sent: {key}" for key in delivery.sent]
        record.notes += [f"alert NOT sent (retried next run): {key}" for key in delivery.failed]
        if delivery.failed:
            record.outcome = "alerts_failed"

    def _run_slices(self, request: RunRequest, plan: list[Slice], deadline: Deadline) -> None:
        slowest = 0.0
        for index, part in enumerate(plan):
            needed = slowest * SAFETY_FACTOR + RESERVE_SECONDS
            if index > 0 and (remaining := deadline.remaining_seconds()) < needed:
                self._stop_before(request, part, needed, remaining)
                return
            began = time.monotonic()
            for window in part.windows:
                self._fetch(window)
            slowest = max(slowest, time.monotonic() - began)

    def _stop_before(self, request: RunRequest, part: Slice, needed: float, remaining: float) -> None:
        record = self.record
        record.resume_from = part.start
        message = f"stopped before {part.start} with {remaining:.0f} s left (a slice needs about {needed:.0f} s)"
        if request.mode == "backfill":
            assert request.end is not None
            record.next_event = RunRequest(
                mode="backfill", reports=request.reports, now=request.now,
                start=part.start, end=request.end, continues=record.run_id,
            ).to_event()
            message += f"; the rest continues as a backfill from {part.start} to {request.end}"
        else:
            message += "; the next scheduled run fetches the window again"
        record.notes.append(message)
        logger.warning("run %s %s", record.run_id, message)

    def _fetch(self, window: Window) -> None:
        report = window.report
        days = _DayAssembler(window)
        try:
            # the raw copy is gzipped and stored on a second thread (zlib and boto3 release the GIL) while this
            # thread parses the same page; both finish before the page counts towards a day
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="raw") as raw_writer:
                for page in self.client.iter_pages(report.path, report.params(window.start, window.end)):
                    self.record.pages += 1
                    day = page.buckets[0].starting_at.date() if page.buckets else window.start.date()
                    stored = raw_writer.submit(self._store_raw, report, day, page.body)
                    table = report.to_table(page.buckets, run_id=self.record.run_id, ingested_at=page.fetched_at,
                                            where=f"{report.name} report page {page.number} ({page.path})", prices=self.prices)
                    if report.name == "usage":
                        self._check_prices(table)
                    days.add(page, table, raw_key=stored.result())
                    del page, table, stored  # free the body before the next page downloads
                    for day, pending in days.complete_days(query_done=False):
                        self._write_day(window, day, pending)
        except AdminApiError as exc:
            if not report.is_not_ready(exc):
                raise
            for day in days.pending:
                self._note_day(DayResult(report.name, day, 0, NOT_READY))
            self.record.notes.append(f"{report.name}: no complete data yet for {window.start.date()}..{window.end.date()} ({exc.api_message})")
            return
        for day, pending in days.complete_days(query_done=True):
            self._write_day(window, day, pending)

    def _check_prices(self, usage: pa.Table) -> None:
        for model in unpriced_models(usage):
            if model not in self.unpriced_models:
                self.unpriced_models.add(model)
                logger.warning("model %s is not in the price table: its rows have no estimated cost (add it with PRICING_OVERRIDES)", model)
                self.record.notes.append(f"unpriced model {model}: estimated_cost_usd is null for its rows")

    def _store_raw(self, report: Report, day: date, body: bytes | bytearray) -> str:
        """Keep the page as received, under its content hash; a page stored before is not stored again."""
        key = raw_page_key(report.name, day, hashlib.sha256(body).hexdigest()[:32])
        if self.lake.exists(key) or not self.lake.put_if_absent(key, gzip.compress(body, compresslevel=RAW_GZIP_LEVEL, mtime=0)):
            self.record.raw_pages_reused += 1
        return key

    def _write_day(self, window: Window, day: date, pending: _PendingDay) -> None:
        report = window.report
        table = pa.concat_tables(pending.tables) if pending.tables else TABLES[report.table].empty_table()
        if table.num_rows:
            # the manifest names the raw pages that complete this day, so it can be rebuilt without the API
            self.lake.put(raw_manifest_key(report.name, day, self.record.run_id), json.dumps({
                "report": report.name,
                "table": report.table,
                "dt": day.isoformat(),
                "run_id": self.record.run_id,
                "rows": table.num_rows,
                "bucket_width": report.bucket_width,
                "window": [format_timestamp(window.start), format_timestamp(window.end)],
                "pages": list(pending.raw_pages.values()),
            }, indent=1).encode())
        action = store_day(self.lake, report.table, day, table)
        if action == KEPT:
            self.record.notes.append(f"{report.name} {day}: the API returned no rows for a day the lake already holds; kept the stored rows")
            logger.warning("%s %s: the API returned no rows; keeping the stored partition", report.name, day)
        self._note_day(DayResult(report.name, day, table.num_rows, action))

    def _note_day(self, result: DayResult) -> None:
        self.record.days.append(result)
        if result.action == WRITTEN:
            logger.info("%s %s: wrote %d rows", result.report, result.day, result.rows)
        if self.on_day:
            self.on_day(result)

    def _finish(self) -> None:
        record = self.record
        stats = self.client.stats
        record.requests, record.retries, record.bytes_received = stats.requests, stats.retries, stats.bytes_received
        if stats.retry_reasons:
            record.notes.append("retries: " + ", ".join(f"{reason} x{n}" for reason, n in sorted(stats.retry_reasons.items())))
        record.finished_at = self.clock()
        try:
            self.lake.put(run_log_key(record.run_id, record.started_at), parquet_bytes(record.to_table()))
        except Exception:  # the run's own outcome matters more than its log; never mask it
            logger.exception("run %s: could not write the run log", record.run_id)
