"""The rules: which alerts fire, from the figures alone (no messages, no delivery, no I/O beyond the figures).

Rules (each off unless set):
- daily threshold (`DAILY_SPEND_THRESHOLD_USD`): a complete day on its billed cost (cost report; the
  estimate until the cost report has the day), today on its estimated cost. One alert per (day, basis).
- monthly budget (`MONTHLY_BUDGET_USD`): month to date at 50%, 80% and 100% (the highest newly crossed
  one), and once a month when the linear forecast passes 100%, like AWS Budgets' ACTUAL and FORECASTED.
- spike (`SPIKE_RATIO`): today's estimate so far above that multiple of the trailing 7-day average.

Each rule returns a finding: the figures that made it fire and the alert key it is sent under once.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from usage_lake.alerts.figures import ESTIMATED, DaySpend, Figures
from usage_lake.config.settings import Settings

__all__ = ["BUDGET_STEPS", "FORECAST_AFTER_DAYS", "BudgetReached", "DailyOver", "Finding", "ForecastOver", "Spike", "evaluate"]

BUDGET_STEPS = (50, 80, 100)
FORECAST_AFTER_DAYS = 3  # a forecast from fewer whole days of the month is mostly noise


@dataclass(frozen=True)
class DailyOver:
    """A day's spend on one basis is over the daily threshold."""

    spend: DaySpend
    basis: str  # billed | estimated
    figure: Decimal
    threshold: Decimal
    today: date
    average: Decimal | None  # trailing 7-day average, for context
    average_days: int

    @property
    def key(self) -> str:
        return f"daily/{self.spend.day}/{self.basis}"


@dataclass(frozen=True)
class BudgetReached:
    """Month to date reached a step of the monthly budget."""

    today: date
    spent: Decimal
    budget: Decimal
    step: int  # percent
    with_data: int  # days of the month with data

    @property
    def key(self) -> str:
        return f"monthly/{self.today:%Y-%m}/actual-{self.step}"


@dataclass(frozen=True)
class ForecastOver:
    """The month's linear forecast passes the monthly budget."""

    today: date
    forecast: Decimal
    spent: Decimal
    budget: Decimal
    with_data: int

    @property
    def key(self) -> str:
        return f"monthly/{self.today:%Y-%m}/forecast-100"


@dataclass(frozen=True)
class Spike:
    """Today's estimate so far is above the spike ratio times the trailing average."""

    spend: DaySpend
    now: datetime
    estimate: Decimal
    average: Decimal
    average_days: int
    ratio: Decimal

    @property
    def key(self) -> str:
        return f"spike/{self.spend.day}"


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
        if basis is not None and figure is not None and figure > threshold:
            average, average_days = figures.trailing_average(day)
            found.append(DailyOver(spend, basis, figure, threshold, today, average, average_days))
    return found


def monthly(figures: Figures, now: datetime, budget: Decimal) -> list[Finding]:
    today = now.date()
    spent, with_data = figures.month_to_date(now)
    found: list[Finding] = []
    crossed = [step for step in BUDGET_STEPS if spent >= budget * step / 100]
    if crossed:
        found.append(BudgetReached(today, spent, budget, crossed[-1], with_data))
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    elapsed = Decimal(today.day - 1) + Decimal(max(now.hour * 60 + now.minute, 60)) / (24 * 60)
    if today.day - 1 >= FORECAST_AFTER_DAYS:
        forecast = spent / elapsed * days_in_month
        if forecast > budget:
            found.append(ForecastOver(today, forecast, spent, budget, with_data))
    return found


def spike(figures: Figures, now: datetime, ratio: Decimal) -> list[Finding]:
    today = now.date()
    spend = figures.day(today)
    estimate = spend.estimated_usd
    average, days = figures.trailing_average(today)
    if estimate is None or not average or estimate <= ratio * average:
        return []
    return [Spike(spend, now, estimate, average, days, ratio)]
