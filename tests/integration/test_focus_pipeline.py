"""The `focus` table on the simulator, through the real pipeline: billed cost to the last digit every day, tokens equal
to the usage report's, list prices equal to what the simulator bills, Priority Tier estimates behind the setting,
idempotent re-runs, rebuilds from raw, and a focus failure that never fails the run."""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pyarrow.compute as pc
import pytest

from support import NOW, backfill, days, ingest, midnight
from support.focus_rules import violations
from usage_lake.config.settings import Settings
from usage_lake.focus import focus_table
from usage_lake.ingest import rebuild_days
from usage_lake.lake import LocalLake, read_table
from usage_lake.lake.curated import DayAction
from usage_lake.simulator import SimulatedOrg, Simulator

FIRST, END = date(2026, 11, 15), date(2026, 11, 19)
COMBO = ("workspace_id", "model", "service_tier", "context_window", "inference_geo")
TOKEN_TYPES = ("uncached_input_tokens", "output_tokens", "cache_read_input_tokens",
               "cache_creation.ephemeral_5m_input_tokens", "cache_creation.ephemeral_1h_input_tokens")
RATE_OF = {"uncached_input_tokens": "uncached_input", "output_tokens": "output", "cache_read_input_tokens": "cache_read",
           "cache_creation.ephemeral_5m_input_tokens": "cache_write_5m", "cache_creation.ephemeral_1h_input_tokens": "cache_write_1h"}


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    org = SimulatedOrg.small()
    lake = LocalLake(tmp_path_factory.mktemp("focus") / "lake")
    with Simulator(org, now=NOW) as sim:
        record = ingest(backfill(FIRST, END), sim=sim, lake=lake,
                        settings=Settings(base_url=sim.base_url, focus_include_estimated_priority=True))
    assert record.outcome == "succeeded" and record.notes == []
    return org, lake


def rows(lake: LocalLake, basis: str | None = None) -> list[dict]:
    table = focus_table(lake, FIRST, END)
    if basis:
        table = table.filter(pc.equal(table.column("x_CostBasis"), basis))
    return table.to_pylist()


def test_billed_cost_is_the_cost_report_to_the_last_digit_every_day(filled):
    org, lake = filled
    billed = rows(lake, "billed")
    cost = read_table(lake, "cost_report")
    for day in days(FIRST, END):
        expected = org.cost_total_cents(midnight(day), midnight(day + timedelta(days=1))) / 100
        of_day = [r for r in billed if r["ChargePeriodStart"].date() == day]
        assert sum(r["BilledCost"] for r in of_day) == expected == pc.sum(
            cost.filter(pc.equal(cost.column("dt"), day.isoformat())).column("amount_usd")).as_py()
        assert len(of_day) == pc.sum(pc.equal(cost.column("dt"), day.isoformat())).as_py()
    assert len(billed) == cost.num_rows and sum(r["BilledCost"] for r in billed) > 100


def test_token_and_search_quantities_are_the_usage_reports(filled):
    org, lake = filled
    usage = org.usage_totals_by(midnight(FIRST), midnight(END), ("day", *COMBO))
    searches: dict[tuple, int] = defaultdict(int)
    for (day, workspace, _, tier, _, _), counters in usage.items():
        if tier != "priority":  # the cost report leaves Priority Tier out
            searches[(day, workspace)] += counters["server_tool_use.web_search_requests"]
    checked = defaultdict(int)
    for r in rows(lake, "billed"):
        day, workspace = r["ChargePeriodStart"].date().isoformat(), r["SubAccountId"]
        workspace = None if workspace == "default" else workspace
        if r["x_CostType"] == "tokens":
            key = (day, workspace, r["x_Model"], r["x_ServiceTier"], r["x_ContextWindow"], r["x_InferenceGeo"])
            assert r["ConsumedQuantity"] == usage[key][r["x_TokenType"]] == r["PricingQuantity"] * 1_000_000
        elif r["x_CostType"] == "web_search":
            assert r["ConsumedQuantity"] == searches[(day, workspace)] == r["PricingQuantity"] * 1000
        else:
            assert r["x_CostType"] == "code_execution" and r["ConsumedQuantity"] is None
        checked[r["x_CostType"]] += 1
    assert checked["tokens"] > 150 and checked["web_search"] > 5 and checked["code_execution"] >= 1


def test_list_cost_of_priced_rows_is_what_the_simulator_bills_at_list_price(filled):
    _, lake = filled
    priced = [r for r in rows(lake, "billed") if r["ListUnitPrice"] is not None]
    assert len(priced) == len([r for r in rows(lake, "billed") if r["x_CostType"] != "code_execution"])
    for r in priced:  # the simulator bills usage x the same price table, so list and billed agree to the digit
        assert r["ListCost"] == r["BilledCost"] == r["ListUnitPrice"] * r["PricingQuantity"]


def test_priority_tier_estimates_are_usage_at_list_price(filled):
    org, lake = filled
    estimated = rows(lake, "estimated")
    usage = org.usage_totals_by(midnight(FIRST), midnight(END), ("day", *COMBO))
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for (day, _, model, tier, window, geo), counters in usage.items():
        if tier == "priority":
            rates = org.prices.rates(model, tier, window, geo)
            assert rates is not None
            expected[day] += sum(counters[t] * getattr(rates, RATE_OF[t]) for t in TOKEN_TYPES) / 1_000_000
            expected[day] += counters["server_tool_use.web_search_requests"] * rates.web_search_per_request
    got: dict[str, Decimal] = defaultdict(Decimal)
    for r in estimated:
        got[r["ChargePeriodStart"].date().isoformat()] += r["BilledCost"]
        assert r["x_ServiceTier"] == "priority" and r["x_Source"] == "anthropic-admin-usage-report"
    assert dict(got) == dict(expected) and len(got) == 4


def test_the_spec_rules_hold_but_for_the_documented_exceptions(filled):
    _, lake = filled
    table = focus_table(lake, FIRST, END)
    code_execution = pc.sum(pc.equal(table.column("x_CostType"), "code_execution")).as_py()
    assert violations(table) == {  # the billing account is set: the back-fill read /v1/organizations/me
        "ConsumedQuantity: MUST NOT be null for Usage": code_execution,
        "PricingQuantity: MUST NOT be null for Usage": code_execution,
        "ListUnitPrice: MUST NOT be null for Usage": code_execution,
    }


def test_back_filled_focus_days_have_the_billing_account_and_workspace_names(filled, tmp_path):
    """A back-fill of days older than any snapshot (reports usage and cost only): the run takes the organization and
    workspaces snapshots the lake lacks, and the days before them are named by the earliest (the snapshot rule); a
    rebuild of days written without them fills them in."""
    org, lake = filled
    account = (org.directory.organization["id"], org.directory.organization["name"])
    names = {w["id"]: w["name"] for w in org.directory.workspaces} | {"default": "Default Workspace"}

    def named(table) -> None:
        assert {(r["BillingAccountId"], r["BillingAccountName"]) for r in table.to_pylist()} == {account}
        assert {(r["SubAccountId"], r["SubAccountName"]) for r in table.to_pylist()} == {
            (i, names[i]) for i in set(table.column("SubAccountId").to_pylist())}
        assert len(set(table.column("SubAccountId").to_pylist())) >= 3

    named(focus_table(lake, FIRST, END))
    copy = LocalLake(tmp_path / "lake")
    shutil.copytree(lake.root, copy.root)
    snapshots = {table: [(key, copy.get(key)) for key in copy.list(f"{table}/")] for table in ("organization", "workspaces")}
    for table in snapshots:
        shutil.rmtree(copy.root / table)
    rebuild_days(copy, reports=["cost"], start=FIRST, end=END, settings=Settings())
    bare = focus_table(copy, FIRST, END)
    assert set(bare.column("BillingAccountId").to_pylist()) == {None}  # what a lake without them held
    for stored in snapshots.values():
        for key, body in stored:
            copy.put(key, body)
    rebuild_days(copy, reports=["cost"], start=FIRST, end=END, settings=Settings())
    named(focus_table(copy, FIRST, END))


def test_rerun_replaces_the_days_and_rebuild_reproduces_them(filled, tmp_path):
    org, lake = filled
    copy = LocalLake(tmp_path / "lake")
    shutil.copytree(lake.root, copy.root)
    before = focus_table(copy, FIRST, END)
    with Simulator(org, now=NOW) as sim:
        ingest(backfill(FIRST, END), sim=sim, lake=copy, settings=Settings(base_url=sim.base_url, focus_include_estimated_priority=True))
    assert focus_table(copy, FIRST, END).equals(before)  # no duplicates, no drift
    for key in copy.list("focus/"):
        (copy.root / key).unlink()
    results = rebuild_days(copy, reports=["cost", "usage"], start=FIRST, end=END,
                           settings=Settings(focus_include_estimated_priority=True))
    assert [(r.report, r.day, r.action) for r in results if r.report == "focus"] == [
        ("focus", day, DayAction.WRITTEN) for day in days(FIRST, END)]
    assert focus_table(copy, FIRST, END).equals(before)  # built after usage too, though listed after cost


def test_without_the_setting_there_are_no_estimated_rows(org, sim, local_lake):
    record = ingest(backfill(FIRST, FIRST + timedelta(days=1)), sim=sim, lake=local_lake)
    table = focus_table(local_lake, FIRST, END)
    assert record.outcome == "succeeded"
    assert set(table.column("x_CostBasis").to_pylist()) == {"billed"}
    assert table.num_rows == read_table(local_lake, "cost_report").num_rows


def test_a_focus_failure_is_noted_and_never_fails_the_run(sim, local_lake, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("something unexpected")

    monkeypatch.setattr("usage_lake.ingest.derived.write_focus_day", broken)
    record = ingest(backfill(FIRST, FIRST + timedelta(days=1)), sim=sim, lake=local_lake)
    assert record.outcome == "succeeded"
    assert record.notes == [f"focus {FIRST}: not written: ValueError: something unexpected (`usage-lake rebuild` redoes it)"]
    assert local_lake.list("focus/") == [] and read_table(local_lake, "cost_report").num_rows > 0
