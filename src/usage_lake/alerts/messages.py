"""What each alert says: subject, e-mail text, the machine-readable document, and the Athena query to look closer.

A message is built from a finding of the rules (`rules.py`) and, for a billed daily alert that confirms an
estimated one, the record of that earlier alert (`delivery.py` reads it). Nothing here reads the lake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from usage_lake.alerts.figures import BILLED, ESTIMATED, DaySpend, MonthSpend, Ranking
from usage_lake.alerts.rules import MONTH_END_GRACE_DAYS, BudgetReached, DailyOver, Finding, ForecastOver, Spike
from usage_lake.config.settings import Settings
from usage_lake.money import usd
from usage_lake.times import format_timestamp

__all__ = ["COST", "LEFT_OUT", "Alert", "Messages", "athena_query", "cost_basis_text", "plain_usd", "rankings"]

COST = "cost"  # the basis of month-to-date figures: billed days billed, the others at their comparable estimate

LEFT_OUT = ("Not included: Claude usage through Amazon Bedrock or Google Vertex AI (billed by those clouds), "
            "and discounts or credits not shown in the Admin API.")


@dataclass(frozen=True)
class Alert:
    key: str  # unique per alert ever sent, e.g. "daily/2026-11-21/billed/t70"; also its place in alerts/
    kind: str  # daily | monthly | spike
    basis: str  # billed | estimated | cost | forecast
    day: date  # the day the figure is of (a monthly figure: the last day it counts)
    severity: str  # info | warning | critical
    subject: str
    text: str
    document: dict[str, Any]  # the machine-readable form
    family: str  # alerts of one family are sent in rising `level` only (e.g. "daily/2026-11-21/billed")
    level: Decimal  # the line this alert crossed (a threshold, a budget step in dollars, a spike ratio)


class Messages:
    """Turns findings into alerts, signed with the run that sends them."""

    def __init__(self, settings: Settings, run_id: str) -> None:
        self.settings = settings
        self.run_id = run_id

    def alert(self, finding: Finding, confirms: dict[str, Any] | None = None) -> Alert:
        """The alert of a finding; `confirms` is the sent record of the estimated alert a billed one follows up."""
        if isinstance(finding, DailyOver):
            return self.daily(finding, confirms)
        if isinstance(finding, BudgetReached):
            return self.budget(finding)
        if isinstance(finding, ForecastOver):
            return self.forecast(finding)
        return self.spike(finding)

    def daily(self, finding: DailyOver, confirms: dict[str, Any] | None) -> Alert:
        spend, basis, figure, threshold = finding.spend, finding.basis, finding.figure, finding.threshold
        day = spend.day
        label = " (estimated)" if basis == ESTIMATED else ""
        passed = _shows_above(figure, threshold)
        subject = (f"Anthropic spend {usd(figure)}{label} on {day} {'passed' if passed else 'reached'} your "
                   f"{plain_usd(threshold)} daily threshold")
        if confirms:
            subject = f"Confirmed: {subject}"
        average, average_days = finding.average, finding.average_days
        so_far = " so far" if day >= finding.today else ""
        lines = [f"Anthropic API spend on {day} (UTC) was {usd(figure)}{so_far}, {'above' if passed else 'reaching'} your daily "
                 f"threshold of {usd(threshold)}."]
        if confirms:
            lines.append(f"This confirms the estimated alert sent on {confirms['sent_at']}: estimated {usd(Decimal(confirms['figure_usd']))}, "
                         f"billed {usd(figure)}.")
        lines += ["", _basis_text(basis, day >= finding.today)]
        if spend.priority_estimated_usd and basis == BILLED:
            lines.append(f"Priority Tier usage is billed separately and is not in this figure: estimated at "
                         f"{usd(spend.priority_estimated_usd)} for the day from usage x list prices.")
        lines.append(LEFT_OUT)
        lines += ["", f"Trailing 7-day average: {usd(average)} ({average_days} day(s) with data)" if average is not None
                  else "Trailing 7-day average: no earlier days in the lake yet."]
        lines += ["", *rankings(spend, basis), "", *self._query(day, basis)]
        severity = "critical" if figure >= 2 * threshold else "warning"
        document = {"kind": "daily", "basis": basis, "day": day.isoformat(), "figure_usd": str(figure), "threshold_usd": str(threshold),
                    "priority_tier_estimated_usd": str(spend.priority_estimated_usd),
                    "trailing_average_usd": None if average is None else str(average), "confirms": confirms}
        return self._alert(finding, "daily", basis, day, severity, subject, lines, document, spend)

    def budget(self, finding: BudgetReached) -> Alert:
        spend, step, budget = finding.spend, finding.step, finding.budget
        month = f"{spend.month:%B %Y}"
        subject = (f"Anthropic spend {usd(spend.cost_usd)} {f'in {month}' if spend.ended else 'this month'} reached {step}% of your "
                   f"{plain_usd(budget)} monthly budget")
        lines = [f"Anthropic API spend for {month} {'was' if spend.ended else 'so far is'} {usd(spend.cost_usd)}: {step}% or more "
                 f"of your monthly budget of {usd(budget)}."]
        if spend.ended:
            lines.append(f"{month} has ended; its last hours and the days the cost report billed late count too (a month is "
                         f"evaluated until {MONTH_END_GRACE_DAYS} days after its end).")
        severity = {50: "info", 80: "warning", 100: "critical"}[step]
        return self._monthly(finding, COST, spend, spend.cost_usd, budget, step, severity, subject, lines)

    def forecast(self, finding: ForecastOver) -> Alert:
        spend, budget = finding.spend, finding.budget
        month = f"{spend.month:%B %Y}"
        passes = _shows_above(finding.forecast, budget)
        subject = (f"Anthropic spend forecast {usd(finding.forecast)} for {month} {'passes' if passes else 'reaches'} your "
                   f"{plain_usd(budget)} monthly budget")
        lines = [f"At the current pace, Anthropic API spend for {month} will reach about {usd(finding.forecast)}, "
                 f"{'above' if passes else 'at'} your monthly budget of {usd(budget)}. Month to date: {usd(spend.cost_usd)} "
                 f"({spend.days_with_data} day(s) with data; linear forecast)."]
        return self._monthly(finding, "forecast", spend, finding.forecast, budget, 100, "warning", subject, lines)

    def spike(self, finding: Spike) -> Alert:
        spend, estimate, average, days, ratio = finding.spend, finding.estimate, finding.average, finding.average_days, finding.ratio
        today = spend.day
        multiple = estimate / average
        clock = f"{finding.now:%H:%M} UTC"
        subject = f"Anthropic spend today ({usd(estimate)} by {clock}) is {multiple:.1f}x your {days}-day average of {usd(average)}"
        lines = [
            f"Anthropic API spend today, {today} (UTC), is {usd(estimate)} by {clock}, {multiple:.1f}x the average of "
            f"{usd(average)} for the same hours (00:00 to {clock}) of the {days} earlier day(s) with usage in the last 7. "
            f"Your spike alert fires at {ratio}x.",
            "",
            "Basis: estimated on both sides - usage x list prices, Priority Tier included; usage buckets that ended by "
            f"{clock} each day.",
            "",
            *rankings(spend, ESTIMATED),
            "",
            LEFT_OUT,
            "",
            *self._query(today, ESTIMATED),
        ]
        document = {"kind": "spike", "basis": ESTIMATED, "day": today.isoformat(), "through": format_timestamp(finding.now),
                    "estimated_usd": str(estimate), "trailing_average_usd": str(average), "trailing_days": days,
                    "ratio": str(ratio), "multiple": str(multiple.quantize(Decimal("0.01")))}
        return self._alert(finding, "spike", ESTIMATED, today, "warning", subject, lines, document, spend)

    def _monthly(self, finding: BudgetReached | ForecastOver, basis: str, spend: MonthSpend, figure: Decimal, budget: Decimal,
                 step: int, severity: str, subject: str, lines: list[str]) -> Alert:
        lines += ["", *cost_basis_text(spend), LEFT_OUT, "", *self._query(spend.month, BILLED, month=True,
                                                                   until=spend.through if spend.ended else None)]
        document = {"kind": "monthly", "basis": basis, "month": f"{spend.month:%Y-%m}", "figure_usd": str(figure),
                    "budget_usd": str(budget), "percent": step, "days_with_data": spend.days_with_data,
                    "month_to_date_usd": str(spend.cost_usd), "billed_days": spend.billed_days,
                    "estimated_days": spend.estimated_days, "priority_tier_estimated_usd": str(spend.priority_estimated_usd)}
        return self._alert(finding, "monthly", basis, spend.through, severity, subject, lines, document, None)

    def _alert(self, finding: Finding, kind: str, basis: str, day: date, severity: str, subject: str, lines: list[str],
               document: dict[str, Any], spend: DaySpend | None) -> Alert:
        key = finding.key
        if spend is not None:
            document["top"] = {name: [[label, str(amount)] for label, amount in ranking]
                               for name, ranking in spend.top.get(basis if basis != "forecast" else BILLED, {}).items()}
        document |= {"key": key, "severity": severity, "run_id": self.run_id, "subject": subject}
        lines += ["", f"Sent once by anthropic-usage-lake (run {self.run_id}); alert key {key}."]
        text = "\n".join(lines)
        document["text"] = text  # machines get the words too (chat forwarding, ticket bodies)
        return Alert(key, kind, basis, day, severity, subject[:100], text, document, finding.family, finding.level)

    def _query(self, day: date, basis: str, *, month: bool = False, until: date | None = None) -> list[str]:
        return [f"Look closer in Athena (workgroup {self.settings.athena_workgroup}):",
                f"  {athena_query(self.settings.athena_database, day, basis, month=month, until=until)}"]


def athena_query(database: str, day: date, basis: str, *, month: bool = False, until: date | None = None) -> str:
    """The query behind a figure, largest first: one day of usage estimates or billed cost; with `month`, the days
    from `day` on (through `until`, for a month that has ended)."""
    if not month:
        where = f"dt = '{day}'"
    else:
        where = f"dt >= '{day}'" if until is None else f"dt BETWEEN '{day}' AND '{until}'"
    if basis == ESTIMATED:
        return (f"SELECT model, workspace_id, api_key_id, service_tier, sum(estimated_cost_usd) AS estimated_usd "
                f"FROM \"{database}\".usage_messages WHERE {where} GROUP BY 1, 2, 3, 4 ORDER BY estimated_usd DESC LIMIT 50;")
    return (f"SELECT dt, model, workspace_id, cost_type, sum(amount_usd) AS usd "
            f"FROM \"{database}\".cost_report WHERE {where} GROUP BY 1, 2, 3, 4 ORDER BY usd DESC LIMIT 50;")


def rankings(spend: DaySpend, basis: str) -> list[str]:
    """The day's top models, workspaces and API keys on a basis (API keys always from the estimate)."""
    lines = []
    top = spend.top.get(basis, {})
    for name, title in (("models", "Top models"), ("workspaces", "Top workspaces"), ("api_keys", "Top API keys")):
        ranking: Ranking = top.get(name) or (spend.top.get(ESTIMATED, {}).get(name, []) if name == "api_keys" else [])
        if not ranking:
            continue
        note = " (estimated from usage: the cost report has no per-key cost)" if name == "api_keys" and basis == BILLED else ""
        lines.append(f"{title}{note}:")
        lines += [f"  {label:<44} {usd(amount):>12}" for label, amount in ranking]
    if spend.unpriced_rows:
        lines.append(f"({spend.unpriced_rows} usage row(s) use models missing from the price table and are not in the estimate.)")
    return lines


def cost_basis_text(spend: MonthSpend) -> list[str]:
    """What a month-to-date figure counts: the `cost` basis, and Priority Tier beside it."""
    lines = [f"Basis: cost - {spend.billed_days} day(s) at their billed cost (the Admin API cost report) and "
             f"{spend.estimated_days} day(s) the cost report has not billed yet at their estimate without Priority Tier "
             f"(usage x list prices, the kinds of usage the cost report bills), so the figure does not jump when a day is billed."]
    if spend.priority_estimated_usd:
        lines.append(f"Priority Tier usage is billed separately and is not in this figure: estimated at "
                     f"{usd(spend.priority_estimated_usd)} over the same days from usage x list prices.")
    return lines


def _shows_above(figure: Decimal, line: Decimal) -> bool:
    """Whether the figure, as shown (to the cent), is above the line as shown: else it "reached" the line."""
    return usd(figure) != usd(line) and figure > line


def plain_usd(value: Decimal) -> str:
    """A threshold as people write it: $1,000 rather than $1,000.00."""
    return f"${value:,.0f}" if value == value.to_integral_value() else usd(value)


def _basis_text(basis: str, today: bool) -> str:
    if basis == BILLED:
        return "Basis: billed - the Admin API cost report for the whole UTC day."
    if today:
        return ("Basis: estimated - today's usage so far x list prices (the cost report has no figure for a day until it has "
                "ended). Priority Tier usage is included in the estimate.")
    return ("Basis: estimated - usage x list prices; the cost report has no figure for this day yet. A follow-up comes "
            "if the billed figure confirms it.")
