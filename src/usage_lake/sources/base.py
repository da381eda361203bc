"""What every source endpoint is: the `Endpoint` protocol the ingest loop runs, and the bucketed-report base.

An endpoint says what to ask (`path`, `params`), how far back (`lookback_days`, `window_end`, `max_span`),
how its rows become a curated table (`table`, `to_table`), and which API answer means "nothing ready yet"
(`is_not_ready`). `kind` tells the ingest loop how its data is laid out in time:

- `bucketed`: time buckets (`starting_at`/`ending_at`) over a window; each UTC day is written whole;
- `snapshot`: the state of the organization now (lists of workspaces, keys, ...); one partition per day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

import pyarrow as pa

from usage_lake.config.settings import Settings
from usage_lake.errors import AdminApiError
from usage_lake.money.pricing import PriceTable
from usage_lake.sources.http import Bucket
from usage_lake.times import format_timestamp

__all__ = ["MAX_BUCKETS", "PAGE_BUDGET_BYTES", "WIDTHS", "BucketedReport", "Endpoint", "Kind"]

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
    SNAPSHOT = "snapshot"


class Endpoint(Protocol):
    """One API endpoint feeding one curated table."""

    @property
    def name(self) -> str:
        """The word used in events, raw/ keys and manifests."""

    @property
    def table(self) -> str:
        """The curated table it writes."""

    @property
    def path(self) -> str: ...

    @property
    def bucket_width(self) -> str: ...

    @property
    def kind(self) -> Kind: ...

    @property
    def max_span(self) -> timedelta: ...

    def lookback_days(self, settings: Settings) -> int: ...

    def window_end(self, now: datetime, today: datetime) -> datetime: ...

    def params(self, start: datetime, end: datetime) -> list[tuple[str, str]]: ...

    def to_table(self, buckets: Sequence[Bucket], *, run_id: str, ingested_at: datetime, where: str,
                 prices: PriceTable | None = None) -> pa.Table: ...

    def is_not_ready(self, error: AdminApiError) -> bool: ...


@dataclass(frozen=True)
class BucketedReport:
    """A report queried by `starting_at`/`ending_at`/`bucket_width`/`limit`/`group_by[]` and paged by `page`.

    `limit` counts buckets, and a page is read whole into memory, so how many a page asks for follows the size
    of a bucket (`page_limit`): whole days of buckets, as many as fit `PAGE_BUDGET_BYTES`, up to the API's
    maximum. Whole days, so every page but a query's last ends at midnight and a day is complete as soon as its
    last page arrives. Until a bucket's size is known, a page asks for one day.
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

    def is_not_ready(self, error: AdminApiError) -> bool:
        return False
