"""What every source endpoint is: the protocols the ingest loop runs, and the bucketed-report base.

A report endpoint (`Endpoint`) says what to ask (`path`, `params`, `paging`), how far back (`lookback_days`,
`window_end`, `max_span`), how its rows become curated tables (`table`, `to_table`, `outputs`), and which API
answer means "nothing ready yet" (`is_not_ready`). A snapshot endpoint (`Snapshot`) says which lists to read
(`requests`, built from the same day's snapshots it `needs`) and how their records become its table.
`kind` tells the ingest loop how the data is laid out in time:

- `bucketed`: time buckets (`starting_at`/`ending_at`) over a window, one query per window; each UTC day is
  written whole once no later page can add to it (usage, cost);
- `daily`: one query per UTC day (`starting_at=YYYY-MM-DD`), its pages holding records of that day; the day is
  written when its query ends (the Claude Code report);
- `snapshot`: the state of the organization now (workspaces, keys, users, ...); one partition per UTC day of
  the snapshot, taken by the first run of the day (or when the day's partition is missing).

`required` says what a failure means: a required endpoint (usage, cost) fails the run; any other is
recorded in the run log (the run ends `partial`) while the rest of the run goes on. An optional endpoint the
organization or key has no access to (403, or 404 "not available") is `unavailable`: recorded once, not a
failure (`is_unavailable`).

Each endpoint also owns what is particular to it: its request `headers` (a beta header), how its pages are
sized (`page_params`: buckets per page for the legacy reports, rows for the Analytics API), and its path
(`per_workspace` builds one query per workspace from a `{workspace_id}` path template). Whether it runs at all
is its factory's choice (`registry`): a factory returns None when a setting turns its source off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, cast

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.config.settings import Settings
from usage_lake.errors import AdminApiError, ResponseShapeError
from usage_lake.money.pricing import PriceTable
from usage_lake.sources.http import REPORT_PAGES, Bucket, Headers, Paging, Params
from usage_lake.times import format_timestamp

__all__ = ["MAX_BUCKETS", "PAGE_BUDGET_BYTES", "WIDTHS", "AnyEndpoint", "BucketedReport", "Endpoint", "Kind", "Snapshot", "by_kind",
           "is_unavailable", "per_workspace"]

WIDTHS = {"1m": timedelta(minutes=1), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
# documented maximum buckets per page (reference sections 2.2 and 3.1)
MAX_BUCKETS = {"1m": 1440, "1h": 168, "1d": 31}
# A page's JSON is held whole while its rows are parsed (with its Arrow rows beside it): the most a page may be.
# One day of the simulator's large org (1,000 keys x 10 models, hourly) is 110.5 MB, and a run of it peaks
# near 450 MB RSS; so pages of a large org stay at one day, and a small org's pages hold as many buckets as the
# API allows.
PAGE_BUDGET_BYTES = 128 * 1024 * 1024


class Kind(StrEnum):
    BUCKETED = "bucketed"
    DAILY = "daily"
    SNAPSHOT = "snapshot"


class Endpoint(Protocol):
    """One report endpoint (bucketed or daily) feeding one or more curated tables."""

    @property
    def name(self) -> str:
        """The word used in events, raw/ keys and manifests."""

    @property
    def table(self) -> str:
        """The curated table it writes (the first of `outputs`; named in manifests)."""

    @property
    def path(self) -> str: ...

    @property
    def paging(self) -> Paging:
        """How its pages decode and chain."""

    @property
    def required(self) -> bool:
        """Whether its failure fails the run (else it is recorded and the run goes on)."""

    @property
    def bucket_width(self) -> str: ...

    @property
    def kind(self) -> Kind: ...

    @property
    def max_span(self) -> timedelta: ...

    @property
    def earliest(self) -> datetime | None:
        """The first instant the API serves (the Analytics API: 2026-01-01); windows start no earlier."""

    @property
    def headers(self) -> Headers:
        """Request headers of its own (the Analytics API's beta header), sent with every page."""

    def page_params(self, start: datetime, end: datetime, bytes_per_bucket: int | None, budget: int) -> list[tuple[str, str]]:
        """The query for `start`..`end`, its page size chosen by the endpoint (from the bucket size seen, if it sizes by it)."""

    def lookback_days(self, settings: Settings) -> int: ...

    def window_end(self, now: datetime, today: datetime) -> datetime: ...

    def params(self, start: datetime, end: datetime) -> list[tuple[str, str]]: ...

    def to_table(self, buckets: Sequence[Bucket], *, run_id: str, ingested_at: datetime, where: str,
                 prices: PriceTable | None = None) -> pa.Table: ...

    def outputs(self, table: pa.Table) -> dict[str, pa.Table]:
        """The curated tables one day of `to_table` rows becomes, the primary `table` first."""

    def is_not_ready(self, error: AdminApiError) -> bool: ...


class Snapshot(Protocol):
    """One list (or object) of the organization, read whole once a UTC day into one partition of its table."""

    @property
    def name(self) -> str: ...

    @property
    def table(self) -> str: ...

    @property
    def kind(self) -> Kind: ...

    @property
    def paging(self) -> Paging: ...

    @property
    def required(self) -> bool: ...

    @property
    def headers(self) -> Headers: ...

    @property
    def needs(self) -> tuple[str, ...]:
        """Snapshot tables whose same-day partition its requests are built from (workspace members: workspaces)."""

    def requests(self, inputs: Mapping[str, pa.Table]) -> list[tuple[str, Params]]:
        """(path, params) of every query, given today's snapshot of each table in `needs`."""

    def to_table(self, records: Sequence[msgspec.Raw], *, run_id: str, snapshot_at: datetime, where: str) -> pa.Table: ...


AnyEndpoint = Endpoint | Snapshot


def by_kind(endpoints: Iterable[AnyEndpoint]) -> tuple[list[Endpoint], list[Snapshot]]:
    """The report endpoints (bucketed and daily) and the snapshot endpoints, each in run order."""
    reports, snapshots = [], []
    for endpoint in endpoints:
        if endpoint.kind == Kind.SNAPSHOT:
            snapshots.append(cast(Snapshot, endpoint))
        else:
            reports.append(cast(Endpoint, endpoint))
    return reports, snapshots


# the 403/404 messages that mean "this organization or key has no access to that endpoint", not a fault
_UNAVAILABLE_WORDS = ("not available", "not enabled", "does not have access", "no access", "permission")
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


def is_unavailable(error: AdminApiError) -> bool:
    """A 403, or a 404 saying the endpoint is not available: the organization or key cannot read it (an
    optional endpoint then records `unavailable`, once, and the run is not worse for it)."""
    if error.status == 403:
        return True
    message = (error.api_message or "").lower()
    return error.status == 404 and any(word in message for word in _UNAVAILABLE_WORDS)


def per_workspace(template: str, workspaces: pa.Table, params: Params) -> list[tuple[str, Params]]:
    """One query per active workspace of a `workspaces` snapshot, `{workspace_id}` in `template` filled in."""
    active = workspaces.filter(pc.is_null(workspaces.column("archived_at"))).column("id").to_pylist()
    unsafe = [w for w in active if not _SAFE_ID.fullmatch(w)]
    if unsafe:
        raise ResponseShapeError(f"workspaces snapshot holds an id that cannot go in a URL path: {unsafe[0]!r}")
    return [(template.format(workspace_id=w), list(params)) for w in sorted(active)]


@dataclass(frozen=True)
class BucketedReport:
    """A report queried by `starting_at`/`ending_at`/`bucket_width`/`limit`/`group_by[]` and paged by `page`.

    `limit` counts buckets, and a page is read whole into memory, so how many a page asks for follows the size
    of a bucket (`page_limit`): whole days of buckets, as many as fit `PAGE_BUDGET_BYTES`, up to the API's
    maximum. Whole days, so a query starting at midnight has its pages end at midnight (unless the API cuts one
    short). Until a bucket's size is known, a page asks for one day (see `ingest.paging`).
    """

    name: str
    table: str
    path: str
    bucket_width: str
    group_by: tuple[str, ...]

    @property
    def kind(self) -> Kind:
        return Kind.BUCKETED

    @property
    def paging(self) -> Paging:
        return REPORT_PAGES

    @property
    def required(self) -> bool:
        return True

    @property
    def headers(self) -> Headers:
        return ()

    @property
    def earliest(self) -> datetime | None:
        return None

    def page_params(self, start: datetime, end: datetime, bytes_per_bucket: int | None, budget: int) -> list[tuple[str, str]]:
        return self.params(start, end, self.page_limit(bytes_per_bucket, budget))

    @property
    def max_span(self) -> timedelta:
        """The span of the fullest page the API serves; a slice of the run (see `ingest.plan`) is a multiple of it."""
        return WIDTHS[self.bucket_width] * MAX_BUCKETS[self.bucket_width]

    @property
    def day_buckets(self) -> int:
        """Buckets in one UTC day (1,440 minutes, 24 hours, 1 day): the unit a page's `limit` is a multiple of."""
        return min(timedelta(days=1) // WIDTHS[self.bucket_width], MAX_BUCKETS[self.bucket_width])

    def page_limit(self, bytes_per_bucket: float | None = None, budget: int = PAGE_BUDGET_BYTES) -> int:
        """Buckets one page asks for: whole days that fit `budget` at `bytes_per_bucket` (one day when unknown)."""
        unit, most = self.day_buckets, MAX_BUCKETS[self.bucket_width] // self.day_buckets * self.day_buckets
        if not bytes_per_bucket:
            return unit
        return max(unit, min(most, int(budget // bytes_per_bucket) // unit * unit))

    def params(self, start: datetime, end: datetime, limit: int | None = None) -> list[tuple[str, str]]:
        params = [
            ("starting_at", format_timestamp(start)),
            ("ending_at", format_timestamp(end)),
            ("bucket_width", self.bucket_width),
            ("limit", str(limit or self.page_limit())),
        ]
        return params + [("group_by[]", dim) for dim in self.group_by]

    def outputs(self, table: pa.Table) -> dict[str, pa.Table]:
        return {self.table: table}

    def is_not_ready(self, error: AdminApiError) -> bool:
        return False
