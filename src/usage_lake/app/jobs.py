"""The jobs, wired once: the handler, the CLI, the demo and the tests all build a run through here.

- `IngestJob`: client + prices + labels + budgets + ingestion, then (incremental runs) the alert rules, then the run log.
  The hourly schedule and a backfill are the same job with a different `RunRequest`.
- `rebuild`: curated days again from raw, with the same settings (price overrides included) a run uses.
- `parse_event`: the event parser, told which endpoints the registry has.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx

from usage_lake.alerts import Alerting, Publisher, load_budgets
from usage_lake.config import events
from usage_lake.config.budgets import Budget
from usage_lake.config.events import Mode, RunRequest
from usage_lake.config.secrets import AdminKey, secret_text
from usage_lake.config.settings import Settings
from usage_lake.ingest import DayResult, Deadline, Ingestion, Outcome, RunRecord, rebuild_days, write_record
from usage_lake.lake.personal import PersonalData
from usage_lake.lake.store import Lake
from usage_lake.money.pricing import PriceTable, load_prices
from usage_lake.sources import registry
from usage_lake.sources.http import AdminClient, RetryPolicy
from usage_lake.sources.labels import LabelMap, load_labels

__all__ = ["IngestJob", "parse_event", "personal_data", "rebuild"]

logger = logging.getLogger(__name__)


def parse_event(event: Any) -> RunRequest:
    """The request an invocation event (or the CLI's equivalent) asks for; `EventError` names a bad field."""
    return events.parse_event(event, known_reports=registry.names())


class IngestJob:
    """One run: fetch into the lake, alert on an incremental run, store the run log. `record` survives a failure."""

    def __init__(self, *, settings: Settings, key: AdminKey, lake: Lake, publisher: Publisher | None = None,
                 prices: PriceTable | None = None, run_id: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_day: Callable[[DayResult], None] | None = None, retry: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None, labels: LabelMap | None = None) -> None:
        self.settings = settings
        self.lake = lake
        self.publisher = publisher  # alerts are evaluated after incremental runs when this and a rule are set
        self.clock = clock
        self.prices = prices = prices or load_prices(settings.pricing_overrides)
        self.budgets: list[Budget] = load_budgets(settings, lake, clock().date())  # a bad BUDGETS file fails here, before any fetch
        labels = labels if labels is not None else load_labels(settings)  # a bad LABELS file fails here, before any fetch
        self.client = AdminClient(key, settings.base_url, retry=retry, transport=transport)
        self.ingestion = Ingestion(client=self.client, lake=lake, settings=settings, run_id=run_id, clock=clock,
                                   on_day=on_day, prices=prices, labels=labels, personal=personal_data(settings, key))

    @property
    def record(self) -> RunRecord:
        return self.ingestion.record

    @property
    def unpriced_models(self) -> set[str]:
        return self.ingestion.unpriced_models

    def run(self, request: RunRequest, deadline: Deadline | None = None) -> RunRecord:
        record = self.record
        try:
            self.ingestion.run(request, deadline)
            alerting = self.settings.alerts_enabled or bool(self.settings.cap_alert_percents)  # the built-in cap alerts (issue 18)
            if request.mode == Mode.INCREMENTAL and self.publisher and alerting and not record.resume_from:
                self._send_alerts()  # a backfill never alerts
        finally:
            self.client.close()
            self.ingestion.finish()
            if self.ingestion.lake_writable:
                write_record(self.lake, record)
        return record

    def _send_alerts(self) -> None:
        record = self.record
        assert self.publisher is not None and self.ingestion.now is not None
        alerting = Alerting(self.lake, self.settings, self.publisher, run_id=record.run_id, clock=self.clock, budgets=self.budgets,
                            prices=self.prices)
        try:
            delivery = alerting.deliver(alerting.evaluate(self.ingestion.days(), self.ingestion.now))
        except Exception as exc:  # alerts must not undo an ingest that worked: record it, and the next run tries again
            logger.exception("run %s: alert evaluation failed", record.run_id)
            record.alerts_failed += 1
            record.outcome = Outcome.ALERTS_FAILED
            record.notes.append(f"alerts: evaluation failed: {type(exc).__name__}: {exc}")
            return
        record.alerts_sent = len(delivery.sent)
        record.alerts_failed = len(delivery.failed) + len(delivery.unsendable) + len(alerting.problems)
        record.notes += [f"alert sent: {key}" for key in delivery.sent]
        record.notes += [f"alert NOT sent (retried next run): {key}" for key in delivery.failed]
        record.notes += [f"alert NOT sent and not retried: {key}: {why}" for key, why in delivery.unsendable.items()]
        record.notes += [f"alerts: budget not evaluated: {problem}" for problem in alerting.problems]
        if delivery.failed or delivery.unsendable or alerting.problems:
            record.outcome = Outcome.ALERTS_FAILED


def personal_data(settings: Settings, key: AdminKey | None) -> PersonalData:
    """PERSONAL_DATA as a transform; its hash key derived from PERSONAL_DATA_KEY (or the secret PERSONAL_DATA_KEY_SECRET_ID
    names), else from the Admin key."""
    own = settings.personal_data_key
    if own is None and settings.personal_data_key_secret_id and settings.personal_data == "hash":
        own = secret_text(settings.personal_data_key_secret_id).strip() or None
    secret = own or (key.reveal() if key is not None else "")
    return PersonalData.derived(settings.personal_data, secret) if secret else PersonalData(settings.personal_data)


def rebuild(lake: Lake, settings: Settings, *, reports: list[str], start: date, end: date) -> list[DayResult]:
    """Curated days from raw, priced as a run with these settings prices them."""
    return rebuild_days(lake, reports=reports, start=start, end=end, prices=load_prices(settings.pricing_overrides),
                        settings=settings)
