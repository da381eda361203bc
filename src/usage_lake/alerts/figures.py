"""A day's spend as the lake knows it: billed (cost report) and estimated (usage x list prices), and the
figures the rules build from days (trailing averages, a budget's figure over its period).

Billed is what Anthropic's cost report says for a whole UTC day; it lags about a day and leaves out
Priority Tier. Estimated is `usage_messages.estimated_cost_usd` summed: available for today as it happens,
Priority Tier included. The *comparable estimate* leaves Priority Tier out, as the cost report does, so it
estimates the figure the cost report will bill. The *cost* of a day is its billed figure once billed, else
its comparable estimate: a sum of days on that basis does not jump when a day turns from estimated to billed.

Each day is read once per run, only the columns needed, and kept as its rows aggregated by the dimensions a
budget can scope (`model`, `workspace_id`, `api_key_id`, `service_tier`, `inference_geo`): a budget's figure
is its scope's mask over those aggregates, summed with `pyarrow.compute`, day by day over its period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake import words
from usage_lake.alerts.periods import FORECAST_AFTER_DAYS, Span, span_of
from usage_lake.alerts.scopes import DEFAULT_WORKSPACE, NO_API_KEY, DayScope, Scopes, Snapshots
from usage_lake.config.budgets import Budget, Measure, Period
from usage_lake.lake.curated import read_parquet
from usage_lake.lake.layout import partition_key
from usage_lake.lake.names import Names
from usage_lake.lake.schema import AMOUNT_USD
from usage_lake.lake.store import Lake
from usage_lake.money import alert_figure
from usage_lake.money.pricing import PriceTable
from usage_lake.times import midnight

__all__ = ["ANALYTICS_BILLED", "BILLED", "ESTIMATED", "USAGE", "BudgetFigure", "DaySpend", "Figures", "Ranking", "read_day"]

BILLED, ESTIMATED = "billed", "estimated"
ANALYTICS_BILLED = "billed (analytics)"  # a key scope measured on the Analytics API's per-key billed cost (issue 18)
COST = "cost"  # billed days billed, the others at their comparable estimate
USAGE = "usage"  # token and request counts, from the usage report
TOP = 5
TRAILING_DAYS = 7
NO_MODEL = words.NO_MODEL
CUBE_DIMS = ["model", "workspace_id", "api_key_id", "service_tier", "inference_geo"]
USAGE_COLUMNS = ["bucket_end", *CUBE_DIMS, "estimated_cost_usd", "uncached_input_tokens", "cache_creation_5m_input_tokens",
                 "cache_creation_1h_input_tokens", "cache_read_input_tokens", "output_tokens", "web_search_requests"]
COST_COLUMNS = ["model", "workspace_id", "service_tier", "inference_geo", "amount_usd"]
UNSPLIT_DIMS = ("model", "service_tier", "inference_geo")  # cost report dimensions a report shape may leave null
TOKEN_COLUMNS = {Measure.INPUT_TOKENS: "input_tokens", Measure.OUTPUT_TOKENS: "output_tokens",
                 Measure.TOTAL_TOKENS: "total_tokens", Measure.WEB_SEARCH_REQUESTS: "web_search_requests", Measure.REQUESTS: "requests"}
ANALYTICS_COST_COLUMNS = [*CUBE_DIMS, "amount_usd"]
REQUEST_COLUMNS = [*CUBE_DIMS, "requests"]  # analytics_usage: the API request counts (the Analytics API's, issue 18)

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
    usage: pa.Table | None = field(default=None, repr=False, compare=False)  # usage aggregated by CUBE_DIMS
    cost: pa.Table | None = field(default=None, repr=False, compare=False)  # the cost report aggregated by its scope dims
    requests: pa.Table | None = field(default=None, repr=False, compare=False)  # analytics_usage requests by CUBE_DIMS
    analytics_cost: pa.Table | None = field(default=None, repr=False, compare=False)  # analytics_cost amount_usd by CUBE_DIMS

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
        """The day's alert figure (`money.alert_figure`): billed once the cost report has the day, else the comparable
        estimate. The `cost` measure, the daily threshold and every view's "alert figure" are this number."""
        return alert_figure(self.billed_usd, self.estimated_usd, self.priority_estimated_usd)

    @property
    def alert_basis(self) -> str | None:
        """The basis of `cost_usd`: billed, estimated (without Priority Tier), or None (no data)."""
        return self.best_basis

    def unsplit(self, scope: DayScope) -> tuple[str, ...]:
        """The dimensions of `scope` this day's cost report does not split (null on its token lines while usage carries
        them, e.g. `inference_geo` on a 2025-shaped report): its billed figure cannot measure the scope."""
        if self.cost is None or self.cost.num_rows == 0:
            return ()
        named = {name for name, _ in scope.columns} | ({"model"} if scope.models else set())
        tokens = self.cost.filter(pc.is_valid(self.cost.column("model")))
        found = []
        for name in UNSPLIT_DIMS:
            if name not in named or (self.usage is not None and self.usage.column(name).null_count == self.usage.num_rows):
                continue  # not in the scope, or usage does not carry it either
            if (tokens.num_rows == 0) if name == "model" else tokens.column(name).null_count > 0:
                found.append(name)
        return tuple(found)

    def estimated_through(self, end: datetime) -> Decimal | None:
        """The estimate of the usage buckets that ended by `end` (None: no priced usage stored for the day)."""
        if self.estimated_usd is None:
            return None
        return sum((amount for bucket_end, amount in self.estimated_by_end.items() if bucket_end <= end), Decimal(0))


def read_day(lake: Lake, day: date, names: Callable[[str, str | None], str] | None = None) -> DaySpend:
    """A day's spend; `names(kind, id)` shows workspaces and keys in the rankings (default: the ids)."""
    names = names or (lambda kind, entity_id: entity_id or (DEFAULT_WORKSPACE if kind == "workspace" else NO_API_KEY))
    cost = _read(lake, "cost_report", day, COST_COLUMNS)
    usage = _read(lake, "usage_messages", day, USAGE_COLUMNS, dictionary=CUBE_DIMS)
    top: dict[str, dict[str, Ranking]] = {}
    billed = estimated = None
    priority = Decimal(0)
    unpriced = 0
    by_end: dict[datetime, Decimal] = {}
    usage_cube, cost_cube = _usage_cube(usage), _cost_cube(cost)
    if cost_cube is not None:  # rankings from the aggregates: the same sums, a fraction of the rows
        billed = _sum(cost_cube.column("amount_usd"))
        top[BILLED] = {"models": _rank(cost_cube, "model", "amount_usd", _no_model),
                       "workspaces": _rank(cost_cube, "workspace_id", "amount_usd", lambda i: names("workspace", i))}
    if usage is not None and usage_cube is not None:
        estimate = usage.column("estimated_cost_usd")
        estimated = _sum(estimate) if estimate.null_count < len(estimate) else None  # None: nothing priced
        priority = _sum(pc.filter(usage_cube.column("estimated_cost_usd"), _true(pc.equal(usage_cube.column("service_tier"), "priority"),
                                                                                False)))
        unpriced = estimate.null_count
        top[ESTIMATED] = {"models": _rank(usage_cube, "model", "estimated_cost_usd", _no_model),
                          "workspaces": _rank(usage_cube, "workspace_id", "estimated_cost_usd", lambda i: names("workspace", i)),
                          "api_keys": _rank(usage_cube, "api_key_id", "estimated_cost_usd", lambda i: names("api_key", i))}
        grouped = usage.group_by("bucket_end").aggregate([("estimated_cost_usd", "sum")])
        by_end = {end: Decimal(total or 0) for end, total in zip(grouped.column("bucket_end").to_pylist(),
                                                                 grouped.column("estimated_cost_usd_sum").to_pylist(), strict=True)}
    requests = _read(lake, "analytics_usage", day, REQUEST_COLUMNS)
    requests_cube = requests.group_by(CUBE_DIMS).aggregate([("requests", "sum")]).rename_columns([*CUBE_DIMS, "requests"]) \
        if requests is not None else None
    analytics = _read(lake, "analytics_cost", day, ANALYTICS_COST_COLUMNS)
    analytics_cube = analytics.group_by(CUBE_DIMS).aggregate([("amount_usd", "sum")]).rename_columns([*CUBE_DIMS, "amount_usd"]) \
        if analytics is not None else None
    return DaySpend(day, billed, estimated, priority, unpriced, top, by_end, usage_cube, cost_cube, requests_cube, analytics_cube)


def _usage_cube(usage: pa.Table | None) -> pa.Table | None:
    """The day's usage summed by the dimensions a scope can name: what budgets and the digest read."""
    if usage is None:
        return None
    estimate = usage.column("estimated_cost_usd")
    inputs = pc.add(pc.add(usage.column("uncached_input_tokens"), usage.column("cache_creation_5m_input_tokens")),
                    pc.add(usage.column("cache_creation_1h_input_tokens"), usage.column("cache_read_input_tokens")))
    rows = pa.table({**{name: usage.column(name) for name in CUBE_DIMS}, "estimated_cost_usd": estimate,
                     "input_tokens": inputs, "output_tokens": usage.column("output_tokens"),
                     "cache_read_input_tokens": usage.column("cache_read_input_tokens"),
                     "web_search_requests": usage.column("web_search_requests"),
                     # searches of priced rows: the part of the estimate a token-lines-only scope leaves out
                     "priced_web_search": pc.if_else(pc.is_null(estimate), 0, usage.column("web_search_requests"))})
    sums = ["estimated_cost_usd", "input_tokens", "output_tokens", "cache_read_input_tokens", "web_search_requests", "priced_web_search"]
    cube = rows.group_by(CUBE_DIMS).aggregate([(name, "sum") for name in sums])
    cube = cube.rename_columns([name.removesuffix("_sum") for name in cube.column_names])
    for name in CUBE_DIMS:  # read dictionary-encoded for speed; plain strings from here on (a few thousand rows)
        if pa.types.is_dictionary(cube.schema.field(name).type):
            cube = cube.set_column(cube.schema.get_field_index(name), name, pc.cast(cube.column(name), pa.string()))
    return cube.append_column("total_tokens", pc.add(cube.column("input_tokens"), cube.column("output_tokens")))


def _cost_cube(cost: pa.Table | None) -> pa.Table | None:
    if cost is None:
        return None
    dims = [name for name in COST_COLUMNS if name != "amount_usd"]
    cube = cost.group_by(dims).aggregate([("amount_usd", "sum")])
    return cube.rename_columns([name.removesuffix("_sum") for name in cube.column_names])


def _read(lake: Lake, table: str, day: date, columns: list[str], dictionary: list[str] | None = None) -> pa.Table | None:
    key = partition_key(table, day)
    if not lake.exists(key):
        return None
    return read_parquet(lake.get(key), table=table, columns=columns, dictionary=dictionary)


def _sum(values: pa.Array | pa.ChunkedArray) -> Decimal:
    total = pc.sum(values).as_py() if len(values) else None
    return Decimal(0) if total is None else Decimal(total)


def _no_model(model: str | None) -> str:
    return model if model is not None else NO_MODEL


def _rank(table: pa.Table, key: str, amount: str, label: Callable[[str | None], str]) -> Ranking:
    """The top contributors by `key` (grouped by id, shown by `label`)."""
    grouped = table.group_by(key).aggregate([(amount, "sum")])
    rows = [(label(name), Decimal(total or 0))
            for name, total in zip(grouped.column(key).to_pylist(), grouped.column(f"{amount}_sum").to_pylist(), strict=True)]
    return sorted(rows, key=lambda r: (-r[1], r[0]))[:TOP]


@dataclass(frozen=True)
class BudgetFigure:
    """A budget's figure over one period (from its start through today, or its last day once it has ended)."""

    budget: Budget
    span: Span
    through: date
    ended: bool
    value: Decimal  # in the measure's unit: USD, tokens or requests
    basis: str  # cost | billed | estimated | usage
    billed_days: int = 0  # days counted at their billed figure
    estimated_days: int = 0  # days counted at an estimate (cost: without Priority Tier)
    unbilled_days: int = 0  # billed_cost: days with usage the cost report has not billed yet (not counted)
    priority_estimated_usd: Decimal = Decimal(0)  # Priority Tier in the scope, estimated: beside a cost or billed figure
    forecast: Decimal | None = None  # straight line to the period's end, once FORECAST_AFTER_DAYS have passed
    top: dict[str, Ranking] = field(default_factory=dict)  # models / workspaces / api_keys in the scope
    keys_estimated: bool = False  # the API keys ranking is from the estimate while the figure is (partly) billed
    scope: DayScope | None = field(default=None, repr=False, compare=False)  # the scope as resolved on the last day
    unsplit: tuple[str, ...] = ()  # scope dimensions the cost report did not split on some day: those days estimated

    @property
    def estimate_reason(self) -> str | None:
        """Why a `cost` or `billed_cost` figure is (partly) the estimate rather than the cost report, if it is."""
        if self.budget.measure not in (Measure.COST, Measure.BILLED_COST):
            return None
        reasons = []
        if self.scope is not None and not self.scope.billable:
            reasons.append("the cost report has no per-key cost")
        if self.unsplit:
            reasons.append(f"the cost report does not split {' or '.join(self.unsplit)} (null there: not split)")
        return "; ".join(reasons) or None

    @property
    def percent(self) -> Decimal:
        return self.value * 100 / self.budget.amount

    # the names the monthly budget's messages use
    @property
    def month(self) -> date:
        return self.span.start

    @property
    def cost_usd(self) -> Decimal:
        return self.value

    @property
    def days_with_data(self) -> int:
        return self.billed_days + self.estimated_days

    @property
    def days_in_month(self) -> int:
        return self.span.days


@dataclass
class _Tally:
    """A budget's period being summed, day by day."""

    value: Decimal = Decimal(0)
    billed_days: int = 0
    estimated_days: int = 0
    unbilled_days: int = 0
    analytics_days: int = 0  # days of a key scope counted at the Analytics API's billed cost
    priority: Decimal = Decimal(0)
    unsplit: set[str] = field(default_factory=set)
    main: list[pa.Table] = field(default_factory=list)  # (model, workspace_id, api_key_id, value) contributions
    keys: list[pa.Table] = field(default_factory=list)  # the estimate's contributions, for the API keys ranking


class Figures:
    """The figures the rules read from one lake, each day read once (one instance per run)."""

    def __init__(self, lake: Lake, *, prices: PriceTable | None = None, scopes: Scopes | None = None) -> None:
        self.lake = lake
        self.snapshots = scopes.snapshots if scopes is not None else Snapshots(lake)
        self._names: Names | None = None
        self.scopes = scopes or Scopes(self.snapshots)
        self.web_search_usd = (prices or PriceTable.load_default()).web_search_per_request
        self._days: dict[date, DaySpend] = {}

    def day(self, day: date) -> DaySpend:
        if day not in self._days:
            self._days[day] = read_day(self.lake, day, lambda kind, entity_id: self.name(kind, entity_id))
        return self._days[day]

    def name(self, kind: str, entity_id: str | None) -> str:
        """For people: a workspace or key by its name in the latest snapshot ("name (id)" when two share it), else its id."""
        self._names = self._names or Names.load(self.lake, reader=self.snapshots)  # read once per run
        return self._names.workspace(entity_id) if kind == "workspace" else self._names.api_key(entity_id)

    def best(self, day: date) -> Decimal | None:
        """The day's alert figure: billed, else its estimate without Priority Tier, else None (no data)."""
        return self.day(day).cost_usd

    def trailing_average(self, day: date) -> tuple[Decimal | None, int]:
        """Average daily alert figure over the 7 days before `day` that have data (billed, else estimated without Priority Tier)."""
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

    def month(self, month: date, now: datetime) -> BudgetFigure:
        """The whole organization's spend of a month on the `cost` basis, from its 1st through today (or its last day)."""
        everything = Budget("month", Period.MONTHLY, Decimal(1))
        return self.budget(everything, span_of(Period.MONTHLY, month), now)

    def budget(self, budget: Budget, span: Span, now: datetime) -> BudgetFigure:
        """The budget's figure over `span` at `now`: the sum of its days, each in the budget's scope on that day."""
        through = span.through(now)
        tally = _Tally()
        measure = budget.measure
        for offset in range((through - span.start).days + 1):
            day = span.start + timedelta(days=offset)
            self._count(tally, measure, self.day(day), self.scopes.on(budget, day))
        billable = all(self.scopes.on(budget, span.start + timedelta(days=n)).billable
                       for n in range((through - span.start).days + 1))
        basis = _basis(measure, billable and not tally.unsplit)
        if not billable and tally.analytics_days and measure in (Measure.COST, Measure.BILLED_COST):
            basis = ANALYTICS_BILLED
        return BudgetFigure(
            budget, span, through, span.ended(now), tally.value, basis, tally.billed_days, tally.estimated_days, tally.unbilled_days,
            tally.priority if measure in (Measure.COST, Measure.BILLED_COST) else Decimal(0),
            self._forecast(budget, span, now, tally), self._rankings(tally, measure),
            keys_estimated=bool(tally.keys) and tally.billed_days > 0, scope=self.scopes.on(budget, through),
            unsplit=tuple(name for name in UNSPLIT_DIMS if name in tally.unsplit))

    def _count(self, tally: _Tally, measure: Measure, spend: DaySpend, scope: DayScope) -> None:
        """Add one day of the budget's scope to the tally."""
        usage = _keep(spend.usage, scope.usage_mask(spend.usage)) if spend.usage is not None else None
        if measure == Measure.REQUESTS:  # counted by the Analytics API only
            usage = _keep(spend.requests, scope.usage_mask(spend.requests)) if spend.requests is not None else None
        if measure in TOKEN_COLUMNS:
            if usage is not None:
                column = TOKEN_COLUMNS[measure]
                tally.value += _sum(usage.column(column))
                tally.estimated_days += 1
                tally.main.append(_contributions(usage, usage.column(column)))
            return
        priced = usage is not None and usage.column("estimated_cost_usd").null_count < usage.num_rows
        analytics = _keep(spend.analytics_cost, scope.usage_mask(spend.analytics_cost)) if spend.analytics_cost is not None else None
        if analytics is not None:  # Priority Tier billed (the Analytics API) replaces its estimate
            tally.priority += _sum(pc.filter(analytics.column("amount_usd"), _true(pc.equal(analytics.column("service_tier"), "priority"),
                                                                                    False)))
        elif usage is not None:
            tally.priority += _sum(pc.filter(usage.column("estimated_cost_usd"), pc.equal(usage.column("service_tier"), "priority")))
        if measure == Measure.ESTIMATED_COST:
            if usage is not None and priced:
                tally.value += _sum(usage.column("estimated_cost_usd"))
                tally.estimated_days += 1
                tally.main.append(_contributions(usage, usage.column("estimated_cost_usd")))
            return
        comparable = self._comparable(usage, scope) if usage is not None and priced else None
        unsplit = spend.unsplit(scope) if scope.billable else ()
        tally.unsplit.update(unsplit)
        # the cost report measures the scope unless it has no per-key cost or leaves a scope dimension null (not split):
        # then the day's estimate stands in for it, never $0
        measurable = scope.billable and not unsplit
        if not scope.billable and analytics is not None:  # a key scope: the Analytics API bills per key (issue 18)
            standard = analytics.filter(_true(pc.not_equal(analytics.column("service_tier"), "priority")))
            tally.value += _sum(standard.column("amount_usd"))
            tally.billed_days += 1
            tally.analytics_days += 1
            tally.main.append(_contributions(standard, standard.column("amount_usd")))
        elif spend.cost is not None and measurable:
            cost = _keep(spend.cost, scope.cost_mask(spend.cost))
            tally.value += _sum(cost.column("amount_usd"))
            tally.billed_days += 1
            tally.main.append(_contributions(cost, cost.column("amount_usd")))
            if comparable is not None:
                tally.keys.append(comparable)
        elif measure == Measure.BILLED_COST and spend.cost is None:  # billed_cost counts the days the cost report has
            tally.unbilled_days += usage is not None
        elif comparable is not None:
            tally.value += _sum(comparable.column("value"))
            tally.estimated_days += 1
            tally.main.append(comparable)
            tally.keys.append(comparable)

    def _comparable(self, usage: pa.Table, scope: DayScope) -> pa.Table:
        """The estimate of what the cost report bills for these rows, as contributions: Priority Tier left out, and
        web search too when the scope keeps only the cost report's token lines."""
        standard = usage.filter(_true(pc.not_equal(usage.column("service_tier"), "priority")))
        parts = [_contributions(standard, standard.column("estimated_cost_usd"))]
        if scope.token_lines_only:
            price = pa.scalar(-self.web_search_usd, pa.decimal128(18, 6))
            searches = pc.multiply(pc.cast(standard.column("priced_web_search"), pa.decimal128(19, 0)), price)
            parts.append(_contributions(standard, searches))
        return pa.concat_tables(parts)

    def _forecast(self, budget: Budget, span: Span, now: datetime, tally: _Tally) -> Decimal | None:
        """The straight line from the period so far to its end; None before FORECAST_AFTER_DAYS whole days (or once over)."""
        whole = span.elapsed_days(now)
        after = FORECAST_AFTER_DAYS.get(budget.period)
        if whole is None or after is None:
            return None
        if budget.measure == Measure.BILLED_COST:  # billed days are whole days (estimated where the report does not split the scope)
            counted = tally.billed_days + tally.estimated_days  # estimated: billed days the report cannot split
            return tally.value / counted * span.days if counted >= after else None
        if whole < after:
            return None
        elapsed = Decimal(whole) + Decimal(max(now.hour * 60 + now.minute, 60)) / (24 * 60)  # days, today's part at least an hour
        return tally.value / elapsed * span.days

    def _rankings(self, tally: _Tally, measure: Measure) -> dict[str, Ranking]:
        if not tally.main:
            return {}
        main = pa.concat_tables(tally.main)
        keys = pa.concat_tables(tally.keys) if tally.keys and tally.billed_days else main
        return {"models": _rank(main, "model", "value", _no_model),
                "workspaces": _rank(main, "workspace_id", "value", lambda i: self.name("workspace", i)),
                "api_keys": _rank(keys, "api_key_id", "value", lambda i: self.name("api_key", i))}


def _basis(measure: Measure, billable: bool) -> str:
    """`billable`: the cost report measured the scope on every billed day (no key in it, every dimension split)."""
    if measure in TOKEN_COLUMNS:
        return USAGE
    if measure == Measure.COST:
        return COST if billable else ESTIMATED
    return BILLED if measure == Measure.BILLED_COST and billable else ESTIMATED


def _true(mask: pa.Array | pa.ChunkedArray, null: bool = True) -> pa.Array | pa.ChunkedArray:
    return pc.fill_null(mask, null)


def _keep(rows: pa.Table, mask: pa.Array | pa.ChunkedArray | None) -> pa.Table:
    return rows if mask is None else rows.filter(mask)


def _contributions(rows: pa.Table, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    """What each (model, workspace, key) adds to a figure; money as USD decimals, counts as integers."""
    if pa.types.is_decimal(values.type):
        values = pc.cast(values, AMOUNT_USD)
    keys = rows.column("api_key_id") if "api_key_id" in rows.column_names else pa.nulls(rows.num_rows, pa.string())
    return pa.table({"model": rows.column("model"), "workspace_id": rows.column("workspace_id"), "api_key_id": keys, "value": values})


def _average(figures: list[Decimal]) -> tuple[Decimal | None, int]:
    return (sum(figures, Decimal(0)) / len(figures), len(figures)) if figures else (None, 0)
