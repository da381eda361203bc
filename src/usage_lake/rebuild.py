"""Rebuild curated days from the raw zone, without calling the API.

Each completed day has a manifest (`raw/<report>/dt=<day>/run=<id>/manifest.json`) naming the raw pages that
covered it. The latest run's manifest wins; its pages are transformed again with the same run id and
ingestion time, so a rebuild reproduces exactly what that run wrote (with today's transform code).
"""

from __future__ import annotations

import gzip
import json
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa

from usage_lake.client import decode_page
from usage_lake.curated import store_day
from usage_lake.lake import Lake
from usage_lake.layout import raw_day_prefix
from usage_lake.pricing import PriceTable
from usage_lake.reports import report_for
from usage_lake.runlog import DayResult

NO_RAW = "no_raw"


class RebuildError(ValueError):
    """The raw zone does not hold what its manifest promises."""


def latest_manifest(lake: Lake, report: str, day: date) -> dict[str, Any] | None:
    keys = [k for k in lake.list(raw_day_prefix(report, day)) if k.endswith("/manifest.json")]
    if not keys:
        return None
    return json.loads(lake.get(max(keys)))  # run ids sort by time


def rebuild_days(lake: Lake, *, reports: list[str], start: date, end: date, prices: PriceTable | None = None) -> list[DayResult]:
    results = []
    for name in reports:
        for offset in range((end - start).days):
            day = start + timedelta(days=offset)
            manifest = latest_manifest(lake, name, day)
            if manifest is None:
                results.append(DayResult(name, day, 0, NO_RAW))
                continue
            table = _day_from_raw(lake, manifest, day, prices)
            results.append(DayResult(name, day, table.num_rows, store_day(lake, manifest["table"], day, table)))
    return results


def _day_from_raw(lake: Lake, manifest: dict[str, Any], day: date, prices: PriceTable | None) -> pa.Table:
    name = manifest["report"]
    report = report_for(name, manifest["bucket_width"])
    parts = []
    for page in manifest["pages"]:
        buckets = [b for b in decode_page(gzip.decompress(lake.get(page["key"]))) if b.starting_at.date() == day]
        parts.append(report.to_table(buckets, run_id=manifest["run_id"], ingested_at=datetime.fromisoformat(page["fetched_at"]),
                                     where=f"raw page {page['key']}", prices=prices))
    table = pa.concat_tables(parts)
    if table.num_rows != manifest["rows"]:
        raise RebuildError(f"{name} {day}: the raw pages hold {table.num_rows} rows but the manifest of run {manifest['run_id']} says {manifest['rows']}")
    return table
