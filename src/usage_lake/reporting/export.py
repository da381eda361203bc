"""`usage-lake export`: one lake table over a `dt` range to CSV, JSON or Parquet, for spreadsheets and scripts.

DuckDB streams the rows from the table's partitions into the file (never through Python rows), so a year of
a large organization exports in bounded memory. Money stays exact (CSV decimal text, JSON strings, Parquet
decimals), timestamps are UTC ISO 8601 (`2026-11-20T00:00:00.000Z`; Parquet keeps UTC timestamps), and
unless `ids_only`, names and labels are joined in: `workspace_name` and `api_key_name` from the latest
organization snapshot, and one `label_<key>` column per label key (a key's own label, else its workspace's).
The file is written under a temporary name and renamed into place: a failed export leaves nothing behind.
In CSV, a text cell that a spreadsheet would run as a formula (it begins with `=`, `+`, `-`, `@`, tab or CR:
anyone in the organization names keys and workspaces) gets a leading `'`, unless `raw_csv`; numbers, JSON
and Parquet keep the exact values. DuckDB writes batch by batch without keeping the input order, so memory
stays bounded (`bench/bench_streaming.py`: figures in docs/vocabulary.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from usage_lake.errors import ConfigError
from usage_lake.lake.store import Lake
from usage_lake.reporting.query import FACT_TABLES, SNAPSHOT_TABLES, LakeDB, Partitions
from usage_lake.reporting.views import DEFAULT_WORKSPACE, NO_API_KEY, Window
from usage_lake.sanitize import CSV_TRIGGERS

__all__ = ["EXPORT_FORMATS", "EXPORTABLE", "Exported", "export_table"]

ExportFormat = Literal["csv", "json", "parquet"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "json", "parquet")
EXPORTABLE = tuple(dict.fromkeys([*FACT_TABLES, *SNAPSHOT_TABLES]))


@dataclass(frozen=True)
class Exported:
    table: str
    rows: int
    path: Path
    columns: list[str]


def export_table(lake: Lake, table: str, window: Window, fmt: ExportFormat, out: str | os.PathLike[str], *,
                 ids_only: bool = False, raw_csv: bool = False) -> Exported:
    if table not in EXPORTABLE:
        raise ConfigError(f"unknown table {table!r}; one of: {', '.join(EXPORTABLE)}")
    lookups = () if ids_only else ("workspaces", "api_keys", "labels")
    path = Path(out)
    with LakeDB(lake, tables={table, *lookups}, partitions={table: Partitions(window.start, window.end)}) as db:
        if not db.has(table):
            raise ConfigError(f"the lake at {lake.uri()} has no {table} partitions from {window.start} to {window.end} (exclusive)")
        db.con.execute("SET preserve_insertion_order = false")  # stream: no buffering of the whole result to keep its order
        select = _select(db, table, fmt, ids_only)
        if fmt == "csv" and not raw_csv:
            select = _neutralised(db, select)
        rows = db.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        columns = [d[0] for d in db.con.execute(f"SELECT * FROM ({select}) LIMIT 0").description]
        option = {"csv": "FORMAT csv, HEADER true", "json": "FORMAT json, ARRAY true", "parquet": "FORMAT parquet, COMPRESSION zstd"}[fmt]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            db.con.execute(f"COPY ({select}) TO '{_quote(str(tmp))}' ({option})")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return Exported(table, rows, path, columns)


def _neutralised(db: LakeDB, select: str) -> str:
    """`select` with every text column's formula-like cells prefixed by `'` (OWASP; `sanitize.csv_cell` in SQL)."""
    triggers = ", ".join(f"chr({ord(t)})" for t in CSV_TRIGGERS)
    columns = []
    for name, kind, *_ in db.con.execute(f"DESCRIBE SELECT * FROM ({select})").fetchall():
        ref = f's."{name}"'
        if kind == "VARCHAR":
            columns.append(f"CASE WHEN left({ref}, 1) IN ({triggers}) THEN chr(39) || {ref} ELSE {ref} END AS \"{name}\"")
        else:
            columns.append(ref)
    return f"SELECT {', '.join(columns)} FROM ({select}) s"


def _quote(text: str) -> str:
    return text.replace("'", "''")


def _select(db: LakeDB, table: str, fmt: ExportFormat, ids_only: bool) -> str:
    types = {row[0]: row[1] for row in db.con.execute(f'DESCRIBE "{table}"').fetchall()}
    columns = []
    for name, kind in types.items():
        ref = f't."{name}"'
        if kind == "TIMESTAMP":
            value = (f"CAST({ref} AS TIMESTAMPTZ)" if fmt == "parquet" else f"strftime({ref}, '%Y-%m-%dT%H:%M:%S.%gZ')")
        elif kind.startswith("DECIMAL") and fmt == "json":
            value = f"CAST({ref} AS VARCHAR)"  # exact: a JSON number would be read as a float
        elif fmt == "csv" and (kind.endswith("[]") or kind.startswith(("STRUCT", "MAP"))):
            value = f"CAST(to_json({ref}) AS VARCHAR)"
        else:
            value = ref
        columns.append(f'{value} AS "{name}"')
    joins: list[str] = []
    if not ids_only:
        extra, joins = _lookups(db, types)
        columns += extra
    return f"SELECT {', '.join(columns)} FROM \"{table}\" t {' '.join(joins)}"


def _lookups(db: LakeDB, types: dict[str, str]) -> tuple[list[str], list[str]]:
    """Name and label columns for the id columns the table has."""
    columns: list[str] = []
    joins: list[str] = []
    has_ws, has_key = "workspace_id" in types, "api_key_id" in types
    if has_ws and "workspace_name" not in types:
        name = "w.name" if db.has("workspaces") and {"id", "name"} <= set(db.columns("workspaces")) else "CAST(NULL AS VARCHAR)"
        if name == "w.name":
            joins.append("LEFT JOIN (SELECT id, any_value(name) AS name FROM workspaces GROUP BY id) w ON w.id = t.workspace_id")
        columns.append(f"CASE WHEN t.workspace_id IS NULL THEN '{_quote(DEFAULT_WORKSPACE)}' ELSE {name} END AS workspace_name")
    if has_key and "api_key_name" not in types:
        name = "k.name" if db.has("api_keys") and {"id", "name"} <= set(db.columns("api_keys")) else "CAST(NULL AS VARCHAR)"
        if name == "k.name":
            joins.append("LEFT JOIN (SELECT id, any_value(name) AS name FROM api_keys GROUP BY id) k ON k.id = t.api_key_id")
        columns.append(f"CASE WHEN t.api_key_id IS NULL THEN '{_quote(NO_API_KEY)}' ELSE {name} END AS api_key_name")
    if (has_ws or has_key) and db.has("labels") and {"entity_type", "entity_id", "key", "value"} <= set(db.columns("labels")):
        label_keys = [r[0] for r in db.con.execute("SELECT DISTINCT key FROM labels WHERE key IS NOT NULL ORDER BY key").fetchall()]
        for i, key in enumerate(label_keys):
            safe = "".join(ch if ch.isalnum() else "_" for ch in key.lower())
            parts = []
            for kind, column, alias in (("api_key", "api_key_id", f"lk{i}"), ("workspace", "workspace_id", f"lw{i}")):
                if column in types:
                    joins.append(f"LEFT JOIN (SELECT entity_id, any_value(value) AS value FROM labels WHERE entity_type = '{kind}' "
                                 f"AND key = '{_quote(key)}' GROUP BY entity_id) {alias} ON {alias}.entity_id = t.{column}")
                    parts.append(f"{alias}.value")
            columns.append(f'{parts[0] if len(parts) == 1 else "coalesce(" + ", ".join(parts) + ")"} AS "label_{safe}"')
    return columns, joins
