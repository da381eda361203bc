"""Object keys of the lake, in one place (relative to `LAKE_PREFIX`).

    raw/<report>/dt=<day>/page-<sha256 of the body>.json.gz  every API page exactly as received, gzipped
    raw/<report>/dt=<day>/run=<run id>/manifest.json        written once the day is complete: the pages that cover it
    <table>/dt=<day>/<table>-<day>.parquet                  curated: one object per UTC day, replaced whole
    runs/dt=<day>/<run id>.parquet                          the run log
    alerts/claims/<alert key>/attempt-<n>.json              a run's claim to send an alert (conditional write)
    alerts/claims/<alert key>/attempt-<n>.failed.json       that attempt's publish failed: the next run retries
    alerts/sent/<alert key>.json                            the alert was sent (message id, figure, family, level, when)
    alerts/outbox/<alert key with _ for />.json             local mode: the message itself

A page is filed under the day of its first bucket and named by its content: the hourly re-read of a trailing
window mostly gets back pages it already holds, and those are not stored again (a run's pages are found
through its manifests). A curated day has exactly one object with a fixed name, so a re-run replaces it in
one PUT and Athena never sees two versions of a day side by side.
"""

from __future__ import annotations

from datetime import date, datetime

__all__ = [
    "ALERT_OUTBOX", "LAKE_MARKERS", "RAW", "RUNS_TABLE", "alert_claim_key", "alert_claims_prefix", "alert_failed_key",
    "alert_outbox_key", "alert_sent_key", "alert_sent_prefix", "partition_key", "raw_day_prefix", "raw_manifest_key",
    "raw_page_key", "run_log_key", "run_log_prefix",
]

RUNS_TABLE = "runs"
RAW = "raw"
# a folder (or prefix) is a lake once a run has written there: its run log or its raw pages
LAKE_MARKERS = (f"{RUNS_TABLE}/", f"{RAW}/")
ALERT_OUTBOX = "alerts/outbox/"


def partition_key(table: str, day: date) -> str:
    return f"{table}/dt={day.isoformat()}/{table}-{day.isoformat()}.parquet"


def raw_day_prefix(report: str, day: date) -> str:
    return f"{RAW}/{report}/dt={day.isoformat()}/"


def raw_page_key(report: str, day: date, digest: str) -> str:
    return f"{raw_day_prefix(report, day)}page-{digest}.json.gz"


def raw_manifest_key(report: str, day: date, run_id: str) -> str:
    return f"{raw_day_prefix(report, day)}run={run_id}/manifest.json"


def run_log_prefix(day: date) -> str:
    return f"{RUNS_TABLE}/dt={day.isoformat()}/"


def run_log_key(run_id: str, started_at: datetime) -> str:
    return f"{run_log_prefix(started_at.date())}{run_id}.parquet"


def alert_sent_key(alert_key: str) -> str:
    return f"alerts/sent/{alert_key}.json"


def alert_sent_prefix(key_prefix: str) -> str:
    """The sent records whose alert keys start with `key_prefix` (an alert family, e.g. "daily/2026-11-21/billed")."""
    return f"alerts/sent/{key_prefix}"


def alert_claims_prefix(alert_key: str) -> str:
    return f"alerts/claims/{alert_key}/"


def alert_claim_key(alert_key: str, attempt: int) -> str:
    return f"{alert_claims_prefix(alert_key)}attempt-{attempt:04d}.json"


def alert_failed_key(claim_key: str) -> str:
    """The marker beside a claim whose publish failed."""
    return claim_key.removesuffix(".json") + ".failed.json"


def alert_outbox_key(alert_key: str) -> str:
    return ALERT_OUTBOX + alert_key.replace("/", "_") + ".json"
