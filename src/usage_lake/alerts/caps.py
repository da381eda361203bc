"""Anthropic's own spend caps (the Spend Limits API's `spend_limits` snapshot) against our figures, and the
built-in cap alerts.

Each enabled monthly cap with an amount (organization, workspace, and the read-only `usage_tier` cap) is
measured month to date on the `cost` basis (billed days billed, the others at the estimate of what the cost
report bills), in its scope (a workspace cap: that workspace), plus Priority Tier where the lake holds it
billed (the Analytics API's `analytics_cost`), as the cap counts every dollar. An alert goes out once per cap,
month and step (`CAP_ALERTS`, default 80 and 95 percent; `CAP_ALERTS=off` turns them off), with the routing
attributes every alert has: `budget=anthropic-cap`, `scope` (`organization`, `usage_tier`, `workspace_id=...`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow.compute as pc

from usage_lake.alerts.figures import Figures
from usage_lake.alerts.messages import Alert
from usage_lake.alerts.periods import span_of
from usage_lake.config.budgets import Budget, Period
from usage_lake.lake.curated import partition_days, read_parquet
from usage_lake.lake.layout import partition_key
from usage_lake.lake.store import Lake
from usage_lake.money import usd

__all__ = ["CAP_BUDGET", "Cap", "CapFigure", "cap_alerts", "cap_figures", "cap_lines", "latest_caps"]

CAP_BUDGET = "anthropic-cap"  # the `budget` attribute of cap alerts


@dataclass(frozen=True)
class Cap:
    id: str
    scope_type: str  # organization | workspace | usage_tier
    workspace_id: str | None
    amount_usd: Decimal

    @property
    def scope(self) -> str:
        return f"workspace_id={self.workspace_id}" if self.scope_type == "workspace" else self.scope_type

    @property
    def label(self) -> str:
        return {"organization": "organization", "usage_tier": "usage-tier"}.get(self.scope_type, f"workspace {self.workspace_id}")


@dataclass(frozen=True)
class CapFigure:
    cap: Cap
    month: date
    cost_usd: Decimal  # month to date on the cost basis, in the cap's scope
    priority_billed_usd: Decimal  # Priority Tier, billed (Analytics API), in the cap's scope

    @property
    def value(self) -> Decimal:
        return self.cost_usd + self.priority_billed_usd

    @property
    def percent(self) -> Decimal:
        return self.value * 100 / self.cap.amount_usd


def latest_caps(lake: Lake, today: date) -> list[Cap]:
    """The enabled monthly caps with an amount, from the latest `spend_limits` snapshot up to `today`."""
    days = [d for d in partition_days(lake, "spend_limits") if d <= today]
    if not days:
        return []
    rows = read_parquet(lake.get(partition_key("spend_limits", days[-1])), table="spend_limits").to_pylist()
    return [Cap(r["id"], r["scope_type"] or "organization", r["workspace_id"], r["amount_usd"]) for r in rows
            if r["amount_usd"] and r["is_enabled"] is not False and (r["period"] or "monthly") == "monthly"
            and r["scope_type"] in ("organization", "workspace", "usage_tier")]


def _priority_billed(lake: Lake, cap: Cap, start: date, through: date) -> Decimal:
    total = Decimal(0)
    day = start
    while day <= through:
        key = partition_key("analytics_cost", day)
        if lake.exists(key):
            rows = read_parquet(lake.get(key), table="analytics_cost", columns=["service_tier", "workspace_id", "amount_usd"])
            mask = pc.fill_null(pc.equal(rows.column("service_tier"), "priority"), False)
            if cap.scope_type == "workspace":
                mask = pc.and_(mask, pc.fill_null(pc.equal(rows.column("workspace_id"), cap.workspace_id), False))
            total += Decimal(pc.sum(rows.filter(mask).column("amount_usd")).as_py() or 0)
        day += timedelta(days=1)
    return total


def cap_figures(lake: Lake, figures: Figures, now: datetime) -> list[CapFigure]:
    """Every cap's month-to-date figure."""
    span = span_of(Period.MONTHLY, now.date())
    found = []
    for cap in latest_caps(lake, now.date()):
        scope = {"workspace_id": (cap.workspace_id,)} if cap.scope_type == "workspace" and cap.workspace_id else {}
        budget = Budget(f"{CAP_BUDGET}-{cap.id}", Period.MONTHLY, cap.amount_usd, scope=scope)
        spend = figures.budget(budget, span, now)
        found.append(CapFigure(cap, span.start, spend.value, _priority_billed(lake, cap, span.start, spend.through)))
    return found


def cap_alerts(lake: Lake, figures: Figures, percents: tuple[int, ...], now: datetime) -> list[Alert]:
    """One alert per cap, month and step crossed (the highest step first suppresses the lower ones in delivery)."""
    if not percents:
        return []
    alerts = []
    for figure in cap_figures(lake, figures, now):
        crossed = [p for p in percents if figure.percent >= p]
        if not crossed:
            continue
        step = max(crossed)
        cap, month = figure.cap, f"{figure.month:%Y-%m}"
        subject = (f"[usage-lake] {step}% of Anthropic's {cap.label} spend cap for {month}: "
                   f"{usd(figure.value)} of {usd(cap.amount_usd)}")
        text = "\n".join([
            subject, "",
            f"Anthropic's monthly spend cap ({cap.scope}, {cap.id}): {usd(cap.amount_usd)}. At the cap, requests start failing.",
            f"Month to date: {usd(figure.cost_usd)} on the cost basis (billed days billed, the others estimated)"
            + (f" + {usd(figure.priority_billed_usd)} Priority Tier billed" if figure.priority_billed_usd else "")
            + f" = {usd(figure.value)} ({figure.percent:.1f}%).",
        ])
        key = f"cap/{cap.id}/{month}/p{step}"
        document = {"key": key, "kind": "cap", "budget": CAP_BUDGET, "cap_id": cap.id, "scope": cap.scope, "month": month, "cap_usd": str(cap.amount_usd),
                    "figure_usd": str(figure.value), "cost_usd": str(figure.cost_usd),
                    "priority_billed_usd": str(figure.priority_billed_usd), "percent": str(round(figure.percent, 2)), "step": step}
        alerts.append(Alert(key=key, kind="cap", basis="cost", day=now.date(),
                            severity="critical" if step >= 95 else "warning", subject=subject, text=text, document=document,
                            family=f"cap/{cap.id}/{month}", level=Decimal(step), budget=CAP_BUDGET, scope=cap.scope))
    return alerts


def cap_lines(lake: Lake, figures: Figures, now: datetime) -> list[str]:
    """Budget status: each cap beside our month-to-date figure."""
    caps = cap_figures(lake, figures, now)
    if not caps:
        return []
    lines = ["", f"Anthropic spend caps ({now:%Y-%m}, month to date; the cap counts Priority Tier too)"]
    for figure in caps:
        lines.append(f"  {figure.cap.scope:<40} cap {usd(figure.cap.amount_usd):>14}  ours {usd(figure.value):>14}  "
                     f"{figure.percent:6.1f}%")
    return lines
