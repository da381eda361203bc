"""Budgets (issue 11) end to end: the simulator's org, a BUDGETS file, and a pinned sequence of hourly runs.

Every expected figure comes from the simulator's own totals (`usage_totals_by`, `cost_totals_by`) priced with the
price table - never from the lake - through `Oracle`, a model of what the lake holds after each run (which days
were re-read, which ones the cost report had billed). The alerts expected at each run follow from those figures by
the rules of the issue: each (budget, period, threshold) once, the highest step crossed, never a lower one after a
higher one, a period evaluated until 3 days after its end.

The sequence (cost report lagging 6 hours, usage lookback 1 day, cost lookback 2 days):

    R1 Sat 2026-11-28 09:00   November and week 48 well under way
    R2 Sun 2026-11-29 23:30   the week's last hour is still to come
    R3 Mon 2026-11-30 00:30   week boundary: week 48 complete but still evaluated; the weekly digest; Nov 29 estimated
    R4 Mon 2026-11-30 09:00   Nov 29 billed: a threshold crossed when the estimate turns billed; the digest is not sent again
    R5 Tue 2026-12-01 00:30   month boundary: November complete, still evaluated under its own key
    R6 Tue 2026-12-01 12:00   after the cost report revised Nov 29 (x3): November crosses 100%
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import boto3
import pyarrow as pa
import pytest

from support import backfill, incremental, ingest
from usage_lake import words
from usage_lake.alerts import Alerting, load_budgets
from usage_lake.alerts.messages import plain_usd
from usage_lake.alerts.publishers import SnsPublisher
from usage_lake.app.cli import main
from usage_lake.config.events import RunRequest
from usage_lake.config.settings import Settings
from usage_lake.errors import SettingsError
from usage_lake.lake import LocalLake
from usage_lake.lake.curated import parquet_bytes
from usage_lake.lake.layout import partition_key
from usage_lake.money import usd
from usage_lake.money.pricing import PriceTable
from usage_lake.simulator import SimulatedOrg, Simulator
from usage_lake.simulator.org import USAGE_FIELDS

LAG_HOURS = 6
USAGE_LOOKBACK, COST_LOOKBACK = 1, 2
RUNS = [datetime(2026, 11, 28, 9, 0, tzinfo=UTC), datetime(2026, 11, 29, 23, 30, tzinfo=UTC),
        datetime(2026, 11, 30, 0, 30, tzinfo=UTC), datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 0, 30, tzinfo=UTC), datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]
REVISED_DAY, REVISION = date(2026, 11, 29), 3  # the cost report revises Nov 29 before R6
BACKFILL = (date(2026, 11, 1), date(2026, 11, 28))
PRICES = PriceTable.load_default()
DIMS = ("workspace_id", "api_key_id", "model", "service_tier", "context_window", "inference_geo")
OPUS = "claude-opus-4-6"


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# -- the organization's names and labels, as the snapshot tables hold them ------------------------------------------

@dataclass(frozen=True)
class Org:
    """The small simulated org, with names and labels for its ids."""

    sim: SimulatedOrg
    growth: str  # workspace 1
    platform: str  # workspace 2
    keys: tuple[str, ...]

    @classmethod
    def of(cls, sim: SimulatedOrg) -> Org:
        return cls(sim, sim.workspace_ids[1], sim.workspace_ids[2], tuple(k for k in sim.api_key_ids if k is not None))

    def labels(self, day: date) -> list[tuple[str, str, str, str]]:
        """(entity_type, entity_id, key, value) in force on `day`: key 0 and the Platform workspace are project=search,
        key 3 (in Platform) is project=ads, over its workspace; from Nov 26 key 5 joins search. Platform is team=platform."""
        labels = [("api_key", self.keys[0], "project", "search"), ("workspace", self.platform, "project", "search"),
                  ("api_key", self.keys[3], "project", "ads"), ("workspace", self.platform, "team", "platform")]
        if day >= date(2026, 11, 26):
            labels.append(("api_key", self.keys[5], "project", "search"))
        return labels

    def label(self, day: date, key: str, workspace_id: str | None, api_key_id: str | None) -> str | None:
        """A usage row's label: its key's, else its workspace's."""
        found = {(t, i): v for t, i, k, v in self.labels(day) if k == key}
        return found.get(("api_key", api_key_id), found.get(("workspace", workspace_id)))

    def labels_file(self, folder, day: date) -> str:
        """A LABELS file with the labels in force on `day` (a run writes its day's `labels` from it and the workspaces' tags)."""
        path = folder / f"labels-{day}.json"
        rows = self.labels(day)
        path.write_text(json.dumps({
            "api_keys": {i: {k: v} for t, i, k, v in rows if t == "api_key"},
            "workspaces": {i: {k: v} for t, i, k, v in rows if t == "workspace" and k != "team"}}))  # team: a tag
        return str(path)

    def write_snapshots(self, lake) -> None:
        """The tables issue 9 adds, with the columns budgets read: workspaces, api_keys and labels (two label days)."""
        workspaces = pa.table({"id": [self.growth, self.platform], "name": ["Growth", "Platform"],
                               "tags": pa.array([[], [("team", "platform")]], pa.map_(pa.string(), pa.string()))})
        api_keys = pa.table({"id": list(self.keys), "name": [f"key-{n}" for n in range(len(self.keys))],
                             "workspace_id": [self.sim.streams[0].workspace_id] * len(self.keys)})
        lake.put(partition_key("workspaces", date(2026, 11, 1)), parquet_bytes(workspaces))
        lake.put(partition_key("api_keys", date(2026, 11, 1)), parquet_bytes(api_keys))
        for day in (date(2026, 11, 1), date(2026, 11, 26)):
            rows = self.labels(day)
            lake.put(partition_key("labels", day), parquet_bytes(pa.table({
                "entity_type": [r[0] for r in rows], "entity_id": [r[1] for r in rows], "key": [r[2] for r in rows],
                "value": [r[3] for r in rows], "source": ["file"] * len(rows)})))


# -- what the lake holds, modelled from the simulator's totals -------------------------------------------------------

@dataclass(frozen=True)
class UsageRow:
    dims: dict[str, str | None]
    counts: dict[str, int]

    @property
    def estimate(self) -> Decimal:
        """Tokens x list prices + web search, exactly (USD per million tokens)."""
        d = self.dims
        rates = PRICES.rates(d["model"], d["service_tier"], d["context_window"], d["inference_geo"])
        per_token = (rates.uncached_input, rates.cache_write_5m, rates.cache_write_1h, rates.cache_read, rates.output)
        tokens = sum((self.counts[f] * rate for f, rate in zip(USAGE_FIELDS[:5], per_token, strict=True)), Decimal(0))
        return tokens / 1_000_000 + self.searches * PRICES.web_search_per_request

    @property
    def searches(self) -> int:
        return self.counts["server_tool_use.web_search_requests"]

    @property
    def output(self) -> int:
        return self.counts["output_tokens"]


@dataclass
class Oracle:
    """The lake as the runs leave it: each day's usage as last read, each billed day as last billed."""

    org: Org
    usage: dict[date, list[UsageRow]] = field(default_factory=dict)
    billed: dict[date, list[tuple[dict[str, str | None], Decimal]]] = field(default_factory=dict)

    def read_usage(self, day: date, now: datetime) -> None:
        end = min(midnight(day + timedelta(days=1)), now)
        totals = self.org.sim.usage_totals_by(midnight(day), end, DIMS)
        if totals:  # a day with no ended bucket writes nothing (and keeps what it had)
            self.usage[day] = [UsageRow(dict(zip(DIMS, key, strict=True)), counts) for key, counts in totals.items()]

    def read_cost(self, day: date, now: datetime) -> None:
        if now >= midnight(day + timedelta(days=1)) + timedelta(hours=LAG_HOURS):  # billed once the day is over + the lag
            dims = ("workspace_id", "model", "service_tier", "inference_geo")
            totals = self.org.sim.cost_totals_by(midnight(day), midnight(day + timedelta(days=1)), dims)
            self.billed[day] = [(dict(zip(dims, key, strict=True)), cents / 100) for key, cents in totals.items()]

    def backfill(self, start: date, end: date, now: datetime) -> None:
        for n in range((end - start).days):
            self.read_usage(start + timedelta(days=n), now)
            self.read_cost(start + timedelta(days=n), now)

    def incremental(self, now: datetime) -> None:
        today = now.date()
        for back in range(USAGE_LOOKBACK, -1, -1):
            self.read_usage(today - timedelta(days=back), now)
        for back in range(COST_LOOKBACK, 0, -1):
            self.read_cost(today - timedelta(days=back), now)


# -- the budgets under test, each with its figure computed from the oracle ------------------------------------------

UsageScope = Callable[[date, UsageRow], bool]
CostScope = Callable[[date, dict], bool]


@dataclass
class Spec:
    name: str
    period: str
    measure: str
    scope: dict
    thresholds: list[int]
    forecast: bool
    in_usage: UsageScope
    in_cost: CostScope | None  # None: the cost report cannot bill the scope
    token_lines_only: bool = False
    amount: Decimal = Decimal(0)

    def entry(self) -> dict:
        return {"name": self.name, "period": self.period, "measure": self.measure, "amount": str(self.amount),
                "thresholds": self.thresholds, "forecast": self.forecast, "scope": self.scope or "all"}

    def day_figure(self, lake: Oracle, day: date) -> Decimal:
        rows = [r for r in lake.usage.get(day, []) if self.in_usage(day, r)]
        if self.measure == "output_tokens":
            return Decimal(sum(r.output for r in rows))
        if self.measure == "estimated_cost":
            return sum((r.estimate for r in rows), Decimal(0))
        comparable = sum((r.estimate - (r.searches * PRICES.web_search_per_request if self.token_lines_only else 0)
                          for r in rows if r.dims["service_tier"] != "priority"), Decimal(0))
        billed = None
        if self.in_cost is not None and day in lake.billed:
            billed = sum((usd for dims, usd in lake.billed[day] if self.in_cost(day, dims)), Decimal(0))
        if self.measure == "billed_cost":
            return billed or Decimal(0)
        return billed if billed is not None else comparable

    def figure(self, lake: Oracle, span: tuple[date, date], now: datetime) -> Decimal:
        through = min(span[1] - timedelta(days=1), now.date())
        return sum((self.day_figure(lake, span[0] + timedelta(days=n)) for n in range((through - span[0]).days + 1)), Decimal(0))

    def forecast_of(self, lake: Oracle, span: tuple[date, date], now: datetime) -> Decimal | None:
        """The straight line to the period's end (shown for every weekly and monthly budget; alerted with `forecast`)."""
        whole, after, days = (now.date() - span[0]).days, {"weekly": 3, "monthly": 5}.get(self.period), (span[1] - span[0]).days
        if after is None or now.date() >= span[1]:
            return None
        if self.measure == "billed_cost":  # whole billed days
            billed = [d for d in lake.billed if span[0] <= d <= now.date()]
            return self.figure(lake, span, now) / len(billed) * days if len(billed) >= after else None
        if whole < after:
            return None
        return self.figure(lake, span, now) / (whole + Decimal(max(now.hour * 60 + now.minute, 60)) / 1440) * days


def span_of(period: str, day: date) -> tuple[date, date]:
    if period == "daily":
        return day, day + timedelta(days=1)
    if period == "weekly":
        return day - timedelta(days=day.weekday()), day - timedelta(days=day.weekday()) + timedelta(days=7)
    first = day.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1)


def open_spans(period: str, now: datetime) -> list[tuple[date, date]]:
    """The period of today, and the ones that ended less than 3 days ago."""
    spans = [span_of(period, now.date())]
    while now < midnight(spans[0][0]) + timedelta(days=3):
        before = span_of(period, spans[0][0] - timedelta(days=1))
        if now >= midnight(before[1]) + timedelta(days=3):
            break
        spans.insert(0, before)
    return spans


def period_id(period: str, span: tuple[date, date]) -> str:
    if period == "daily":
        return span[0].isoformat()
    if period == "weekly":
        year, week, _ = span[0].isocalendar()
        return f"{year}-W{week:02d}"
    return f"{span[0]:%Y-%m}"


def rule_key(key: str) -> str:
    """An alert key without the digest of a scoped budget's scope (`-s1a2b3c4d`: a changed scope is a new rule)."""
    return re.sub(r"-s[0-9a-f]{8}$", "", key)


def tag(value: Decimal) -> str:
    return format(value.normalize(), "f")


def specs(org: Org) -> list[Spec]:
    def family(model: str) -> str:
        return model.rsplit("-", 1)[0] if model[-8:].isdigit() else model

    return [
        Spec("org-monthly", "monthly", "cost", {}, [50, 80, 100], True, lambda d, r: True, lambda d, c: True),
        Spec("org-forecast", "monthly", "cost", {}, [100], True, lambda d, r: True, lambda d, c: True),
        Spec("growth-daily", "daily", "cost", {"workspace": ["Growth"]}, [100], False,
             lambda d, r: r.dims["workspace_id"] == org.growth, lambda d, c: c["workspace_id"] == org.growth),
        Spec("opus-weekly-output", "weekly", "output_tokens", {"model": [OPUS]}, [50, 100], True,
             lambda d, r: family(r.dims["model"]) == OPUS, None),
        Spec("search-project", "monthly", "cost", {"label:project": ["search"]}, [100], False,
             lambda d, r: org.label(d, "project", r.dims["workspace_id"], r.dims["api_key_id"]) == "search", None),
        Spec("platform-weekly-billed", "weekly", "billed_cost", {"label:team": ["platform"]}, [100], False,
             lambda d, r: org.label(d, "team", r.dims["workspace_id"], r.dims["api_key_id"]) == "platform",
             lambda d, c: c["workspace_id"] == org.platform),
    ]


def timeline(org: Org) -> list[Oracle]:
    """The oracle after each run (a fresh org of the same seed, revised before R6 as the simulator's will be)."""
    lake = Oracle(org)
    lake.backfill(*BACKFILL, RUNS[0])
    states = []
    for n, now in enumerate(RUNS):
        if n == 5:
            org.sim.adjust(REVISED_DAY, REVISION)
        lake.incremental(now)
        states.append(Oracle(org, dict(lake.usage), dict(lake.billed)))
    return states


def between(low: Decimal, high: Decimal, *, whole: bool = False) -> Decimal:
    """A round amount strictly above `low` and at or below `high`."""
    assert low < high, (low, high)
    middle = (low + high) / 2
    amount = middle.quantize(Decimal(1) if whole else Decimal("0.01"))
    assert low < amount <= high, (low, amount, high)
    return amount


# -- the sequence --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """The oracle's timeline, the budgets' amounts chosen from it, and the BUDGETS file."""
    tmp_path = tmp_path_factory.mktemp("budgets")
    org = Org.of(SimulatedOrg.small())
    states = timeline(Org.of(SimulatedOrg.small()))
    budgets = {s.name: s for s in specs(org)}
    nov, w48 = span_of("monthly", date(2026, 11, 1)), span_of("weekly", date(2026, 11, 23))
    # org-monthly: 80% at R1; 100% only when the cost report revises Nov 29 (R6)
    monthly = budgets["org-monthly"]
    monthly.amount = between(monthly.figure(states[4], nov, RUNS[4]), monthly.figure(states[5], nov, RUNS[5]))
    # org-forecast: the straight line passes it at R1, the month itself later
    forecast = budgets["org-forecast"]
    forecast_r1 = forecast.forecast_of(states[0], nov, RUNS[0])
    assert forecast_r1 is not None
    forecast.amount = between(forecast.figure(states[0], nov, RUNS[0]), forecast_r1)
    # growth-daily: Nov 29 is under it on its estimate (R3) and over it once billed (R4): code execution is billed to Growth
    growth = budgets["growth-daily"]
    growth.amount = between(growth.day_figure(states[2], REVISED_DAY), growth.day_figure(states[3], REVISED_DAY))
    # opus-weekly-output: week 48 reaches 100% with its last hour, seen after the week boundary (R3)
    opus = budgets["opus-weekly-output"]
    opus.amount = between(opus.figure(states[1], w48, RUNS[1]), opus.figure(states[2], w48, RUNS[2]), whole=True)
    # search-project: November reaches it with the evening of Nov 30, seen after the month boundary (R5)
    search = budgets["search-project"]
    search.amount = between(search.figure(states[3], nov, RUNS[3]), search.figure(states[4], nov, RUNS[4]))
    # platform-weekly-billed: week 48 reaches it when Nov 29 is billed (R4)
    platform = budgets["platform-weekly-billed"]
    platform.amount = between(platform.figure(states[2], w48, RUNS[2]), platform.figure(states[3], w48, RUNS[3]))
    path = tmp_path / "budgets.json"
    path.write_text(json.dumps({"budgets": [s.entry() for s in budgets.values()]}))
    return org, states, budgets, path


def expected_alerts(states: list[Oracle], budgets: dict[str, Spec]) -> list[dict[str, Decimal]]:
    """Per run, the keys the rules must send and their figures: the highest step crossed, above the levels sent before."""
    sent_levels: dict[str, Decimal] = {}
    per_run = []
    for lake, now in zip(states, RUNS, strict=True):
        expected = {}
        for spec in budgets.values():
            for span in open_spans(spec.period, now):
                prefix = f"budget/{spec.name}/{period_id(spec.period, span)}/{spec.measure}"
                figure = spec.figure(lake, span, now)
                crossed = [t for t in spec.thresholds if figure >= spec.amount * t / 100]
                if crossed and spec.amount * crossed[-1] / 100 > sent_levels.get(f"{prefix}/actual", Decimal(-1)):
                    sent_levels[f"{prefix}/actual"] = spec.amount * crossed[-1] / 100
                    expected[f"{prefix}/actual-{crossed[-1]}/a{tag(spec.amount)}"] = figure
                forecast = spec.forecast_of(lake, span, now) if spec.forecast else None
                if forecast is not None and forecast >= spec.amount and f"{prefix}/forecast" not in sent_levels:
                    sent_levels[f"{prefix}/forecast"] = spec.amount
                    expected[f"{prefix}/forecast-100/a{tag(spec.amount)}"] = forecast
        per_run.append(expected)
    return per_run


class Recorder:
    def __init__(self) -> None:
        self.alerts = []

    def publish(self, alert) -> str:
        self.alerts.append(alert)
        return f"message-{len(self.alerts)}"


@pytest.fixture(scope="module")
def sequence(scenario, tmp_path_factory):
    """The six runs, once for the module: what each sent, and a copy of the lake as R4 left it."""
    org, states, budgets, path = scenario
    lake = LocalLake(tmp_path_factory.mktemp("lake"))
    after_r4 = tmp_path_factory.mktemp("after-r4") / "lake"
    org.write_snapshots(lake)
    publisher = Recorder()
    settings = Settings(budgets=str(path), weekly_digest=True, usage_lookback_days=USAGE_LOOKBACK, cost_lookback_days=COST_LOOKBACK,
                        labels=org.labels_file(path.parent, RUNS[0].date()))  # the runs are all on or after Nov 26
    sent_per_run = []
    with Simulator(org.sim, now=RUNS[0], cost_lag_hours=LAG_HOURS) as sim:
        ingest(RunRequest(mode="backfill", start=BACKFILL[0], end=BACKFILL[1], now=RUNS[0], reports=("usage", "cost")), sim=sim, lake=lake)
        for n, now in enumerate(RUNS):
            sim.now = now
            if n == 5:
                org.sim.adjust(REVISED_DAY, REVISION)
            before = len(publisher.alerts)
            record = ingest(incremental(now), sim=sim, lake=lake, settings=replace(settings, base_url=sim.base_url),
                            publisher=publisher)
            assert record.outcome == "succeeded", record.notes
            sent_per_run.append(publisher.alerts[before:])
            if n == 3:
                shutil.copytree(lake.root, after_r4)
    return sent_per_run, LocalLake(after_r4)


def test_a_pinned_sequence_of_runs_sends_exactly_the_expected_alerts_once(scenario, sequence):
    org, states, budgets, path = scenario
    sent_per_run, _ = sequence
    expected = expected_alerts(states, budgets)
    for n, (sent, wanted) in enumerate(zip(sent_per_run, expected, strict=True)):
        budget_alerts = {rule_key(a.key): Decimal(a.document["figure"]) for a in sent if a.kind == "budget"}
        assert budget_alerts == wanted, f"run R{n + 1} at {RUNS[n]}"
    # the scenario's milestones, each at the run the issue describes
    keys = [{rule_key(a.key) for a in sent} for sent in sent_per_run]
    org_monthly, growth, opus = budgets["org-monthly"], budgets["growth-daily"], budgets["opus-weekly-output"]
    search, platform = budgets["search-project"], budgets["platform-weekly-billed"]
    forecast = budgets["org-forecast"]
    assert {f"budget/org-monthly/2026-11/cost/actual-80/a{tag(org_monthly.amount)}",
            f"budget/org-forecast/2026-11/cost/forecast-100/a{tag(forecast.amount)}"} <= keys[0]
    assert f"budget/org-forecast/2026-11/cost/actual-100/a{tag(forecast.amount)}" in set().union(*keys[1:])
    assert f"budget/org-monthly/2026-11/cost/actual-100/a{tag(org_monthly.amount)}" in keys[5]  # the billed revision
    assert f"budget/growth-daily/2026-11-29/cost/actual-100/a{tag(growth.amount)}" in keys[3]  # estimated, then billed
    assert f"budget/opus-weekly-output/2026-W48/output_tokens/actual-100/a{tag(opus.amount)}" in keys[2]  # week boundary
    assert f"budget/search-project/2026-11/cost/actual-100/a{tag(search.amount)}" in keys[4]  # month boundary, a label scope
    assert f"budget/platform-weekly-billed/2026-W48/billed_cost/actual-100/a{tag(platform.amount)}" in keys[3]
    assert sum(len(k) for k in keys) == len(set().union(*keys))  # nothing twice
    # the digest: the first run of the Monday, once
    digests = [[a for a in sent if a.kind == "digest"] for sent in sent_per_run]
    assert [len(d) for d in digests] == [0, 0, 1, 0, 0, 0]
    (digest,) = digests[2]
    assert digest.key == "digest/2026-W48" and digest.budget == "weekly-digest"
    week = [date(2026, 11, 23) + timedelta(days=n) for n in range(7)]
    lake_at_r3 = states[2]
    billed = sum((usd for d in week if d in lake_at_r3.billed for _, usd in lake_at_r3.billed[d]), Decimal(0))
    estimated = sum((r.estimate for d in week for r in lake_at_r3.usage[d]), Decimal(0))
    assert Decimal(digest.document["this_week"]["billed"]) == billed and digest.document["this_week"]["billed_days"] == "6"
    assert Decimal(digest.document["this_week"]["estimated"]) == estimated
    assert digest.document["gaps"] == ["2026-11-29: not billed"]
    assert {row["budget"] for row in digest.document["budgets"]} == set(budgets)

    # every message says budget, scope, measure, basis, figure, amount, %, contributors and a query
    (search_alert,) = [a for a in sent_per_run[4] if a.budget == "search-project"]
    assert search_alert.scope == "label:project=search" and search_alert.basis == "estimated"
    assert "Basis: estimated - the cost report has no per-key cost" in search_alert.text
    assert "Top API keys in the scope:" in search_alert.text and "key-0" in search_alert.text
    assert search_alert.document["period_id"] == "2026-11" and search_alert.document["ended"] is True
    figure = states[4].usage and search.figure(states[4], span_of("monthly", date(2026, 11, 1)), RUNS[4])
    assert Decimal(search_alert.document["figure_usd"]) == figure
    assert search_alert.subject == (f"Anthropic budget search-project: {usd(figure)} of {plain_usd(search.amount)} in November 2026 "
                                    f"({int(figure * 100 / search.amount)}%, 100% threshold)")
    (platform_alert,) = [a for a in sent_per_run[3] if a.budget == "platform-weekly-billed"]
    assert platform_alert.basis == "billed" and f"workspace_id IN ('{org.platform}')" in platform_alert.text
    assert "FROM \"anthropic_usage\".cost_report WHERE dt BETWEEN '2026-11-23' AND '2026-11-29'" in platform_alert.text


def test_status_lists_every_budget_with_figures_forecasts_and_what_was_sent(scenario, sequence, monkeypatch, capsys):
    """After R4: `usage-lake alerts --json` and the text view, each figure equal to the oracle's."""
    org, states, budgets, path = scenario
    _, lake = sequence

    import usage_lake.app.cli as cli

    monkeypatch.setenv("BUDGETS", str(path))
    monkeypatch.setattr(cli, "datetime", type("FixedClock", (), {"now": staticmethod(lambda tz=None: RUNS[3])}))
    assert main(["alerts", "--lake", str(lake.root), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    now = RUNS[3]
    wanted = [(s.name, period_id(s.period, span), s.figure(states[3], span, now), s.forecast_of(states[3], span, now))
              for s in budgets.values() for span in open_spans(s.period, now)]
    assert [(r["budget"], r["period_id"], Decimal(r["figure"])) for r in rows] == [(n, p, f) for n, p, f, _ in wanted]
    forecasts = {(n, p): f for n, p, _, f in wanted}
    for row in rows:
        forecast = forecasts[(row["budget"], row["period_id"])]
        assert row["forecast"] == (None if forecast is None else str(forecast.quantize(Decimal("0.01"))))
        assert Decimal(row["percent"]) == (Decimal(row["figure"]) * 100 / Decimal(row["amount"])).quantize(Decimal("0.01"))
    growth_29 = next(r for r in rows if r["budget"] == "growth-daily" and r["period_id"] == "2026-11-29")
    assert [rule_key(s["key"]) for s in growth_29["sent"]] == [f"budget/growth-daily/2026-11-29/cost/actual-100/a{tag(budgets['growth-daily'].amount)}"]
    assert growth_29["would_fire"] == [] and growth_29["basis"] == "cost" and growth_29["billed_days"] == 1
    search = next(r for r in rows if r["budget"] == "search-project")
    assert search["basis"] == "estimated" and search["sent"] == []

    assert main(["alerts", "--lake", str(lake.root)]) == 0
    text = capsys.readouterr().out
    assert "Budgets (each open period):" in text
    assert any(line.startswith("growth-daily") and "2026-11-29" in line for line in text.splitlines())


# -- every measure and scope against the simulator, at one moment ---------------------------------------------------

def test_every_measure_and_scope_equals_the_simulators_totals(tmp_path):
    """One lake (Nov 20-23 backfilled, 23rd so far), budgets of each measure and scope kind, figures to the unit."""
    sim_org = SimulatedOrg.small()
    org = Org.of(sim_org)
    now = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    lake = LocalLake(tmp_path / "lake")
    org.write_snapshots(lake)
    oracle = Oracle(org)
    with Simulator(sim_org, now=now, cost_lag_hours=LAG_HOURS) as sim:
        ingest(backfill(date(2026, 11, 20), date(2026, 11, 24)), sim=sim, lake=lake,
               settings=Settings(base_url=sim.base_url, labels=org.labels_file(tmp_path, now.date())))
    oracle.backfill(date(2026, 11, 20), date(2026, 11, 24), now)
    assert set(oracle.billed) == {date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)}  # the 22nd billed at 06:00

    def usage_total(measure: str, keep: UsageScope) -> Decimal:
        rows = [(d, r) for d in oracle.usage for r in oracle.usage[d] if d == now.date() and keep(d, r)]
        fields = {"input_tokens": USAGE_FIELDS[:4], "output_tokens": ("output_tokens",), "total_tokens": USAGE_FIELDS[:5],
                  "web_search_requests": ("server_tool_use.web_search_requests",)}
        if measure == "estimated_cost":
            return sum((r.estimate for _, r in rows), Decimal(0))
        return Decimal(sum(r.counts[f] for _, r in rows for f in fields[measure]))

    sonnet = "claude-sonnet-4-5"
    cases = [  # (scope, measure, the oracle's figure for today, 2026-11-23 so far)
        ({"model": [sonnet]}, "estimated_cost", usage_total("estimated_cost", lambda d, r: r.dims["model"].startswith(sonnet + "-"))),
        ({"service_tier": ["batch"]}, "input_tokens", usage_total("input_tokens", lambda d, r: r.dims["service_tier"] == "batch")),
        ({"inference_geo": ["us"]}, "output_tokens", usage_total("output_tokens", lambda d, r: r.dims["inference_geo"] == "us")),
        ({"api_key": ["key-1"]}, "total_tokens", usage_total("total_tokens", lambda d, r: r.dims["api_key_id"] == org.keys[1])),
        ({"api_key_id": [org.keys[2]]}, "web_search_requests",
         usage_total("web_search_requests", lambda d, r: r.dims["api_key_id"] == org.keys[2])),
        ({"workspace_id": ["default"]}, "estimated_cost", usage_total("estimated_cost", lambda d, r: r.dims["workspace_id"] is None)),
    ]
    budgets = [{"name": f"b{n}", "period": "daily", "amount": "1", "measure": measure, "scope": scope}
               for n, (scope, measure, _) in enumerate(cases)]
    # cost measures over the week so far: billed days billed in the scope, the others at the comparable estimate
    spec_cases = [
        Spec("ws-cost", "weekly", "cost", {"workspace_id": [org.platform]}, [100], False,
             lambda d, r: r.dims["workspace_id"] == org.platform, lambda d, c: c["workspace_id"] == org.platform),
        Spec("opus-cost", "weekly", "cost", {"model": [OPUS]}, [100], False, lambda d, r: r.dims["model"] == OPUS,
             lambda d, c: c["model"] == OPUS, token_lines_only=True),
        Spec("key-cost", "weekly", "cost", {"api_key_id": [org.keys[0], org.keys[4]]}, [100], False,
             lambda d, r: r.dims["api_key_id"] in (org.keys[0], org.keys[4]), None),
        Spec("growth-billed", "weekly", "billed_cost", {"workspace": ["Growth"]}, [100], False,
             lambda d, r: r.dims["workspace_id"] == org.growth, lambda d, c: c["workspace_id"] == org.growth),
        Spec("ads-estimated", "weekly", "estimated_cost", {"label:project": ["ads"]}, [100], False,
             lambda d, r: org.label(d, "project", r.dims["workspace_id"], r.dims["api_key_id"]) == "ads", None),
    ]
    for spec in spec_cases:
        spec.amount = Decimal(1)
        budgets.append(spec.entry())
    path = tmp_path / "budgets.json"
    path.write_text(json.dumps({"budgets": budgets}))
    alerting = Alerting(lake, Settings(budgets=str(path)), Recorder(), run_id="status", clock=lambda: now)
    rows = {(r["budget"], r["period_id"]): r for r in alerting.budget_rows(now)}

    for n, (_, measure, figure) in enumerate(cases):
        assert Decimal(rows[(f"b{n}", "2026-11-23")]["figure"]) == figure, cases[n]
        assert figure > 0
    week = span_of("weekly", now.date())  # Nov 23 is a Monday: the week so far is today
    last_week = span_of("weekly", date(2026, 11, 16))
    for spec in spec_cases:
        for span, pid in ((week, "2026-W48"), (last_week, "2026-W47")):
            if (spec.name, pid) in rows:
                got = Decimal(rows[(spec.name, pid)]["figure"])
                days = [d for d in (span[0] + timedelta(days=i) for i in range(7)) if d in oracle.usage or d in oracle.billed]
                assert got == sum((spec.day_figure(oracle, d) for d in days if d <= now.date()), Decimal(0)), (spec.name, pid)
    # the model scope leaves web search out on both sides: billed Opus lines equal the estimate without searches
    opus = spec_cases[1]
    day = date(2026, 11, 22)
    billed = sum((usd for dims, usd in oracle.billed[day] if dims["model"] == OPUS), Decimal(0))
    assert billed == sum((r.estimate - r.searches * PRICES.web_search_per_request for r in oracle.usage[day]
                          if r.dims["model"] == OPUS and r.dims["service_tier"] != "priority"), Decimal(0))
    assert rows[("key-cost", "2026-W48")]["basis"] == "estimated" and rows[("ws-cost", "2026-W48")]["basis"] == "cost"
    assert rows[("growth-billed", "2026-W47")]["billed_days"] == 3 and opus.name == "opus-cost"


# -- SNS: a team's filter policy receives only its budgets ----------------------------------------------------------

def test_a_filter_policy_on_budget_receives_only_those_budgets(aws, tmp_path):
    sim_org = SimulatedOrg.small()
    org = Org.of(sim_org)
    now = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    lake = LocalLake(tmp_path / "lake")
    org.write_snapshots(lake)
    with Simulator(sim_org, now=now) as sim:
        ingest(backfill(date(2026, 11, 20), date(2026, 11, 24)), sim=sim, lake=lake,
               settings=Settings(base_url=sim.base_url, labels=org.labels_file(tmp_path, now.date())))
    path = tmp_path / "budgets.json"
    path.write_text(json.dumps({"budgets": [
        {"name": "growth-daily", "period": "daily", "amount": "1", "scope": {"workspace": ["Growth"]}},
        {"name": "platform-daily", "period": "daily", "amount": "1", "scope": {"workspace_id": [org.platform]}},
        {"name": "org-weekly", "period": "weekly", "amount": "10", "measure": "estimated_cost"},
    ]}))
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="usage-lake-alerts")["TopicArn"]
    queues = {}
    for name, policy in (("growth-team", {"budget": ["growth-daily"]}), ("finops", {"budget": ["org-weekly", "platform-daily"]}),
                         ("everything", None)):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes = {"FilterPolicy": json.dumps(policy)} if policy else {}
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        queues[name] = url

    alerting = Alerting(lake, Settings(budgets=str(path)), SnsPublisher(topic), run_id="r", clock=lambda: now)
    delivery = alerting.deliver(alerting.evaluate([], now))

    def budgets_in(queue: str) -> list[tuple[str, str]]:
        got = []
        while batch := sqs.receive_message(QueueUrl=queues[queue], MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", []):
            for message in batch:
                body = json.loads(message["Body"])
                got.append((body["MessageAttributes"]["budget"]["Value"], json.loads(body["Message"])["key"]))
                sqs.delete_message(QueueUrl=queues[queue], ReceiptHandle=message["ReceiptHandle"])
        return sorted(got)

    everything = budgets_in("everything")
    assert sorted(k for _, k in everything) == sorted(delivery.sent) and len(everything) == 4 + 4 + 2  # 4 open days x 2, 2 weeks
    assert budgets_in("growth-team") == [(b, k) for b, k in everything if b == "growth-daily"]
    assert budgets_in("finops") == [(b, k) for b, k in everything if b in ("org-weekly", "platform-daily")]


# -- the file: refused when malformed; names resolved when evaluated, never stopping a run ---------------------------

def test_names_resolve_through_the_snapshots_and_a_budget_that_cannot_be_evaluated_says_why(tmp_path):
    org = Org.of(SimulatedOrg.small())
    lake = LocalLake(tmp_path / "lake")
    path = tmp_path / "budgets.json"
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)

    def row(scope: dict, measure: str = "cost") -> dict:
        path.write_text(json.dumps({"budgets": [{"name": "team", "period": "daily", "amount": "5", "measure": measure, "scope": scope}]}))
        settings = Settings(budgets=str(path))
        alerting = Alerting(lake, settings, Recorder(), run_id="t", clock=lambda: now, budgets=load_budgets(settings))
        return [r for r in alerting.budget_rows(now) if r["budget"] == "team"][-1]

    assert row({"workspace": ["Nowhere"]})["error"] == (
        "cannot evaluate: BUDGETS: budget 'team': `scope.workspace` 'Nowhere' needs the workspaces snapshot to find its id, "
        "and the lake has none yet; use `workspace_id`")
    org.write_snapshots(lake)
    assert row({"workspace": ["growth"]})["error"] is None  # a name, any case
    assert row({"workspace": ["Nowhere"]})["error"] == (
        "cannot evaluate: BUDGETS: budget 'team': `scope.workspace` 'Nowhere' is no workspace name in any workspaces snapshot "
        "(known on 2026-11-23: Growth, Platform)")
    lake.put(partition_key("api_keys", date(2026, 11, 2)), parquet_bytes(pa.table({"id": list(org.keys[:2]), "name": ["prod", "prod"]})))
    assert row({"api_key": ["prod"]}, measure="estimated_cost")["error"] is None  # two keys share it (a rotation): both
    keyed = row({"label:project": ["search"]}, measure="billed_cost")  # a label keys carry: the estimate, and it says so
    assert (keyed["error"], keyed["basis"]) == (None, "estimated") and "no per-key cost" in keyed["basis_note"]
    assert row({"label:team": ["platform"]}, measure="billed_cost")["error"] is None  # a workspace label: the cost report bills it
    with pytest.raises(SettingsError, match="billed_cost cannot be scoped by `api_key_id`"):
        row({"api_key_id": [org.keys[0]]}, measure="billed_cost")  # malformed: refused in one line
    with pytest.raises(SettingsError, match=r"BUDGETS 'nowhere\.json' could not be read"):
        load_budgets(Settings(budgets="nowhere.json"))


def test_a_missing_or_malformed_budgets_file_does_not_stop_ingestion(aws, sim, monkeypatch):
    """The function ingests everything, then fails the budgets step by name (outcome partial, the run log) and sends
    one notice per version of the file; a good file alerts again."""
    from support import LAKE_BUCKET, FakeContext, deploy_env

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=LAKE_BUCKET)
    s3.create_bucket(Bucket="team-config")
    boto3.client("secretsmanager").create_secret(Name="anthropic/admin-api-key", SecretString=sim.admin_key)
    topic = boto3.client("sns").create_topic(Name="usage-lake-alerts")["TopicArn"]
    deploy_env(monkeypatch, base_url=sim.base_url, secret_id="anthropic/admin-api-key", bucket=LAKE_BUCKET, ALERT_TOPIC_ARN=topic,
               BUDGETS="s3://team-config/budgets.json")
    from handlers import ingest as handler_module

    def notices() -> list[str]:
        listed = s3.list_objects_v2(Bucket=LAKE_BUCKET, Prefix="alerts/sent/problem/BUDGETS/").get("Contents", [])
        return [o["Key"] for o in listed]

    def run(hour: int) -> dict:
        return handler_module.handler({"mode": "incremental", "now": f"2026-11-23T{hour}:30:00Z"}, FakeContext())

    summary = run(12)  # the file is missing
    assert summary["outcome"] == "partial" and summary["alerts_sent"] == 0 and len(notices()) == 1
    assert summary["alerts_failed"] == 1  # the AlertsFailed metric, which AlertsFailedAlarm watches
    assert s3.list_objects_v2(Bucket=LAKE_BUCKET, Prefix="usage_messages/")["KeyCount"] > 0  # the data is in
    s3.put_object(Bucket="team-config", Key="budgets.json", Body=json.dumps({"budgets": [
        {"name": "growth-weekly", "period": "fortnightly", "amount": "100"}]}).encode())
    for hour in (13, 14):  # malformed: a new version, told once
        summary = run(hour)
        assert summary["outcome"] == "partial" and len(notices()) == 2
    assert [e["report"] for e in summary["errors"]] == ["budgets"] and summary["days_written"] > 0
    assert any(n.startswith("budgets step failed: BUDGETS: budget 'growth-weekly'") for n in summary["notes"])
    assert summary["errors"][0]["error"].startswith("BUDGETS: budget 'growth-weekly': `period` must be one of daily, weekly, monthly ")

    s3.put_object(Bucket="team-config", Key="budgets.json", Body=json.dumps({"budgets": [
        {"name": "org-daily", "period": "daily", "amount": "1", "measure": "estimated_cost"}]}).encode())
    summary = run(15)
    assert summary["outcome"] == "succeeded" and summary["alerts_sent"] == 4  # today and the 3 days before, each over $1


def test_the_weekly_digest_compares_the_weeks_and_is_sent_once(tmp_path):
    """Monday 2026-11-30: week 48 against week 47, movers and cache hit rate from the simulator's totals; the
    Claude Code report when the lake has it; later runs of the Monday and a Tuesday send nothing."""
    sim_org = SimulatedOrg.small()
    org = Org.of(sim_org)
    monday = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    lake = LocalLake(tmp_path / "lake")
    org.write_snapshots(lake)
    with Simulator(sim_org, now=monday) as sim:
        ingest(RunRequest(mode="backfill", start=date(2026, 11, 16), end=date(2026, 11, 30), now=monday, reports=("usage", "cost")),
               sim=sim, lake=lake, settings=Settings(base_url=sim.base_url, labels=org.labels_file(tmp_path, monday.date())))
    oracle = Oracle(org)
    oracle.backfill(date(2026, 11, 16), date(2026, 11, 30), monday)
    code = pa.table({"date": [date(2026, 11, 24)] * 2, "actor_type": ["user_actor", "api_actor"],
                     "actor_email_address": ["ada@example.com", None], "actor_api_key_name": [None, "ci-bot"],
                     "num_sessions": [3, 5], "lines_added": [120, 40], "lines_removed": [30, 2], "commits": [2, 1],
                     "pull_requests": [1, 0]})
    lake.put(partition_key("claude_code_usage", date(2026, 11, 24)), parquet_bytes(code))
    publisher = Recorder()
    settings = Settings(weekly_digest=True)

    def run(now: datetime) -> list:
        alerting = Alerting(lake, settings, publisher, run_id=f"r{now:%d%H}", clock=lambda: now)
        return alerting.deliver(alerting.evaluate([], now)).sent

    assert run(monday) == ["digest/2026-W48"]
    assert run(monday + timedelta(hours=1)) == [] and run(monday + timedelta(days=1)) == []
    (digest,) = publisher.alerts
    weeks = {"this_week": date(2026, 11, 23), "week_before": date(2026, 11, 16)}
    for name, start in weeks.items():
        days = [start + timedelta(days=n) for n in range(7)]
        rows = [r for d in days for r in oracle.usage[d]]
        inputs = sum(r.counts[f] for r in rows for f in USAGE_FIELDS[:4])
        totals = digest.document[name]
        assert Decimal(totals["billed"]) == sum((usd for d in days for _, usd in oracle.billed[d]), Decimal(0))
        assert Decimal(totals["estimated"]) == sum((r.estimate for r in rows), Decimal(0)) and totals["billed_days"] == "7"
        assert (int(totals["cache_read_tokens"]), int(totals["input_tokens"])) == (sum(r.counts["cache_read_input_tokens"] for r in rows),
                                                                                   inputs)

    def by_model(start: date) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for d in (start + timedelta(days=n) for n in range(7)):
            for r in oracle.usage[d]:
                out[r.dims["model"]] = out.get(r.dims["model"], Decimal(0)) + r.estimate
        return out

    now_, then = by_model(weeks["this_week"]), by_model(weeks["week_before"])
    movers = sorted(((m, now_.get(m, Decimal(0)), then.get(m, Decimal(0))) for m in now_.keys() | then.keys()),
                    key=lambda c: (-abs(c[1] - c[2]), c[0]))[:5]
    assert [[m, Decimal(a), Decimal(b)] for m, a, b in digest.document["movers"]["models"]] == [[m, a, b] for m, a, b in movers]
    assert {label for label, _, _ in digest.document["movers"]["projects"]} == {"search", "ads", words.no_label("project")}
    assert digest.document["claude_code"] == {"days": 1, "num_sessions": 8, "lines_added": 160, "lines_removed": 32, "commits": 3,
                                              "pull_requests": 1, "users_and_keys": 2}
    assert "Claude Code: 1 days, 8 sessions, 160 lines added, 32 lines removed, 3 commits, 1 pull requests" in digest.text
    assert digest.document["gaps"] == [] and "Days with gaps: none" in digest.text
    assert digest.subject.startswith("Anthropic weekly digest 2026-W48: ")
