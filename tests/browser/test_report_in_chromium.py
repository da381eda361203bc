"""The HTML report in a real browser: headless Chromium (Debian's `chromium`), through Playwright.

Asserts every chart rendered (its SVG marks counted), no console error, and no request other than `file:`.
Playwright's own browser download is not used: the system Chromium is launched by path. Without it the test
skips with the reason, unless USAGE_LAKE_REQUIRE_BROWSER=1 (set by .ci/run, which installs it), where it fails.
A screenshot is kept in the test's temporary folder (pytest prints where on failure).
"""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from decimal import Decimal

import pytest
from support import NOW, TODAY, backfill, incremental, ingest

from usage_lake.lake import LocalLake, parquet_bytes
from usage_lake.lake.layout import partition_key
from usage_lake.reporting.html import build_report, render_html
from usage_lake.simulator import SimulatedOrg, Simulator

CHROMIUM = os.environ.get("USAGE_LAKE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
REQUIRED = os.environ.get("USAGE_LAKE_REQUIRE_BROWSER") == "1"
FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def browser_or_skip() -> str:
    reason = None
    if not os.path.exists(CHROMIUM):
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[dev]')"
    if reason:
        if REQUIRED:
            pytest.fail(f"USAGE_LAKE_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    """A month of the small org, plus a Claude Code table, so every chart of the report is drawn."""
    import pyarrow as pa

    folder = tmp_path_factory.mktemp("browser")
    lake = LocalLake(folder / "lake")
    with Simulator(SimulatedOrg.small(), now=NOW) as sim:
        assert ingest(backfill(date(2026, 10, 25), TODAY), sim=sim, lake=lake).outcome == "succeeded"
        assert ingest(incremental(), sim=sim, lake=lake).outcome == "succeeded"
    for offset in range(3):
        day = TODAY - timedelta(days=offset + 1)
        rows = [{"actor_type": "user_actor", "actor_email_address": f"dev{i}@example.com", "actor_api_key_name": None, "num_sessions": i + 1,
                 "lines_added": 10 * i, "lines_removed": i, "commits": i, "pull_requests": 1, "edit_tool_accepted": 5, "edit_tool_rejected": 1}
                for i in range(4)]
        lake.put(partition_key("claude_code_usage", day), parquet_bytes(pa.Table.from_pylist(rows)))
        models = [{"actor_type": "user_actor", "actor_email_address": f"dev{i}@example.com", "actor_api_key_name": None, "model": "claude-opus-4-6",
                   "estimated_cost_cents": Decimal(100 * i + 7), "estimated_cost_usd": Decimal(100 * i + 7) / 100} for i in range(4)]
        lake.put(partition_key("claude_code_models", day), parquet_bytes(pa.Table.from_pylist(models)))
    report = build_report(lake, today=TODAY, days=30, budget=Decimal(2000))
    path = folder / "report.html"
    path.write_text(render_html(report))
    return path, [c.key for c in report.charts]


def test_the_report_renders_offline_in_chromium(report_file, tmp_path):
    executable = browser_or_skip()
    from playwright.sync_api import sync_playwright

    path, charts = report_file
    assert "claude-code" in charts and len(charts) == 7
    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})  # a laptop screen
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
            page.goto(path.as_uri(), wait_until="load")
            rendered = page.evaluate("""() => [...document.querySelectorAll('figure.chart')].map(f => ({
                key: f.dataset.chart,
                marks: f.querySelectorAll('svg .role-mark path, svg .role-mark line, svg .role-mark rect, svg .role-mark circle').length,
                width: f.querySelector('svg').getBoundingClientRect().width}))""")
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            tables = page.evaluate("document.querySelectorAll('table.view tbody tr').length")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            page.emulate_media(media="print")
            printed = page.evaluate("getComputedStyle(document.querySelector('nav')).display")
        finally:
            browser.close()
    assert [r["key"] for r in rendered] == charts
    for chart in rendered:
        assert chart["marks"] > 0, f"chart {chart['key']} drew nothing"
        assert 0 < chart["width"] <= 1366
    daily = next(r for r in rendered if r["key"] == "daily-spend")
    assert daily["marks"] >= 30 * 2  # a bar per model, basis and day at least
    assert overflow <= 0, "the page scrolls sideways on a laptop screen"
    assert tables > 30 and printed == "none"
    assert problems == []
    assert [u for u in requests if not u.startswith("file:")] == []
    assert (tmp_path / "report.png").stat().st_size > 10_000
