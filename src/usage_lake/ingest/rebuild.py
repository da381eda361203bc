"""Rebuild curated days from the raw zone, without calling the API.

Each completed day has a manifest (`raw/<report>/dt=<day>/run=<id>/manifest.json`) naming the raw pages that
covered it. The latest run's manifest wins; its pages are transformed again with the same run id and
ingestion time, so a rebuild reproduces exactly what that run wrote (with today's transform code). Snapshots
(the organization's lists) are rebuilt the same way, from the pages of the run that took the day's snapshot.
Every cost day rebuilt is followed, once all reports are done, by its `focus` day (derived from the cost and
usage days).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime
from typing import cast

import pyarrow as pa

from usage_lake.config.settings import BUCKET_WIDTHS, Settings
from usage_lake.errors import RebuildError
from usage_lake.focus import FOCUS_TABLE, Unmatched, learned_prices, observe_day, write_focus_day
from usage_lake.ingest.raw import Manifest, latest_manifest, read_page, read_records
from usage_lake.ingest.runlog import DayResult
from usage_lake.lake.curated import DayAction, replace_day, store_tables
from usage_lake.lake.store import Lake
from usage_lake.money.estimate import default_prices
from usage_lake.money.pricing import PriceTable
from usage_lake.sources import registry
from usage_lake.sources.base import Endpoint, Kind, Snapshot
from usage_lake.sources.rows import take_defaulted
from usage_lake.times import day_range, parse_timestamp

__all__ = ["rebuild_days"]

logger = logging.getLogger(__name__)


def rebuild_days(lake: Lake, *, reports: list[str], start: date, end: date, prices: PriceTable | None = None,
                 settings: Settings | None = None) -> list[DayResult]:
    results = []
    settings = settings or Settings()
    # models without a list price are estimated at the prices the lake's bills show (issue 19)
    prices = learned_prices(lake, prices or default_prices(), accept=settings.accept_observed_prices)
    for name in reports:
        for day in day_range(start, end):
            manifest = latest_manifest(lake, name, day)
            if manifest is None:
                results.append(DayResult(name, day, 0, DayAction.NO_RAW))
                continue
            width = manifest.bucket_width
            endpoint = registry.endpoint(manifest.report, replace(settings, usage_bucket_width=width) if width in BUCKET_WIDTHS else settings)
            if endpoint.kind == Kind.SNAPSHOT:
                table = _snapshot_from_raw(lake, manifest, cast(Snapshot, endpoint))
                action = replace_day(lake, manifest.table, day, table)
            else:
                report = cast(Endpoint, endpoint)
                table = _day_from_raw(lake, manifest, day, prices, report)
                action = store_tables(lake, day, report.outputs(table))
            results.append(DayResult(name, day, table.num_rows, action))
    unmatched = Unmatched()
    for result in [r for r in results if r.report == "cost" and r.action == DayAction.WRITTEN]:
        focus = write_focus_day(lake, result.day, prices=prices, include_estimated_priority=settings.focus_include_estimated_priority,
                                unmatched=unmatched)
        results.append(DayResult(FOCUS_TABLE, focus.day, focus.rows, focus.action))
        prices = observe_day(lake, result.day, prices)[0]
    for note in unmatched.notes():  # once for the whole rebuild, not once per day
        logger.warning("%s", note)
    return results


def _day_from_raw(lake: Lake, manifest: Manifest, day: date, prices: PriceTable | None, endpoint: Endpoint) -> pa.Table:
    parts = []
    for page in manifest.pages:
        buckets = [b for b in read_page(lake, page, endpoint.paging) if b.starting_at.date() == day]
        part = endpoint.to_table(buckets, run_id=manifest.run_id, ingested_at=datetime.fromisoformat(page.fetched_at),
                                 where=f"raw page {page.key}", prices=prices)
        parts.append(take_defaulted(part)[0])  # the run that wrote the day noted the defaults already
    table = pa.concat_tables(parts)
    _check_rows(manifest, day, table)
    return table


def _snapshot_from_raw(lake: Lake, manifest: Manifest, endpoint: Snapshot) -> pa.Table:
    records = [record for page in manifest.pages for record in read_records(lake, page, endpoint.paging)]
    table = endpoint.to_table(records, run_id=manifest.run_id, snapshot_at=parse_timestamp(manifest.window[0]),
                              where=f"raw pages of {manifest.report} {manifest.dt}")
    _check_rows(manifest, date.fromisoformat(manifest.dt), table)
    return table


def _check_rows(manifest: Manifest, day: date, table: pa.Table) -> None:
    if table.num_rows != manifest.rows:
        raise RebuildError(f"{manifest.report} {day}: the raw pages hold {table.num_rows} rows but the manifest of run "
                           f"{manifest.run_id} says {manifest.rows}")
