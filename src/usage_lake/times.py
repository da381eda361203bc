"""Time, the way the Admin API and the lake write it: RFC 3339 in UTC, whole UTC days."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

__all__ = ["DAY", "day_range", "format_timestamp", "midnight", "parse_timestamp"]

DAY = timedelta(days=1)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def parse_timestamp(value: str) -> datetime:
    """RFC 3339 with an explicit offset, returned in UTC."""
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"{value!r} is not an RFC 3339 timestamp with an offset")
    return datetime.fromisoformat(value).astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with a Z, as the Admin API writes it."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def midnight(day: date) -> datetime:
    """00:00 UTC of a day."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def day_range(start: date, end: date) -> list[date]:
    """The days from `start` up to `end` (exclusive)."""
    return [start + timedelta(days=i) for i in range((end - start).days)]
