"""How many buckets each page asks for: as many as the memory budget allows at the size buckets turn out to be.

A query's first page asks for what the previous run saw (the run log's `<report>_bytes_per_bucket`), or one
day when nothing is known. Every page then tells how big a bucket is here; when that changes the page limit
(say a small organization's first page, one day of 3.8 KB buckets: the rest fits pages of 168), the query is
sent again from the end of the last bucket received with the new `limit` (the API documents re-sending a
query only with the same `limit` and a `page` cursor, so the cursor is not reused with a different one).
Pages are whole days and windows start at midnight, so a restart falls on midnight (unless the API itself
cut a page short).

The size a page is planned by is the largest page average known: this run's pages and the previous run's
figure, so a quiet night or weekend does not talk the next page into a busy week's worth of buckets. A run
records only what it measured itself, so an organization that shrinks gets bigger pages from the next run on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime

from usage_lake.ingest.plan import Window
from usage_lake.sources.base import PAGE_BUDGET_BYTES, BucketedReport, Endpoint
from usage_lake.sources.http import AdminClient, Page

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
    """Every page of `window`, in order, each asking for as many buckets as `sizes` allows."""
    endpoint = window.endpoint
    if not isinstance(endpoint, BucketedReport):
        for page in client.iter_pages(endpoint.path, endpoint.params(window.start, window.end)):
            sizes.observe(endpoint, page)
            yield page
            del page
        return
    start = window.start
    while start < window.end:
        limit = endpoint.page_limit(sizes.bytes_per_bucket(endpoint), sizes.budget)
        restart_at: datetime | None = None
        query = client.iter_pages(endpoint.path, endpoint.params(start, window.end, limit))
        try:
            for page in query:
                sizes.observe(endpoint, page)
                if page.has_more and page.buckets and endpoint.page_limit(sizes.bytes_per_bucket(endpoint), sizes.budget) != limit:
                    restart_at = page.buckets[-1].ending_at
                yield page
                del page  # no reference of ours may keep a page's body alive while the next one downloads
                if restart_at:
                    break
        finally:
            query.close()
        if restart_at is None:
            return
        start = restart_at
