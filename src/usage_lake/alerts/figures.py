"""A day's spend as the lake knows it: billed (cost report) and estimated (usage x list prices), and the
figures the rules build from days (trailing averages, month to date).

Billed is what Anthropic's cost report says for a whole UTC day; it lags about a day and leaves out
Priority Tier. Estimated is `usage_messages.estimated_cost_usd` summed: available for today as it happens,
Priority Tier included. The *comparable estimate* leaves Priority Tier out, as the cost report does, so it
estimates the figure the cost report will bill. The *cost* of a day is its billed figure once billed, else
its comparable estimate: a sum of days on that basis does not jump when a day turns from estimated to billed.
Only the columns needed are decoded, so a large org's day is cheap to read.
Workspaces and API keys are ranked by id and shown by name (the latest organization snapshot; "name (id)"
when two share a name, the id when the snapshot does not know it).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.lake.curated import read_parquet
from usage_lake.lake.layout import partition_key
from usage_lake.lake.names import DEFAULT_WORKSPACE, NO_API_KEY, Names
from usage_lake.lake.store import Lake
from usage_lake.times import midnight

__all__ = ["BILLED", "DEFAULT_WORKSPACE", "ESTIMATED", "NO_API_KEY", "NO_MODEL", "DaySpend", "Figures", "MonthSpend", "Ranking", "read_day"]

BILLED, ESTIMATED = "billed", "estimated"
TOP = 5
TRAILING_DAYS = 7
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
    estimated_by_end: dict[datetime, Decimal] = field(default_factory=dict)  # the estimate per usage bucket end

    def figure(self, basis: str) -> Decimal | None:
        return self.billed_usd if basis == BILLED else self.estimated_usd

    @property
    def best_basis(self) -> str | None:
        """Billed when the cost report has the day, else estimated, else None (no data)."""
        if self.billed_usd is not None:
            return BILLED
        return ESTIMATED if self.estimated_usd is not None else None

    @property
    def comparable_estimate_usd(self) -> Decimal | None:
        """The estimate of what the cost report bills: Priority Tier left out, as the cost report leaves it out."""
        return None if self.estimated_usd is None else self.estimated_usd - self.priority_estimated_usd

    @property
    def cost_usd(self) -> Decimal | None:
        """The `cost` measure: billed once the cost report has the day, else the comparable estimate."""
        return self.billed_usd if self.billed_usd is not None else self.comparable_estimate_usd

    def estimated_through(self, end: datetime) -> Decimal | None:
        """The estimate of the usage buckets that ended by `end` (None: no priced usage stored for the day)."""
        if self.estimated_usd is None:
            return None
        return sum((amount for bucket_end, amount in self.estimated_by_end.items() if bucket_end <= end), Decimal(0))


def read_day(lake: Lake, day: date, names: Names | None = None) -> DaySpend:
    names = names if names is not None else Names.load(lake)
    cost = _read(lake, "cost_report", day, ["model", "workspace_id", "amount_usd"])
    usage = _read(lake, "usage_messages", day, ["bucket_end", "model", "workspace_id", "api_key_id", "service_tier",
                                                "estimated_cost_usd"])
    top: dict[str, dict[str, Ranking]] = {}
    billed = estimated = None
    priority = Decimal(0)
    unpriced = 0
    by_end: dict[datetime, Decimal] = {}
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
        grouped = usage.group_by("bucket_end").aggregate([("estimated_cost_usd", "sum")])
        by_end = {end: Decimal(total or 0) for end, total in zip(grouped.column("bucket_end").to_pylist(),
                                                                 grouped.column("estimated_cost_usd_sum").to_pylist(), strict=True)}
    return DaySpend(day, billed, estimated, priority, unpriced, top, by_end)


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


@dataclass(frozen=True)
class MonthSpend:
    """A calendar month's spend on the `cost` basis, from the 1st through `through` (its last day, or today)."""

    month: date  # the 1st
    through: date
    cost_usd: Decimal  # billed days at their billed cost, the others at their comparable estimate
    billed_days: int
    estimated_days: int  # days with usage but no billed figure yet (today among them)
    priority_estimated_usd: Decimal  # Priority Tier over the same days, estimated: billed separately, not in cost_usd
    ended: bool  # the month is over: `through` is its last day

    @property
    def days_with_data(self) -> int:
        return self.billed_days + self.estimated_days

    @property
    def days_in_month(self) -> int:
        return calendar.monthrange(self.month.year, self.month.month)[1]


class Figures:
    """The figures the rules read from one lake, each day read once (one instance per run)."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._days: dict[date, DaySpend] = {}
        self._names: Names | None = None

    def day(self, day: date) -> DaySpend:
        if day not in self._days:
            self._names = self._names or Names.load(self.lake)  # read once per run: every ranking shows names
            self._days[day] = read_day(self.lake, day, self._names)
        return self._days[day]

    def best(self, day: date) -> Decimal | None:
        """The day's billed figure, else its estimate, else None (no data)."""
        spend = self.day(day)
        return spend.figure(spend.best_basis) if spend.best_basis else None

    def trailing_average(self, day: date) -> tuple[Decimal | None, int]:
        """Average daily spend over the 7 days before `day` that have data (billed, else estimated)."""
        figures = [f for d in range(1, TRAILING_DAYS + 1)
                   if (f := self.best(day - timedelta(days=d))) is not None]
        return _average(figures)

    def same_hours_average(self, now: datetime) -> tuple[Decimal | None, int]:
        """The estimate of the same hours of the day as today so far (buckets ended by now's time of day),
        averaged over the 7 days before today that have priced usage, and how many days that is."""
        time_of_day = now - midnight(now.date())
        figures = []
        for back in range(1, TRAILING_DAYS + 1):
            day = now.date() - timedelta(days=back)
            if (figure := self.day(day).estimated_through(midnight(day) + time_of_day)) is not None:
                figures.append(figure)
        return _average(figures)

    def month(self, month: date, now: datetime) -> MonthSpend:
        """A month on the `cost` basis from its 1st through today (or its last day, once it has ended)."""
        first = month.replace(day=1)
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        through = min(last, now.date())
        total, priority, billed_days, estimated_days = Decimal(0), Decimal(0), 0, 0
        for offset in range((through - first).days + 1):
            spend = self.day(first + timedelta(days=offset))
            if spend.billed_usd is not None:
                billed_days += 1
            elif spend.comparable_estimate_usd is not None:
                estimated_days += 1
            total += spend.cost_usd or Decimal(0)
            priority += spend.priority_estimated_usd
        return MonthSpend(first, through, total, billed_days, estimated_days, priority, ended=now.date() > last)


def _average(figures: list[Decimal]) -> tuple[Decimal | None, int]:
    return (sum(figures, Decimal(0)) / len(figures), len(figures)) if figures else (None, 0)
