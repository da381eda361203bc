"""The rules: which alerts fire, from the figures alone (no messages, no delivery, no I/O beyond the figures).

Rules (each off unless set); a figure fires when it is at or above its line (`>=`, as AWS Budgets):
- budgets (`BUDGETS`, and `MONTHLY_BUDGET_USD` as the budget `monthly-budget`): each budget's figure over each of
  its open periods (`periods.py`: the current one, and the one before for GRACE_DAYS after its end) against its
  thresholds (the highest step crossed), and, with `forecast`, the straight-line forecast against the amount,
  like AWS Budgets' ACTUAL and FORECASTED notifications.
- daily threshold (`DAILY_SPEND_THRESHOLD_USD`, the budget `daily-threshold`): a day's alert figure
  (`money.alert_figure`: billed once the cost report has the day, until then - today included - the estimate
  without Priority Tier, which is shown beside). One alert per (day, basis), for every day of the run's window.
- spike (`SPIKE_RATIO`): today's estimate so far at or above that multiple of the average of the same hours of
  the trailing 7 days (estimate against estimate), once at least SPIKE_MIN_DAYS of them have data.

Each rule returns a finding: the figures that made it fire, the key it is sent under once (the rule's amount
is part of it: a changed threshold is a new rule), and its family and level: within a family, an alert is
sent only above the highest level already sent (`delivery.py`), so steps never go back down.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from usage_lake.alerts.figures import BudgetFigure, DaySpend, Figures
from usage_lake.alerts.periods import FORECAST_AFTER_DAYS, GRACE_DAYS, open_spans
from usage_lake.config.budgets import Budget, Period, legacy_budgets
from usage_lake.config.settings import Settings
from usage_lake.errors import SettingsError

__all__ = [
    "BUDGET_STEPS", "FORECAST_AFTER_DAYS", "MONTH_END_GRACE_DAYS", "SPIKE_MIN_DAYS", "BudgetReached", "CannotEvaluate", "DailyOver", "Finding",
    "ForecastOver", "Spike", "budget_family", "budget_findings", "evaluate", "months_open", "tag",
]

BUDGET_STEPS = (50, 80, 100)  # MONTHLY_BUDGET_USD's thresholds
MONTH_END_GRACE_DAYS = GRACE_DAYS  # a period is evaluated this many days after its end: the cost report lags a day or two
SPIKE_MIN_DAYS = 3  # trailing days with data a spike average needs


@dataclass(frozen=True)
class DailyOver:
    """A day's spend on one basis reached the daily threshold."""

    spend: DaySpend
    basis: str  # billed | estimated
    figure: Decimal
    threshold: Decimal
    today: date
    average: Decimal | None  # trailing 7-day average, for context
    average_days: int

    @property
    def family(self) -> str:
        return f"daily/{self.spend.day}/{self.basis}"

    @property
    def key(self) -> str:
        return f"{self.family}/t{tag(self.threshold)}"

    @property
    def level(self) -> Decimal:
        return self.threshold


@dataclass(frozen=True)
class BudgetReached:
    """A budget's figure over a period reached one of its thresholds."""

    spend: BudgetFigure
    step: Decimal  # percent of the amount

    @property
    def budget(self) -> Budget:
        return self.spend.budget

    @property
    def family(self) -> str:
        return budget_family(self.spend, "actual")

    @property
    def key(self) -> str:
        return f"{self.family}-{tag(self.step)}/{_amount_part(self.budget)}"

    @property
    def level(self) -> Decimal:
        """The line reached (in the measure's unit): a later step of the period is sent only above it."""
        return self.budget.amount * self.step / 100


@dataclass(frozen=True)
class ForecastOver:
    """A budget's straight-line forecast for the period reaches its amount."""

    spend: BudgetFigure
    forecast: Decimal

    @property
    def budget(self) -> Budget:
        return self.spend.budget

    @property
    def family(self) -> str:
        return budget_family(self.spend, "forecast")

    @property
    def key(self) -> str:
        return f"{self.family}-100/{_amount_part(self.budget)}"

    @property
    def level(self) -> Decimal:
        return self.budget.amount


def budget_family(spend: BudgetFigure, kind: str) -> str:
    """The alerts of one kind (`actual`, `forecast`) of a budget's period: `monthly/<month>/<kind>` for the legacy
    monthly budget (its keys as they always were), else `budget/<name>/<period>/<measure>/<kind>`."""
    if spend.budget.legacy:
        return f"monthly/{spend.span.id}/{kind}"
    return f"{_budget_prefix(spend)}/{kind}"


def _amount_part(budget: Budget) -> str:
    """The rule in a key (a changed amount or scope is a new rule): `b<amount>` for the legacy budget, else
    `a<amount>`, and for a scoped budget `-s<digest of its scope>` (`delivery.rule_of` reads it back)."""
    part = f"{'b' if budget.legacy else 'a'}{tag(budget.amount)}"
    return f"{part}-s{hashlib.sha256(budget.scope_text.encode()).hexdigest()[:8]}" if budget.scope else part


def _budget_prefix(spend: BudgetFigure) -> str:
    """budget/<name>/<period>/<measure>: a budget's alerts of one period (the measure in it: levels compare like units)."""
    return f"budget/{spend.budget.name}/{spend.span.id}/{spend.budget.measure.value}"


@dataclass(frozen=True)
class Spike:
    """Today's estimate so far reached the spike ratio times the average of the same hours of earlier days."""

    spend: DaySpend
    now: datetime
    estimate: Decimal  # today, usage buckets ended by now
    average: Decimal  # the same hours of the trailing days with data
    average_days: int
    ratio: Decimal

    @property
    def family(self) -> str:
        return f"spike/{self.spend.day}"

    @property
    def key(self) -> str:
        return f"{self.family}/r{tag(self.ratio)}"

    @property
    def level(self) -> Decimal:
        return self.ratio


Finding = DailyOver | BudgetReached | ForecastOver | Spike


@dataclass(frozen=True)
class CannotEvaluate:
    """A budget that could not be evaluated over a period (a name no snapshot knows, a measure the lake cannot
    compute): skipped, reported once per budget and period; the run goes on."""

    budget: Budget
    period_id: str
    reason: str

    @property
    def key(self) -> str:
        return f"problem/{self.budget.name}/{self.period_id}/cannot-evaluate"

    def __str__(self) -> str:
        return f"budget {self.budget.name!r} ({self.period_id}) cannot be evaluated: {self.reason}"


def evaluate(figures: Figures, settings: Settings, days: list[date], now: datetime, budgets: list[Budget] | None = None,
             problems: list[CannotEvaluate] | None = None) -> list[Finding]:
    """What the rules raise for these days at `now` (before de-duplication). `budgets` defaults to the legacy settings';
    a budget that cannot be evaluated over a period (a name the snapshots do not know) is skipped and told in `problems`."""
    findings: list[Finding] = []
    budgets = budgets if budgets is not None else legacy_budgets(settings.daily_spend_threshold_usd, settings.monthly_budget_usd)
    for budget in budgets:
        if budget.legacy and budget.period == Period.DAILY:
            findings += daily(figures, days, now, budget.amount)
            continue
        for span in open_spans(budget.period, now):
            try:
                findings += period_findings(figures.budget(budget, span, now))
            except SettingsError as exc:
                if problems is None:
                    raise
                problems.append(CannotEvaluate(budget, span.id, str(exc)))
    if settings.spike_ratio is not None:
        findings += spike(figures, now, settings.spike_ratio)
    return findings


def daily(figures: Figures, days: list[date], now: datetime, threshold: Decimal) -> list[Finding]:
    today = now.date()
    found: list[Finding] = []
    for day in days:
        spend = figures.day(day)
        basis, figure = spend.alert_basis, spend.cost_usd  # the alert figure every view shows
        if basis is not None and figure is not None and figure >= threshold:
            average, average_days = figures.trailing_average(day)
            found.append(DailyOver(spend, basis, figure, threshold, today, average, average_days))
    return found


def months_open(now: datetime) -> list[date]:
    """The months still evaluated at `now`: the one just ended (for MONTH_END_GRACE_DAYS days), then this one."""
    return [span.start for span in open_spans(Period.MONTHLY, now)]


def budget_findings(figures: Figures, budget: Budget, now: datetime) -> list[Finding]:
    """A budget over each of its open periods: the highest threshold its figure reached, and its forecast."""
    found: list[Finding] = []
    for span in open_spans(budget.period, now):
        found += period_findings(figures.budget(budget, span, now))
    return found


def period_findings(spend: BudgetFigure) -> list[Finding]:
    budget = spend.budget
    found: list[Finding] = []
    crossed = [step for step in budget.thresholds if spend.value >= budget.amount * step / 100]
    if crossed:
        found.append(BudgetReached(spend, crossed[-1]))
    if budget.forecast and spend.forecast is not None and spend.forecast >= budget.amount:
        found.append(ForecastOver(spend, spend.forecast))
    return found


def spike(figures: Figures, now: datetime, ratio: Decimal) -> list[Finding]:
    spend = figures.day(now.date())
    estimate = spend.estimated_through(now)
    average, days = figures.same_hours_average(now)
    if estimate is None or average is None or days < SPIKE_MIN_DAYS or average <= 0 or estimate < ratio * average:
        return []
    return [Spike(spend, now, estimate, average, days, ratio)]


def tag(amount: Decimal) -> str:
    """An amount as it appears in a key: 70, 1250.5, 2.5 (no exponent, no trailing zeros)."""
    return format(amount.normalize(), "f")
