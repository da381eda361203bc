"""What each alert says: subject, e-mail text, the machine-readable document, and the Athena query to look closer.

A message is built from a finding of the rules (`rules.py`) and, for a billed daily alert that confirms an
estimated one, the record of that earlier alert (`delivery.py` reads it). Nothing here reads the lake.
Every alert names its budget and scope (`daily-threshold`, `monthly-budget`, a `BUDGETS` name; `spike`;
`weekly-digest`): SNS subscribers filter on them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.alerts.figures import ANALYTICS_BILLED, BILLED, COST, ESTIMATED, USAGE, BudgetFigure, DaySpend, Ranking
from usage_lake.alerts.rules import MONTH_END_GRACE_DAYS, BudgetReached, DailyOver, Finding, ForecastOver, Spike, tag
from usage_lake.alerts.scopes import DayScope
from usage_lake.config.budgets import LEGACY_DAILY, LEGACY_MONTHLY, Budget, Measure
from usage_lake.config.settings import Settings
from usage_lake.money import usd
from usage_lake.sanitize import display
from usage_lake.times import format_timestamp

__all__ = ["COST", "LEFT_OUT", "SPIKE", "Alert", "Messages", "amount_text", "athena_query", "budget_query", "cost_basis_text",
           "bounded", "measure_text", "of_text", "percent_text", "plain_usd", "rankings"]

SPIKE = "spike"  # the `budget` attribute of spike alerts

# A name from the API (a key, a workspace, a model) is cut to this many characters in an alert: anyone in the
# organization can name a key, and a 1,000,000-character name made every alert that ranked it too big for SNS.
NAME_LIMIT = 80

LEFT_OUT = ("Not included: Claude usage through Amazon Bedrock or Google Vertex AI (billed by those clouds), "
            "and discounts or credits not shown in the Admin API.")


class Keyed(Protocol):
    """What an alert is sent under: a finding of the rules, or the weekly digest."""

    @property
    def key(self) -> str: ...

    @property
    def family(self) -> str: ...

    @property
    def level(self) -> Decimal: ...


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
    budget: str = LEGACY_DAILY  # the budget it is about (an SNS attribute: subscriptions filter on it); never empty
    scope: str = "all"  # that budget's scope, as `Budget.scope_text`


class Messages:
    """Turns findings into alerts, signed with the run that sends them."""

    def __init__(self, settings: Settings, run_id: str, *, web_search_usd: Decimal = Decimal("0.01")) -> None:
        self.settings = settings
        self.run_id = run_id
        self.web_search_usd = web_search_usd  # the price per search, in the query of a scope without web search

    def alert(self, finding: Finding, confirms: dict[str, Any] | None = None) -> Alert:
        """The alert of a finding; `confirms` is the sent record of the estimated alert a billed one follows up."""
        if isinstance(finding, DailyOver):
            return self.daily(finding, confirms)
        if isinstance(finding, (BudgetReached, ForecastOver)) and not finding.budget.legacy:
            return self.budget_alert(finding)
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
        if spend.priority_estimated_usd:
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
        """MONTHLY_BUDGET_USD (the budget `monthly-budget`): its steps, worded as they always were."""
        spend, step, budget = finding.spend, finding.step, finding.budget.amount
        month = f"{spend.month:%B %Y}"
        subject = (f"Anthropic spend {usd(spend.cost_usd)} {f'in {month}' if spend.ended else 'this month'} reached {step}% of your "
                   f"{plain_usd(budget)} monthly budget")
        lines = [f"Anthropic API spend for {month} {'was' if spend.ended else 'so far is'} {usd(spend.cost_usd)}: {step}% or more "
                 f"of your monthly budget of {usd(budget)}."]
        if spend.ended:
            lines.append(f"{month} has ended; its last hours and the days the cost report billed late count too (a month is "
                         f"evaluated until {MONTH_END_GRACE_DAYS} days after its end).")
        return self._monthly(finding, COST, spend, spend.cost_usd, budget, step, _severity(step), subject, lines)

    def forecast(self, finding: ForecastOver) -> Alert:
        spend, budget = finding.spend, finding.budget.amount
        month = f"{spend.month:%B %Y}"
        passes = _shows_above(finding.forecast, budget)
        subject = (f"Anthropic spend forecast {usd(finding.forecast)} for {month} {'passes' if passes else 'reaches'} your "
                   f"{plain_usd(budget)} monthly budget")
        lines = [f"At the current pace, Anthropic API spend for {month} will reach about {usd(finding.forecast)}, "
                 f"{'above' if passes else 'at'} your monthly budget of {usd(budget)}. Month to date: {usd(spend.cost_usd)} "
                 f"({spend.days_with_data} day(s) with data; linear forecast)."]
        return self._monthly(finding, "forecast", spend, finding.forecast, budget, Decimal(100), "warning", subject, lines)

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
        return self._alert(finding, "spike", ESTIMATED, today, "warning", subject, lines, document, spend, budget=SPIKE)

    def budget_alert(self, finding: BudgetReached | ForecastOver) -> Alert:
        """A budget of the BUDGETS file: its figure (or forecast) against its amount, in its scope and measure."""
        spend = finding.spend
        budget, span = spend.budget, spend.span
        when = (("today" if not spend.ended else f"on {span.start}") if span.noun == "day"
                else f"this {span.noun}" if not spend.ended else f"in {span.title_short}")
        measure, amount = budget.measure, budget.amount
        period = f"{span.title}, {span.start} to {span.last} (UTC)" if span.noun != "day" else f"{span.start} (UTC)"
        if isinstance(finding, BudgetReached):
            basis, step, figure = spend.basis, finding.step, spend.value
            subject = (f"Anthropic budget {budget.name}: {of_text(measure, figure, amount, compact=True)} {when} "
                       f"({percent_text(spend.percent)}, {tag(step)}% threshold)")
            lines = [f"Budget {budget.name}: {measure_text(measure)} of {_scope_words(budget)} for {period} "
                     f"{'was' if spend.ended else 'is so far'} {amount_text(measure, figure)}: {percent_text(spend.percent)} of its "
                     f"amount of {amount_text(measure, amount)}, at or above its {tag(step)}% threshold ({amount_text(measure, finding.level)})."]
            severity = _severity(step)
        else:
            basis, step, figure = "forecast", Decimal(100), finding.forecast
            subject = (f"Anthropic budget {budget.name}: forecast {of_text(measure, figure, amount, compact=True)} {when} "
                       f"({percent_text(figure * 100 / amount)})")
            lines = [f"Budget {budget.name}: at the current pace, {measure_text(measure)} of {_scope_words(budget)} for {period} "
                     f"will reach about {amount_text(measure, figure)}, {percent_text(figure * 100 / amount)} of its amount of "
                     f"{amount_text(measure, amount)} (a straight-line forecast from {amount_text(measure, spend.value)} so far)."]
            severity = "warning"
        if spend.forecast is not None and isinstance(finding, BudgetReached):
            lines.append(f"Forecast for the {span.noun} at the current pace: {amount_text(budget.measure, spend.forecast)}.")
        if spend.ended:
            lines.append(f"The {span.noun} has ended; its last hours and the days the cost report billed late count too (a period "
                         f"is evaluated until {MONTH_END_GRACE_DAYS} days after its end).")
        lines += ["", f"Scope: {budget.scope_text}", f"Measure: {budget.measure.value} ({budget.measure.unit})",
                  *budget_basis_text(spend)]
        if budget.measure.is_money:
            lines.append(LEFT_OUT)
        lines += ["", *budget_rankings(spend)]
        lines += ["", f"Look closer in Athena (workgroup {self.settings.athena_workgroup}):",
                  f"  {budget_query(self.settings.athena_database, spend, self.web_search_usd)}"]
        document: dict[str, Any] = {
            "kind": "budget", "budget": budget.name, "scope": budget.scope_text, "period": budget.period.value, "period_id": span.id,
            "start": span.start.isoformat(), "end": span.last.isoformat(), "through": spend.through.isoformat(), "ended": spend.ended,
            "measure": budget.measure.value, "unit": budget.measure.unit, "basis": basis, "figure": str(figure),
            "amount": str(budget.amount), "threshold_percent": str(step), "percent": str(spend.percent.quantize(Decimal("0.01"))),
            "value": str(spend.value), "forecast": None if spend.forecast is None else str(spend.forecast),
            "billed_days": spend.billed_days, "estimated_days": spend.estimated_days, "unbilled_days": spend.unbilled_days,
            "priority_tier_estimated_usd": str(spend.priority_estimated_usd),
            "top": {name: [[bounded(label), str(value)] for label, value in ranking] for name, ranking in spend.top.items()},
        }
        if budget.measure.is_money:
            document["figure_usd"] = str(figure)
        return self.finish(finding, "budget", basis, spend.through, severity, subject, lines, document, budget.name, budget.scope_text)

    def _monthly(self, finding: BudgetReached | ForecastOver, basis: str, spend: BudgetFigure, figure: Decimal, budget: Decimal,
                 step: Decimal, severity: str, subject: str, lines: list[str]) -> Alert:
        lines += ["", *cost_basis_text(spend), LEFT_OUT, "", *self._query(spend.month, BILLED, month=True,
                                                                   until=spend.through if spend.ended else None)]
        document = {"kind": "monthly", "basis": basis, "month": f"{spend.month:%Y-%m}", "figure_usd": str(figure),
                    "budget_usd": str(budget), "percent": int(step), "days_with_data": spend.days_with_data,
                    "month_to_date_usd": str(spend.cost_usd), "billed_days": spend.billed_days,
                    "estimated_days": spend.estimated_days, "priority_tier_estimated_usd": str(spend.priority_estimated_usd)}
        return self._alert(finding, "monthly", basis, spend.through, severity, subject, lines, document, None, budget=LEGACY_MONTHLY)

    def _alert(self, finding: Finding, kind: str, basis: str, day: date, severity: str, subject: str, lines: list[str],
               document: dict[str, Any], spend: DaySpend | None, *, budget: str = LEGACY_DAILY) -> Alert:
        if spend is not None:
            document["top"] = {name: [[bounded(label), str(amount)] for label, amount in ranking]
                               for name, ranking in spend.top.get(basis if basis != "forecast" else BILLED, {}).items()}
        document |= {"budget": budget, "scope": "all"}
        return self.finish(finding, kind, basis, day, severity, subject, lines, document, budget, "all")

    def finish(self, finding: Keyed, kind: str, basis: str, day: date, severity: str, subject: str, lines: list[str],
                document: dict[str, Any], budget: str, scope: str) -> Alert:
        key = finding.key
        document |= {"key": key, "severity": severity, "run_id": self.run_id, "subject": subject}
        lines += ["", f"Sent once by anthropic-usage-lake (run {self.run_id}); alert key {key}."]
        # names come from the organization: no control character, bidi override or line break reaches the e-mail
        subject = display(subject, None)
        text = "\n".join(display(line, None) for line in lines)
        document["text"] = text  # machines get the words too (chat forwarding, ticket bodies)
        return Alert(key, kind, basis, day, severity, subject[:100], text, document, finding.family, finding.level,
                     budget=budget, scope=scope)

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
        lines += _ranking_lines(ranking, usd, 12)
    if spend.unpriced_rows:
        lines.append(f"({spend.unpriced_rows} usage row(s) use models missing from the price table and are not in the estimate.)")
    return lines


def bounded(name: str, limit: int = NAME_LIMIT) -> str:
    """A name cut to `limit` characters, an ellipsis marking the cut (ids stay whole: they are the way back)."""
    return name if len(name) <= limit else name[:limit - 1] + "\u2026"


def cost_basis_text(spend: BudgetFigure) -> list[str]:
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
        return ("Basis: estimated - today's usage so far x list prices, without Priority Tier (the usage the cost report "
                "bills; it has no figure for a day until it has ended).")
    return ("Basis: estimated - usage x list prices without Priority Tier (the usage the cost report bills); the cost report "
            "has no figure for this day yet. A follow-up comes if the billed figure confirms it.")


def _severity(step: Decimal) -> str:
    return "critical" if step >= 100 else "warning" if step >= 80 else "info"


def percent_text(percent: Decimal) -> str:
    """82%, 100%, 0.4% - floored, so a figure just under a line never shows as the line."""
    if percent < 1 and percent != 0:
        return f"{percent.quantize(Decimal('0.1'), rounding=ROUND_FLOOR)}%"
    return f"{int(percent.to_integral_value(rounding=ROUND_FLOOR))}%"


def amount_text(measure: Measure, value: Decimal, *, plain: bool = False) -> str:
    """$4,120.50 (or $5,000 as people write a budget), 41,250,000 output tokens, 1,200 web search requests."""
    if measure.is_money:
        return plain_usd(value) if plain else usd(value)
    return f"{int(value):,} {measure_text(measure)}"


def of_text(measure: Measure, figure: Decimal, amount: Decimal, *, compact: bool = False) -> str:
    """$4,120.50 of $5,000; 2.10M of 2.89M output tokens (compact: for subjects) or 2,099,673 of 2,887,495 output tokens."""
    if measure.is_money:
        return f"{usd(figure)} of {plain_usd(amount)}"
    count = _compact if compact else (lambda n: f"{int(n):,}")
    return f"{count(figure)} of {count(amount)} {measure_text(measure)}"


def _compact(value: Decimal) -> str:
    for size, suffix in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "K")):
        if abs(value) >= size:
            return f"{value / size:.2f}{suffix}"
    return f"{int(value):,}"


def measure_text(measure: Measure) -> str:
    return {Measure.COST: "spend", Measure.BILLED_COST: "billed spend", Measure.ESTIMATED_COST: "estimated spend",
            Measure.INPUT_TOKENS: "input tokens", Measure.OUTPUT_TOKENS: "output tokens", Measure.TOTAL_TOKENS: "tokens",
            Measure.WEB_SEARCH_REQUESTS: "web search requests", Measure.REQUESTS: "API requests"}[measure]


def _scope_words(budget: Budget) -> str:
    return "the whole organization" if not budget.scope else f"its scope ({budget.scope_text})"


def budget_basis_text(spend: BudgetFigure) -> list[str]:
    """Which figures a budget's figure adds up, said in one or two lines."""
    budget = spend.budget
    days = f"{spend.days_with_data} day(s)"
    if spend.basis == COST:
        return cost_basis_text(spend)
    if spend.basis == USAGE:
        kinds = " (every input kind: uncached, cache writes and cache reads)" if budget.measure in (Measure.INPUT_TOKENS,
                                                                                                  Measure.TOTAL_TOKENS) else ""
        return [f"Basis: usage - the counters of the Messages usage report{kinds}, over {days} with usage."]
    if spend.basis == BILLED:
        lines = [f"Basis: billed - the Admin API cost report, {spend.billed_days} day(s) billed."]
        if spend.unbilled_days:
            lines.append(f"{spend.unbilled_days} day(s) with usage the cost report has not billed yet are not counted.")
        return [*lines, *_priority_beside(spend)]
    if spend.basis == ANALYTICS_BILLED:  # a key scope, billed per key by the Analytics API (issue 18)
        return [f"Basis: billed (analytics) - the Usage and Cost Analytics API bills per API key: {spend.billed_days} day(s) at their "
                f"billed cost without Priority Tier, {spend.estimated_days} day(s) it has not billed at usage x list prices.",
                *_priority_beside(spend)]
    if budget.measure in (Measure.COST, Measure.BILLED_COST):  # a scope the cost report cannot bill
        reason = spend.estimate_reason or "the cost report cannot measure this scope"
        return [f"Basis: estimated - {reason}, so this scope is measured on its usage x list prices "
                f"without Priority Tier (the usage the cost report bills), over {days}.", *_priority_beside(spend)]
    return [f"Basis: estimated - usage x list prices, Priority Tier included, over {days}."]


def _priority_beside(spend: BudgetFigure) -> list[str]:
    if not spend.priority_estimated_usd:
        return []
    return [f"Priority Tier usage is billed separately and is not in this figure: {usd(spend.priority_estimated_usd)} over the same "
            "days (billed by the Usage and Cost Analytics API where the lake has it, else estimated from usage x list prices)."]


def budget_rankings(spend: BudgetFigure) -> list[str]:
    """The top models, workspaces and API keys inside the budget's scope, by its measure."""
    lines = []
    for name, title in (("models", "Top models"), ("workspaces", "Top workspaces"), ("api_keys", "Top API keys")):
        ranking = spend.top.get(name)
        if not ranking:
            continue
        note = " (estimated from usage: the cost report has no per-key cost)" if name == "api_keys" and spend.keys_estimated else ""
        lines.append(f"{title} in the scope{note}:")
        lines += _ranking_lines(ranking, lambda value: _value_text(spend.budget.measure, value), 18)
    return lines


def _value_text(measure: Measure, value: Decimal) -> str:
    return usd(value) if measure.is_money else f"{int(value):,}"


_SQL_MEASURE = {
    Measure.INPUT_TOKENS: "uncached_input_tokens + cache_creation_5m_input_tokens + cache_creation_1h_input_tokens + cache_read_input_tokens",
    Measure.OUTPUT_TOKENS: "output_tokens",
    Measure.TOTAL_TOKENS: "uncached_input_tokens + cache_creation_5m_input_tokens + cache_creation_1h_input_tokens + cache_read_input_tokens "
                          "+ output_tokens",
    Measure.WEB_SEARCH_REQUESTS: "web_search_requests",
    Measure.ESTIMATED_COST: "estimated_cost_usd",
    Measure.REQUESTS: "requests",
}


def budget_query(database: str, spend: BudgetFigure, web_search_usd: Decimal) -> str:
    """The query behind a budget's figure, largest first: the cost report for a billed or cost figure the cost report can
    bill, else the usage report; the scope as it was resolved on the period's last day."""
    scope = spend.scope or DayScope()
    where = [f"dt BETWEEN '{spend.span.start}' AND '{spend.through}'"]
    if spend.basis == ANALYTICS_BILLED:
        where += _scope_sql(scope, usage=True)
        where.append("coalesce(service_tier, '') <> 'priority'")
        return (f"SELECT dt, model, workspace_id, api_key_id, sum(amount_usd) AS usd FROM \"{database}\".analytics_cost "
                f"WHERE {' AND '.join(where)} GROUP BY 1, 2, 3, 4 ORDER BY usd DESC LIMIT 50;")
    if spend.basis in (COST, BILLED):
        where += _scope_sql(scope, usage=False)
        return (f"SELECT dt, model, workspace_id, cost_type, sum(amount_usd) AS usd FROM \"{database}\".cost_report "
                f"WHERE {' AND '.join(where)} GROUP BY 1, 2, 3, 4 ORDER BY usd DESC LIMIT 50;")
    measure = spend.budget.measure
    if measure == Measure.COST:  # estimated without Priority Tier (and without web search when the scope keeps token lines only)
        expression = f"estimated_cost_usd - web_search_requests * {web_search_usd}" if scope.token_lines_only else "estimated_cost_usd"
        where.append("coalesce(service_tier, '') <> 'priority'")
    else:
        expression = _SQL_MEASURE[measure]
    where += _scope_sql(scope, usage=True)
    name = "usd" if measure.is_money else measure.value
    table = "analytics_usage" if measure == Measure.REQUESTS else "usage_messages"  # requests: only the Analytics API counts them
    return (f"SELECT dt, model, workspace_id, api_key_id, sum({expression}) AS {name} FROM \"{database}\".{table} "
            f"WHERE {' AND '.join(where)} GROUP BY 1, 2, 3, 4 ORDER BY {name} DESC LIMIT 50;")


def _scope_sql(scope: DayScope, *, usage: bool) -> list[str]:
    conditions = [_in(name, values.to_pylist()) for name, values in scope.columns if usage or name != "api_key_id"]
    if scope.models:
        models = _quoted(scope.models)
        conditions.append(f"(model IN ({models}) OR regexp_replace(model, '-[0-9]{{8}}$', '') IN ({models}))")
    for label in scope.labels:
        workspaces = pc.filter(label.workspace_ids, pc.is_in(label.workspace_values, value_set=label.values)).to_pylist()
        by_workspace = _in("workspace_id", workspaces)
        if not usage or len(label.key_ids) == 0:
            conditions.append(by_workspace)
            continue
        keys = pc.filter(label.key_ids, pc.is_in(label.key_values, value_set=label.values)).to_pylist()
        conditions.append(f"({_in('api_key_id', keys)} OR (coalesce(api_key_id, '') NOT IN ({_quoted(label.key_ids.to_pylist())}) "
                          f"AND {by_workspace}))")
    return conditions


def _in(column: str, values: list[str | None]) -> str:
    named = [v for v in values if v is not None]
    parts = [f"{column} IN ({_quoted(named)})"] if named else []
    if None in values:
        parts.append(f"{column} IS NULL")
    if not parts:
        return "FALSE"
    return parts[0] if len(parts) == 1 else f"({' OR '.join(parts)})"


def _quoted(values: list[str] | tuple[str, ...] | pa.Array) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def _ranking_lines(ranking: Ranking, text: Callable[[Any], str], value_width: int) -> list[str]:
    """A ranking's lines: names (shown safely, cut at NAME_LIMIT) in one column as wide as the longest, values aligned."""
    names = [display(label, NAME_LIMIT) for label, _ in ranking]
    width = max([44, *(len(name) for name in names)])
    return [f"  {name:<{width}} {text(value):>{value_width}}" for name, (_, value) in zip(names, ranking, strict=True)]
