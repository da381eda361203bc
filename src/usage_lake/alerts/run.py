"""One run's alerting, wired once: figures -> rules -> messages -> exactly-once delivery (and the status view)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from usage_lake.alerts.delivery import Delivery, Publisher, Sender, family_records
from usage_lake.alerts.figures import BILLED, ESTIMATED, Figures
from usage_lake.alerts.messages import Alert, Messages
from usage_lake.alerts.rules import DailyOver, evaluate
from usage_lake.alerts.status import status
from usage_lake.config.settings import Settings
from usage_lake.lake.store import Lake

__all__ = ["Alerting"]


class Alerting:
    """Evaluates the rules over a lake and delivers what fires. One instance per run."""

    def __init__(self, lake: Lake, settings: Settings, publisher: Publisher, *, run_id: str,
                 clock: Callable[[], datetime]) -> None:
        self.lake = lake
        self.settings = settings
        self.figures = Figures(lake)
        self.messages = Messages(settings, run_id)
        self.sender = Sender(lake, publisher, run_id=run_id, clock=clock)

    def evaluate(self, days: list[date], now: datetime) -> list[Alert]:
        """The alerts the rules raise for these days (before de-duplication)."""
        alerts = []
        for finding in evaluate(self.figures, self.settings, days, now):
            confirms = None
            if isinstance(finding, DailyOver) and finding.basis == BILLED:  # a follow-up of the day's estimated alert?
                estimated = family_records(self.lake, f"daily/{finding.spend.day}/{ESTIMATED}")
                confirms = estimated[-1] if estimated else None
            alerts.append(self.messages.alert(finding, confirms))
        return alerts

    def deliver(self, alerts: list[Alert]) -> Delivery:
        return self.sender.deliver(alerts)

    def status(self, days: list[date], now: datetime) -> list[str]:
        """Each day's figures against the thresholds, and which alerts were sent or would fire now."""
        return status(self.lake, self.figures, self.settings, days, now)
