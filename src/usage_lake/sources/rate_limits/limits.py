"""Rate limits -> `rate_limits`: the organization's list, then one list per active workspace of the day's
`workspaces` snapshot (`per_workspace`). An entry: `{type: "rate_limit", id, group: {id, type, display_name},
models, limits: [{type, value}]}`; each limiter becomes a row, the workspace's id beside it (null for the
organization's own limits). Pages: `{data, has_more, next_page}`, continued with `page`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec
import pyarrow as pa

from usage_lake.config.settings import Settings
from usage_lake.errors import ResponseShapeError
from usage_lake.lake.schema import RATE_LIMITS
from usage_lake.sources.base import per_workspace
from usage_lake.sources.http import Paging, Params, record_page
from usage_lake.sources.organization.lists import BASE, ListSnapshot

__all__ = ["RateLimitsSnapshot", "rate_limits"]

RATE_PAGES = Paging("page", "next_page", record_page)
_WORKSPACE_PREFIX = f"{BASE}/workspaces/"


class _Group(msgspec.Struct):
    id: str | None = None
    type: str | None = None
    display_name: str | None = None


class _Limit(msgspec.Struct):
    type: str
    value: int


class _RateLimit(msgspec.Struct):
    id: str
    group: _Group | None = None
    models: list[str] | None = None
    limits: list[_Limit] = []
    workspace_id: str | None = None


@dataclass(frozen=True)
class RateLimitsSnapshot(ListSnapshot):
    """The organization's limits and every active workspace's overrides."""

    @property
    def needs(self) -> tuple[str, ...]:
        return ("workspaces",)

    def requests(self, inputs: Mapping[str, pa.Table]) -> list[tuple[str, Params]]:
        return [(self.path, list(self.params)),
                *per_workspace(f"{_WORKSPACE_PREFIX}{{workspace_id}}/rate_limits", inputs["workspaces"], self.params)]

    def to_table(self, records: Sequence[msgspec.Raw], *, run_id: str, snapshot_at: datetime, where: str) -> pa.Table:
        decode = msgspec.json.Decoder(_RateLimit).decode
        rows = []
        for number, raw in enumerate(records):
            try:
                entry = decode(raw)
            except msgspec.ValidationError as exc:
                raise ResponseShapeError(f"{where}: record {number}: {exc}") from None
            group = entry.group or _Group()
            for limit in entry.limits:
                if limit.value < 0:
                    raise ResponseShapeError(f"{where}: record {number}: limit {limit.type} is {limit.value}, below zero")
                rows.append({"id": entry.id, "workspace_id": entry.workspace_id, "group_id": group.id, "group_type": group.type,
                             "group_name": group.display_name, "models": entry.models, "limit_type": limit.type,
                             "limit_value": limit.value, "snapshot_at": snapshot_at, "run_id": run_id})
        table = pa.Table.from_pylist(rows, schema=RATE_LIMITS) if rows else RATE_LIMITS.empty_table()
        keys = table.select(["workspace_id", "id", "limit_type"]).to_pylist()
        if len({tuple(k.values()) for k in keys}) != len(keys):
            raise ResponseShapeError(f"{where}: a rate limit appears twice in one snapshot (a repeated page?); refusing it")
        return table


def rate_limits(settings: Settings) -> RateLimitsSnapshot:
    return RateLimitsSnapshot("rate_limits", f"{BASE}/rate_limits", (), _RateLimit, dict, unique=("id",), paging=RATE_PAGES)
