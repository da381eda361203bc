"""Issue 16 item 5: one "today". The alert figure of a day is computed once (`money.alert_figure`): `report daily`,
`summary`, the HTML card "today (alert figure)", `report alerts` and the daily threshold show and compare one number:
the estimate without Priority Tier ($75.84 here), with Priority Tier ($8.64) beside it, never $84.48."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa

from usage_lake.alerts import Alerting
from usage_lake.app.cli import main
from usage_lake.config.settings import Settings
from usage_lake.lake.curated import store_day
from usage_lake.lake.schema import TABLES

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)
MODEL = "claude-sonnet-4-5"
COUNTERS = ("uncached_input_tokens", "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens",
            "cache_read_input_tokens", "output_tokens", "web_search_requests")


class Recorder:
    def __init__(self) -> None:
        self.alerts: list = []

    def publish(self, alert) -> str:
        self.alerts.append(alert)
        return f"message-{len(self.alerts)}"


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def put_usage(lake, day: date, standard: str, priority: str) -> None:
    """20 hourly buckets of `standard` dollars outside Priority Tier and `priority` dollars in it."""
    rows = []
    for hour in range(20):
        for tier, amount in (("standard", standard), ("priority", priority)):
            rows.append({"bucket_start": at(day, hour), "bucket_end": at(day, hour) + timedelta(hours=1), "bucket_width": "1h",
                         "api_key_id": "apikey_01", "workspace_id": None, "model": MODEL, "service_tier": tier,
                         "context_window": "0-200k", "inference_geo": "global", **dict.fromkeys(COUNTERS, 0),
                         "ingested_at": at(day, 23), "run_id": "hand-made", "estimated_cost_usd": Decimal(amount)})
    store_day(lake, "usage_messages", day, pa.Table.from_pylist(rows, schema=TABLES["usage_messages"]))


def put_billed(lake, day: date, amount: str) -> None:
    row = {"bucket_start": at(day, 0), "bucket_end": at(day + timedelta(days=1), 0), "workspace_id": None,
           "description": "Claude Sonnet 4.5 Usage - Output Tokens", "cost_type": "tokens", "model": MODEL, "token_type": "output_tokens",
           "service_tier": "standard", "context_window": "0-200k", "inference_geo": "global", "currency": "USD",
           "amount_cents": Decimal(amount) * 100, "amount_usd": Decimal(amount), "ingested_at": at(day, 23), "run_id": "hand-made"}
    store_day(lake, "cost_report", day, pa.Table.from_pylist([row], schema=TABLES["cost_report"]))


def cli_json(capsys, *args: str):
    capsys.readouterr()
    assert main([*args, "--format", "json", "--now", NOW.isoformat()]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_today_figure_of_every_view_is_the_figure_the_daily_threshold_compares(local_lake, monkeypatch, capsys, tmp_path):
    put_usage(local_lake, TODAY - timedelta(days=1), "5", "0.5")
    put_billed(local_lake, TODAY - timedelta(days=1), "99.5")
    put_usage(local_lake, TODAY, "3.792", "0.432")  # $75.84 outside Priority Tier, $8.64 in it: $84.48 estimated
    local_lake.put("raw/hand-made/page.json.gz", b"")  # a lake: some run has written here
    lake = ["--lake", str(local_lake.root)]
    monkeypatch.setenv("DAILY_SPEND_THRESHOLD_USD", "80")
    for name in ("BUDGETS", "MONTHLY_BUDGET_USD", "SPIKE_RATIO"):
        monkeypatch.delenv(name, raising=False)

    daily = {row["day"]: row for row in cli_json(capsys, "report", "daily", "--days", "2", *lake)["rows"]}
    summary = {row["period"]: row for row in cli_json(capsys, "report", "summary", *lake)["rows"]}
    alerts = {row["period"]: row for row in cli_json(capsys, "report", "alerts", "--days", "2", *lake)["rows"]
              if row["budget"] == "daily-threshold"}
    capsys.readouterr()
    assert main(["report", "html", *lake, "--days", "2", "--now", NOW.isoformat(), "--out", str(tmp_path / "r.html")]) == 0
    card = re.search(r'today \(alert figure\)</div><div class="figure">([^<]+)<', (tmp_path / "r.html").read_text())
    status = {row["period_id"]: row for row in Alerting(local_lake, Settings(daily_spend_threshold_usd=Decimal("80")), Recorder(),
                                                       run_id="t", clock=lambda: NOW).budget_rows(NOW)}

    today = TODAY.isoformat()
    assert Decimal(daily[today]["alert_usd"]) == Decimal("75.84")
    assert Decimal(daily[today]["priority_estimated_usd"]) == Decimal("8.64")
    assert Decimal(summary["today"]["alert_usd"]) == Decimal("75.84")
    assert card is not None and card.group(1) == "$75.84"
    assert Decimal(alerts[today]["figure"]) == Decimal("75.84") and alerts[today]["state"] == "under"
    assert Decimal(status[today]["figure"]) == Decimal("75.84") and status[today]["basis"] == "estimated"
    assert Decimal(status[today]["priority_tier_estimated_usd"]) == Decimal("8.64")
    # a billed day: the billed figure everywhere
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    assert Decimal(daily[yesterday]["alert_usd"]) == Decimal(alerts[yesterday]["figure"]) == Decimal("99.5")


def test_the_daily_threshold_fires_on_the_alert_figure_and_shows_priority_tier_beside(local_lake):
    put_usage(local_lake, TODAY, "3.792", "0.432")
    publisher = Recorder()
    alerting = Alerting(local_lake, Settings(daily_spend_threshold_usd=Decimal("80")), publisher, run_id="a", clock=lambda: NOW)
    alerting.deliver(alerting.evaluate([TODAY], NOW))
    assert publisher.alerts == []  # $75.84 is under $80: no alert, as every view says (it was $84.48 with Priority Tier)

    alerting = Alerting(local_lake, Settings(daily_spend_threshold_usd=Decimal("75")), publisher, run_id="b", clock=lambda: NOW)
    alerting.deliver(alerting.evaluate([TODAY], NOW))
    (alert,) = publisher.alerts
    assert alert.subject == "Anthropic spend $75.84 (estimated) on 2026-11-23 passed your $75 daily threshold"
    assert Decimal(alert.document["figure_usd"]) == Decimal("75.84")
    assert "Priority Tier usage is billed separately and is not in this figure: estimated at $8.64" in alert.text
