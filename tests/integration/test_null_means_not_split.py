"""Issue 16 item 3: null means "not split", never a value. A cost report that leaves `inference_geo` null on its token
rows (2025-shaped: `SimulatedOrg.cost_inference_geo = False`) joins usage summed over geo: SUM(ConsumedQuantity) of a
day's token rows is the day's tokens outside Priority Tier on both shapes, and the list cost of a row summed over
geos prices each part at its own list price (the simulator bills exactly that)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pyarrow.compute as pc
import pytest

from support import NOW, backfill, days, ingest, midnight
from support.focus_rules import violations
from usage_lake import words
from usage_lake.alerts import Alerting
from usage_lake.config.settings import Settings
from usage_lake.focus import focus_table
from usage_lake.lake import LocalLake
from usage_lake.simulator import SimulatedOrg, Simulator

FIRST, END = date(2026, 11, 15), date(2026, 11, 18)
TOKEN_FIELDS = ("uncached_input_tokens", "cache_creation.ephemeral_5m_input_tokens", "cache_creation.ephemeral_1h_input_tokens",
                "cache_read_input_tokens", "output_tokens")


def fill(tmp_path_factory, geo: bool) -> tuple[SimulatedOrg, LocalLake, list[str]]:
    org = SimulatedOrg.small()
    org.cost_inference_geo = geo
    lake = LocalLake(tmp_path_factory.mktemp("geo" if geo else "nogeo") / "lake")
    with Simulator(org, now=NOW) as sim:
        record = ingest(backfill(FIRST, END), sim=sim, lake=lake,
                        settings=Settings(base_url=sim.base_url, focus_include_estimated_priority=True))
    assert record.outcome == "succeeded"
    return org, lake, record.notes


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return {"with geo": fill(tmp_path_factory, True), "without geo": fill(tmp_path_factory, False)}


def non_priority_tokens(org: SimulatedOrg) -> dict[str, int]:
    totals = org.usage_totals_by(midnight(FIRST), midnight(END), ("day", "service_tier"))
    out: dict[str, int] = defaultdict(int)
    for (day, tier), counters in totals.items():
        if tier != "priority":
            out[day] += sum(counters[f] for f in TOKEN_FIELDS)
    return dict(out)


@pytest.mark.parametrize("shape", ["with geo", "without geo"])
def test_sum_of_consumed_quantity_is_the_days_non_priority_tokens_on_both_cost_report_shapes(shapes, shape):
    org, lake, notes = shapes[shape]
    table = focus_table(lake, FIRST, END)
    billed = table.filter(pc.and_(pc.equal(table.column("x_CostBasis"), "billed"), pc.is_valid(table.column("x_TokenType"))))
    geos = set(billed.column("x_InferenceGeo").to_pylist())
    assert geos == ({None} if shape == "without geo" else {"us", "global", "not_available"})
    expected = non_priority_tokens(org)
    for day in days(FIRST, END):
        of_day = billed.filter(pc.equal(pc.cast(billed.column("ChargePeriodStart"), "date32"), day))
        assert of_day.num_rows > 20
        assert pc.sum(of_day.column("ConsumedQuantity")).as_py() == expected[day.isoformat()] > 1_000_000
        assert of_day.column("ConsumedQuantity").null_count == 0
    assert notes == []  # every token row matched: nothing unmatched to tell


def test_a_row_summed_over_geos_is_listed_at_each_parts_own_price(shapes):
    _, lake, _ = shapes["without geo"]
    table = focus_table(lake, FIRST, END)
    tokens = table.filter(pc.and_(pc.equal(table.column("x_CostBasis"), "billed"), pc.is_valid(table.column("x_TokenType"))))
    rows = tokens.to_pylist()
    # the simulator bills each part of a line at its own list price (US inference 1.1x): list = billed, to the digit
    assert all(r["ListUnitPrice"] is not None and r["ListCost"] == r["BilledCost"] for r in rows)
    # an Opus 4.6 line of the workspace that uses it from the US and globally: one row, an averaged unit price
    mixed = [r for r in rows if r["x_Model"] == "claude-opus-4-6" and r["x_ServiceTier"] == "standard"
             and r["ListUnitPrice"] * r["PricingQuantity"] != r["ListCost"]]
    assert mixed, "a line summed over US and global usage"
    for r in mixed:
        assert abs(r["ListUnitPrice"] * r["PricingQuantity"] - r["ListCost"]) < r["PricingQuantity"] * Decimal("1e-12")
    billed_total = sum(r["BilledCost"] for r in rows)
    with_geo = focus_table(shapes["with geo"][1], FIRST, END)
    with_geo = with_geo.filter(pc.and_(pc.equal(with_geo.column("x_CostBasis"), "billed"), pc.is_valid(with_geo.column("x_TokenType"))))
    assert billed_total == pc.sum(with_geo.column("ListCost")).as_py() == pc.sum(with_geo.column("BilledCost")).as_py()
    assert tokens.num_rows < with_geo.num_rows  # US and global lines are one line in the 2025 shape


def test_the_null_geo_lake_keeps_the_spec_rules(shapes):
    _, lake, _ = shapes["without geo"]
    table = focus_table(lake, FIRST, END)
    code_execution = pc.sum(pc.equal(table.column("x_CostType"), "code_execution")).as_py()
    found = violations(table)
    found.pop("ListCost: MUST be ListUnitPrice x PricingQuantity", None)  # averaged unit prices: within 1e-12 (above)
    assert found == {  # the billing account is set: the back-fill read /v1/organizations/me (issue 16 item 4)
        "ConsumedQuantity: MUST NOT be null for Usage": code_execution,
        "PricingQuantity: MUST NOT be null for Usage": code_execution,
        "ListUnitPrice: MUST NOT be null for Usage": code_execution,
    }


def test_a_cost_row_key_that_matches_nothing_is_told_once_per_run(tmp_path):
    """Cost days fetched before their usage: every token row matches nothing. One note for the run names the keys and
    the days, and one names the days without a usage partition: not a warning per day."""
    org = SimulatedOrg.small()
    lake = LocalLake(tmp_path / "lake")
    with Simulator(org, now=NOW) as sim:
        record = ingest(backfill(FIRST, END, reports=("cost",)), sim=sim, lake=lake, settings=Settings(base_url=sim.base_url))
    assert record.outcome == "succeeded"
    unmatched = [n for n in record.notes if "match no usage" in n]
    missing = [n for n in record.notes if "usage_messages" in n]
    assert len(unmatched) == len(missing) == 1 and len(record.notes) == 2
    assert unmatched[0].startswith("focus: ") and f"(3 days, {FIRST}..{END - timedelta(days=1)})" in unmatched[0]
    assert f"; {words.DEFAULT_WORKSPACE} / claude-3-haiku-20240307 / standard / 0-200k / not_available / output_tokens (3x);" in unmatched[0]
    assert unmatched[0].startswith("focus: 270 token row(s) of the cost report") and unmatched[0].endswith("; and 80 more key(s)")
    assert missing[0] == f"focus: no usage_messages partition for 3 day(s) ({FIRST}..{END - timedelta(days=1)}): their token rows have no quantities"


RATE_OF = {"uncached_input_tokens": "uncached_input", "output_tokens": "output", "cache_read_input_tokens": "cache_read",
           "cache_creation.ephemeral_5m_input_tokens": "cache_write_5m", "cache_creation.ephemeral_1h_input_tokens": "cache_write_1h"}


def us_tokens_at_list_price(org: SimulatedOrg) -> Decimal:
    """The simulator's US-inference usage outside Priority Tier at list price: what its cost report bills for it."""
    total = Decimal(0)
    for (model, tier, window, geo), counters in org.usage_totals_by(
            midnight(FIRST), midnight(END), ("model", "service_tier", "context_window", "inference_geo")).items():
        if geo == "us" and tier != "priority":
            rates = org.prices.rates(model, tier, window, geo)
            assert rates is not None
            total += sum(counters[f] * getattr(rates, RATE_OF[f]) for f in TOKEN_FIELDS) / 1_000_000
    return total


@pytest.mark.parametrize("measure", ["cost", "billed_cost"])
def test_a_geo_scoped_budget_on_billed_days_uses_the_estimate_when_the_cost_report_does_not_split_geo(shapes, tmp_path, measure):
    path = tmp_path / "budgets.json"
    path.write_text(json.dumps({"budgets": [{"name": "us-inference", "period": "monthly", "amount": "100", "measure": measure,
                                             "scope": {"inference_geo": ["us"]}}]}))
    expected = us_tokens_at_list_price(shapes["with geo"][0])
    assert expected > 1
    figures = {}
    for shape, (_, lake, _) in shapes.items():
        alerting = Alerting(lake, Settings(budgets=str(path)), Recorder(), run_id="status", clock=lambda: NOW)
        (row,) = [r for r in alerting.budget_rows(NOW) if r["period_id"] == "2026-11"]
        figures[shape] = row
    split, unsplit = figures["with geo"], figures["without geo"]
    # the geo-split report bills the US lines; the 2025-shaped one cannot, so the estimate stands in: the same dollars
    assert Decimal(split["figure"]) == Decimal(unsplit["figure"]) == expected
    assert (split["basis"], split["billed_days"], split["basis_note"]) == ({"cost": "cost", "billed_cost": "billed"}[measure], 3, None)
    assert (unsplit["basis"], unsplit["billed_days"], unsplit["estimated_days"]) == ("estimated", 0, 3)
    assert unsplit["basis_note"] == "the cost report does not split inference_geo (null there: not split)"


class Recorder:
    def __init__(self) -> None:
        self.alerts: list = []

    def publish(self, alert) -> str:
        self.alerts.append(alert)
        return f"message-{len(self.alerts)}"
