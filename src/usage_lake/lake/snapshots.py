"""The one reader of the snapshot tables (`organization`, `workspaces`, `api_keys`, `users`, `labels`, ...).

The rule, for a table and a UTC day: the snapshot in force is the latest partition on or before the day, else the
earliest one after it (what we know beats nothing: a back-filled day, older than the first snapshot, is named by
it). Every answer says which partition it used (`InForce.day`, `InForce.source`).

Ids resolve through the whole history (`ids_named`): a name means every id that carried it in any snapshot, so a
workspace renamed mid-period answers to both names, and a name shared by several ids (a rotated key: the old
`search-prod` archived, a new `search-prod` created) means all of them.

Budgets' scopes, display names (`lake.names`), FOCUS (`focus.names`), the reports and the digest read through
here; the named Athena views (`athena_views/*.sql`) apply the same rule in SQL. Each partition is read once per
reader. `pending` puts a snapshot that is not in the lake yet (the `LABELS` file set in this shell) in force from
its day on, as if a run had written it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from usage_lake.lake.curated import partition_days, read_parquet
from usage_lake.lake.layout import partition_key
from usage_lake.lake.store import Lake

__all__ = ["InForce", "SnapshotReader"]


@dataclass(frozen=True)
class InForce:
    """The snapshot of `table` in force on `wanted`: partition `day` (after `wanted` when none is on or before it)."""

    table: str
    wanted: date
    day: date
    rows: pa.Table

    @property
    def later(self) -> bool:
        """True when no snapshot is on or before `wanted`, and the earliest one after it stands in."""
        return self.day > self.wanted

    @property
    def source(self) -> str:
        return f"{self.table} {self.day}" + (" (the earliest, later than the day)" if self.later else "")


class SnapshotReader:
    """The snapshot tables of one lake, read as the module docstring says. One instance per run or command."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._days: dict[str, list[date]] = {}
        self._tables: dict[tuple[str, date], pa.Table] = {}
        self._pending: dict[str, tuple[date, pa.Table]] = {}
        self._named: dict[str, tuple[dict[str, set[str]], dict[str, set[str]]]] = {}  # table -> (name, casefolded) -> ids

    def pending(self, table: str, day: date, rows: pa.Table) -> None:
        """Hold `rows` as `table`'s snapshot of `day` (replacing the lake's partition of that day, if any)."""
        self._pending[table] = (day, rows)
        self._days.pop(table, None)
        self._named.pop(table, None)

    def days(self, table: str) -> list[date]:
        """The days that hold a snapshot of `table` (a pending one included)."""
        if table not in self._days:
            days = set(partition_days(self.lake, table))
            if table in self._pending:
                pending_day = self._pending[table][0]
                days = {d for d in days if d <= pending_day} | {pending_day}  # the current setting, from its day on
            self._days[table] = sorted(days)
        return self._days[table]

    def day_of(self, table: str, day: date) -> date | None:
        """The partition in force on `day`: the latest on or before it, else the earliest (None: no snapshot at all)."""
        days = self.days(table)
        if not days:
            return None
        on_or_before = [d for d in days if d <= day]
        return on_or_before[-1] if on_or_before else days[0]

    def on(self, table: str, day: date, columns: Iterable[str] | None = None) -> InForce | None:
        """The snapshot in force on `day`, reduced to `columns` (a column it lacks reads as nulls); None: no snapshot."""
        used = self.day_of(table, day)
        if used is None:
            return None
        return InForce(table, day, used, self._read(table, used, columns))

    def history(self, table: str, columns: Iterable[str] | None = None) -> list[InForce]:
        """Every snapshot of `table`, oldest first."""
        return [InForce(table, d, d, self._read(table, d, columns)) for d in self.days(table)]

    def ids_named(self, table: str, name: str) -> list[str]:
        """The ids that carried `name` in any snapshot of `table` (exact match, else a case-insensitive one), sorted."""
        if table not in self._named:
            exact: dict[str, set[str]] = {}
            folded: dict[str, set[str]] = {}
            for snapshot in self.history(table, ["id", "name"]):
                for entity_id, entity_name in zip(snapshot.rows.column("id").to_pylist(), snapshot.rows.column("name").to_pylist(),
                                                  strict=True):
                    if entity_id is not None and entity_name is not None:
                        exact.setdefault(entity_name, set()).add(entity_id)
                        folded.setdefault(entity_name.casefold(), set()).add(entity_id)
            self._named[table] = (exact, folded)
        exact, folded = self._named[table]
        return sorted(exact.get(name) or folded.get(name.casefold()) or ())

    def names(self, table: str, day: date) -> list[str]:
        """The names in the snapshot in force on `day` (for an error message)."""
        found = self.on(table, day, ["id", "name"])
        return [] if found is None else sorted({n for n in found.rows.column("name").to_pylist() if n})

    def values(self, table: str, day: date, column: str) -> dict[str, str]:
        """id -> `column` (non-null) in the snapshot in force on `day`."""
        found = self.on(table, day, ["id", column])
        if found is None:
            return {}
        return {i: v for i, v in zip(found.rows.column("id").to_pylist(), found.rows.column(column).to_pylist(), strict=True)
                if i is not None and v}

    def _read(self, table: str, day: date, columns: Iterable[str] | None) -> pa.Table:
        if (table, day) not in self._tables:
            pending = self._pending.get(table)
            if pending is not None and pending[0] == day:
                self._tables[(table, day)] = pending[1]
            else:
                self._tables[(table, day)] = read_parquet(self.lake.get(partition_key(table, day)))
        rows = self._tables[(table, day)]
        if columns is None:
            return rows
        return pa.table({name: rows.column(name) if name in rows.column_names else pa.nulls(rows.num_rows, pa.string())
                         for name in columns})
