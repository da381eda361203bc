"""Rebuild curated days from the raw zone, without calling the API.

Each completed day has a manifest (`raw/<report>/dt=<day>/run=<id>/manifest.json`) naming the raw pages that
covered it. The latest run's manifest wins; its pages are transformed again with the same run id and
ingestion time, so a rebuild reproduces exactly what that run wrote (with today's transform code).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pyarrow as pa

from usage_lake.config.settings import Settings
from usage_lake.errors import RebuildError
from usage_lake.ingest.raw import Manifest, latest_manifest, read_page
from usage_lake.ingest.runlog import DayResult
from usage_lake.lake.curated import DayAction, store_day
from usage_lake.lake.store import Lake
from usage_lake.money.pricing import PriceTable
from usage_lake.sources import registry
from usage_lake.sources.rows import take_defaulted
from usage_lake.times import day_range

__all__ = ["rebuild_days"]


def rebuild_days(lake: Lake, *, reports: list[str], start: date, end: date, prices: PriceTable | None = None,
                 settings: Settings | None = None) -> list[DayResult]:
    results = []
    for name in reports:
        for day in day_range(start, end):
            manifest = latest_manifest(lake, name, day)
            if manifest is None:
                results.append(DayResult(name, day, 0, DayAction.NO_RAW))
                continue
            table = _day_from_raw(lake, manifest, day, prices, settings or Settings())
            results.append(DayResult(name, day, table.num_rows, store_day(lake, manifest.table, day, table)))
    return results


def _day_from_raw(lake: Lake, manifest: Manifest, day: date, prices: PriceTable | None, settings: Settings) -> pa.Table:
    endpoint = registry.endpoint(manifest.report, replace(settings, usage_bucket_width=manifest.bucket_width))
    parts = []
    for page in manifest.pages:
        buckets = [b for b in read_page(lake, page) if b.starting_at.date() == day]
        part = endpoint.to_table(buckets, run_id=manifest.run_id, ingested_at=datetime.fromisoformat(page.fetched_at),
                                 where=f"raw page {page.key}", prices=prices)
        parts.append(take_defaulted(part)[0])  # the run that wrote the day noted the defaults already
    table = pa.concat_tables(parts)
    if table.num_rows != manifest.rows:
        raise RebuildError(f"{manifest.report} {day}: the raw pages hold {table.num_rows} rows but the manifest of run "
                           f"{manifest.run_id} says {manifest.rows}")
    return table
