"""`usage-lake report alerts`: each alert rule with its figure, threshold, % used, and sent / would fire, as a view.

The rules and their state belong to `alerts` (`Alerting`: the figures, `evaluate`, the sent records); the
report views belong to `reporting`. This module, in the app layer above both, puts one in the other's shape,
so `report alerts` has the table, CSV and JSON forms of every other view (and a table in the HTML report).
`usage-lake alerts` keeps its own text.
"""

from __future__ import annotations

import calendar
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from usage_lake.alerts import BILLED, ESTIMATED, Alerting
from usage_lake.config.settings import Settings
from usage_lake.lake.layout import alert_sent_key
from usage_lake.lake.store import Lake
from usage_lake.reporting.views import Column, View

__all__ = ["alerts_view"]

SCHEMA = pa.schema([
    ("rule", pa.string()), ("period", pa.string()), ("basis", pa.string()), ("figure_usd", pa.decimal128(38, 14)),
    ("threshold_usd", pa.decimal128(38, 14)), ("percent_used", pa.float64()), ("state", pa.string()),
    ("alert_key", pa.string()), ("sent_at", pa.string()),
])


class _NoPublisher:
    def publish(self, alert: Any) -> str:  # pragma: no cover - a report never delivers
        raise RuntimeError("reports only read; alerts are sent by incremental runs")


def alerts_view(lake: Lake, settings: Settings, now: datetime, days: int = 7) -> View:
    alerting = Alerting(lake, settings, publisher=_NoPublisher(), run_id="report", clock=lambda: now)
    today = now.date()
    day_list = [today - timedelta(days=i) for i in range(days - 1, -1, -1)]
    firing = {alert.key: alert for alert in alerting.evaluate(day_list, now)}
    refresh_start = today - timedelta(days=settings.usage_lookback_days)
    rows: list[dict[str, Any]] = []

    def sent(key: str) -> dict[str, Any] | None:
        path = alert_sent_key(key)
        return json.loads(lake.get(path)) if lake.exists(path) else None

    def state(key: str, over: bool, day: date | None = None) -> tuple[str, str | None]:
        record = sent(key)
        if record:
            return "sent", record.get("sent_at")
        if key in firing:
            return ("would fire" if day is None or day >= refresh_start else "over, before the refresh window (not alerted)"), None
        return ("over" if over else "under"), None

    threshold = settings.daily_spend_threshold_usd
    for day in day_list:
        spend = alerting.day(day)
        basis = ESTIMATED if day >= today else spend.best_basis
        figure = spend.figure(basis) if basis else None
        if threshold is None:
            rows.append(_row("daily threshold", day.isoformat(), basis, figure, None, "off", None, None))
            continue
        key = f"daily/{day}/{basis}" if basis else f"daily/{day}"
        if basis is None:
            rows.append(_row("daily threshold", day.isoformat(), None, None, threshold, "no data", None, None))
            continue
        # an earlier estimated alert for a day that is billed now still counts as sent
        for other in (BILLED, ESTIMATED):
            if other != basis and sent(f"daily/{day}/{other}") and not sent(key) and key not in firing:
                key = f"daily/{day}/{other}"
        current, at = state(key, figure is not None and figure > threshold, day)
        rows.append(_row("daily threshold", day.isoformat(), basis, figure, threshold, current, key, at))

    budget = settings.monthly_budget_usd
    month = today.strftime("%Y-%m")
    spent, _ = alerting.month_to_date(now)
    if budget is None:
        rows.append(_row("monthly budget", month, "billed, today estimated", spent, None, "off", None, None))
    else:
        steps = [f"monthly/{month}/actual-{step}" for step in (100, 80, 50)]
        key = next((k for k in steps if sent(k) or k in firing), steps[-1])
        current, at = state(key, spent >= budget / 2)
        rows.append(_row("monthly budget", month, "billed, today estimated", spent, budget, current, key, at))
        days_in_month = calendar.monthrange(today.year, today.month)[1]
        elapsed = Decimal(today.day - 1) + Decimal(max(now.hour * 60 + now.minute, 60)) / (24 * 60)
        forecast = spent / elapsed * days_in_month
        key = f"monthly/{month}/forecast-100"
        current, at = state(key, forecast > budget)
        rows.append(_row("monthly forecast", month, "forecast", forecast, budget, current, key, at))

    ratio = settings.spike_ratio
    estimate = alerting.day(today).estimated_usd
    average, _ = alerting.trailing_average(today)
    if ratio is None:
        rows.append(_row("spike", today.isoformat(), ESTIMATED, estimate, None, "off", None, None))
    else:
        limit = ratio * average if average else None
        key = f"spike/{today}"
        current, at = state(key, bool(estimate is not None and limit is not None and estimate > limit))
        rows.append(_row("spike", today.isoformat(), ESTIMATED, estimate, limit, current, key, at))

    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    columns = [Column("rule", "rule", "text", total=False), Column("period", "day / month", "text", total=False),
               Column("basis", "basis", "text", total=False), Column("figure_usd", "figure", "usd", total=False),
               Column("threshold_usd", "threshold", "usd", total=False), Column("percent_used", "used", "rate", total=False),
               Column("state", "state", "text", total=False), Column("sent_at", "sent at", "text", total=False)]
    notes = ["daily threshold: DAILY_SPEND_THRESHOLD_USD (complete days billed, else estimated; today estimated); monthly: "
             "MONTHLY_BUDGET_USD (alerts at 50/80/100% and a forecast over 100%); spike: today's estimate against SPIKE_RATIO x "
             "the 7-day average. `would fire`: the next incremental run sends it. Nothing is sent by a report."]
    return View("alerts", f"Alerts as of {now:%Y-%m-%d %H:%M} UTC", table, columns, notes, totals=False)


def _row(rule: str, period: str, basis: str | None, figure: Decimal | None, threshold: Decimal | None, state: str,
         key: str | None, sent_at: str | None) -> dict[str, Any]:
    percent = float(figure / threshold) if figure is not None and threshold else None
    return {"rule": rule, "period": period, "basis": basis, "figure_usd": _exact(figure), "threshold_usd": _exact(threshold),
            "percent_used": None if percent is None else round(percent, 6), "state": state, "alert_key": key, "sent_at": sent_at}


def _exact(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal(1).scaleb(-14))
