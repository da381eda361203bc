"""Object keys of the lake, in one place (relative to `LAKE_PREFIX`).

    raw/<report>/dt=<day>/page-<sha256 of the body>.json.gz  every API page exactly as received, gzipped
    raw/<report>/dt=<day>/run=<run id>/manifest.json        written once the day is complete: the pages that cover it
    <table>/dt=<day>/<table>-<day>.parquet                  curated: one object per UTC day, replaced whole
    runs/dt=<day>/<run id>.parquet                          the run log

A page is filed under the day of its first bucket and named by its content: the hourly re-read of a trailing
window mostly gets back pages it already holds, and those are not stored again (a run's pages are found
through its manifests). A curated day has exactly one object with a fixed name, so a re-run replaces it in
one PUT and Athena never sees two versions of a day side by side.
"""

from __future__ import annotations

from datetime import date, datetime

RUNS_TABLE = "runs"


def partition_key(table: str, day: date) -> str:
    return f"{table}/dt={day.isoformat()}/{table}-{day.isoformat()}.parquet"


def raw_day_prefix(report: str, day: date) -> str:
    return f"raw/{report}/dt={day.isoformat()}/"


def raw_page_key(report: str, day: date, digest: str) -> str:
    return f"{raw_day_prefix(report, day)}page-{digest}.json.gz"


def raw_manifest_key(report: str, day: date, run_id: str) -> str:
    return f"{raw_day_prefix(report, day)}run={run_id}/manifest.json"


def run_log_key(run_id: str, started_at: datetime) -> str:
    return f"{RUNS_TABLE}/dt={started_at.date().isoformat()}/{run_id}.parquet"
