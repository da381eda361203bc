"""The label map: what users say about their API keys and workspaces, and the `labels` table of a day.

Three sources, strongest first (on the same entity and key, the stronger one wins):

1. the LABELS file (a local path or an `s3://` URI), JSON::

       {"api_keys":   {"apikey_01...": {"project": "search", "team": "growth"}},
        "workspaces": {"wrkspc_01...": {"cost_center": "R&D"}}}

2. ANTHROPIC_AGENT_MAP_JSON, the cron tracker's one-line map `{"apikey_01...": "opus-main"}`: label `agent`;
3. the workspaces' own `tags` from the API (today's `workspaces` snapshot).

The file is read and checked once, at the start of a run; anything wrong with it is one line naming LABELS and the
entry. A run never stops for it: the data is fetched and written, the last good labels stay in force and the
labels step fails by name (`app.jobs`); the CLI refuses it before it starts. Labels that go away are an empty
snapshot (they stop applying from that day). `current_labels` is what a command reads for today while the
setting is set (the labels the next run would write), so a label budget shows the figure the next run alerts on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import pyarrow as pa

from usage_lake.config.settings import API_KEY_ID, WORKSPACE_ID, Settings
from usage_lake.errors import SettingsError
from usage_lake.lake.schema import LABELS
from usage_lake.lake.snapshots import SnapshotReader
from usage_lake.lake.store import read_location

__all__ = ["AGENT_MAP", "FILE", "WORKSPACE_TAGS", "Label", "LabelMap", "current_labels", "labels_table", "load_labels",
           "parse_label_file"]

FILE, AGENT_MAP, WORKSPACE_TAGS = "file", "agent_map", "workspace_tags"
API_KEY, WORKSPACE = "api_key", "workspace"
_SECTIONS = {"api_keys": (API_KEY, API_KEY_ID, "apikey_..."), "workspaces": (WORKSPACE, WORKSPACE_ID, "wrkspc_...")}
_MAX_TEXT = 256


@dataclass(frozen=True)
class Label:
    entity_type: str  # api_key | workspace
    entity_id: str
    key: str
    value: str
    source: str  # file | agent_map | workspace_tags


@dataclass(frozen=True)
class LabelMap:
    """The labels users configured (file and agent map); workspace tags join them when the table is built."""

    labels: tuple[Label, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.labels)


def parse_label_file(data: bytes, where: str) -> list[Label]:
    """The LABELS file's labels; `SettingsError` names the entry that is wrong."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SettingsError(f"{where} must hold a JSON object with \"api_keys\" and/or \"workspaces\", got a {type(document).__name__}")
    unknown = sorted(set(document) - set(_SECTIONS))
    if unknown:
        raise SettingsError(f"{where} has unknown section(s) {unknown}; allowed: \"api_keys\", \"workspaces\"")
    labels = []
    for section, (entity_type, pattern, shape) in _SECTIONS.items():
        entries = document.get(section, {})
        if not isinstance(entries, dict):
            raise SettingsError(f"{where}: \"{section}\" must map ids ({shape}) to objects of labels")
        for entity_id, pairs in entries.items():
            if not pattern.fullmatch(entity_id):
                raise SettingsError(f"{where}: {section} must be keyed by id ({shape}), got {entity_id!r}")
            if not isinstance(pairs, dict):
                raise SettingsError(f"{where}: {section}.{entity_id} must be an object of labels like {{\"project\": \"search\"}}")
            for key, value in pairs.items():
                _check_text(f"{where}: {section}.{entity_id}", key, value)
                labels.append(Label(entity_type, entity_id, key, value, FILE))
    return labels


def _check_text(where: str, key: Any, value: Any) -> None:
    if not isinstance(key, str) or not key.strip() or len(key) > _MAX_TEXT:
        raise SettingsError(f"{where}: label names must be non-empty strings of at most {_MAX_TEXT} characters (got {key!r})")
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise SettingsError(f"{where}.{key} must be a string of at most {_MAX_TEXT} characters (got {value!r})")


def load_labels(settings: Settings) -> LabelMap:
    """The labels of LABELS and ANTHROPIC_AGENT_MAP_JSON (the file is read now: a bad one fails at start)."""
    labels: list[Label] = []
    if settings.labels:
        where = f"LABELS file {settings.labels!r}"
        try:
            data = read_location(settings.labels)
        except Exception as exc:  # a missing file or object, no permission
            raise SettingsError(f"{where} could not be read: {exc}") from None
        labels += parse_label_file(data, where)
    labels += [Label(API_KEY, key_id, "agent", agent, AGENT_MAP) for key_id, agent in settings.agent_map]
    return LabelMap(tuple(labels))


def labels_table(label_map: LabelMap, workspaces: pa.Table | None, *, run_id: str, snapshot_at: datetime) -> pa.Table:
    """The labels in force: the map's, plus each workspace's tags, one row per (entity, key), stronger source first."""
    chosen: dict[tuple[str, str, str], Label] = {}
    rank = {FILE: 0, AGENT_MAP: 1, WORKSPACE_TAGS: 2}
    for label in [*label_map.labels, *_tags(workspaces)]:
        slot = (label.entity_type, label.entity_id, label.key)
        if slot not in chosen or rank[label.source] < rank[chosen[slot].source]:
            chosen[slot] = label
    rows = [{"entity_type": label.entity_type, "entity_id": label.entity_id, "key": label.key, "value": label.value,
             "source": label.source, "snapshot_at": snapshot_at, "run_id": run_id}
            for _, label in sorted(chosen.items())]
    return pa.Table.from_pylist(rows, schema=LABELS) if rows else LABELS.empty_table()


def _tags(workspaces: pa.Table | None) -> list[Label]:
    if workspaces is None or "tags" not in workspaces.column_names:
        return []
    found = []
    for workspace_id, tags in zip(workspaces.column("id").to_pylist(), workspaces.column("tags").to_pylist(), strict=True):
        for key, value in tags or []:
            if key and value is not None:
                found.append(Label(WORKSPACE, workspace_id, key, value, WORKSPACE_TAGS))
    return found


def current_labels(settings: Settings, reader: SnapshotReader, day: date) -> pa.Table | None:
    """The labels the settings put in force on `day` (the LABELS file, the agent map, and the tags of the workspaces
    snapshot in force), as a run would write them; None when neither setting is set (the lake's labels stand)."""
    if not settings.labels and not settings.agent_map:
        return None
    workspaces = reader.on("workspaces", day)
    return labels_table(load_labels(settings), workspaces.rows if workspaces is not None else None, run_id="current",
                        snapshot_at=datetime.combine(day, time(), tzinfo=UTC))
