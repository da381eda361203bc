"""The run log: one record per run, written to `runs/` as Parquet and queryable in Athena.

It answers what the seeds' `usage_sync_status` table answers: what was fetched, when, how many pages,
retries and rows per table and day, how long it took, how it ended, and the error if it failed.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import pyarrow as pa

from usage_lake import __version__
from usage_lake.lake.curated import DayAction, parquet_bytes
from usage_lake.lake.layout import run_log_key
from usage_lake.lake.schema import RUNS
from usage_lake.lake.store import Lake
from usage_lake.times import format_timestamp

__all__ = ["DayResult", "Outcome", "RunRecord", "new_run_id", "write_record"]

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    """How a run ended (the run log's `outcome`)."""

    RUNNING = "running"  # not finished (or its process died before it could say)
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # stopped early at a slice boundary; the rest continues (backfill) or comes next run
    ALERTS_FAILED = "alerts_failed"  # the data is in; an alert could not be evaluated or sent (retried next run)
    FAILED = "failed"

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
    days: list[DayResult] = field(default_factory=list)
    raw_pages_reused: int = 0  # pages identical to one already in raw/ (not stored twice)
    alerts_sent: int = 0
    alerts_failed: int = 0
    resume_from: date | None = None
    next_event: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def rows(self, report: str) -> int:
        return sum(d.rows for d in self.days if d.report == report and d.action == DayAction.WRITTEN)

    def count(self, action: str) -> int:
        return sum(1 for d in self.days if d.action == action)

    @property
    def duration_seconds(self) -> float | None:
        return (self.finished_at - self.started_at).total_seconds() if self.finished_at else None

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable: what the handler returns and the CLI prints."""
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "reports": list(self.reports),
            "outcome": self.outcome,
            "error": self.error,
            "windows": {r: [format_timestamp(s), format_timestamp(e)] for r, (s, e) in self.windows.items()},
            "requests": self.requests,
            "pages": self.pages,
            "retries": self.retries,
            "raw_pages_reused": self.raw_pages_reused,
            "rows": {report: self.rows(report) for report in self.reports},
            "days_written": self.count(DayAction.WRITTEN),
            "days_kept": self.count(DayAction.KEPT),
            "days_incomplete": self.count(DayAction.INCOMPLETE),
            "alerts_sent": self.alerts_sent,
            "alerts_failed": self.alerts_failed,
            "days": [{"report": d.report, "dt": d.day.isoformat(), "rows": d.rows, "action": d.action} for d in self.days],
            "resume_from": self.resume_from.isoformat() if self.resume_from else None,
            "next_event": self.next_event,
            "notes": self.notes,
            "duration_seconds": round(self.duration_seconds, 3) if self.duration_seconds is not None else None,
        }

    def to_table(self) -> pa.Table:
        usage = self.windows.get("usage", (None, None))
        cost = self.windows.get("cost", (None, None))
        row = {
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
            "usage_window_start": usage[0],
            "usage_window_end": usage[1],
            "cost_window_start": cost[0],
            "cost_window_end": cost[1],
            "resume_from": self.resume_from.isoformat() if self.resume_from else None,
            "requests": self.requests,
            "pages": self.pages,
            "retries": self.retries,
            "bytes_received": self.bytes_received,
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
        }
        return pa.Table.from_pylist([row], schema=RUNS)


def write_record(lake: Lake, record: RunRecord) -> None:
    """Store the run's record under `runs/`; a failure to do so is logged, never raised over the run's own outcome."""
    try:
        lake.put(run_log_key(record.run_id, record.started_at), parquet_bytes(record.to_table()))
    except Exception:
        logger.exception("run %s: could not write the run log", record.run_id)
