"""The ingestion run: fetch each window page by page, keep every page raw, write each UTC day whole.

For every page: the body goes to `raw/` as received (gzip), its rows become an Arrow table, and the rows
are held per UTC day (`days`). A day is written (one Parquet object, replacing the previous one) only once
every page covering it has arrived: when a bucket starting after it shows up or the query ends. A day whose
buckets stop short of its end is not written (the stored day stays; the run log says why), and a day that
comes back empty while the lake already holds rows for it is kept, not erased, and reported.

An endpoint kind decides the loop (`sources.base.Kind`): bucketed reports go through the day assembly above;
a daily report (Claude Code) is one query per UTC day, the day written when its query ends; snapshot endpoints
(the organization's lists) are taken after the reports, so they can never starve usage and cost, once a UTC
day (`snapshot.py`), then the labels in force.

Every query has a page ceiling and the client checks the deadline before every page (`sources.http`): an
endpoint whose cursor never ends, or that is still fetching when only `RESERVE_SECONDS` are left, stops with a
named error recorded in the run log (a `DeadlineError` even for usage and cost: the days already written stay,
the next run fetches the rest), and the run goes on to its alerts and returns before Lambda's hard limit.

A run that nears its time limit stops between slices (a whole number of days) and returns the event that
does the rest; a run that fails keeps every day it completed, records itself, and re-raises. An endpoint that
is not `required` (all but usage and cost) fails alone: the error is recorded (`errors`, outcome `partial`)
and the rest of the run goes on; a refused key (401) still fails the run. A run stopped by Ctrl-C or SIGTERM
(`Interrupted`) records itself `interrupted` with the first day it did not finish, and re-raises. The
record is written when the run starts (before anything is fetched: a lake that cannot be written stops the
run there), rewritten as days are written, and stored for the last time by the caller (`app.jobs`) once everything the run does, alerts included, is done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import cast

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.config.events import Mode, RunRequest
from usage_lake.config.settings import Settings
from usage_lake.errors import AdminApiError, AuthenticationError, DeadlineError, LakeError, PaginationError
from usage_lake.focus import Unmatched, learned_prices, reprice_usage_days
from usage_lake.ingest.days import PendingDay
from usage_lake.ingest.deadline import Deadline, NoDeadline
from usage_lake.ingest.derived import Context as DerivedContext
from usage_lake.ingest.derived import derived_for
from usage_lake.ingest.fetchers import fetch
from usage_lake.ingest.paging import PageSizes
from usage_lake.ingest.plan import Slice, Window, run_windows, slices
from usage_lake.ingest.raw import Manifest
from usage_lake.ingest.runlog import DayResult, EndpointError, Outcome, RunRecord, new_run_id, previous_page_sizes, write_record
from usage_lake.ingest.snapshot import SnapshotTaker
from usage_lake.lake.curated import DayAction, partition_days, store_tables
from usage_lake.lake.personal import PersonalData
from usage_lake.lake.schema import TABLES
from usage_lake.lake.store import Lake
from usage_lake.money.estimate import default_prices, unpriced_models, unpriced_tokens
from usage_lake.money.pricing import PriceTable
from usage_lake.sources import registry
from usage_lake.sources.base import PAGE_BUDGET_BYTES, AnyEndpoint, Endpoint, Snapshot, by_kind, is_unavailable
from usage_lake.sources.http import AdminClient
from usage_lake.sources.labels import LabelMap
from usage_lake.times import format_timestamp

__all__ = ["CHECKPOINT_SECONDS", "FINISHED", "RESERVE_SECONDS", "SAFETY_FACTOR", "Ingestion", "Interrupted"]

logger = logging.getLogger(__name__)

RESERVE_SECONDS = 30.0  # kept free at the end of a Lambda run to write the run log and return
SAFETY_FACTOR = 1.5  # another slice starts only if the slowest one so far, times this, still fits
CHECKPOINT_SECONDS = 10.0  # a running record is rewritten after each slice, and at most this often as days are written
# what a day may end as and count as done (an incomplete day is fetched again by a resumed run)
NAMING_SNAPSHOTS = ("organization", "workspaces")  # a run writing the cost report takes them while the lake has none
FINISHED = frozenset({DayAction.WRITTEN, DayAction.KEPT, DayAction.EMPTY, DayAction.NOT_READY})


class Interrupted(KeyboardInterrupt):
    """A signal asked the run to stop (the CLI turns SIGTERM into this; Ctrl-C is a plain KeyboardInterrupt)."""

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


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
        labels: LabelMap | None = None,
        keep_labels: bool = False,
        personal: PersonalData | None = None,
    ) -> None:
        self.client = client
        self.lake = lake
        self.settings = settings
        self.clock = clock
        self.on_day = on_day
        self.prices = prices or default_prices()
        self.labels = labels or LabelMap()
        self.keep_labels = keep_labels  # the LABELS file is unusable: the lake's last good labels stay in force
        self.personal = personal or PersonalData()  # PERSONAL_DATA: applied to raw pages and curated rows as stored
        self.unpriced_models: set[str] = set()
        self.unpriced_counts: dict[str, int] = {}  # model -> tokens this run stored without an estimate
        self.unpriced_days: set[date] = set()  # usage days this run stored with unpriced rows
        self.focus_unmatched = Unmatched()  # cost token rows no usage explains, told once per run
        self.defaulted: dict[tuple[str, str], int] = {}  # (endpoint, absent optional field) -> rows counted as 0
        self.windows: list[Window] = []
        self.page_budget = PAGE_BUDGET_BYTES  # JSON bytes a page may hold (sets each page's bucket limit)
        self.page_sizes = PageSizes()  # seeded from the previous run's record when the run starts
        self.now: datetime | None = None  # the run's clock reading (or the request's pinned one)
        started = clock()
        self.record = RunRecord(run_id=run_id or new_run_id(started), mode="", reports=(), started_at=started)
        self._checkpointed = 0.0  # time.monotonic() of the last running record written
        self.lake_writable = True  # False when even the first record could not be written
        self.deadline_hit = False  # an endpoint stopped between pages for lack of time (`DeadlineError`)

    def run(self, request: RunRequest, deadline: Deadline | None = None) -> RunRecord:
        """Fetch and write every window of the request; sets the record's outcome; raises on failure."""
        deadline = deadline or NoDeadline()
        record = self.record
        chosen = registry.endpoints(self.settings, request.reports)
        endpoints, snapshots = by_kind(chosen)
        record.mode, record.reports, record.continues = request.mode, tuple(e.name for e in chosen), request.continues
        if request.mode == Mode.BACKFILL:
            record.range_start, record.range_end = request.origin or request.start, request.end
        now = self.now = request.now or self.clock()
        self.windows = run_windows(request, endpoints, now, self.settings)
        record.windows = {w.endpoint.name: (w.start, w.end) for w in self.windows}
        for name in (e.name for e in endpoints):
            if name not in record.windows:
                record.notes.append(f"{name}: nothing to fetch yet in this range (the cost report covers whole days that have ended)")
        logger.info("run %s: %s %s", record.run_id, request.mode, ", ".join(
            f"{w.endpoint.name} {format_timestamp(w.start)}..{format_timestamp(w.end)}" for w in self.windows) or "nothing to fetch")
        try:
            self.checkpoint(strict=True)  # before anything is fetched: a lake that cannot be written stops the run here
        except Exception as exc:
            self.lake_writable = False  # nothing to record it in
            record.outcome, record.error_type, record.error = Outcome.FAILED, type(exc).__name__, str(exc)
            raise
        try:
            if self.windows:  # after the first record: a lake that cannot be written has stopped the run by now
                self.page_sizes = PageSizes(self._previous_page_sizes(), self.page_budget)
                self.prices = learned_prices(self.lake, self.prices, accept=self.settings.accept_observed_prices)
            self.client.stop_when(deadline.remaining_seconds, RESERVE_SECONDS)
            naming = self._naming_snapshots(endpoints)  # before the reports: the FOCUS days they write need them
            self._take_snapshots(naming, now, labels=False)  # none, once the lake has them
            snapshots = [s for s in snapshots if s.name not in {n.name for n in naming}]
            self._run_slices(request, slices(self.windows), deadline)  # the reports that bill first
            self._reprice()  # issue 19: usage days stored unpriced, once the run learned their price from the bill
            self._take_snapshots(snapshots, now)
            record.outcome = Outcome.PARTIAL if record.resume_from or record.errors else Outcome.SUCCEEDED
        except Exception as exc:
            record.outcome, record.error_type, record.error = Outcome.FAILED, type(exc).__name__, str(exc)
            if request.mode == Mode.BACKFILL:
                record.resume_from = self.first_unfinished_day()
            logger.error("run %s failed: %s: %s", record.run_id, type(exc).__name__, exc)
            raise
        except KeyboardInterrupt as exc:
            signal_name = exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"
            record.outcome, record.error_type = Outcome.INTERRUPTED, signal_name
            record.resume_from = self.first_unfinished_day()
            record.error = f"interrupted by {signal_name}" + (f"; resume from {record.resume_from}" if record.resume_from else "")
            logger.info("run %s %s", record.run_id, record.error)  # the caller says so; the run log records it
            raise
        return record

    def first_unfinished_day(self) -> date | None:
        """The first day of the run's windows that some endpoint has not finished (where a resumed run starts)."""
        finished = {(d.report, d.day) for d in self.record.days if d.action in FINISHED}
        unfinished = [day for w in self.windows for day in w.days()
                      if (w.endpoint.name, day) not in finished and w.endpoint.name not in self.record.unavailable]
        return min(unfinished) if unfinished else None

    def checkpoint(self, *, strict: bool = False) -> None:
        """Write the record as it stands (`running`, with where a resumed run would start)."""
        self._checkpointed = time.monotonic()
        record = self.record
        record.updated_at = self.clock()
        write_record(self.lake, replace(record, resume_from=record.resume_from or self.first_unfinished_day()), strict=strict)

    def days(self) -> list[date]:
        """Every UTC day this run's windows touched."""
        return sorted({day for window in self.windows for day in window.days()})

    def finish(self) -> RunRecord:
        """Close the record: the client's counters, the bucket sizes seen, and the finish time."""
        record = self.record
        stats = self.client.stats
        record.requests, record.retries, record.bytes_received = stats.requests, stats.retries, stats.bytes_received
        record.bytes_per_bucket = self.page_sizes.this_run()
        if stats.retry_reasons:
            record.notes.append("retries: " + ", ".join(f"{reason} x{n}" for reason, n in sorted(stats.retry_reasons.items())))
        if self.unpriced_counts:
            record.notes.append(f"unpriced tokens this run: {record.unpriced_tokens:,} (" + ", ".join(
                f"{model} {tokens:,}" for model, tokens in sorted(self.unpriced_counts.items())) + "): not in any estimate")
        for (endpoint, name), rows in sorted(self.defaulted.items()):
            record.notes.append(f"{endpoint}: {rows:,} row(s) had no `{name}` object (older API responses lack it); its counters were stored as 0")
        for note in self.focus_unmatched.notes():
            logger.warning("%s", note)
            record.notes.append(note)
        record.finished_at = record.updated_at = self.clock()
        return record

    def _run_slices(self, request: RunRequest, plan: list[Slice], deadline: Deadline) -> None:
        slowest = 0.0
        for index, part in enumerate(plan):
            needed = slowest * SAFETY_FACTOR + RESERVE_SECONDS
            if index > 0 and (remaining := deadline.remaining_seconds()) < needed:
                self._stop_before(request, part, needed, remaining)
                return
            began = time.monotonic()
            for window in part.windows:
                if not self.record.stopped(window.endpoint.name):
                    with self._contained(window.endpoint):
                        fetch(self, window)
            slowest = max(slowest, time.monotonic() - began)
            if self.deadline_hit:  # an endpoint stopped between pages: a backfill resumes from its first unfinished day
                if request.mode == Mode.BACKFILL:
                    self._stop_before(request, part, RESERVE_SECONDS, deadline.remaining_seconds(),
                                      start=self.first_unfinished_day() or part.start)
                return
            if index + 1 < len(plan):
                self.checkpoint()  # every endpoint is done up to here: a killed run resumes from the next slice

    def _stop_before(self, request: RunRequest, part: Slice, needed: float, remaining: float, start: date | None = None) -> None:
        record = self.record
        start = start or part.start
        record.resume_from = start
        message = f"stopped before {start} with {remaining:.0f} s left (a slice needs about {needed:.0f} s)"
        if request.mode == Mode.BACKFILL:
            assert request.end is not None
            record.next_event = RunRequest(
                mode=Mode.BACKFILL, reports=request.reports, now=request.now,
                start=start, end=request.end, continues=record.run_id,
            ).to_event()
            message += f"; the rest continues as a backfill from {start} to {request.end}"
        else:
            message += "; the next scheduled run fetches the window again"
        record.notes.append(message)
        logger.warning("run %s %s", record.run_id, message)

    @contextmanager
    def _contained(self, endpoint: AnyEndpoint) -> Iterator[None]:
        """An optional endpoint's failure is recorded and the run goes on; a required one's (or a refused key) fails it."""
        try:
            yield
        except (AdminApiError, LakeError) as exc:
            # a deadline or a broken cursor (a ceiling, a loop) costs its endpoint only, a billing report included:
            # the rest of the run (the other report, the alerts, the run log) goes on
            contained = isinstance(exc, DeadlineError | PaginationError)
            if (endpoint.required and not contained) or (isinstance(exc, AuthenticationError) and exc.status == 401):
                raise
            if isinstance(exc, AdminApiError) and is_unavailable(exc):
                if endpoint.name not in self.record.unavailable:
                    self.record.unavailable[endpoint.name] = exc.api_message or str(exc)
                    self.record.notes.append(f"{endpoint.name}: unavailable to this organization or key "
                                             f"({exc.status}: {exc.api_message or exc}); not a failure, the run goes on")
                    logger.info("run %s: %s is unavailable to this organization or key (%s)", self.record.run_id, endpoint.name, exc.status)
                return
            self.deadline_hit = self.deadline_hit or isinstance(exc, DeadlineError)
            self.record.errors.append(EndpointError(endpoint.name, type(exc).__name__, str(exc)))
            self.record.notes.append(f"{endpoint.name} failed; the rest of the run went on: {exc}")
            logger.warning("run %s: %s failed, the rest of the run goes on: %s: %s", self.record.run_id, endpoint.name, type(exc).__name__, exc)

    def _naming_snapshots(self, endpoints: list[Endpoint]) -> list[Snapshot]:
        """FOCUS names its rows from the `organization` and `workspaces` snapshots: a run that writes the cost report
        (a back-fill of it included) takes the ones the lake has never had first, asked for or not (two small requests,
        once per lake); the other snapshots come after the reports."""
        if not any(e.name == "cost" for e in endpoints):
            return []
        return [cast(Snapshot, e) for e in registry.endpoints(self.settings, NAMING_SNAPSHOTS)  # those the settings leave on
                if not partition_days(self.lake, e.name)]

    def _take_snapshots(self, snapshots: list[Snapshot], now: datetime, *, labels: bool = True) -> None:
        """The organization's lists (once a UTC day each), then (with `labels`) the labels in force."""
        taker = SnapshotTaker(client=self.client, lake=self.lake, record=self.record, now=now, personal=self.personal)
        for endpoint in snapshots:
            with self._contained(endpoint):
                self.note_day(taker.take(endpoint))
        written = None if self.keep_labels or not labels else taker.labels(self.labels)
        if written is not None:
            self.note_day(written)

    def _previous_page_sizes(self) -> dict[tuple[str, str], int]:
        """What the previous run measured; a lake that cannot tell (unreadable run log) means starting small."""
        try:  # run logs are filed by when runs started (not by a replay's pinned `now`)
            return previous_page_sizes(self.lake, self.record.started_at)
        except Exception as exc:
            logger.warning("run %s: could not read the previous run's page sizes (%s: %s); pages start at one day",
                           self.record.run_id, type(exc).__name__, exc)
            return {}

    def note_defaulted(self, endpoint: str, defaulted: dict[str, int]) -> None:
        for name, rows in defaulted.items():
            if (endpoint, name) not in self.defaulted:
                logger.warning("%s: rows without the `%s` object: its counters are stored as 0 (noted in the run log)", endpoint, name)
            self.defaulted[(endpoint, name)] = self.defaulted.get((endpoint, name), 0) + rows

    def check_prices(self, usage: pa.Table) -> None:
        for model, tokens in unpriced_tokens(usage).items():  # issue 19: the run log counts unpriced tokens
            self.record.unpriced_tokens += tokens
            self.unpriced_counts[model] = self.unpriced_counts.get(model, 0) + tokens
        if self.record.unpriced_tokens:
            unpriced = pc.is_null(usage.column("estimated_cost_usd"))
            self.unpriced_days.update(b.date() for b in pc.unique(pc.filter(usage.column("bucket_start"), unpriced)).to_pylist())
        for model in unpriced_models(usage):
            if model not in self.unpriced_models:
                self.unpriced_models.add(model)
                logger.warning("model %s is not in the price table: its rows have no estimated cost (add it with PRICING_OVERRIDES)", model)
                self.record.notes.append(f"unpriced model {model}: estimated_cost_usd is null for its rows")

    def _reprice(self) -> None:
        """Usage days this run stored with unpriced rows, estimated again once the run learned a price from the bill
        (the cost day of a new model comes after its usage): the run log counts what is still unpriced."""
        if not self.unpriced_days or not self.prices.observed:
            return
        left = reprice_usage_days(self.lake, sorted(self.unpriced_days), self.prices)
        self.unpriced_counts = {model: min(tokens, left.get(model, 0)) for model, tokens in self.unpriced_counts.items() if left.get(model)}
        self.record.unpriced_tokens = sum(self.unpriced_counts.values())
        days = sorted(self.unpriced_days)
        self.record.notes.append(f"usage {days[0]}..{days[-1]}: estimated again with the prices learned from the bill; "
                                 f"{self.record.unpriced_tokens:,} token(s) still unpriced")

    def write_day(self, window: Window, day: date, pending: PendingDay) -> None:
        endpoint = window.endpoint
        if pending.problem:
            self.record.notes.append(f"{endpoint.name} {day}: not written, the stored day (if any) kept: {pending.problem}")
            logger.warning("%s %s: not written: %s", endpoint.name, day, pending.problem)
            self.note_day(DayResult(endpoint.name, day, sum(t.num_rows for t in pending.tables), DayAction.INCOMPLETE))
            return
        table = pa.concat_tables(pending.tables) if pending.tables else TABLES[endpoint.table].empty_table()
        if table.num_rows:
            # the manifest names the raw pages that complete this day, so it can be rebuilt without the API
            Manifest.for_day(endpoint=endpoint.name, table=endpoint.table, day=day, run_id=self.record.run_id,
                             rows=table.num_rows, bucket_width=endpoint.bucket_width, window=(window.start, window.end),
                             pages=list(pending.pages.values())).write(self.lake)
        action = store_tables(self.lake, day, {name: self.personal.table(name, rows) for name, rows in endpoint.outputs(table).items()})
        if action == DayAction.KEPT:
            self.record.notes.append(f"{endpoint.name} {day}: the API returned no rows for a day the lake already holds; kept the stored rows")
            logger.warning("%s %s: the API returned no rows; keeping the stored partition", endpoint.name, day)
        self.note_day(DayResult(endpoint.name, day, table.num_rows, action))
        if action == DayAction.WRITTEN:
            self._write_derived(endpoint.table, day)

    def _write_derived(self, table: str, day: date) -> None:
        """The derived tables built from the day of `table` just written (`derived.DERIVED`: FOCUS from cost).
        Derived data never fails the run that fetched its source: a failure is logged and noted, and a rebuild redoes it."""
        context = DerivedContext(self.lake, self.prices, self.settings, self.focus_unmatched)
        for name, build in derived_for(table):
            try:
                self.record.notes.extend(build(context, day))
            except Exception as exc:
                logger.exception("%s %s: not written", name, day)
                self.record.notes.append(f"{name} {day}: not written: {type(exc).__name__}: {exc} (`usage-lake rebuild` redoes it)")
        if context.learned:  # issue 19: prices learned from the bill price the rest of the run
            self.prices = self.prices.with_observed(context.learned, prefer=self.prices.prefer_observed)

    def note_day(self, result: DayResult) -> None:
        self.record.days.append(result)
        logger.info("%s %s: %s %s rows", result.report, result.day, result.action, f"{result.rows:,}")
        if time.monotonic() - self._checkpointed >= CHECKPOINT_SECONDS:
            self.checkpoint()
        if self.on_day:
            self.on_day(result)
