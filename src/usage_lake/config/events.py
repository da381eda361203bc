"""Events: what may invoke a run, parsed into a `RunRequest`.

Accepted (see `events/` for samples):
- the EventBridge scheduled-event envelope (`"detail-type": "Scheduled Event"`) and EventBridge
  Scheduler's plain JSON input (`{}` or `{"mode": "incremental", ...}`): an incremental run;
- `{"mode": "incremental", "reports": [...], "now": "<RFC 3339>"}`;
- `{"mode": "backfill", "start": "YYYY-MM-DD", "end": "YYYY-MM-DD", "reports": [...]}`, whole UTC days with
  `end` exclusive. A backfill that stops at the Lambda's time limit re-invokes itself with the rest of the
  range and `"continues": "<run id>"`.

Anything else raises `EventError` naming the field, before anything is fetched or written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from usage_lake.errors import EventError
from usage_lake.times import format_timestamp, parse_timestamp

__all__ = ["EARLIEST_DAY", "EventError", "Mode", "RunRequest", "parse_event"]

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
EARLIEST_DAY = date(2020, 1, 1)

_COMMON_FIELDS = {"mode", "reports", "now"}
_FIELDS = {
    "incremental": _COMMON_FIELDS,
    "backfill": _COMMON_FIELDS | {"start", "end", "continues"},
}


class Mode(StrEnum):
    INCREMENTAL = "incremental"
    BACKFILL = "backfill"


@dataclass(frozen=True)
class RunRequest:
    mode: Mode
    reports: tuple[str, ...] = ()  # endpoint names; () means every endpoint the registry runs by default
    now: datetime | None = None  # pinned clock (replays, tests); None means the real clock
    start: date | None = None  # backfill only
    end: date | None = None  # backfill only, exclusive
    continues: str | None = None  # run id this backfill continues
    # backfill: the first day of the range as first asked, when this request resumes or continues it (not part of
    # the event: the run log's `range_start`, which lets a re-run of that range find where it stopped)
    origin: date | None = None

    def to_event(self) -> dict[str, Any]:
        """The event that asks for this request again (used to continue a backfill)."""
        event: dict[str, Any] = {"mode": str(self.mode)}
        if self.reports:
            event["reports"] = list(self.reports)
        if self.start is not None and self.end is not None:
            event |= {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.now is not None:
            event["now"] = format_timestamp(self.now)
        if self.continues:
            event["continues"] = self.continues
        return event


def parse_event(event: Any, *, known_reports: Sequence[str]) -> RunRequest:
    """The request an event asks for; `known_reports` are the endpoint names a run can fetch, in run order."""
    if event is None:
        event = {}
    if not isinstance(event, dict):
        raise EventError(f"event must be a JSON object, got {type(event).__name__}")
    if event.get("detail-type") == "Scheduled Event" or event.get("source") == "aws.events":
        return RunRequest(mode=Mode.INCREMENTAL, reports=tuple(known_reports))
    mode = event.get("mode", "incremental")
    if mode not in _FIELDS:
        raise EventError(f"mode must be 'incremental' or 'backfill' (got {mode!r})")
    unknown = sorted(set(event) - _FIELDS[mode])
    if unknown:
        raise EventError(f"unknown field(s) for a {mode} event: {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS[mode]))}")
    mode = Mode(mode)
    reports = _reports(event.get("reports", list(known_reports)), tuple(known_reports))
    now = _timestamp("now", event["now"]) if "now" in event else None
    if mode == Mode.INCREMENTAL:
        return RunRequest(mode=mode, reports=reports, now=now)
    start, end = _day("start", event.get("start")), _day("end", event.get("end"))
    if end <= start:
        raise EventError(f"end ({end}) must be after start ({start}); end is exclusive")
    tomorrow = (now or datetime.now(UTC)).date() + timedelta(days=1)
    if start < EARLIEST_DAY:
        raise EventError(f"start ({start}) is before {EARLIEST_DAY}; the Admin API has no data that old")
    if end > tomorrow:
        raise EventError(f"end ({end}) is in the future; the latest end is tomorrow ({tomorrow}), which includes today so far")
    continues = event.get("continues")
    if continues is not None and not (isinstance(continues, str) and continues):
        raise EventError("continues must be the run id (a string) of the run this backfill continues")
    return RunRequest(mode=mode, reports=reports, now=now, start=start, end=end, continues=continues)


def _reports(value: Any, known: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise EventError(f"reports must be a non-empty list drawn from {list(known)} (got {value!r})")
    bad = [r for r in value if r not in known]
    if bad:
        raise EventError(f"reports has unknown value(s) {bad}; allowed: {list(known)}")
    return tuple(r for r in known if r in value)


def _timestamp(field: str, value: Any) -> datetime:
    try:
        return parse_timestamp(value)
    except (TypeError, ValueError, AttributeError):
        raise EventError(f"{field} must be an RFC 3339 timestamp like 2026-11-23T12:00:00Z (got {value!r})") from None


def _day(field: str, value: Any) -> date:
    if value is None:
        raise EventError(f"{field} is required for a backfill (a UTC day, YYYY-MM-DD)")
    try:
        if not isinstance(value, str) or not _DAY.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise EventError(f"{field} must be a UTC day in YYYY-MM-DD form (got {value!r})") from None
