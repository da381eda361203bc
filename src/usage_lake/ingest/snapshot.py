"""Snapshots: the organization's lists read whole into one partition per UTC day, and the labels in force.

A snapshot endpoint is fetched at most once a UTC day: the first run of the day takes it (or a later one, when
the day's partition is missing because an earlier attempt failed); the hourly runs after it see the partition
and move on (`DayAction.CURRENT`), so they stay fast. Its pages go to `raw/<name>/dt=<day>/` as received and a
manifest names them, as for the reports, so a snapshot can be rebuilt without the API. The day's partition is
written even when the list is empty (no invites today is a fact), replacing any earlier one of that day.

The `labels` table is rebuilt on every run from the label map (LABELS file, ANTHROPIC_AGENT_MAP_JSON) and the
latest `workspaces` snapshot's tags; it is written only when it differs from what is in force (the day's own
partition, else the latest one before it): labels that went away are an empty snapshot, so they stop applying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import msgspec
import pyarrow as pa

from usage_lake.errors import LakeError
from usage_lake.ingest.raw import SNAPSHOT_WIDTH, Manifest, PageRef, store_page
from usage_lake.ingest.runlog import DayResult, RunRecord
from usage_lake.lake.curated import DayAction, read_parquet, replace_day
from usage_lake.lake.layout import partition_key
from usage_lake.lake.personal import PersonalData
from usage_lake.lake.snapshots import SnapshotReader
from usage_lake.lake.store import Lake
from usage_lake.sources.base import Snapshot
from usage_lake.sources.http import AdminClient
from usage_lake.sources.labels import LabelMap, labels_table

__all__ = ["LABELS_TABLE", "SnapshotTaker"]

LABELS_TABLE = "labels"
_LABEL_COLUMNS = ["entity_type", "entity_id", "key", "value", "source"]


@dataclass
class SnapshotTaker:
    """Takes the snapshots of one run, at the run's clock reading `now` (its UTC day is the partition)."""

    client: AdminClient
    lake: Lake
    record: RunRecord
    now: datetime
    personal: PersonalData = field(default_factory=PersonalData)

    def __post_init__(self) -> None:
        self.now = self.now.replace(microsecond=0)  # as the manifest writes it, so a rebuild reproduces `snapshot_at`

    def take(self, endpoint: Snapshot) -> DayResult:
        """Fetch every page of the endpoint's lists and write today's partition, unless it is already there."""
        day = self.now.date()
        if self.lake.exists(partition_key(endpoint.table, day)):
            return DayResult(endpoint.name, day, 0, DayAction.CURRENT)
        inputs = {name: self._today(name, endpoint.name) for name in endpoint.needs}
        records: list[msgspec.Raw] = []
        pages: dict[str, PageRef] = {}
        for path, params in endpoint.requests(inputs):
            for page in self.client.iter_pages(path, params, endpoint.paging):
                self.record.pages += 1
                raw_key, reused = store_page(self.lake, endpoint.name, day, page.body, self.personal)
                self.record.raw_pages_reused += reused
                pages.setdefault(raw_key, PageRef.of(page, raw_key))
                records.extend(page.records)
        table = endpoint.to_table(records, run_id=self.record.run_id, snapshot_at=self.now, where=f"{endpoint.name} snapshot")
        table = self.personal.table(endpoint.table, table)
        Manifest.for_day(endpoint=endpoint.name, table=endpoint.table, day=day, run_id=self.record.run_id, rows=table.num_rows,
                         bucket_width=SNAPSHOT_WIDTH, window=(self.now, self.now), pages=list(pages.values())).write(self.lake)
        return DayResult(endpoint.name, day, table.num_rows, replace_day(self.lake, endpoint.table, day, table))

    def _today(self, table: str, wanted_by: str) -> pa.Table:
        key = partition_key(table, self.now.date())
        if not self.lake.exists(key):
            raise LakeError(f"{wanted_by} is built from today's {table} snapshot, which is not in the lake "
                            f"({table} failed or was not asked for); it is tried again next run")
        return read_parquet(self.lake.get(key), table=table)

    def _labelled_before(self) -> bool:
        """True when the labels in force (today has no partition yet) hold labels: an empty snapshot today ends them."""
        in_force = SnapshotReader(self.lake).on(LABELS_TABLE, self.now.date(), ["entity_id"])
        return in_force is not None and in_force.rows.num_rows > 0

    def labels(self, label_map: LabelMap) -> DayResult | None:
        """Write today's `labels` when they changed; None when there is nothing to write."""
        day = self.now.date()
        workspaces = SnapshotReader(self.lake).on("workspaces", day)
        table = labels_table(label_map, workspaces.rows if workspaces is not None else None, run_id=self.record.run_id,
                             snapshot_at=self.now)
        key = partition_key(LABELS_TABLE, day)
        if self.lake.exists(key):
            stored = read_parquet(self.lake.get(key), table=LABELS_TABLE, columns=_LABEL_COLUMNS)
            if stored.to_pylist() == table.select(_LABEL_COLUMNS).to_pylist():
                return None
        elif table.num_rows == 0 and not self._labelled_before():
            return None  # never labelled: nothing to say
        return DayResult(LABELS_TABLE, day, table.num_rows, replace_day(self.lake, LABELS_TABLE, day, table))
