"""One vocabulary, rendered (issue 16.6): every view, export, chart and e-mail says the same thing the same way.

The small org through the real pipeline; each view as a table (compact and `--wide`), CSV and JSON; `export`;
the HTML report's charts; an alert e-mail. Placeholders and column words come from `usage_lake.words`, money
is `$1,234.56` (`$1,234` compact), counts carry separators, percents read `119.9%`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from support import NOW, TODAY, backfill, incremental, ingest

from usage_lake import words
from usage_lake.alerts.publishers import OutboxPublisher
from usage_lake.app.cli import main
from usage_lake.config.settings import Settings
from usage_lake.lake import LocalLake
from usage_lake.reporting.html import build_report
from usage_lake.simulator import SimulatedOrg, Simulator

NOW_FLAG = ["--now", "2026-11-23T14:30:00Z"]
VIEWS = ("summary", "daily", "models", "workspaces", "keys", "projects", "claude-code", "alerts")
MONEY = re.compile(r"-?\$[\d,.]+")
WIDE_MONEY = re.compile(r"-?\$\d{1,3}(,\d{3})*\.\d\d")
COMPACT_MONEY = re.compile(r"-?\$\d{1,3}(,\d{3})*")
PERCENT = re.compile(r"[\d,.]+%")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lake = LocalLake(tmp_path_factory.mktemp("vocabulary") / "lake")
    reports = ("usage", "cost", "claude_code", "organization", "workspaces", "api_keys", "users")
    with Simulator(SimulatedOrg.small(), now=NOW) as sim:
        assert ingest(backfill(TODAY - timedelta(days=7), TODAY, reports), sim=sim, lake=lake).outcome == "succeeded"
        settings = Settings(base_url=sim.base_url, daily_spend_threshold_usd=Decimal(1))
        assert ingest(incremental(reports=reports), sim=sim, lake=lake, settings=settings,
                      publisher=OutboxPublisher(lake)).outcome == "succeeded"
    return lake


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


@pytest.mark.parametrize("view", VIEWS)
def test_every_table_prints_money_counts_and_percents_one_way(lake, capsys, monkeypatch, view):
    monkeypatch.setenv("DAILY_SPEND_THRESHOLD_USD", "70")
    wide = cli(capsys, "report", view, "--lake", str(lake.root), "--days", "7", "--wide", *NOW_FLAG)
    compact = cli(capsys, "report", view, "--lake", str(lake.root), "--days", "7", *NOW_FLAG)
    for token in MONEY.findall(wide):
        assert WIDE_MONEY.fullmatch(token.rstrip(".,")), f"report {view} --wide: {token!r}"
    for token in MONEY.findall(compact):
        assert COMPACT_MONEY.fullmatch(token.rstrip(".,")), f"report {view}: {token!r}"
    for token in PERCENT.findall(wide):
        assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d%", token), f"report {view}: {token!r}"
    assert not re.search(r"\d{5,}", re.sub(r"\d{4}-\d\d-\d\d|\d{8}T\d{6}Z|[A-Za-z_]+\w*\d+\w*", "", wide)), \
        f"report {view}: a count without separators"


def test_placeholders_and_column_words_come_from_the_vocabulary(lake, capsys):
    def table(view: str) -> str:
        return cli(capsys, "report", view, "--lake", str(lake.root), "--days", "7", "--wide", *NOW_FLAG)

    assert words.DEFAULT_WORKSPACE in table("workspaces")
    keys = table("keys")
    assert words.NO_API_KEY in keys and words.DEFAULT_WORKSPACE in keys
    assert words.NO_MODEL in table("models")
    assert words.no_label("project") in table("projects")
    daily = table("daily")
    for word in (words.UNCACHED_INPUT, words.CACHE_WRITE_5M, words.CACHE_READ, words.BILLED, words.ESTIMATED, words.ALERT_FIGURE,
                 words.CACHE_HIT):
        assert word in daily
    summary = cli(capsys, "summary", "--lake", str(lake.root), "--days", "7", *NOW_FLAG)
    assert f"{words.INPUT_TOKENS} " in summary and words.UNCACHED_INPUT in summary  # one meaning each, both named
    assert "uncached_input_tokens" not in summary and words.NO_MODEL in summary and words.NO_API_KEY in summary


def test_models_show_names_in_tables_and_both_in_csv_and_json(lake, capsys):
    out = cli(capsys, "report", "models", "--lake", str(lake.root), "--days", "7", *NOW_FLAG)
    assert "Claude Opus 4.6" in out and "claude-opus-4-6" not in out
    rows = list(csv.DictReader(io.StringIO(cli(capsys, "report", "models", "--lake", str(lake.root), "--days", "7",
                                                "--format", "csv", *NOW_FLAG))))
    assert {"model", "model_name"} <= set(rows[0]) and any(r["model"] == "claude-opus-4-6" and r["model_name"] == "Claude Opus 4.6"
                                                          for r in rows)
    data = json.loads(cli(capsys, "report", "models", "--lake", str(lake.root), "--days", "7", "--format", "json", *NOW_FLAG))
    assert any(r["model"] is None and r["model_name"] == words.NO_MODEL for r in data["rows"])


def test_export_uses_the_placeholders(lake, capsys, tmp_path):
    out = tmp_path / "usage.csv"
    cli(capsys, "export", "usage_messages", "--lake", str(lake.root), "--start", str(TODAY - timedelta(days=7)),
        "--end", str(TODAY + timedelta(days=1)), "--out", str(out))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["workspace_name"] for r in rows if not r["workspace_id"]} == {words.DEFAULT_WORKSPACE}
    assert {r["api_key_name"] for r in rows if not r["api_key_id"]} == {words.NO_API_KEY}


def test_the_top_keys_chart_keeps_two_keys_that_share_a_name_apart(lake):
    """The small org has two `batch-worker` keys: two bars, each labelled as the keys table labels it."""
    report = build_report(lake, today=TODAY, days=7)
    keys_view = next(v for v in report.views if v.name == "keys")
    shared = [n for n in keys_view.table.column("api_key").to_pylist() if n.startswith("batch-worker")]
    assert len(shared) == 2 and all(n.startswith("batch-worker (apikey_") for n in shared)
    chart = next(c for c in report.charts if c.key == "top-keys")
    data = chart.spec.get("datasets") or {"inline": chart.spec["data"]["values"]}
    labels = [bar["name"] for bars in data.values() for bar in bars]
    assert set(shared) <= set(labels) and len(labels) == len(set(labels))
    amounts = {r["api_key"]: r["estimated_usd"] for r in keys_view.table.to_pylist()}
    bars = {bar["name"]: bar["usd"] for bars in data.values() for bar in bars}
    for name in shared:
        assert bars[name] == pytest.approx(float(amounts[name]))


def test_the_alert_email_uses_the_vocabulary(lake):
    sent = [json.loads(lake.get(k)) for k in lake.list("alerts/outbox/")]
    ranked = [m["text"] for m in sent if "Top workspaces" in m["text"]]
    assert ranked and any(words.DEFAULT_WORKSPACE in text for text in ranked)
    for text in ranked:
        for token in MONEY.findall(text):
            assert WIDE_MONEY.fullmatch(token.rstrip(".,")) or COMPACT_MONEY.fullmatch(token.rstrip(".,")), token


def test_the_html_tables_print_figures_as_the_terminal_does(lake):
    """`report alerts` and the HTML alerts table printed `573.1202495275` and `10000000` raw."""
    from usage_lake.app.report_alerts import alerts_view
    from usage_lake.reporting.html import render_html

    settings = Settings(daily_spend_threshold_usd=Decimal(70), monthly_budget_usd=Decimal(10_000_000))
    report = build_report(lake, today=TODAY, days=7, extra=[alerts_view(lake, settings, NOW, 7)])
    page = render_html(report)
    alerts = page[page.index('data-view="alerts"'):]
    alerts = alerts[:alerts.index("</table>")]
    cells = re.findall(r'<td class="n">([^<]*)</td>', page)
    assert cells and "$10,000,000.00" in alerts
    for cell in cells:
        assert re.fullmatch(r"-|-?\$\d{1,3}(,\d{3})*\.\d\d|\d{1,3}(,\d{3})*|\d{1,3}(,\d{3})*\.\d%", cell), cell


def test_json_gives_money_rates_and_percents_as_decimal_strings(lake, capsys):
    for view in ("daily", "models", "claude-code"):
        rows = json.loads(cli(capsys, "report", view, "--lake", str(lake.root), "--days", "7", "--format", "json", *NOW_FLAG))["rows"]
        for row in rows:
            for key, value in row.items():
                assert not isinstance(value, float), f"report {view} --format json: {key} = {value!r}"
                if key.endswith(("_usd", "_rate")) and value is not None:
                    assert isinstance(value, str) and Decimal(value) >= 0


def test_a_terminal_table_is_capped_and_says_how_many_more(lake, capsys):
    out = cli(capsys, "sql", "SELECT dt, model, output_tokens FROM usage_messages", "--lake", str(lake.root), "--limit", "5")
    total = int(re.search(r"([\d,]+) row\(s\)", out).group(1).replace(",", ""))
    assert total > 5 and f"... and {total - 5:,} more row(s)" in out
    assert len([line for line in out.splitlines() if re.match(r"\d{4}-\d\d-\d\d ", line)]) == 5
    keys = cli(capsys, "report", "keys", "--lake", str(lake.root), "--days", "7", "--limit", "2", *NOW_FLAG)
    assert "more row(s)" in keys and "total" in keys
