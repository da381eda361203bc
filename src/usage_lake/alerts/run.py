"""One run's alerting, wired once: budgets -> figures -> rules -> messages -> exactly-once delivery (and the status view).

`load_budgets` reads the `BUDGETS` file (a local path or an `s3://` URI, through the lake's `read_location`),
validates it and adds the legacy settings as the budgets `daily-threshold` and `monthly-budget`; a run calls it at
start, so a bad file stops the run before anything is fetched, with one line naming the budget and the field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from usage_lake.alerts.caps import cap_alerts, cap_lines
from usage_lake.alerts.delivery import Delivery, Publisher, Sender, family_records
from usage_lake.alerts.digest import due, weekly_digest
from usage_lake.alerts.figures import BILLED, ESTIMATED, Figures
from usage_lake.alerts.messages import Alert, Messages
from usage_lake.alerts.rules import DailyOver, evaluate
from usage_lake.alerts.scopes import Scopes, Snapshots
from usage_lake.alerts.status import budget_rows, status
from usage_lake.config.budgets import Budget, join_budgets, legacy_budgets, parse_budgets
from usage_lake.config.settings import Settings
from usage_lake.errors import SettingsError
from usage_lake.lake.store import Lake, read_location
from usage_lake.money.pricing import PriceTable, load_prices

__all__ = ["Alerting", "load_budgets"]

SOURCE = "BUDGETS"


def load_budgets(settings: Settings, lake: Lake | None = None, today: date | None = None) -> list[Budget]:
    """The legacy settings' budgets and the BUDGETS file's, validated; with a lake, names and labels are checked
    against its latest snapshots (when it has them: a new lake resolves them once the snapshots arrive)."""
    legacy = legacy_budgets(settings.daily_spend_threshold_usd, settings.monthly_budget_usd)
    if settings.budgets is None:
        return legacy
    try:
        text = read_location(settings.budgets)
    except Exception as exc:  # noqa: BLE001 - a missing file, a missing object, no permission: all the user's to fix
        raise SettingsError(f"{SOURCE} {settings.budgets!r} could not be read: {exc}") from None
    budgets = join_budgets(legacy, parse_budgets(text, source=SOURCE), source=SOURCE)
    if lake is not None:
        scopes = Scopes(Snapshots(lake), source=SOURCE)
        for budget in budgets:
            if budget.scope:
                scopes.check(budget, today or date.max)
    return budgets


class Alerting:
    """Evaluates the rules over a lake and delivers what fires. One instance per run."""

    def __init__(self, lake: Lake, settings: Settings, publisher: Publisher, *, run_id: str,
                 clock: Callable[[], datetime], budgets: list[Budget] | None = None, prices: PriceTable | None = None) -> None:
        self.lake = lake
        self.settings = settings
        self.budgets = budgets if budgets is not None else load_budgets(settings, lake)
        prices = prices or load_prices(settings.pricing_overrides)
        self.figures = Figures(lake, prices=prices, scopes=Scopes(Snapshots(lake), source=SOURCE))
        self.messages = Messages(settings, run_id, web_search_usd=prices.web_search_per_request)
        self.sender = Sender(lake, publisher, run_id=run_id, clock=clock)
        self.problems: list[str] = []  # budgets that could not be evaluated this run (a name the snapshots do not know)

    def evaluate(self, days: list[date], now: datetime) -> list[Alert]:
        """The alerts the rules raise for these days (before de-duplication), and on Mondays the weekly digest."""
        alerts = []
        for finding in evaluate(self.figures, self.settings, days, now, self.budgets, self.problems):
            confirms = None
            if isinstance(finding, DailyOver) and finding.basis == BILLED:  # a follow-up of the day's estimated alert?
                estimated = family_records(self.lake, f"daily/{finding.spend.day}/{ESTIMATED}")
                confirms = estimated[-1] if estimated else None
            alerts.append(self.messages.alert(finding, confirms))
        alerts.extend(cap_alerts(self.lake, self.figures, self.settings.cap_alert_percents, now))  # Anthropic's own caps
        digest = due(now) if self.settings.weekly_digest else None
        if digest is not None and not family_records(self.lake, digest.family):  # the first run of the Monday builds it
            alerts.append(weekly_digest(self.figures, self.messages, digest, self.budget_rows(now)))
        return alerts

    def deliver(self, alerts: list[Alert]) -> Delivery:
        return self.sender.deliver(alerts)

    def status(self, days: list[date], now: datetime) -> list[str]:
        """Each day's figures against the thresholds, every budget, and which alerts were sent or would fire now."""
        return status(self.lake, self.figures, self.settings, days, now, self.budgets) + cap_lines(self.lake, self.figures, now)

    def budget_rows(self, now: datetime) -> list[dict[str, Any]]:
        """Every budget over its open periods, as data (`usage-lake alerts --json`, the weekly digest)."""
        return budget_rows(self.lake, self.figures, self.budgets, now)
