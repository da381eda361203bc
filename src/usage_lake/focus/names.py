"""Names and tags for the FOCUS rows: the organization, its workspaces and their labels, as of a day.

They come from the organization snapshot tables (`organization`, `workspaces`, `labels`) through the one reader,
`lake.snapshots`: the latest partition on or before the day, else the earliest one after it, so a back-filled day
older than the first snapshot is named too (a rebuild of it as well). Every lookup falls back when a table or a
row is missing: a workspace is named by its id, the default workspace is `words.DEFAULT_WORKSPACE`, tags are empty, and
the billing account is unknown (null) only while the lake has no `organization` snapshot at all (every run reads
`/v1/organizations/me` until it has one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

from usage_lake import words
from usage_lake.lake.snapshots import SnapshotReader
from usage_lake.lake.store import Lake

__all__ = ["DEFAULT_WORKSPACE_ID", "DEFAULT_WORKSPACE_NAME", "Names", "names_on"]

DEFAULT_WORKSPACE_ID = "default"  # the API reports the default workspace as workspace_id null
DEFAULT_WORKSPACE_NAME = words.DEFAULT_WORKSPACE
WORKSPACE = "workspace"  # labels.entity_type of a workspace's labels


@dataclass(frozen=True)
class Names:
    organization_id: str | None = None
    organization_name: str | None = None
    workspaces: dict[str, str] = field(default_factory=dict)  # workspace id -> name
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # workspace id ('default' too) -> tags
    sources: tuple[str, ...] = ()  # the snapshots used, as "<table> <day>"

    def sub_account(self, workspace_id: str | None) -> tuple[str, str]:
        """(SubAccountId, SubAccountName) of a cost row's workspace."""
        if workspace_id is None:
            return DEFAULT_WORKSPACE_ID, self.workspaces.get(DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME)
        return workspace_id, self.workspaces.get(workspace_id) or workspace_id

    def workspace_tags(self, workspace_id: str | None) -> dict[str, str]:
        return self.tags.get(workspace_id or DEFAULT_WORKSPACE_ID, {})


def names_on(lake: Lake, day: date, reader: SnapshotReader | None = None) -> Names:
    """What the lake's snapshots say was in force on `day`."""
    sources: list[str] = []
    reader = reader or SnapshotReader(lake)
    organization = _snapshot(reader, "organization", day, ("id", "name"), sources)
    org_id = org_name = None
    if organization is not None and organization.num_rows:
        org_id, org_name = organization.column("id")[0].as_py(), organization.column("name")[0].as_py()
    workspaces: dict[str, str] = {}
    tags: dict[str, dict[str, str]] = {}
    table = _snapshot(reader, "workspaces", day, ("id", "name", "tags"), sources)
    if table is not None:
        for row in table.to_pylist():
            if row["id"] is None:
                continue
            if row.get("name"):
                workspaces[row["id"]] = row["name"]
            if row.get("tags"):
                tags[row["id"]] = {k: v for k, v in _pairs(row["tags"]) if v is not None}
    labels = _snapshot(reader, "labels", day, ("entity_type", "entity_id", "key", "value", "source"), sources)
    if labels is not None:
        # the user's labels refine the workspace's own tags; among labels, a later source (by name) wins a tie
        rows = sorted((r for r in labels.to_pylist() if r["entity_type"] == WORKSPACE and r["entity_id"] and r["key"]),
                      key=lambda r: (r.get("source") or "", r["key"]))
        for row in rows:
            if row["value"] is not None:
                tags.setdefault(row["entity_id"], {})[row["key"]] = row["value"]
    return Names(org_id, org_name, workspaces, tags, tuple(sources))


def _snapshot(reader: SnapshotReader, table: str, day: date, columns: tuple[str, ...], sources: list[str]) -> pa.Table | None:
    """`columns` of the snapshot of `table` in force on `day` (a column it lacks reads as nulls), or None when there
    is no snapshot or it lacks the first column (the key)."""
    found = reader.on(table, day)
    if found is None or columns[0] not in found.rows.column_names:
        return None
    sources.append(found.source)
    rows = found.rows
    return pa.table({name: rows.column(name) if name in rows.column_names else pa.nulls(rows.num_rows) for name in columns})


def _pairs(tags: object) -> list[tuple[str, str | None]]:
    """A map column's value (a list of pairs) or a JSON-ish dict, as pairs."""
    if isinstance(tags, dict):
        return list(tags.items())
    if isinstance(tags, list):
        return [(str(k), v if v is None else str(v)) for k, v in tags]
    return []
