"""The reports we ingest, each described once: endpoint, query, limits, transform.

A `Report` is the seam where a second source (the Usage and Cost Analytics API) slots in beside the legacy
Admin reports: the pipeline only asks a report for its query parameters, its limits and its table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa

from usage_lake.client import AdminApiError, Bucket
from usage_lake.events import format_timestamp
from usage_lake.pricing import PriceTable
from usage_lake.transform import cost_table, usage_table

USAGE_GROUP_BY = ("api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo")
COST_GROUP_BY = ("workspace_id", "description")
COST_TOO_RECENT = "ending date must be after starting date"

_WIDTH = {"1m": timedelta(minutes=1), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
# documented maximum buckets per page (reference section 2.2 and 3.1)
_MAX_LIMIT = {"1m": 1440, "1h": 168, "1d": 31}
# Buckets we ask for per page. One page of a large org at 168 hourly buckets is hundreds of MB of JSON, so
# usage pages hold about one day of hourly rows (24 hourly or daily buckets, or one day of minutes), which
# keeps memory near one day's data whatever the window. A month of cost rows is smaller than one hour of
# usage rows, so cost pages use the maximum.
_USAGE_PAGE_BUCKETS = {"1m": 1440, "1h": 24, "1d": 24}


@dataclass(frozen=True)
class Report:
    name: str  # "usage" | "cost": the word used in events and under raw/
    table: str  # curated table
    path: str
    bucket_width: str
    group_by: tuple[str, ...]
    page_limit: int  # buckets per page

    @property
    def max_span(self) -> timedelta:
        """The longest range one query may cover: the documented page maximum."""
        return _WIDTH[self.bucket_width] * _MAX_LIMIT[self.bucket_width]

    def params(self, start: datetime, end: datetime) -> list[tuple[str, str]]:
        params = [
            ("starting_at", format_timestamp(start)),
            ("ending_at", format_timestamp(end)),
            ("bucket_width", self.bucket_width),
            ("limit", str(self.page_limit)),
        ]
        return params + [("group_by[]", dim) for dim in self.group_by]

    def to_table(self, buckets: Sequence[Bucket], *, run_id: str, ingested_at: datetime, where: str,
                 prices: PriceTable | None = None) -> pa.Table:
        """The curated rows of one page's buckets; `where` says which page, for error messages."""
        if self.name == "usage":
            return usage_table(buckets, bucket_width=self.bucket_width, run_id=run_id, ingested_at=ingested_at,
                               where=where, prices=prices)
        return cost_table(buckets, run_id=run_id, ingested_at=ingested_at, where=where)

    def is_not_ready(self, error: AdminApiError) -> bool:
        """The cost report answers 400 for a range with no complete day yet: not an error, just nothing to fetch."""
        return self.name == "cost" and error.status == 400 and COST_TOO_RECENT in (error.api_message or "")


def usage_report(bucket_width: str = "1h") -> Report:
    return Report("usage", "usage_messages", "/v1/organizations/usage_report/messages", bucket_width,
                  USAGE_GROUP_BY, _USAGE_PAGE_BUCKETS[bucket_width])


def cost_report() -> Report:
    return Report("cost", "cost_report", "/v1/organizations/cost_report", "1d", COST_GROUP_BY, _MAX_LIMIT["1d"])


def report_for(name: str, usage_bucket_width: str = "1h") -> Report:
    """The report called `name` ("usage" or "cost") in events, raw keys and manifests."""
    return usage_report(usage_bucket_width) if name == "usage" else cost_report()
