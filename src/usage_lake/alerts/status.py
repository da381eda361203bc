"""Where do we stand? What `usage-lake alerts` prints: each day against the daily threshold, today against the spike
ratio, and every budget over each of its open periods - its figure, % used, forecast, and what was sent or would
fire on the next run.

`budget_rows` is the structured form (a list of dicts, JSON-ready: decimals as strings), `render_budgets` its
text; `status` is the whole terminal view. Nothing here sends anything.
"""

from __future__ import annotations

import json
import textwrap
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from usage_lake import words
from usage_lake.alerts.delivery import covering, family_records, rule_of
from usage_lake.alerts.figures import BILLED, ESTIMATED, Figures
from usage_lake.alerts.messages import amount_text, plain_usd
from usage_lake.alerts.periods import open_spans
from usage_lake.alerts.rules import SPIKE_MIN_DAYS, BudgetReached, DailyOver, Finding, ForecastOver, budget_family, evaluate, period_findings, tag
from usage_lake.config.budgets import Budget, Measure, Period
from usage_lake.config.settings import Settings
from usage_lake.errors import SettingsError
from usage_lake.lake.layout import alert_sent_prefix
from usage_lake.lake.store import Lake
from usage_lake.money import usd
from usage_lake.sanitize import display
from usage_lake.tables import table_lines
from usage_lake.times import format_timestamp

__all__ = ["budget_rows", "render_budgets", "sent_since", "status"]


def budget_rows(lake: Lake, figures: Figures, budgets: list[Budget], now: datetime) -> list[dict[str, Any]]:
    """Every budget over each of its open periods (oldest first): figure, % used, forecast, what was sent, what would fire."""
    rows = []
    for budget in budgets:
        for span in open_spans(budget.period, now):
            row: dict[str, Any] = {
                "budget": budget.name, "period": budget.period.value, "period_id": span.id, "start": span.start.isoformat(),
                "end": span.last.isoformat(), "through": span.through(now).isoformat(), "ended": span.ended(now),
                "measure": budget.measure.value, "unit": budget.measure.unit, "scope": budget.scope_text, "amount": str(budget.amount),
                "thresholds": [str(t) for t in budget.thresholds], "forecast_alert": budget.forecast, "error": None,
            }
            try:
                if budget.legacy and budget.period == Period.DAILY:
                    row |= _daily_threshold(lake, figures, budget, span.start, now)
                else:
                    row |= _budget(lake, figures, budget, span, now)
            except SettingsError as exc:  # a name the snapshots do not know: the row says so, the others stand
                row |= {"error": f"cannot evaluate: {exc}", "figure": None, "percent": None, "forecast": None, "basis": None,
                        "basis_note": None, "sent": [], "would_fire": []}
            rows.append(row)
    return rows


def _budget(lake: Lake, figures: Figures, budget: Budget, span: Any, now: datetime) -> dict[str, Any]:
    spend = figures.budget(budget, span, now)
    findings: list[Finding] = period_findings(spend)
    families = [budget_family(spend, "actual"), budget_family(spend, "forecast")]
    return {
        "basis": spend.basis, "basis_note": spend.estimate_reason, "figure": str(spend.value), "percent": str(spend.percent.quantize(Decimal("0.01"))),
        "forecast": None if spend.forecast is None else str(spend.forecast.quantize(Decimal("0.01"))),
        "billed_days": spend.billed_days, "estimated_days": spend.estimated_days, "unbilled_days": spend.unbilled_days,
        "priority_tier_estimated_usd": str(spend.priority_estimated_usd),
        "sent": _sent(lake, families), "would_fire": [f.key for f in findings if covering(lake, f.family, f.level, rule_of(f.key, budget.scope_text)) is None],
    }


def _daily_threshold(lake: Lake, figures: Figures, budget: Budget, day: date, now: datetime) -> dict[str, Any]:
    """DAILY_SPEND_THRESHOLD_USD's figure for a day as its rule reads it: the day's alert figure (billed, else estimated without Priority Tier)."""
    spend = figures.day(day)
    basis, figure = spend.alert_basis, spend.cost_usd  # the alert figure, as `rules.daily` compares it
    sent = _sent(lake, [f"daily/{day}/{BILLED}", f"daily/{day}/{ESTIMATED}"])
    would = [] if basis is None or figure is None or figure < budget.amount else [
        f"daily/{day}/{basis}/t{tag(budget.amount)}"]
    return {"basis": basis, "basis_note": None, "figure": None if figure is None else str(figure),
            "percent": None if figure is None else str((figure * 100 / budget.amount).quantize(Decimal("0.01"))), "forecast": None,
            "billed_days": int(spend.billed_usd is not None), "estimated_days": int(spend.billed_usd is None and figure is not None),
            "unbilled_days": 0, "priority_tier_estimated_usd": str(spend.priority_estimated_usd), "sent": sent,
            "would_fire": [key for key in would if covering(lake, key.rsplit("/", 1)[0], budget.amount) is None]}


def _sent(lake: Lake, families: list[str]) -> list[dict[str, Any]]:
    return [{"key": r["key"], "sent_at": r["sent_at"], "subject": r.get("subject"), **({"not_sent": r["not_sent"]} if r.get("not_sent") else {})}
            for family in families for r in family_records(lake, family)]


def _sent_word(record: dict[str, Any]) -> str:
    """"sent", or, for an alert no retry could send (reported once, not retried), why not."""
    return f"NOT SENT ({record['not_sent'][:200]}), given up" if record.get("not_sent") else "sent"


def sent_since(lake: Lake, since: datetime, *, except_budgets: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The alerts the lake has sent at or after `since` (oldest first), whatever the settings of this shell say;
    `except_budgets`: leave out those budgets' (shown with their budget rows)."""
    records = []
    for key in lake.list(alert_sent_prefix("")):
        record = json.loads(lake.get(key))
        if record.get("budget") not in except_budgets and record.get("sent_at", "") >= format_timestamp(since):
            parts = record["key"].split("/")  # budget/<name>/<period>/..., problem/<budget>/<period>/..., else <kind>/<period>/...
            record["period_id"] = parts[2] if parts[0] == "budget" or (parts[0] == "problem" and len(parts) > 3) else parts[1]
            records.append(record)
    return sorted(records, key=lambda record: record["sent_at"])


def render_budgets(rows: list[dict[str, Any]], *, width: int | None = None, wide: bool = False) -> list[str]:
    """The rows as a terminal table, one line per budget and period (compact: budget, period, figure, amount, used;
    `wide`: scope, measure and forecast too), then what was sent and what would fire."""
    if not rows:
        return ["No budgets (set BUDGETS, MONTHLY_BUDGET_USD or DAILY_SPEND_THRESHOLD_USD)."]
    columns = [("budget", "text"), ("period", "day"), ("scope", "text"), ("measure", "day"), ("figure", "n"), ("amount", "n"),
               ("used", "n"), ("forecast", "n")]
    keep = range(len(columns)) if wide else (0, 1, 4, 5, 6)
    body, after = [], []
    for row in rows:
        measure = Measure(row["measure"])
        period = row["period_id"] + (" (ended)" if row["ended"] else "")
        name = display(row["budget"])
        if row["error"]:
            body.append([name, period, display(row["scope"]), row["measure"], "-", _short(measure, Decimal(row["amount"]), plain=True),
                         "-", "-"])
            after.append(f"  {name} {period}: {display(row['error'], None)}")
            continue
        figure = "-" if row["figure"] is None else _short(measure, Decimal(row["figure"]))
        forecast = "-" if row["forecast"] is None else _short(measure, Decimal(row["forecast"]))
        used = "-" if row["percent"] is None else words.percent_text(Decimal(row["percent"]))
        body.append([name, period, display(row["scope"]), row["measure"], figure, _short(measure, Decimal(row["amount"]), plain=True),
                     used, forecast])
        after += [f"  {name} {period}: sent {sent['sent_at']}: {display(sent['key'], None)}" for sent in row["sent"]]
        after += [f"  {name} {period}: WOULD FIRE on the next run: {display(key, None)}" for key in row["would_fire"]]
    lines = table_lines([columns[i] for i in keep], [[cells[i] for i in keep] for cells in body], width=width)
    return lines + after


def _short(measure: Measure, value: Decimal, *, plain: bool = False) -> str:
    text = amount_text(measure, value, plain=plain)
    return text if measure.is_money else f"{int(value):,}"


def status(lake: Lake, figures: Figures, settings: Settings, days: list[date], now: datetime,
           budgets: list[Budget] | None = None, *, width: int | None = None, wide: bool = False) -> list[str]:
    """Each day's figures against the daily threshold, the spike ratio, and every budget: sent, or would fire now."""
    threshold = settings.daily_spend_threshold_usd
    findings = evaluate(figures, settings, days, now, budgets, problems=[])
    daily = {(f.spend.day, f.basis): f for f in findings if isinstance(f, DailyOver)}
    window_start = now.date() - timedelta(days=settings.usage_lookback_days)
    shown = usd(threshold) if threshold is not None else "off"
    body = []
    for day in days:
        spend = figures.day(day)
        notes = []
        for basis in (BILLED, ESTIMATED):
            if sent := family_records(lake, f"daily/{day}/{basis}"):
                level = sent[-1].get("level")
                notes.append(f"{basis} {_sent_word(sent[-1])} {sent[-1]['sent_at']}" + (f" (at {plain_usd(Decimal(level))})" if level else ""))
            over = daily.get((day, basis))
            if over is not None and covering(lake, over.family, over.level) is None:
                notes.append(f"{basis} WOULD FIRE on the next run" if day >= window_start
                             else f"{basis} over the threshold (before the refresh window: not alerted)")
        body.append([day.isoformat(), usd(spend.billed_usd), usd(spend.estimated_usd), usd(spend.priority_estimated_usd),
                     usd(spend.cost_usd), ", ".join(notes) or "-"])
    columns = [("day", "day"), (words.BILLED, "n"), (words.ESTIMATED, "n"), (words.PRIORITY_ESTIMATED, "n"), (words.ALERT_FIGURE, "n"),
               ("alerts", "text")]
    keep = range(len(columns)) if wide else (0, 1, 2, 4, 5)
    lines = [f"The alert figure of each day against the daily threshold {shown}:"]
    lines += table_lines([columns[i] for i in keep], [[cells[i] for i in keep] for cells in body], width=width)
    budget = settings.monthly_budget_usd
    lines.append("")
    for span in open_spans(Period.MONTHLY, now):
        spent = figures.month(span.start, now)
        lines.append(f"{'Month' if spent.ended else 'Month to date'} ({span.start:%B %Y}{', ended' if spent.ended else ''}): "
                     f"{usd(spent.cost_usd)} on the cost basis ({spent.billed_days} day(s) billed, {spent.estimated_days} "
                     f"estimated without Priority Tier); Priority Tier estimated {usd(spent.priority_estimated_usd)} beside it; "
                     f"monthly budget {usd(budget) if budget is not None else 'off'}")
    average, average_days = figures.same_hours_average(now)
    ratio = settings.spike_ratio
    lines.append(f"Today by {now:%H:%M} UTC {usd(figures.day(now.date()).estimated_through(now))} (estimated); the same hours "
                 f"averaged {usd(average)} over {average_days} earlier day(s) (a spike needs {SPIKE_MIN_DAYS}); spike ratio "
                 f"{ratio if ratio is not None else 'off'}")
    for finding in findings:
        if isinstance(finding, DailyOver) or not finding.key.startswith(("monthly/", "spike/")):
            continue
        scope = finding.budget.scope_text if isinstance(finding, BudgetReached | ForecastOver) else None
        record = covering(lake, finding.family, finding.level, rule_of(finding.key, scope))
        state = "WOULD FIRE" if record is None else _sent_word(record) + " " + record["sent_at"] + (
            f" (as {record['key']})" if record.get("key") != finding.key else "")
        lines.append(f"  {finding.key}: {state}")
    if budgets:
        lines += ["", "Budgets (each open period):", *render_budgets(budget_rows(lake, figures, budgets, now), width=width, wide=wide)]
    if width is not None:  # the sentences wrap at the terminal's width (the tables fit it already)
        lines = [part for line in lines for part in (textwrap.wrap(line, width, subsequent_indent="    ") if len(line) > width else [line])]
    return lines
