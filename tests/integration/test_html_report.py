"""`usage-lake report html`: one offline file, its charts drawn from the views' own numbers, within 3 MB.

The file is checked as text here (no reference to anything outside it); tests/browser/ opens it in Chromium.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from support import NOW, TODAY, backfill, incremental, ingest, midnight

from usage_lake.app.cli import main
from usage_lake.lake import LocalLake
from usage_lake.reporting.formats import totals_row
from usage_lake.reporting.html import build_report, render_html
from usage_lake.simulator import SimulatedOrg, Simulator

BUDGET = Decimal(2000)
CHARTS = ["daily-spend", "month-to-date", "cache-hit-rate", "top-workspaces", "top-keys", "top-projects"]


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    org = SimulatedOrg.small()
    lake = LocalLake(tmp_path_factory.mktemp("html") / "lake")
    with Simulator(org, now=NOW) as sim:
        assert ingest(backfill(date(2026, 10, 25), TODAY), sim=sim, lake=lake).outcome == "succeeded"
        assert ingest(incremental(), sim=sim, lake=lake).outcome == "succeeded"
    return org, lake


@pytest.fixture(scope="module")
def report(filled):
    _, lake = filled
    return build_report(lake, today=TODAY, days=30, budget=BUDGET)


def chart_values(report, key: str) -> list[dict]:
    spec = next(c.spec for c in report.charts if c.key == key)
    layers = spec.get("layer") or [spec]
    return [v for layer in layers for v in layer["data"]["values"]]


def test_the_charts_show_the_views_numbers(filled, report):
    org, _ = filled
    assert [c.key for c in report.charts] == CHARTS  # no Claude Code table in this lake: no chart for it
    views = {v.name: v for v in report.views}
    daily_totals = totals_row(views["daily"])
    spend = chart_values(report, "daily-spend")
    for basis, column in (("billed", "billed_usd"), ("estimated", "estimated_usd")):
        drawn = sum(v["usd"] for v in spend if v["basis"] == basis)
        assert drawn == pytest.approx(float(daily_totals[column]), rel=1e-12)
    start = TODAY - timedelta(days=29)
    assert daily_totals["billed_usd"] == org.cost_total_cents(midnight(start), midnight(TODAY)) / 100  # and the views are the org's
    # month to date: the last point of the line is the summary's month-to-date alert figure; forecast as the saved query
    mtd = [v for v in chart_values(report, "month-to-date") if v["series"] == "month to date"]
    summary = {r["period"]: r for r in views["summary"].table.to_pylist()}
    assert mtd[-1]["day"] == TODAY.isoformat() and mtd[-1]["usd"] == pytest.approx(float(summary["month to date"]["alert_usd"]), rel=1e-12)
    forecast = [v for v in chart_values(report, "month-to-date") if v["series"] == "forecast"]
    assert forecast[-1]["usd"] == pytest.approx(float(summary["month to date"]["alert_usd"]) / TODAY.day * 30, rel=1e-12)
    assert [v["usd"] for v in chart_values(report, "month-to-date") if v["series"] == "budget"] == [2000.0]
    hits = {v["day"]: v["rate"] for v in chart_values(report, "cache-hit-rate")}
    assert hits == {r["day"]: r["cache_hit_rate"] for r in views["daily"].table.to_pylist()}
    top = chart_values(report, "top-workspaces")
    by_ws = {r["workspace"]: float(r["billed_usd"]) for r in views["workspaces"].table.to_pylist()}
    assert {v["name"]: v["usd"] for v in top} == by_ws


def test_one_self_contained_file(filled, report):
    page = render_html(report)
    assert len(page.encode()) < 3_000_000
    assert page.count('<figure class="chart"') == len(CHARTS) and page.count("<svg") == len(CHARTS)
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    # nothing points anywhere: the only URLs are the SVG namespaces
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", page)
    for view in ("summary", "daily", "models", "workspaces", "keys", "projects", "claude-code"):
        assert f'data-view="{view}"' in page
    assert "$2,000.00" in page and "% used" in page


def test_the_cli_writes_the_report(filled, tmp_path, monkeypatch, capsys):
    _, lake = filled
    monkeypatch.setenv("MONTHLY_BUDGET_USD", "2000")
    out = tmp_path / "report.html"
    assert main(["report", "html", "--lake", str(lake.root), "--out", str(out), "--days", "14", "--now", "2026-11-23T14:30:00Z"]) == 0
    page = out.read_text()
    assert "2026-11-10 .. 2026-11-23 (UTC, 14 days)" in page and 'data-view="alerts"' in page
    assert f"wrote {out}" in capsys.readouterr().err
