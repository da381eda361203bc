"""One run's alerting, wired once: budgets -> figures -> rules -> messages -> exactly-once delivery (and the status view).

`load_budgets` reads the `BUDGETS` file (a local path or an `s3://` URI, through the lake's `read_location`),
validates it and adds the legacy settings as the budgets `daily-threshold` and `monthly-budget`; a bad file raises
one line naming the budget and the field. A run reads it at start but never stops for it: the data is fetched and
written, then the budgets step fails by name (`app.jobs`). Names and labels are resolved when a budget is
evaluated: one that cannot be (a name no snapshot knows) is skipped, with a `cannot evaluate` status row and one
notice per budget and period (`notice`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from usage_lake.alerts.caps import cap_alerts, cap_lines
from usage_lake.alerts.delivery import Delivery, Publisher, Sender, family_records
from usage_lake.alerts.digest import due, weekly_digest
from usage_lake.alerts.figures import BILLED, ESTIMATED, Figures
from usage_lake.alerts.messages import Alert, Messages
from usage_lake.alerts.prices import price_notices
from usage_lake.alerts.rules import CannotEvaluate, DailyOver, evaluate
from usage_lake.alerts.scopes import Scopes, Snapshots
from usage_lake.alerts.status import budget_rows, status
from usage_lake.config.budgets import Budget, join_budgets, legacy_budgets, parse_budgets
from usage_lake.config.settings import Settings
from usage_lake.errors import SettingsError
from usage_lake.lake.store import Lake, read_location
from usage_lake.money.pricing import PriceTable, load_prices
from usage_lake.sources.labels import current_labels as labels_now

__all__ = ["Alerting", "load_budgets", "notice"]

SOURCE = "BUDGETS"


def load_budgets(settings: Settings) -> list[Budget]:
    """The legacy settings' budgets and the BUDGETS file's, validated (`SettingsError`: one line naming what is wrong)."""
    legacy = legacy_budgets(settings.daily_spend_threshold_usd, settings.monthly_budget_usd)
    if settings.budgets is None:
        return legacy
    try:
        text = read_location(settings.budgets)
    except Exception as exc:  # noqa: BLE001 - a missing file, a missing object, no permission: all the user's to fix
        raise SettingsError(f"{SOURCE} {settings.budgets!r} could not be read: {exc}") from None
    return join_budgets(legacy, parse_budgets(text, source=SOURCE), source=SOURCE)


def notice(key: str, subject: str, text: str, day: date, *, budget: str, scope: str = "all", **document: Any) -> Alert:
    """A problem told once (its `key` is its own family): a budget that cannot be evaluated, a bad settings file."""
    return Alert(key=key, kind="problem", basis="-", day=day, severity="warning", subject=subject, text=text,
                 document={"kind": "problem", "key": key, "budget": budget, "scope": scope, **document}, family=key,
                 level=Decimal(0), budget=budget, scope=scope)


def _cannot_evaluate(problem: CannotEvaluate, day: date) -> Alert:
    budget = problem.budget
    return notice(problem.key, f"usage-lake: budget {budget.name} cannot be evaluated for {problem.period_id}",
                  f"Budget {budget.name} ({budget.scope_text}) cannot be evaluated for {problem.period_id}; it is skipped "
                  f"until this is fixed (the data is fetched and written as usual).\n\nWhy: {problem.reason}\n",
                  day, budget=budget.name, scope=budget.scope_text, period_id=problem.period_id, reason=problem.reason)


class Alerting:
    """Evaluates the rules over a lake and delivers what fires. One instance per run."""

    def __init__(self, lake: Lake, settings: Settings, publisher: Publisher, *, run_id: str,
                 clock: Callable[[], datetime], budgets: list[Budget] | None = None, prices: PriceTable | None = None,
                 current_labels: bool = True) -> None:
        """`current_labels`: today's labels from the LABELS setting when it is set (a command reads what the next run
        writes); a run, which has just written them (or kept the last good ones), passes False."""
        self.lake = lake
        self.settings = settings
        self.budgets = budgets if budgets is not None else load_budgets(settings)
        prices = prices or load_prices(settings.pricing_overrides)
        snapshots = Snapshots(lake)
        if current_labels:
            today = clock().date()
            labels = labels_now(settings, snapshots, today)
            if labels is not None:
                snapshots.pending("labels", today, labels)
        self.figures = Figures(lake, prices=prices, scopes=Scopes(snapshots, source=SOURCE))
        self.messages = Messages(settings, run_id, web_search_usd=prices.web_search_per_request)
        self.sender = Sender(lake, publisher, run_id=run_id, clock=clock)
        self.problems: list[CannotEvaluate] = []  # budgets that could not be evaluated this run (a name no snapshot knows)

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
        alerts += price_notices(self.lake, days, run_id=self.messages.run_id)  # issue 19: each sent once
        digest = due(now) if self.settings.weekly_digest else None
        if digest is not None and not family_records(self.lake, digest.family):  # the first run of the Monday builds it
            alerts.append(weekly_digest(self.figures, self.messages, digest, self.budget_rows(now)))
        alerts += [_cannot_evaluate(problem, now.date()) for problem in self.problems]  # once per budget and period
        return alerts

    def deliver(self, alerts: list[Alert]) -> Delivery:
        return self.sender.deliver(alerts)

    def status(self, days: list[date], now: datetime, *, width: int | None = None, wide: bool = False) -> list[str]:
        """Each day's figures against the thresholds, every budget, and which alerts were sent or would fire now."""
        return status(self.lake, self.figures, self.settings, days, now, self.budgets, width=width, wide=wide) + cap_lines(self.lake, self.figures, now)

    def budget_rows(self, now: datetime) -> list[dict[str, Any]]:
        """Every budget over its open periods, as data (`usage-lake alerts --json`, the weekly digest)."""
        return budget_rows(self.lake, self.figures, self.budgets, now)
