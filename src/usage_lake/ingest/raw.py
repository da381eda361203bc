"""The raw zone: every API page as received, and the manifest of the pages that complete a day.

Both are written AND read here, so their format is in one place: a page is stored gzipped under the hash of
its body (a page already held is not stored again); a manifest names the pages that covered one day of one
endpoint in one run, so `rebuild` can recreate the curated day without the API.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import msgspec

from usage_lake.lake.layout import raw_day_prefix, raw_manifest_key, raw_page_key
from usage_lake.lake.personal import PersonalData
from usage_lake.lake.store import Lake
from usage_lake.sources.http import REPORT_PAGES, Bucket, Page, Paging
from usage_lake.times import format_timestamp

__all__ = ["RAW_GZIP_LEVEL", "SNAPSHOT_WIDTH", "Manifest", "PageRef", "latest_manifest", "read_page", "read_records", "store_page"]

SNAPSHOT_WIDTH = "snapshot"  # a snapshot's manifest has no bucket width; its window is the moment it was taken

RAW_GZIP_LEVEL = 3  # ~15x smaller than the JSON at a quarter of level 6's time


@dataclass(frozen=True)
class PageRef:
    """One stored page, as a manifest names it."""

    key: str
    fetched_at: str  # ISO 8601
    request_id: str | None

    @classmethod
    def of(cls, page: Page, key: str) -> PageRef:
        return cls(key, page.fetched_at.isoformat(), page.request_id)


@dataclass(frozen=True)
class Manifest:
    report: str  # the endpoint's name
    table: str
    dt: str
    run_id: str
    rows: int
    bucket_width: str
    window: tuple[str, str]
    pages: tuple[PageRef, ...]

    @classmethod
    def for_day(cls, *, endpoint: str, table: str, day: date, run_id: str, rows: int, bucket_width: str,
                window: tuple[datetime, datetime], pages: list[PageRef]) -> Manifest:
        return cls(endpoint, table, day.isoformat(), run_id, rows, bucket_width,
                   (format_timestamp(window[0]), format_timestamp(window[1])), tuple(pages))

    def write(self, lake: Lake) -> None:
        document = asdict(self)
        document["window"] = list(self.window)
        lake.put(raw_manifest_key(self.report, date.fromisoformat(self.dt), self.run_id), json.dumps(document, indent=1).encode())

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        document: dict[str, Any] = json.loads(data)
        pages = tuple(PageRef(p["key"], p["fetched_at"], p.get("request_id")) for p in document["pages"])
        return cls(document["report"], document["table"], document["dt"], document["run_id"], document["rows"],
                   document["bucket_width"], tuple(document["window"]), pages)


def store_page(lake: Lake, endpoint: str, day: date, body: bytes | bytearray,
               personal: PersonalData | None = None) -> tuple[str, bool]:
    """Keep a page as received (its personal fields as `personal` says, see `lake.personal`), under its content hash:
    (key, whether it was already there)."""
    if personal is not None:
        body = personal.body(endpoint, body)
    key = raw_page_key(endpoint, day, hashlib.sha256(body).hexdigest()[:32])
    if lake.exists(key):
        return key, True
    return key, not lake.put_if_absent(key, gzip.compress(body, compresslevel=RAW_GZIP_LEVEL, mtime=0))


def read_page(lake: Lake, ref: PageRef, paging: Paging = REPORT_PAGES) -> list[Bucket]:
    """The buckets of a stored report page, decoded as the endpoint decodes its pages."""
    return paging.decode(gzip.decompress(lake.get(ref.key))).buckets


def read_records(lake: Lake, ref: PageRef, paging: Paging) -> list[msgspec.Raw]:
    """The records of a stored list page."""
    return paging.decode(gzip.decompress(lake.get(ref.key))).records


def latest_manifest(lake: Lake, endpoint: str, day: date) -> Manifest | None:
    """The manifest of the latest run that completed this day (run ids sort by time)."""
    keys = [k for k in lake.list(raw_day_prefix(endpoint, day)) if k.endswith("/manifest.json")]
    return Manifest.parse(lake.get(max(keys))) if keys else None
