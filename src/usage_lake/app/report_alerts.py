"""`usage-lake report alerts`: every budget and threshold with its figure, amount, % used, and sent / would fire, as a view.

The rules and their state belong to `alerts` (`Alerting`: the figures, `evaluate`, the sent records); the
report views belong to `reporting`. This module, in the app layer above both, puts one in the other's shape,
so `report alerts` has the table, CSV and JSON forms of every other view (and a table in the HTML report).
`usage-lake alerts` keeps its own text.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from usage_lake.alerts import Alerting, sent_since
from usage_lake.config.settings import Settings
from usage_lake.lake.store import Lake
from usage_lake.reporting.views import Column, View

__all__ = ["alerts_view"]

SCHEMA = pa.schema([
    ("budget", pa.string()), ("period", pa.string()), ("scope", pa.string()), ("measure", pa.string()), ("basis", pa.string()),
    ("figure", pa.decimal128(38, 14)), ("amount", pa.decimal128(38, 14)), ("percent", pa.string()),
    ("forecast", pa.decimal128(38, 14)), ("state", pa.string()), ("alert_key", pa.string()), ("sent_at", pa.string()),
])


class _NoPublisher:
    def publish(self, alert: Any) -> str:  # pragma: no cover - a report never delivers
        raise RuntimeError("reports only read; alerts are sent by incremental runs")


def alerts_view(lake: Lake, settings: Settings, now: datetime, days: int = 7) -> View:
    """The budgets' own status (`Alerting.budget_rows`, what `usage-lake alerts --json` prints), one row per budget
    and open period, in the report views' shape; then the alerts the lake sent in the last `days` days for budgets
    not set in this shell (a deployed BUDGETS file the terminal does not have)."""
    alerting = Alerting(lake, settings, publisher=_NoPublisher(), run_id="report", clock=lambda: now)
    rows = []
    for row in alerting.budget_rows(now):
        sent, would = row.get("sent") or [], row.get("would_fire") or []
        state = "error" if row.get("error") else "sent" if sent else "would fire" if would else "no data" if row.get("figure") is None else "under"
        rows.append({
            "budget": row["budget"], "period": row["period_id"], "scope": row["scope"], "measure": row["measure"], "basis": row.get("basis"),
            "figure": _exact(row.get("figure")), "amount": _exact(row["amount"]),
            "percent": row.get("percent"),  # a decimal string, as `alerts --json` gives it: "119.93"
            "forecast": _exact(row.get("forecast")), "state": state,
            "alert_key": sent[-1]["key"] if sent else would[0] if would else None, "sent_at": sent[-1]["sent_at"] if sent else None,
        })
    shown = frozenset(row["budget"] for row in rows)
    for record in sent_since(lake, now - timedelta(days=days), except_budgets=shown):  # sent, though not set in this shell
        rows.append({"budget": record.get("budget") or "-", "period": record["period_id"], "scope": record.get("scope"),
                     "measure": None, "basis": None, "figure": None, "amount": None, "percent_used": None, "forecast": None,
                     "state": "sent", "alert_key": record["key"], "sent_at": record["sent_at"]})
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    columns = [Column("budget", "budget", "text", total=False), Column("period", "period", "text", total=False),
               Column("scope", "scope", "text", total=False), Column("measure", "measure", "text", total=False),
               Column("basis", "basis", "text", total=False), Column("figure", "figure", "measure", total=False),
               Column("amount", "amount", "measure", total=False), Column("percent", "used", "percent", total=False),
               Column("state", "state", "text", total=False), Column("sent_at", "sent at", "text", total=False)]
    notes = ["Budgets from BUDGETS, DAILY_SPEND_THRESHOLD_USD (daily-threshold) and MONTHLY_BUDGET_USD (monthly-budget), each "
             "over its open periods; `would fire`: the next incremental run sends it. Nothing is sent by a report. The spike "
             "rule is in `usage-lake alerts`."]
    return View("alerts", f"Budgets and alerts as of {now:%Y-%m-%d %H:%M} UTC", table, columns, notes, totals=False,
                compact=("budget", "period", "figure", "amount", "percent", "state"))


def _exact(value: str | Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal(1).scaleb(-14))
