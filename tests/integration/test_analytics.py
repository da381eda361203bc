"""Issue 18: the Analytics API beside the legacy reports, and optional endpoints that are not available.

Everything over real HTTP against the simulator, whose analytics endpoints are built from the same hourly
counters as its legacy reports: a day's `analytics_cost` is the legacy cost day plus Priority Tier, to the cent.
"""

from __future__ import annotations

import gzip
import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import httpx
import pyarrow.compute as pc
import pytest
from support import NOW, backfill, incremental, ingest, midnight

from usage_lake.config.settings import Settings
from usage_lake.ingest.derived import billed_totals
from usage_lake.lake.curated import read_table
from usage_lake.simulator.analytics import ANALYTICS_BETA, requests_of

NOV = lambda d: date(2026, 11, d)  # noqa: E731
REPORTS = ("usage", "cost", "analytics_usage", "analytics_cost")


def _priority_cents(org, day: date) -> Decimal:
    """Priority Tier billed: tokens x the priority rates and web searches, per stream hour (what the legacy report leaves out)."""
    total = Decimal(0)
    for hour in range(24):
        start = int(midnight(day).timestamp()) + hour * 3600
        for s, counts in org.bucket_rows(start, "1h"):
            stream = org.streams[s]
            if stream.service_tier != "priority":
                continue
            rates = org.prices.rates(stream.model, "priority", stream.context_window, stream.inference_geo)
            for n, rate in zip(counts[:5], (rates.uncached_input, rates.cache_write_5m, rates.cache_write_1h, rates.cache_read, rates.output),
                               strict=True):
                total += n * rate / Decimal(10_000)
            total += counts[5] * org.prices.web_search_per_request * 100  # its web searches too
    return total


def test_analytics_cost_is_legacy_plus_priority_to_the_cent_and_per_key_sums_equal_the_day(sim, org, local_lake):
    record = ingest(backfill(NOV(10), NOV(13), REPORTS), sim=sim, lake=local_lake)

    assert record.outcome == "succeeded", record.notes
    cost = read_table(local_lake, "analytics_cost")
    usage = read_table(local_lake, "analytics_usage")
    for day in (NOV(10), NOV(11), NOV(12)):
        of_day = cost.filter(pc.equal(pc.cast(cost.column("bucket_start"), "date32"), day))
        legacy = org.cost_total_cents(midnight(day), midnight(day) + timedelta(days=1))
        priority = _priority_cents(org, day)
        assert priority > 0 and legacy > 0
        assert pc.sum(of_day.column("amount_cents")).as_py() == legacy + priority  # exact, not just to the cent
        per_key = of_day.group_by("api_key_id").aggregate([("amount_cents", "sum")])
        assert sum(per_key.column("amount_cents_sum").to_pylist()) == legacy + priority
        assert per_key.num_rows > 3  # billed per key: the legacy report cannot split cost this way
        assert billed_totals(local_lake, day) == (legacy / 100, legacy / 100, priority / 100)
        assert of_day.column("bucket_start").to_pylist()[0].hour == 0 and set(of_day.column("bucket_width").to_pylist()) == {"1h"}
    # requests: the simulator's exact count; tokens equal the legacy usage report's
    start, end = midnight(NOV(10)), midnight(NOV(13))
    expected_requests = sum(requests_of(c) for h in range(72) for _, c in org.bucket_rows(int(start.timestamp()) + h * 3600, "1h"))
    assert pc.sum(usage.column("requests")).as_py() == expected_requests
    assert pc.sum(usage.column("output_tokens")).as_py() == org.usage_totals(start, end)["output_tokens"]
    # no note of a difference: the two billed totals agree
    assert not [n for n in record.notes if n.startswith("reconcile")]
    # every query carried the beta header, asked in time order, one day at a time, and the raw pages are kept
    queries = [r for r in sim.requests if "/analytics/" in r.path]
    assert queries and all(("order_by", "time") in r.query and ("time_bucket_width", "1h") in r.query for r in queries)
    raw = [k for k in local_lake.list("raw/analytics_cost/")]
    assert len(raw) >= 3
    body = json.loads(gzip.decompress(local_lake.get(raw[0])))
    assert body["data"] and "group" in body["data"][0]


def test_a_drift_between_the_two_apis_is_noted_in_the_run_log(sim, org, local_lake):
    sim.analytics_drift = {NOV(11): Decimal("250")}  # $2.50 more in the Analytics API on Nov 11
    record = ingest(backfill(NOV(10), NOV(12), REPORTS), sim=sim, lake=local_lake)

    assert record.outcome == "succeeded"
    notes = [n for n in record.notes if n.startswith("reconcile")]
    assert len(notes) == 1 and notes[0].startswith("reconcile 2026-11-11:") and "$+2.50" in notes[0]
    legacy, analytics, _ = billed_totals(local_lake, NOV(11))
    assert analytics - legacy == Decimal("2.5")


def test_the_simulator_enforces_the_beta_rules(sim):
    url = sim.base_url + "/v1/organizations/analytics/cost"
    headers = {"x-api-key": sim.admin_key, "anthropic-version": "2023-06-01", "anthropic-beta": ANALYTICS_BETA}
    day = [("starting_at", "2026-11-10T00:00:00Z"), ("ending_at", "2026-11-11T00:00:00Z"), ("time_bucket_width", "1h")]

    def get(params, **extra):
        return httpx.get(url, params=params, headers={**headers, **extra})

    assert get(day, **{"anthropic-beta": ""}).status_code == 400
    assert get([("starting_at", "2025-12-31T00:00:00Z"), ("ending_at", "2026-01-02T00:00:00Z"), ("time_bucket_width", "1d")]).status_code == 400
    assert get([("starting_at", "2026-10-01T00:00:00Z"), ("ending_at", "2026-11-02T00:00:00Z"), ("time_bucket_width", "1d")]).status_code == 400
    ranked = get(day + [("group_by[]", "model"), ("limit", "1000")]).json()["data"]
    amounts = [Decimal(r["cost"]["amount"]) for r in ranked]
    assert amounts == sorted(amounts, reverse=True) and len({r["starting_at"] for r in ranked[:5]}) > 1  # ranked, not by time
    timed = get(day + [("group_by[]", "model"), ("limit", "1000"), ("order_by", "time"), ("order", "asc")]).json()["data"]
    assert [r["starting_at"] for r in timed] == sorted(r["starting_at"] for r in timed)


def test_a_key_that_cannot_read_the_optional_endpoints_gives_a_succeeded_run(sim, local_lake):
    sim.unavailable = {"claude_code", "/analytics/", "spend_limits", "rate_limits"}
    record = ingest(incremental(reports=()), sim=sim, lake=local_lake)

    assert record.outcome == "succeeded", record.errors
    assert set(record.unavailable) >= {"claude_code", "analytics_usage", "analytics_cost"}
    assert not record.errors
    summary = record.summary()
    assert summary["endpoints"]["claude_code"] == "unavailable" and summary["endpoints"]["usage"] == "ok"
    row = record.to_table().to_pylist()[0]
    assert {u["report"] for u in row["unavailable"]} == set(record.unavailable)
    # asked once per run, not once per day
    assert sum(1 for r in sim.requests if "claude_code" in r.path) == 1
    assert read_table(local_lake, "usage_messages").num_rows > 0


def test_a_transient_failure_of_an_optional_endpoint_still_makes_the_run_partial(sim, local_lake):
    from usage_lake.simulator import Fault

    sim.faults.add(Fault.status(500), times=100, path="/analytics/usage")
    record = ingest(incremental(now=NOW, reports=REPORTS), sim=sim, lake=local_lake)
    assert record.outcome == "partial"
    assert [e.report for e in record.errors] == ["analytics_usage"]


def test_analytics_off_asks_nothing(sim, local_lake):
    ingest(incremental(reports=()), sim=sim, lake=local_lake, settings=Settings(base_url=sim.base_url, analytics_api="off"))
    assert not [r for r in sim.requests if "/analytics/" in r.path]


def test_cli_run_exits_0_when_optional_endpoints_are_unavailable(sim, tmp_path, monkeypatch, capsys):
    from usage_lake.app.cli import main

    sim.unavailable = {"claude_code", "/analytics/", "spend_limits", "rate_limits"}
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", sim.admin_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sim.base_url)
    assert main(["run", "--lake", str(tmp_path / "lake"), "--now", "2026-11-23T14:30:00Z"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("when", [datetime(2026, 1, 2, 5, tzinfo=NOW.tzinfo)])
def test_days_before_the_floor_are_not_asked(org, local_lake, when):
    from usage_lake.simulator import Simulator

    with Simulator(org, now=when) as sim:
        record = ingest(incremental(now=when, reports=("analytics_usage", "analytics_cost")), sim=sim, lake=local_lake)
        assert record.outcome == "succeeded", record.errors
        starts = [dict(r.query)["starting_at"] for r in sim.requests if "/analytics/" in r.path]
        assert starts and min(starts) == "2026-01-01T00:00:00Z"


def test_spend_and_rate_limit_snapshots(sim, org, local_lake):
    record = ingest(incremental(reports=("workspaces", "spend_limits", "rate_limits")), sim=sim, lake=local_lake)

    assert record.outcome == "succeeded", record.errors
    caps = {r["id"]: r for r in read_table(local_lake, "spend_limits").to_pylist()}
    assert caps["spl_org"]["amount_usd"] == Decimal("50000") and caps["spl_org"]["scope_type"] == "organization"
    assert caps["spl_tier"]["scope_type"] == "usage_tier" and caps["spl_ws"]["workspace_id"] == org.workspace_ids[1]
    limits = read_table(local_lake, "rate_limits").to_pylist()
    assert len(limits) == 3 * (len(org.models) + 1)  # three limiters per model, and one workspace override
    override = [r for r in limits if r["workspace_id"]]
    assert {r["limit_type"]: r["limit_value"] for r in override}["output_tokens_per_minute"] == 40_000
    # the second run of the day takes neither again
    sim.clear_requests()
    ingest(incremental(reports=("workspaces", "spend_limits", "rate_limits")), sim=sim, lake=local_lake)
    assert not [r for r in sim.requests if "limits" in r.path]


def test_report_reconcile_shows_zero_then_the_drift_and_headroom_is_labelled_a_lower_bound(sim, org, tmp_path, capsys):
    from usage_lake.app.cli import main
    from usage_lake.lake import LocalLake

    lake = LocalLake(tmp_path / "lake")
    sim.analytics_drift = {NOV(21): Decimal("250")}
    assert ingest(backfill(NOV(20), NOV(23), REPORTS + ("workspaces", "rate_limits")), sim=sim, lake=lake).outcome == "succeeded"
    assert main(["report", "reconcile", "--lake", str(lake.root), "--start", "2026-11-20", "--end", "2026-11-23",
                 "--now", "2026-11-23T14:30:00Z", "--format", "json"]) == 0
    capsys.readouterr()
    from usage_lake.reporting import analytics_views
    from usage_lake.reporting.views import Window, open_for

    window = Window(NOV(20), NOV(23), NOV(23))
    with open_for(lake, window, tables=analytics_views.RECONCILE_TABLES) as db:
        view = analytics_views.reconcile(db, window)
    rows = view.table.to_pylist()
    differences = {(r["day"], r["model"]): r["analytics_minus_legacy"] for r in rows}
    assert {k: v for k, v in differences.items() if k[0] != NOV(21) and v != 0} == {}  # to the cent, and beyond
    drifted = [v for (day, _), v in differences.items() if day == NOV(21) and v]
    assert drifted == [Decimal("2.5")]
    assert any("1 day(s) whose two billed totals differ" in n and "2026-11-21" in n for n in view.notes)
    priority = sum(r["priority_billed_usd"] for r in rows if r["day"] == NOV(20))
    assert priority == _priority_cents(org, NOV(20)) / 100
    # headroom: the busiest hour / 60 against the simulator's limits, labelled a lower bound
    assert main(["report", "headroom", "--lake", str(lake.root), "--now", "2026-11-23T14:30:00Z"]) == 0
    out = capsys.readouterr().out
    assert "lower bound" in out and "2,000,000" in out


class Recorder:
    def __init__(self) -> None:
        self.alerts = []

    def publish(self, alert) -> str:
        self.alerts.append(alert)
        return f"message-{len(self.alerts)}"


@pytest.fixture
def november(sim, local_lake):
    """November 1 to 23 back-filled with the legacy reports and the Analytics API."""
    assert ingest(backfill(NOV(1), NOV(24), REPORTS), sim=sim, lake=local_lake).outcome == "succeeded"
    return local_lake


def test_cap_alerts_fire_once_at_80_and_95_percent_of_a_simulated_cap(sim, org, november):
    from usage_lake.alerts.caps import CAP_BUDGET, cap_figures
    from usage_lake.alerts.figures import Figures
    from usage_lake.simulator.limits import spend_limit

    lake, recorder = november, Recorder()

    def run_with_cap(cents: int | None) -> list:
        for key in lake.list("spend_limits/"):  # today's snapshot again: the simulator's caps changed
            (lake.root / key).unlink()
        sim.caps = [spend_limit("spl_org", cents, {"type": "organization"})]
        before = len(recorder.alerts)
        record = ingest(incremental(reports=("spend_limits",)), sim=sim, lake=lake, publisher=recorder)
        assert record.outcome == "succeeded", record.notes
        return recorder.alerts[before:]

    assert run_with_cap(None) == []  # no cap: nothing to measure
    assert run_with_cap(10**12) == []
    (figure,) = cap_figures(lake, Figures(lake), NOW)
    assert figure.priority_billed_usd > 0  # the cap counts Priority Tier, billed by the Analytics API
    value_cents = int(figure.value * 100)
    (alert,) = run_with_cap(value_cents * 100 // 85)  # 85 %
    assert alert.key == "cap/spl_org/2026-11/p80" and alert.budget == CAP_BUDGET and alert.scope == "organization"
    assert alert.document["figure_usd"] == str(figure.value)
    assert run_with_cap(value_cents * 100 // 85) == []  # once per cap, month and step
    (alert,) = run_with_cap(value_cents * 100 // 96)  # 96 %
    assert alert.key == "cap/spl_org/2026-11/p95" and alert.severity == "critical"
    assert run_with_cap(value_cents * 100 // 96) == [] and run_with_cap(value_cents * 100 // 85) == []


def test_cap_alerts_off_with_one_setting(sim, november):
    from usage_lake.simulator.limits import spend_limit

    sim.caps = [spend_limit("spl_org", 100, {"type": "organization"})]  # $1: far over
    recorder = Recorder()
    ingest(incremental(reports=("spend_limits",)), sim=sim, lake=november, publisher=recorder,
           settings=Settings(base_url=sim.base_url, cap_alert_percents=Settings.from_env({"CAP_ALERTS": "off"}).cap_alert_percents))
    assert recorder.alerts == []


def test_a_requests_budget_alerts_on_the_simulators_exact_request_count(sim, org, november, tmp_path):
    start, end = midnight(NOV(1)), NOW.replace(minute=0)
    exact = sum(requests_of(c) for h in range(int((end - start).total_seconds()) // 3600)
                for _, c in org.bucket_rows(int(start.timestamp()) + h * 3600, "1h"))
    budgets = tmp_path / "budgets.json"
    budgets.write_text(json.dumps({"budgets": [
        {"name": "requests-exact", "period": "monthly", "measure": "requests", "amount": str(exact), "thresholds": [100]},
        {"name": "requests-one-more", "period": "monthly", "measure": "requests", "amount": str(exact + 1), "thresholds": [100]},
    ]}))
    recorder = Recorder()
    ingest(incremental(reports=("analytics_usage",)), sim=sim, lake=november, publisher=recorder,
           settings=Settings(base_url=sim.base_url, budgets=str(budgets)))
    fired = [a for a in recorder.alerts if a.budget.startswith("requests")]
    assert [a.budget for a in fired] == ["requests-exact"]
    assert fired[0].document["figure"] == str(exact) and "API requests" in fired[0].text


def test_report_keys_uses_the_billed_per_key_cost_where_the_lake_has_it(sim, org, local_lake):
    from usage_lake.reporting import views

    assert ingest(backfill(NOV(10), NOV(12), REPORTS), sim=sim, lake=local_lake).outcome == "succeeded"
    window = views.Window(NOV(10), NOV(12), NOV(23))
    with views.open_for(local_lake, window, tables=views.TABLES_OF["keys"]) as db:
        view = views.keys(db, window)
    rows = view.table.to_pylist()
    cost = read_table(local_lake, "analytics_cost")
    expected = {}
    for r in cost.to_pylist():
        expected[(r["api_key_id"], r["workspace_id"])] = expected.get((r["api_key_id"], r["workspace_id"]), 0) + r["amount_usd"]
    shown = {(r["api_key_id"], r["workspace_id"]): r["billed_usd"] for r in rows if r["billed_usd"] is not None}
    assert shown == {k: v for k, v in expected.items() if k in shown} and len(shown) >= len(org.api_key_ids) - 1
    assert {r["basis"] for r in rows if r["billed_usd"] is not None} == {"billed (analytics)"}
    assert "billed (analytics)" in view.notes[0]


def test_a_key_scoped_cost_budget_is_measured_on_the_billed_per_key_cost(sim, org, november):
    from usage_lake.alerts.figures import ANALYTICS_BILLED, Figures
    from usage_lake.alerts.periods import span_of
    from usage_lake.config.budgets import Budget, Period

    assert ingest(incremental(reports=("usage",)), sim=sim, lake=november).outcome == "succeeded"  # today, estimated
    key = org.api_key_ids[0]
    budget = Budget("key", Period.MONTHLY, Decimal(1000), scope={"api_key_id": (key,)})
    figure = Figures(november).budget(budget, span_of(Period.MONTHLY, NOV(23)), NOW)

    cost = read_table(november, "analytics_cost").to_pylist()
    billed = sum(r["amount_usd"] for r in cost if r["api_key_id"] == key and r["service_tier"] != "priority")
    priority = sum(r["amount_usd"] for r in cost if r["api_key_id"] == key and r["service_tier"] == "priority")
    usage = read_table(november, "usage_messages", [NOV(23)]).to_pylist()
    today = sum(r["estimated_cost_usd"] for r in usage if r["api_key_id"] == key and r["service_tier"] != "priority")
    assert figure.basis == ANALYTICS_BILLED
    assert (figure.billed_days, figure.estimated_days) == (22, 1)
    assert figure.value == billed + today
    assert figure.priority_estimated_usd >= priority  # billed where billed (Nov 1-22), today's estimate beside it


def test_the_html_report_has_the_reconcile_and_headroom_sections(sim, november):
    from usage_lake.reporting.html import build_report, render_html

    ingest(incremental(reports=("workspaces", "rate_limits")), sim=sim, lake=november)
    report = build_report(november, today=NOV(23), days=7)
    names = [v.name for v in report.views]
    assert "reconcile" in names and "rate_limit_headroom" in names
    page = render_html(report)
    assert 'id="view-reconcile"' in page and "a lower bound" in page
    assert "Top API keys (billed (analytics))" in page
