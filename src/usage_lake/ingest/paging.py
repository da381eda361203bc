"""How many buckets each page asks for: as many as the memory budget allows at the size buckets turn out to be.

A query's `limit` comes from the size of a bucket: what the previous run saw (the run log's
`<report>_bytes_per_bucket`), or, when nothing is known, what the window's first day shows: that day is asked
alone (every page of it), and the rest of the window follows as a second query with the limit it implies. So
a small organization's first run asks for one day, then the other days in a page; a large one keeps one day a
page. A query, once sent, is followed to its end with the same `limit`: the API documents re-sending a query
only with the same `limit` and a `page` cursor, and a page may end inside a bucket (`ingest.days`), so a query
is never cut short to change its limit. Later queries of the run (the next slices) use the sizes seen so far.

The size a query is planned by is the largest page average known: this run's pages and the previous run's
figure, so a quiet night or weekend does not talk the next query into a busy week's worth of buckets. A run
records only what it measured itself, so an organization that shrinks gets bigger pages from the next run on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from usage_lake.ingest.plan import Window
from usage_lake.sources.base import PAGE_BUDGET_BYTES, BucketedReport, Endpoint
from usage_lake.sources.http import AdminClient, Page
from usage_lake.times import DAY, midnight

__all__ = ["PageSizes", "pages"]


class PageSizes:
    """Bytes per bucket per (report, bucket width): seeded from the previous run, raised by every page."""

    def __init__(self, previous: dict[tuple[str, str], int] | None = None, budget: int = PAGE_BUDGET_BYTES) -> None:
        self.previous = dict(previous or {})
        self.budget = budget  # JSON bytes one page may hold
        self.seen: dict[tuple[str, str], int] = {}

    def bytes_per_bucket(self, endpoint: Endpoint) -> int | None:
        key = (endpoint.name, endpoint.bucket_width)
        return max(self.seen.get(key, 0), self.previous.get(key, 0)) or None

    def observe(self, endpoint: Endpoint, page: Page) -> None:
        if page.buckets:
            key = (endpoint.name, endpoint.bucket_width)
            self.seen[key] = max(self.seen.get(key, 0), math.ceil(len(page.body) / len(page.buckets)))

    def this_run(self) -> dict[tuple[str, str], int]:
        """The figures this run measured (what its run log records for the next run)."""
        return dict(self.seen)


def pages(client: AdminClient, window: Window, sizes: PageSizes) -> Iterator[Page]:
    """Every page of `window`, in order: one query (two when the size of a bucket is not known yet)."""
    endpoint = window.endpoint
    start = window.start
    while start < window.end:
        known = sizes.bytes_per_bucket(endpoint)
        # nothing known: the first day alone, then the rest sized by it
        end = window.end if known or not isinstance(endpoint, BucketedReport) else min(window.end, midnight(start.date()) + DAY)
        params = endpoint.page_params(start, end, known, sizes.budget)
        for page in client.iter_pages(endpoint.path, params, endpoint.paging, endpoint.headers):
            sizes.observe(endpoint, page)
            yield page
            del page  # no reference of ours may keep a page's body alive while the next one downloads
        start = end
