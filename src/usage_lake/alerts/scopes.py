"""A budget's scope, resolved for one UTC day into filters on the usage and cost rows.

A scope keeps the rows whose `workspace_id`, `api_key_id`, `model`, `service_tier` and `inference_geo` are among
its values (every listed field must match), plus:

- names: `workspace` and `api_key` name ids through the whole history of the `workspaces` / `api_keys` snapshots
  (`lake.snapshots`): every id that ever carried the name, so a renamed workspace answers to its old and new
  names over the whole period, and a name several keys share (a rotation) means all of them. Its name
  (`words.DEFAULT_WORKSPACE`, or the id `default`) is the default workspace, a null `workspace_id` in the reports. A name no snapshot
  knows raises `SettingsError` naming the budget: the budget cannot be evaluated (the run goes on).
- `label:<key>`: the `labels` snapshot in force on the day (`lake.snapshots`: the latest on or before it, else the
  earliest); a row's label is its API key's, else its workspace's (as the `*_named` views read them).
- `model` matches the id or its dated snapshots (`claude-sonnet-4-5` keeps `claude-sonnet-4-5-20250929`).

The cost report has no API key: a scope on keys (or on a label some key carries) is measured on the estimate
(`billable` is False). A scope on `model`, `service_tier` or `inference_geo` keeps only the cost report's token
lines (web search and code execution carry none of them), so the estimate it is compared with leaves web
search out too (`token_lines_only`).

Everything is vectorised: a mask per filter from `pyarrow.compute` over the day's aggregated rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.config.budgets import KEY_SCOPES, Budget
from usage_lake.errors import SettingsError
from usage_lake.lake.names import DEFAULT_WORKSPACE, NO_API_KEY
from usage_lake.lake.snapshots import SnapshotReader

__all__ = ["DEFAULT_WORKSPACE", "DEFAULT_WORKSPACE_ID", "NO_API_KEY", "DayScope", "Scopes", "Snapshots", "model_family"]

DEFAULT_WORKSPACE_ID = "default"  # how a workspace_id scope names it
_DATE_SUFFIX = re.compile(r"-\d{8}$")
_NAME_TABLES = {"workspace": ("workspaces", "workspace_id"), "api_key": ("api_keys", "api_key_id")}
_TOKEN_LINE_FIELDS = ("model", "service_tier", "inference_geo")


def model_family(model: str) -> str:
    """A model id without its snapshot date: claude-sonnet-4-5-20250929 -> claude-sonnet-4-5."""
    return _DATE_SUFFIX.sub("", model)


class Snapshots(SnapshotReader):
    """The lake's snapshots (`lake.snapshots.SnapshotReader`), and the labels of one key as in force on a day."""

    def table(self, table: str, day: date, columns: list[str]) -> tuple[date, pa.Table] | None:
        """The snapshot in force on `day`, reduced to `columns` (a column it lacks reads as nulls)."""
        found = self.on(table, day, columns)
        return None if found is None else (found.day, found.rows)

    def labels(self, key: str, day: date) -> dict[str, tuple[pa.Array, pa.Array]]:
        """entity type -> (ids, values) of label `key` in force on `day` (empty: no labels)."""
        found = self.table("labels", day, ["entity_type", "entity_id", "key", "value"])
        if found is None:
            return {}
        rows = found[1].filter(pc.equal(found[1].column("key"), key))
        out = {}
        for entity_type in ("api_key", "workspace"):
            picked = rows.filter(pc.equal(rows.column("entity_type"), entity_type))
            out[entity_type] = (picked.column("entity_id").combine_chunks(), picked.column("value").combine_chunks())
        return out


@dataclass(frozen=True)
class LabelMatch:
    """`label:<key>` in one of `values`: by the API key's label, else the workspace's."""

    key: str
    values: pa.Array
    key_ids: pa.Array
    key_values: pa.Array
    workspace_ids: pa.Array
    workspace_values: pa.Array

    def usage_values(self, rows: pa.Table) -> Any:
        """Each usage row's value of the label: its API key's, else its workspace's (null: neither has it)."""
        by_key = pc.take(self.key_values, pc.index_in(rows.column("api_key_id"), value_set=self.key_ids))
        by_workspace = pc.take(self.workspace_values, pc.index_in(rows.column("workspace_id"), value_set=self.workspace_ids))
        return pc.coalesce(by_key, by_workspace)

    def usage_mask(self, rows: pa.Table) -> pa.Array:
        return _true(pc.is_in(self.usage_values(rows), value_set=self.values))

    def cost_mask(self, rows: pa.Table) -> pa.Array:
        by_workspace = pc.take(self.workspace_values, pc.index_in(rows.column("workspace_id"), value_set=self.workspace_ids))
        return _true(pc.is_in(by_workspace, value_set=self.values))


@dataclass(frozen=True)
class DayScope:
    """A scope resolved for one day: the filters on the day's usage rows and (when `billable`) cost rows."""

    columns: tuple[tuple[str, pa.Array], ...] = ()  # column -> accepted values (None among them: the null)
    models: tuple[str, ...] = ()  # accepted model ids or families
    labels: tuple[LabelMatch, ...] = ()
    billable: bool = True  # the cost report can measure it (no API key in it)
    token_lines_only: bool = False  # model/tier/geo in the scope: the cost report's web search and code execution lines are out

    @property
    def everything(self) -> bool:
        return not (self.columns or self.models or self.labels)

    def usage_mask(self, rows: pa.Table) -> pa.Array | None:
        return self._mask(rows, usage=True)

    def cost_mask(self, rows: pa.Table) -> pa.Array | None:
        return self._mask(rows, usage=False)

    def _mask(self, rows: pa.Table, *, usage: bool) -> pa.Array | None:
        """True for the rows in scope (None: every row)."""
        masks = [_true(pc.is_in(rows.column(name), value_set=values, skip_nulls=False))
                 for name, values in self.columns if usage or name != "api_key_id"]
        if self.models:
            seen = pc.unique(rows.column("model")).to_pylist()  # the day's distinct models, not its rows
            wanted = [m for m in seen if m is not None and (m in self.models or model_family(m) in self.models)]
            masks.append(_true(pc.is_in(rows.column("model"), value_set=pa.array(wanted, pa.string()))))
        masks += [label.usage_mask(rows) if usage else label.cost_mask(rows) for label in self.labels]
        if not masks:
            return None
        mask = masks[0]
        for other in masks[1:]:
            mask = pc.and_(mask, other)
        return mask


def _true(mask: Any) -> pa.Array:
    """Null (no match possible) as False."""
    return pc.fill_null(mask, False)


class Scopes:
    """Resolves budgets' scopes day by day (each (budget, snapshots) once); `SettingsError` names the budget."""

    def __init__(self, snapshots: Snapshots, *, source: str = "BUDGETS") -> None:
        self.snapshots = snapshots
        self.source = source
        self._resolved: dict[tuple[str, date], DayScope] = {}

    def on(self, budget: Budget, day: date) -> DayScope:
        """The scope on `day`; `SettingsError` when the budget cannot be evaluated (a name no snapshot knows)."""
        key = (budget.scope_text, day)  # budgets with the same scope share it
        if key not in self._resolved:
            self._resolved[key] = self._resolve(budget, day)
        return self._resolved[key]

    def _where(self, budget: Budget) -> str:
        return f"{self.source}: budget {budget.name!r}"

    def _resolve(self, budget: Budget, day: date) -> DayScope:
        by_column: dict[str, list[str | None]] = {}
        models: tuple[str, ...] = ()
        labels = []
        billable = not any(key in budget.scope for key in KEY_SCOPES)
        for key, values in sorted(budget.scope.items()):
            if key == "model":
                models = values
            elif key in _NAME_TABLES:
                column = _NAME_TABLES[key][1]
                by_column.setdefault(column, []).extend(self._ids(budget, key, values, day))
            elif key.startswith("label:"):
                label = self._label(key.removeprefix("label:"), values, day)
                billable = billable and len(label.key_ids) == 0
                labels.append(label)
            elif key == "workspace_id":
                by_column.setdefault(key, []).extend(None if v == DEFAULT_WORKSPACE_ID else v for v in values)
            else:
                by_column.setdefault(key, []).extend(values)
        columns = tuple((name, pa.array(list(dict.fromkeys(ids)), pa.string())) for name, ids in sorted(by_column.items()))
        return DayScope(columns, models, tuple(labels), billable, any(f in budget.scope for f in _TOKEN_LINE_FIELDS))

    def _ids(self, budget: Budget, kind: str, names: tuple[str, ...], day: date) -> list[str | None]:
        """Every id that carried one of `names` in any snapshot (renames and rotations included)."""
        table = _NAME_TABLES[kind][0]
        ids: list[str | None] = []
        for name in names:
            if kind == "workspace" and name.casefold() == DEFAULT_WORKSPACE.casefold():
                ids.append(None)
                continue
            if self.snapshots.day_of(table, day) is None:
                raise SettingsError(f"{self._where(budget)}: `scope.{kind}` {name!r} needs the {table} snapshot to "
                                    f"find its id, and the lake has none yet; use `{_NAME_TABLES[kind][1]}`")
            matches = self.snapshots.ids_named(table, name)
            if not matches:
                known = ", ".join(self.snapshots.names(table, day)[:10]) or "none"
                raise SettingsError(f"{self._where(budget)}: `scope.{kind}` {name!r} is no {kind.replace('_', ' ')} name in any "
                                    f"{table} snapshot (known on {day}: {known})")
            ids.extend(matches)
        return ids

    def _label(self, key: str, values: tuple[str, ...], day: date) -> LabelMatch:
        found = self.snapshots.labels(key, day)
        empty = (pa.array([], pa.string()), pa.array([], pa.string()))
        key_ids, key_values = found.get("api_key", empty)
        workspace_ids, workspace_values = found.get("workspace", empty)
        return LabelMatch(key, pa.array(values, pa.string()), key_ids, key_values, workspace_ids, workspace_values)
