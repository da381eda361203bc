"""A day's spend as the lake knows it: billed (cost report) and estimated (usage x list prices).

Billed is what Anthropic's cost report says for a whole UTC day; it lags about a day and leaves out
Priority Tier. Estimated is `usage_messages.estimated_cost_usd` summed: available for today as it happens,
Priority Tier included. Only the columns needed are decoded, so a large org's day is cheap to read.
Workspaces and API keys are ranked by id and shown by name (the latest organization snapshot; "name (id)"
when two share a name, the id when the snapshot does not know it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.lake.curated import read_parquet
from usage_lake.lake.layout import partition_key
from usage_lake.lake.names import DEFAULT_WORKSPACE, NO_API_KEY, Names
from usage_lake.lake.store import Lake

__all__ = ["BILLED", "DEFAULT_WORKSPACE", "ESTIMATED", "NO_API_KEY", "NO_MODEL", "DaySpend", "Ranking", "read_day"]

BILLED, ESTIMATED = "billed", "estimated"
TOP = 5
NO_MODEL = "(no model: web search, code execution, ...)"

Ranking = list[tuple[str, Decimal]]


@dataclass(frozen=True)
class DaySpend:
    day: date
    billed_usd: Decimal | None = None  # None: the cost report has no data for the day (yet)
    estimated_usd: Decimal | None = None  # None: no usage stored for the day
    priority_estimated_usd: Decimal = Decimal(0)  # the Priority Tier part of the estimate
    unpriced_rows: int = 0  # usage rows with no estimate (models missing from the price table)
    top: dict[str, dict[str, Ranking]] = field(default_factory=dict)  # basis -> "models"/"workspaces"/"api_keys" -> ranking

    def figure(self, basis: str) -> Decimal | None:
        return self.billed_usd if basis == BILLED else self.estimated_usd

    @property
    def best_basis(self) -> str | None:
        """Billed when the cost report has the day, else estimated, else None (no data)."""
        if self.billed_usd is not None:
            return BILLED
        return ESTIMATED if self.estimated_usd is not None else None


def read_day(lake: Lake, day: date, names: Names | None = None) -> DaySpend:
    names = names if names is not None else Names.load(lake)
    cost = _read(lake, "cost_report", day, ["model", "workspace_id", "amount_usd"])
    usage = _read(lake, "usage_messages", day, ["model", "workspace_id", "api_key_id", "service_tier", "estimated_cost_usd"])
    top: dict[str, dict[str, Ranking]] = {}
    billed = estimated = None
    priority = Decimal(0)
    unpriced = 0
    if cost is not None:
        billed = _sum(cost.column("amount_usd"))
        top[BILLED] = {"models": _rank(cost, "model", "amount_usd", _or(NO_MODEL)),
                       "workspaces": _rank(cost, "workspace_id", "amount_usd", names.workspace)}
    if usage is not None:
        estimate = usage.column("estimated_cost_usd")
        estimated = _sum(estimate) if estimate.null_count < len(estimate) else None  # None: nothing priced
        priority = _sum(pc.filter(estimate, pc.equal(usage.column("service_tier"), "priority")))
        unpriced = estimate.null_count
        top[ESTIMATED] = {"models": _rank(usage, "model", "estimated_cost_usd", _or(NO_MODEL)),
                          "workspaces": _rank(usage, "workspace_id", "estimated_cost_usd", names.workspace),
                          "api_keys": _rank(usage, "api_key_id", "estimated_cost_usd", names.api_key)}
    return DaySpend(day, billed, estimated, priority, unpriced, top)


def _read(lake: Lake, table: str, day: date, columns: list[str]) -> pa.Table | None:
    key = partition_key(table, day)
    if not lake.exists(key):
        return None
    return read_parquet(lake.get(key), table=table, columns=columns)


def _sum(values: pa.Array | pa.ChunkedArray) -> Decimal:
    total = pc.sum(values).as_py() if len(values) else None
    return Decimal(0) if total is None else Decimal(total)


def _or(null_label: str) -> Callable[[str | None], str]:
    return lambda value: value if value is not None else null_label


def _rank(table: pa.Table, key: str, amount: str, label: Callable[[str | None], str]) -> Ranking:
    """The top contributors by `key` (grouped by id, shown by `label`)."""
    grouped = table.group_by(key).aggregate([(amount, "sum")])
    rows = [(label(name), Decimal(total or 0))
            for name, total in zip(grouped.column(key).to_pylist(), grouped.column(f"{amount}_sum").to_pylist(), strict=True)]
    return sorted(rows, key=lambda r: (-r[1], r[0]))[:TOP]
