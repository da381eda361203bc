"""The run log: one record per run, written to `runs/` as Parquet and queryable in Athena.

It answers what the seeds' `usage_sync_status` table answers: what was fetched, when, how many pages,
retries and rows per table and day, how long it took, how it ended, and the error if it failed.

A run writes its record when it starts (`running`), again as it goes (`updated_at`, and where it would resume),
and when it ends. A run stopped by Ctrl-C or SIGTERM ends `interrupted` with `resume_from`; a process that died
without a word (killed, out of memory, the Lambda timeout) leaves its `running` record behind, which
`effective_outcome` shows as `abandoned` once the process is gone or the record has gone quiet.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

import pyarrow as pa

from usage_lake import __version__
from usage_lake.lake.curated import DayAction, parquet_bytes, read_parquet
from usage_lake.lake.layout import RUNS_TABLE, run_log_key, run_log_prefix
from usage_lake.lake.schema import RUNS
from usage_lake.lake.store import Lake
from usage_lake.times import format_timestamp

__all__ = [
    "ABANDONED_AFTER", "DayResult", "EndpointError", "Outcome", "ResumePoint", "RunRecord", "effective_outcome",
    "find_resume_point", "new_run_id", "previous_page_sizes", "read_records", "write_record",
]

logger = logging.getLogger(__name__)

COST_BUCKET_WIDTH = "1d"  # the cost report has daily buckets only


class Outcome(StrEnum):
    """How a run ended (the run log's `outcome`)."""

    RUNNING = "running"  # not finished (or its process died before it could say: see ABANDONED)
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # stopped early at a slice boundary (the rest continues), or an optional endpoint failed (`errors`)
    ALERTS_FAILED = "alerts_failed"  # the data is in; an alert could not be evaluated or sent (retried next run)
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # stopped by SIGINT (Ctrl-C) or SIGTERM; `resume_from` says where to carry on
    ABANDONED = "abandoned"  # shown, never written: a `running` record whose process is gone (see effective_outcome)

    @property
    def made_progress(self) -> bool:
        """Counts as a successful run for the "no successful run" alarm."""
        return self in (Outcome.SUCCEEDED, Outcome.PARTIAL, Outcome.ALERTS_FAILED)


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique across concurrent runs."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class DayResult:
    report: str
    day: date
    rows: int
    action: DayAction


@dataclass(frozen=True)
class EndpointError:
    """An endpoint that failed without failing the run (the Claude Code report, an organization list)."""

    report: str
    error_type: str
    error: str


@dataclass
class RunRecord:
    run_id: str
    mode: str  # config.events.Mode
    reports: tuple[str, ...]
    started_at: datetime
    continues: str | None = None
    windows: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    outcome: Outcome = Outcome.RUNNING
    error_type: str | None = None
    error: str | None = None
    finished_at: datetime | None = None
    requests: int = 0
    pages: int = 0
    retries: int = 0
    bytes_received: int = 0
    bytes_per_bucket: dict[tuple[str, str], int] = field(default_factory=dict)  # (report, bucket width) -> bytes
    days: list[DayResult] = field(default_factory=list)
    raw_pages_reused: int = 0  # pages identical to one already in raw/ (not stored twice)
    unpriced_tokens: int = 0  # issue 19: tokens of usage rows this run stored without an estimate (no price)
    alerts_sent: int = 0
    alerts_failed: int = 0
    resume_from: date | None = None
    next_event: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    errors: list[EndpointError] = field(default_factory=list)

    # optional endpoints the organization or key cannot read (403/404 "not available"): name -> the API's words
    unavailable: dict[str, str] = field(default_factory=dict)
    range_start: date | None = None  # backfill: the range as first asked, kept by the runs that resume or continue it
    range_end: date | None = None
    updated_at: datetime | None = None  # when the record was last written (a running record's heartbeat)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)

    def failed(self, report: str) -> bool:
        return any(e.report == report for e in self.errors)

    def stopped(self, report: str) -> bool:
        """Failed or unavailable: the run asks it nothing more."""
        return self.failed(report) or report in self.unavailable

    def status(self, report: str) -> str:
        """`ok`, `failed` (the run ends partial) or `unavailable` (not a failure)."""
        return "unavailable" if report in self.unavailable else "failed" if self.failed(report) else "ok"

    def rows(self, report: str) -> int:
        return sum(d.rows for d in self.days if d.report == report and d.action == DayAction.WRITTEN)

    def count(self, action: str) -> int:
        return sum(1 for d in self.days if d.action == action)

    @property
    def duration_seconds(self) -> float | None:
        return (self.finished_at - self.started_at).total_seconds() if self.finished_at else None

    def endpoint_rows(self) -> list[dict[str, Any]]:
        """One entry per endpoint of the run: its window, page size seen, rows written and status (the run log's
        `endpoints` column; the fixed usage_/cost_ columns are kept for the queries that read them)."""
        names = list(dict.fromkeys([*self.reports, *self.windows, *(e.report for e in self.errors), *self.unavailable]))
        entries = []
        for name in names:
            start, end = self.windows.get(name, (None, None))
            width, size = next(((w, n) for (report, w), n in self.bytes_per_bucket.items() if report == name), (None, None))
            entries.append({"report": name, "window_start": start, "window_end": end, "bucket_width": width,
                            "bytes_per_bucket": size, "rows": self.rows(name), "status": self.status(name)})
        return entries

    def row(self) -> dict[str, Any]:
        """The run log row: what `to_table` stores and `summary` shows."""
        endpoints = self.endpoint_rows()
        by_name = {e["report"]: e for e in endpoints}
        usage, cost = by_name.get("usage", {}), by_name.get("cost", {})
        return {
            "run_id": self.run_id,
            "continues": self.continues,
            "mode": self.mode,
            "reports": ",".join(self.reports),
            "outcome": self.outcome,
            "error_type": self.error_type,
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_seconds": self.duration_seconds,
            "usage_window_start": usage.get("window_start"),
            "usage_window_end": usage.get("window_end"),
            "cost_window_start": cost.get("window_start"),
            "cost_window_end": cost.get("window_end"),
            "resume_from": self.resume_from.isoformat() if self.resume_from else None,
            "requests": self.requests,
            "pages": self.pages,
            "retries": self.retries,
            "bytes_received": self.bytes_received,
            "usage_bucket_width": usage.get("bucket_width") if usage.get("bytes_per_bucket") else None,
            "usage_bytes_per_bucket": usage.get("bytes_per_bucket"),
            "cost_bytes_per_bucket": self.bytes_per_bucket.get(("cost", COST_BUCKET_WIDTH)),
            "raw_pages_reused": self.raw_pages_reused,
            "usage_rows": self.rows("usage"),
            "cost_rows": self.rows("cost"),
            "days_written": self.count(DayAction.WRITTEN),
            "days_kept": self.count(DayAction.KEPT),
            "days_incomplete": self.count(DayAction.INCOMPLETE),
            "alerts_sent": self.alerts_sent,
            "alerts_failed": self.alerts_failed,
            "days": [{"report": d.report, "dt": d.day.isoformat(), "rows": d.rows, "action": d.action} for d in self.days],
            "notes": self.notes,
            "version": __version__,
            "errors": [{"report": e.report, "error_type": e.error_type, "error": e.error} for e in self.errors],
            "updated_at": self.updated_at,
            "range_start": self.range_start.isoformat() if self.range_start else None,
            "range_end": self.range_end.isoformat() if self.range_end else None,
            "unpriced_tokens": self.unpriced_tokens,
            "host": self.host,
            "pid": self.pid,
            "endpoints": endpoints,
            "unavailable": [{"report": name, "error": message} for name, message in self.unavailable.items()],
        }

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable: what the handler returns and the CLI prints, taken from the run log `row`."""
        row = self.row()
        endpoints = row["endpoints"]
        shown = ("run_id", "mode", "outcome", "error", "requests", "pages", "retries", "raw_pages_reused", "days_written",
                 "days_kept", "days_incomplete", "alerts_sent", "alerts_failed", "unpriced_tokens", "days", "resume_from", "notes",
                 "errors")
        summary = {name: row[name] for name in shown}
        summary["reports"] = [r for r in row["reports"].split(",") if r]
        summary["windows"] = {e["report"]: [format_timestamp(e["window_start"]), format_timestamp(e["window_end"])]
                              for e in endpoints if e["window_start"] is not None}
        summary["rows"] = {e["report"]: e["rows"] for e in endpoints if e["report"] in self.reports}
        summary["endpoints"] = {e["report"]: e["status"] for e in endpoints}
        summary["unavailable"] = row["unavailable"]
        summary["next_event"] = self.next_event
        duration = row["duration_seconds"]
        summary["duration_seconds"] = round(duration, 3) if duration is not None else None
        return summary

    def to_table(self) -> pa.Table:
        return pa.Table.from_pylist([self.row()], schema=RUNS)


def previous_page_sizes(lake: Lake, now: datetime, *, look_back: int = 8) -> dict[tuple[str, str], int]:
    """Bytes per bucket by (report, bucket width), from the latest runs of today and yesterday that measured them.

    At most `look_back` run records are read (a LIST of two day prefixes and a GET each): a fresh lake, or one
    whose last run is older than yesterday, gives nothing, and pages start at one day.
    """
    keys: list[str] = []
    for day in (now.date(), now.date() - timedelta(days=1)):
        keys += lake.list(run_log_prefix(day))
    found: dict[tuple[str, str], int] = {}
    columns = ["run_id", "usage_bucket_width", "usage_bytes_per_bucket", "cost_bytes_per_bucket"]
    for key in sorted(keys, key=lambda k: k.rsplit("/", 1)[-1], reverse=True)[:look_back]:
        try:
            (row,) = read_parquet(lake.get(key), table=RUNS_TABLE, columns=columns).to_pylist()
        except Exception:  # a hint, not a duty: an unreadable record is skipped
            logger.warning("run log %s is unreadable; not using it to size pages", key, exc_info=True)
            continue
        if row["usage_bucket_width"] and row["usage_bytes_per_bucket"]:
            found.setdefault(("usage", row["usage_bucket_width"]), row["usage_bytes_per_bucket"])
        if row["cost_bytes_per_bucket"]:
            found.setdefault(("cost", COST_BUCKET_WIDTH), row["cost_bytes_per_bucket"])
        if any(report == "usage" for report, _ in found) and ("cost", COST_BUCKET_WIDTH) in found:
            break
    return found


def write_record(lake: Lake, record: RunRecord, *, strict: bool = False) -> None:
    """Store the run's record under `runs/` (one object per run, replaced each time). A failure is logged, never
    raised over the run's own outcome, unless `strict` (the first record, written before anything is fetched)."""
    try:
        lake.put(run_log_key(record.run_id, record.started_at), parquet_bytes(record.to_table()))
    except Exception:
        if strict:
            raise
        logger.exception("run %s: could not write the run log", record.run_id)


# a running record that has not been written for this long belongs to a process that is gone: a Lambda run lasts
# at most 15 minutes, and a local run rewrites its record at least every few minutes while days are written
ABANDONED_AFTER = timedelta(hours=1)


def effective_outcome(run: dict[str, Any], now: datetime) -> str:
    """A run log row's outcome as it stands: `abandoned` for a `running` record whose process has died (same
    host, pid gone) or that has not been updated for `ABANDONED_AFTER`."""
    if run["outcome"] != Outcome.RUNNING:
        return run["outcome"]
    if run.get("host") == socket.gethostname() and run.get("pid") and not _alive(run["pid"]):
        return Outcome.ABANDONED
    last = run.get("updated_at") or run["started_at"]
    return Outcome.ABANDONED if now - last > ABANDONED_AFTER else Outcome.RUNNING


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def read_records(lake: Lake, *, limit: int) -> list[dict[str, Any]]:
    """The latest `limit` run log rows, newest first (run ids sort by start time). Read 16 at a time: on S3 each
    is a GET, and an hourly schedule leaves hundreds."""
    keys = sorted(lake.list(f"{RUNS_TABLE}/"), key=lambda k: k.rsplit("/", 1)[-1], reverse=True)[:limit]
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="runlog") as pool:
        return list(pool.map(lambda key: read_parquet(lake.get(key), table=RUNS_TABLE).to_pylist()[0], keys))


@dataclass(frozen=True)
class ResumePoint:
    run_id: str  # the run that stopped
    outcome: str
    day: date  # where to carry on
    start: date  # the range as first asked
    end: date
    reports: tuple[str, ...]


RESUMABLE = (Outcome.INTERRUPTED, Outcome.FAILED, Outcome.ABANDONED)
RESUME_SEARCH = 500  # run log rows looked at (newest first)


def find_resume_point(lake: Lake, now: datetime, *, start: date | None = None, end: date | None = None,
                      reports: tuple[str, ...] | None = None) -> ResumePoint | None:
    """Where the latest backfill of this range (any range, when none is given) stopped, if it stopped before the
    end: interrupted, failed, or abandoned. None when its latest run finished it (or there is none)."""
    for run in read_records(lake, limit=RESUME_SEARCH):
        if run["mode"] != "backfill" or not run.get("range_start") or not run.get("range_end"):
            continue
        run_reports = tuple(r for r in run["reports"].split(",") if r)
        same = (start is None or run["range_start"] == start.isoformat()) and (end is None or run["range_end"] == end.isoformat()) \
            and (reports is None or run_reports == reports)
        if not same:
            continue
        outcome = effective_outcome(run, now)
        if outcome not in RESUMABLE or not run.get("resume_from"):
            return None
        return ResumePoint(run["run_id"], outcome, date.fromisoformat(run["resume_from"]), date.fromisoformat(run["range_start"]),
                           date.fromisoformat(run["range_end"]), run_reports)
    return None
