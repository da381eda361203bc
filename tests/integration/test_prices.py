"""Issue 19 end to end on the simulator: dated list prices in runs and rebuilds, a model missing from the price table
priced from its bill, a bill below list reported once, and the run log's unpriced tokens."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow.compute as pc
from support import NOW, backfill, incremental, ingest

from usage_lake.config.settings import Settings
from usage_lake.focus import read_observed
from usage_lake.ingest import rebuild_days
from usage_lake.lake import LocalLake, read_table
from usage_lake.money.pricing import PriceTable
from usage_lake.reporting.html import build_report, render_html
from usage_lake.reporting.prices import prices_view
from usage_lake.simulator import SimulatedOrg, Simulator

D = Decimal
SONNET_55, SAGA = "claude-sonnet-5-5", "claude-saga-7"
MTOK = D(1_000_000)
TIER = {"standard": D(1), "priority": D(1), "batch": D("0.5")}
GEO = {"us": D("1.1"), "global": D(1), "not_available": D(1)}
# Claude Sonnet 5.5 by hand (updates-2026-12 A6/A7): input, 5m write, 1h write, cache read, output
SONNET_55_BEFORE = (D("2"), D("2.50"), D("4"), D("0.20"), D("10"))  # until 2026-10-06
SONNET_55_AFTER = (D("2"), D("2.50"), D("4"), D("0.10"), D("10"))  # from 2026-10-07
HAIKU_45 = (D("1"), D("1.25"), D("2"), D("0.10"), D("5"))  # what the simulator bills the unlisted model at
COUNTERS = ("uncached_input_tokens", "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens",
            "cache_read_input_tokens", "output_tokens")


def alerting(sim: Simulator, **more) -> Settings:
    """Alerts evaluated (a daily threshold no day reaches): price notices go out with them."""
    return Settings(base_url=sim.base_url, daily_spend_threshold_usd=D("1000000"), **more)


class Recorder:
    def __init__(self) -> None:
        self.alerts = []

    def publish(self, alert) -> str:
        self.alerts.append(alert)
        return f"message-{len(self.alerts)}"

    def keys(self, prefix: str) -> list[str]:
        return [a.key for a in self.alerts if a.key.startswith(prefix)]


def by_hand(row: dict, rates: tuple[Decimal, ...]) -> Decimal:
    mult = TIER[row["service_tier"]] * GEO[row["inference_geo"]]
    tokens = sum(row[c] * rate for c, rate in zip(COUNTERS, rates, strict=True))
    return tokens * mult / MTOK + row["web_search_requests"] * D("0.01")


def model_rows(lake, model: str, days: list[date] | None = None) -> list[dict]:
    table = read_table(lake, "usage_messages", days)
    return table.filter(pc.equal(table.column("model"), model)).to_pylist()


def test_sonnet_5_5_cache_read_cut_prices_each_day_at_its_own_price_in_runs_and_rebuilds(tmp_path):
    org = SimulatedOrg.small(rename={"claude-sonnet-4-6": SONNET_55})
    lake = LocalLake(tmp_path / "lake")
    before, after = date(2026, 10, 6), date(2026, 10, 7)
    with Simulator(org, now=NOW) as sim:
        record = ingest(backfill(before, after + timedelta(days=1)), sim=sim, lake=lake)
    assert record.outcome == "succeeded"

    def check() -> None:
        for day, rates in ((before, SONNET_55_BEFORE), (after, SONNET_55_AFTER)):
            rows = model_rows(lake, SONNET_55, [day])
            assert rows and sum(r["cache_read_input_tokens"] for r in rows) > 0
            for r in rows:
                assert r["estimated_cost_usd"] == by_hand(r, rates), (day, r)
                assert r["estimate_basis"] == "list"
        focus = read_table(lake, "focus", [before, after])
        cache_reads = focus.filter(pc.and_(pc.equal(focus.column("x_Model"), SONNET_55),
                                           pc.equal(focus.column("x_TokenType"), "cache_read_input_tokens")))
        prices = {(r["dt"], r["x_ServiceTier"], r["x_InferenceGeo"]): r["ListUnitPrice"] for r in cache_reads.to_pylist()}
        assert prices[("2026-10-06", "standard", "global")] == D("0.20")
        assert prices[("2026-10-07", "standard", "global")] == D("0.10")
        # the bill (at the dated price) matches the list: observed = list, ratio 1
        observed = read_observed(lake).to_pylist()
        assert {r["ratio"] for r in observed if r["model"] == SONNET_55} == {D(1)}

    check()
    results = rebuild_days(lake, reports=["usage", "cost"], start=before, end=after + timedelta(days=1))
    assert {(r.report, r.day.isoformat(), r.action) for r in results if r.report == "usage"} == {
        ("usage", "2026-10-06", "written"), ("usage", "2026-10-07", "written")}
    check()


def test_a_model_missing_from_the_price_table_is_noticed_once_then_priced_from_its_bill(tmp_path):
    org = SimulatedOrg.small(rename={"claude-haiku-4-5-20251001": SAGA})
    lake = LocalLake(tmp_path / "lake")
    outbox = Recorder()
    first_now = NOW
    with Simulator(org, now=first_now) as sim:
        first = ingest(incremental(first_now, reports=("usage",)), sim=sim, lake=lake, publisher=outbox, settings=alerting(sim))
    unpriced = [r for r in model_rows(lake, SAGA)]
    tokens = sum(r[c] for r in unpriced for c in COUNTERS)
    assert unpriced and all(r["estimated_cost_usd"] is None and r["estimate_basis"] is None for r in unpriced)
    assert first.unpriced_tokens == tokens > 0
    assert any(n.startswith("unpriced tokens this run: ") and SAGA in n for n in first.notes)
    assert outbox.keys("prices/") == [f"prices/unpriced/{SAGA}"]
    notice = outbox.alerts[0]
    assert SAGA in notice.subject and f"{tokens:,} tokens" in notice.text and "budget" in notice.text
    assert notice.document["tokens"] == tokens

    second_now = NOW + timedelta(days=1)
    with Simulator(org, now=second_now) as sim:
        second = ingest(incremental(second_now), sim=sim, lake=lake, publisher=outbox, settings=alerting(sim))
    assert second.outcome == "succeeded"
    assert outbox.keys("prices/") == [f"prices/unpriced/{SAGA}"]  # sent once
    observed = [r for r in read_observed(lake).to_pylist() if r["model"] == SAGA]
    assert observed and all(r["list_price_usd_per_mtok"] is None and r["ratio"] is None for r in observed)
    # the second day (and every day the run fetched again) is estimated at the observed price: never $0, never null
    today = second_now.date()
    rows = model_rows(lake, SAGA, [today - timedelta(days=1), today])
    assert rows and second.unpriced_tokens == 0
    for r in rows:
        assert r["estimate_basis"] == "observed"
        assert r["estimated_cost_usd"] > 0
        if r["service_tier"] != "priority":  # billed tiers: exactly the price the bill shows
            assert r["estimated_cost_usd"] == by_hand(r, HAIKU_45), r
    html = render_html(build_report(lake, today=today, days=3))  # the days the second run fetched (and re-estimated)
    assert f"Priced from the bill (no list price; estimated at the most recent observed price): {SAGA}." in html
    assert "UNPRICED" not in html


def test_the_html_and_the_prices_view_carry_an_unpriced_model_until_it_is_priced(tmp_path):
    org = SimulatedOrg.small(rename={"claude-haiku-4-5-20251001": SAGA})
    lake = LocalLake(tmp_path / "lake")
    with Simulator(org, now=NOW) as sim:
        record = ingest(incremental(NOW, reports=("usage",)), sim=sim, lake=lake)
    html = render_html(build_report(lake, today=NOW.date(), days=7))
    assert f"UNPRICED - left out of every estimate until priced (PRICING_OVERRIDES, or its first billed day): {SAGA} ({record.unpriced_tokens:,} tokens)." in html
    view = prices_view(PriceTable.load_default(), NOW.date(), lake)
    unpriced = [r for r in view.table.to_pylist() if r["section"] == "unpriced"]
    assert [(r["model"], r["tokens"]) for r in unpriced] == [(SAGA, record.unpriced_tokens)]
    assert any(n.startswith(f"UNPRICED: {SAGA}") for n in view.notes)


def test_a_model_billed_ten_percent_below_list_is_reported_once(tmp_path):
    org = SimulatedOrg.small()
    org.bill_below_list("claude-sonnet-4-6", D("0.10"))
    lake = LocalLake(tmp_path / "lake")
    outbox = Recorder()
    for now in (NOW, NOW + timedelta(hours=1), NOW + timedelta(days=1)):
        with Simulator(org, now=now) as sim:
            assert ingest(incremental(now), sim=sim, lake=lake, publisher=outbox, settings=alerting(sim)).outcome == "succeeded"
    drift = outbox.keys("prices/drift/")
    assert drift == ["prices/drift/claude-sonnet-4-6/-10.0"]
    notice = next(a for a in outbox.alerts if a.key == drift[0])
    assert "claude-sonnet-4-6" in notice.subject and "-10.0%" in notice.subject
    assert D(notice.document["observed_usd_per_mtok"]) == D(notice.document["list_usd_per_mtok"]) * D("0.9")
    assert notice.document["model"] == "claude-sonnet-4-6" and notice.document["percent"] == "-10.0"
    assert date.fromisoformat(notice.document["day"]) in set(org_days(lake))
    observed = read_observed(lake).to_pylist()
    assert {r["ratio"] for r in observed if r["model"] == "claude-sonnet-4-6"} == {D("0.9")}
    assert {r["ratio"] for r in observed if r["model"] != "claude-sonnet-4-6"} == {D(1)}


def test_accepting_observed_prices_estimates_at_the_bill(tmp_path):
    org = SimulatedOrg.small()
    org.bill_below_list("claude-sonnet-4-6", D("0.10"))
    lake = LocalLake(tmp_path / "lake")
    with Simulator(org, now=NOW) as sim:
        ingest(incremental(NOW), sim=sim, lake=lake)
        ingest(incremental(NOW), sim=sim, lake=lake, settings=Settings(base_url=sim.base_url, accept_observed_prices=True))
    rows = [r for r in model_rows(lake, "claude-sonnet-4-6", [NOW.date()]) if r["service_tier"] == "standard"]
    assert rows
    sonnet_46 = (D("3"), D("3.75"), D("6"), D("0.30"), D("15"))
    for r in rows:
        assert r["estimate_basis"] == "observed"
        web = r["web_search_requests"] * D("0.01")
        assert r["estimated_cost_usd"] == (by_hand(r, sonnet_46) - web) * D("0.9") + web


def org_days(lake) -> list[date]:
    return [date.fromisoformat(d) for d in set(read_observed(lake).column("day").cast("string").to_pylist())]


def test_a_cost_report_without_geo_is_not_taken_for_a_price_change(tmp_path):
    org = SimulatedOrg.small()
    org.cost_inference_geo = False  # 2025-shaped: the cost report leaves inference_geo null
    lake = LocalLake(tmp_path / "lake")
    outbox = Recorder()
    with Simulator(org, now=NOW) as sim:
        assert ingest(incremental(NOW), sim=sim, lake=lake, publisher=outbox, settings=alerting(sim)).outcome == "succeeded"
    observed = read_observed(lake).to_pylist()
    assert observed and all(r["inference_geo"] is None and r["ratio"] is None for r in observed)
    assert outbox.keys("prices/") == []
