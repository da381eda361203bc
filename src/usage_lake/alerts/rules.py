"""The rules: which alerts fire, from the figures alone (no messages, no delivery, no I/O beyond the figures).

Rules (each off unless set); a figure fires when it is at or above its line (`>=`, as AWS Budgets):
- daily threshold (`DAILY_SPEND_THRESHOLD_USD`): a complete day on its billed cost (cost report; the
  estimate until the cost report has the day), today on its estimated cost. One alert per (day, basis).
- monthly budget (`MONTHLY_BUDGET_USD`): month to date on the `cost` basis (billed days billed, the others at
  their comparable estimate) at 50%, 80% and 100% (the highest step crossed), and once a month when the linear
  forecast reaches 100%, like AWS Budgets' ACTUAL and FORECASTED. A month that has just ended is evaluated for
  MONTH_END_GRACE_DAYS more days, so its last hours and late-billed days still count.
- spike (`SPIKE_RATIO`): today's estimate so far at or above that multiple of the average of the same hours of
  the trailing 7 days (estimate against estimate), once at least SPIKE_MIN_DAYS of them have data.

Each rule returns a finding: the figures that made it fire, the key it is sent under once (the rule's amount
is part of it: a changed threshold is a new rule), and its family and level: within a family, an alert is
sent only above the highest level already sent (`delivery.py`), so steps never go back down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from usage_lake.alerts.figures import ESTIMATED, DaySpend, Figures, MonthSpend
from usage_lake.config.settings import Settings

__all__ = [
    "BUDGET_STEPS", "FORECAST_AFTER_DAYS", "MONTH_END_GRACE_DAYS", "SPIKE_MIN_DAYS", "BudgetReached", "DailyOver", "Finding",
    "ForecastOver", "Spike", "evaluate", "months_open",
]

BUDGET_STEPS = (50, 80, 100)
FORECAST_AFTER_DAYS = 3  # a forecast from fewer whole days of the month is mostly noise
MONTH_END_GRACE_DAYS = 3  # a month is evaluated this many days after its end: the cost report lags a day or two
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
        return f"{self.family}/t{_tag(self.threshold)}"

    @property
    def level(self) -> Decimal:
        return self.threshold


@dataclass(frozen=True)
class BudgetReached:
    """A month's spend reached a step of the monthly budget."""

    spend: MonthSpend
    budget: Decimal
    step: int  # percent

    @property
    def family(self) -> str:
        return f"monthly/{self.spend.month:%Y-%m}/actual"

    @property
    def key(self) -> str:
        return f"{self.family}-{self.step}/b{_tag(self.budget)}"

    @property
    def level(self) -> Decimal:
        """The dollar line reached: a later step of the month is sent only above it."""
        return self.budget * self.step / 100


@dataclass(frozen=True)
class ForecastOver:
    """The month's linear forecast reaches the monthly budget."""

    spend: MonthSpend
    forecast: Decimal
    budget: Decimal

    @property
    def family(self) -> str:
        return f"monthly/{self.spend.month:%Y-%m}/forecast"

    @property
    def key(self) -> str:
        return f"{self.family}-100/b{_tag(self.budget)}"

    @property
    def level(self) -> Decimal:
        return self.budget


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
        return f"{self.family}/r{_tag(self.ratio)}"

    @property
    def level(self) -> Decimal:
        return self.ratio


Finding = DailyOver | BudgetReached | ForecastOver | Spike


def evaluate(figures: Figures, settings: Settings, days: list[date], now: datetime) -> list[Finding]:
    """What the rules raise for these days at `now` (before de-duplication)."""
    findings: list[Finding] = []
    if settings.daily_spend_threshold_usd is not None:
        findings += daily(figures, days, now, settings.daily_spend_threshold_usd)
    if settings.monthly_budget_usd is not None:
        findings += monthly(figures, now, settings.monthly_budget_usd)
    if settings.spike_ratio is not None:
        findings += spike(figures, now, settings.spike_ratio)
    return findings


def daily(figures: Figures, days: list[date], now: datetime, threshold: Decimal) -> list[Finding]:
    today = now.date()
    found: list[Finding] = []
    for day in days:
        spend = figures.day(day)
        basis = ESTIMATED if day >= today else spend.best_basis
        figure = spend.figure(basis) if basis else None
        if basis is not None and figure is not None and figure >= threshold:
            average, average_days = figures.trailing_average(day)
            found.append(DailyOver(spend, basis, figure, threshold, today, average, average_days))
    return found


def months_open(now: datetime) -> list[date]:
    """The months still evaluated at `now`: the one just ended (for MONTH_END_GRACE_DAYS days), then this one."""
    this = now.date().replace(day=1)
    if now.date().day <= MONTH_END_GRACE_DAYS:
        return [(this - timedelta(days=1)).replace(day=1), this]
    return [this]


def monthly(figures: Figures, now: datetime, budget: Decimal) -> list[Finding]:
    found: list[Finding] = []
    for month in months_open(now):
        spend = figures.month(month, now)
        crossed = [step for step in BUDGET_STEPS if spend.cost_usd >= budget * step / 100]
        if crossed:
            found.append(BudgetReached(spend, budget, crossed[-1]))
        if not spend.ended and spend.through.day - 1 >= FORECAST_AFTER_DAYS:
            elapsed = Decimal(spend.through.day - 1) + Decimal(max(now.hour * 60 + now.minute, 60)) / (24 * 60)  # days
            forecast = spend.cost_usd / elapsed * spend.days_in_month
            if forecast >= budget:
                found.append(ForecastOver(spend, forecast, budget))
    return found


def spike(figures: Figures, now: datetime, ratio: Decimal) -> list[Finding]:
    spend = figures.day(now.date())
    estimate = spend.estimated_through(now)
    average, days = figures.same_hours_average(now)
    if estimate is None or average is None or days < SPIKE_MIN_DAYS or average <= 0 or estimate < ratio * average:
        return []
    return [Spike(spend, now, estimate, average, days, ratio)]


def _tag(amount: Decimal) -> str:
    """An amount as it appears in a key: 70, 1250.5, 2.5 (no exponent, no trailing zeros)."""
    return format(amount.normalize(), "f")
