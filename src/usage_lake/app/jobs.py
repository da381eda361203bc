"""The jobs, wired once: the handler, the CLI, the demo and the tests all build a run through here.

- `IngestJob`: client + prices + labels + budgets + ingestion, then (incremental runs) the alert rules, then the run log.
  The hourly schedule and a backfill are the same job with a different `RunRequest`. A missing or malformed
  `BUDGETS` or `LABELS` file never stops the data: the run fetches and writes everything (the last good labels
  stay in force, the legacy budgets still alert), then that step fails by name: outcome `partial`, the error in
  the run log, one notice per version of the file.
- `check_settings_files`: the same files read strictly (the CLI refuses a bad one before it starts).
- `rebuild`: curated days again from raw, with the same settings (price overrides included) a run uses.
- `parse_event`: the event parser, told which endpoints the registry has.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx

from usage_lake.alerts import Alerting, Publisher, Sender, load_budgets
from usage_lake.alerts.run import notice
from usage_lake.config import events
from usage_lake.config.budgets import Budget, legacy_budgets
from usage_lake.config.events import Mode, RunRequest
from usage_lake.config.secrets import AdminKey, secret_text
from usage_lake.config.settings import Settings
from usage_lake.errors import SettingsError
from usage_lake.ingest import DayResult, Deadline, Ingestion, Outcome, RunRecord, rebuild_days, write_record
from usage_lake.ingest.runlog import EndpointError
from usage_lake.lake.personal import PersonalData
from usage_lake.lake.store import Lake, read_location
from usage_lake.money.pricing import PriceTable, load_prices
from usage_lake.sources import registry
from usage_lake.sources.http import AdminClient, RetryPolicy
from usage_lake.sources.labels import LabelMap, load_labels

__all__ = ["IngestJob", "check_settings_files", "parse_event", "personal_data", "rebuild"]

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
        self.bad_files: list[tuple[str, str, SettingsError]] = []  # (setting, its location, why): reported after the data
        try:
            self.budgets: list[Budget] = load_budgets(settings)
        except SettingsError as exc:  # the data first: the legacy budgets still alert, the file's wait for a fix
            self.budgets = legacy_budgets(settings.daily_spend_threshold_usd, settings.monthly_budget_usd)
            self.bad_files.append(("BUDGETS", settings.budgets or "", exc))
        if labels is None:
            try:
                labels = load_labels(settings)
            except SettingsError as exc:  # the last good labels stay in force
                self.bad_files.append(("LABELS", settings.labels or "", exc))
        self.client = AdminClient(key, settings.base_url, retry=retry, transport=transport)
        self.ingestion = Ingestion(client=self.client, lake=lake, settings=settings, run_id=run_id, clock=clock,
                                   on_day=on_day, prices=prices, labels=labels, keep_labels=labels is None,
                                   personal=personal_data(settings, key))

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
            # the built-in cap alerts (issue 18); price notices (issue 19) go wherever an alert topic is set, rules or not
            alerting = (self.settings.alerts_enabled or bool(self.settings.cap_alert_percents)
                        or self.settings.alert_topic_arn is not None)
            if request.mode == Mode.INCREMENTAL and self.publisher and alerting and not record.resume_from:
                self._send_alerts()  # a backfill never alerts
            self._report_bad_files()
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
                            prices=self.prices, current_labels=False)
        try:
            delivery = alerting.deliver(alerting.evaluate(self.ingestion.days(), self.ingestion.now))
        except Exception as exc:  # alerts must not undo an ingest that worked: record it, and the next run tries again
            logger.exception("run %s: alert evaluation failed", record.run_id)
            record.alerts_failed += 1
            record.outcome = Outcome.ALERTS_FAILED
            record.notes.append(f"alerts: evaluation failed: {type(exc).__name__}: {exc}")
            return
        record.alerts_sent = len(delivery.sent)
        record.alerts_failed = len(delivery.failed) + len(delivery.unsendable)
        record.notes += [f"alert sent: {key}" for key in delivery.sent]
        record.notes += [f"alert NOT sent (retried next run): {key}" for key in delivery.failed]
        record.notes += [f"alert NOT sent and not retried: {key}: {why}" for key, why in delivery.unsendable.items()]
        record.notes += [f"alerts: {problem}; skipped" for problem in alerting.problems]  # the run still succeeds
        if delivery.failed or delivery.unsendable:
            record.outcome = Outcome.ALERTS_FAILED

    def _report_bad_files(self) -> None:
        """After the data: each bad settings file fails its step by name (outcome `partial`, the run log) and is told
        once per version of the file (its content, or the error when it cannot be read)."""
        record = self.record
        for setting, location, exc in self.bad_files:
            step = "budgets" if setting == "BUDGETS" else "labels"
            kept = "the legacy budgets were evaluated, the file's were not" if step == "budgets" else "the last good labels stay in force"
            record.errors.append(EndpointError(step, type(exc).__name__, str(exc)))
            record.alerts_failed += 1  # the AlertsFailed metric, and its alarm: the budgets or labels behind the alerts are unusable
            record.notes.append(f"{step} step failed: {exc}; the data was fetched and written, {kept}")
            if record.outcome == Outcome.SUCCEEDED:
                record.outcome = Outcome.PARTIAL
            if self.publisher is None:  # a topic (or the outbox) is set: it hears of it, alerts or not
                continue
            key = f"problem/{setting}/{_version(location, str(exc))}"
            alert = notice(key, f"usage-lake: the {setting} file is unusable ({step} step failed)",
                           f"The {setting} file {location!r} could not be used: {exc}\n\nThe run fetched and wrote the data as "
                           f"usual; {kept}. This notice is sent once per version of the file.\n",
                           self.clock().date(), budget=setting, setting=setting, location=location, error=str(exc))
            delivery = Sender(self.lake, self.publisher, run_id=record.run_id, clock=self.clock).deliver([alert])
            record.notes += [f"alert sent: {sent}" for sent in delivery.sent]


def _version(location: str, error: str) -> str:
    """A settings file's version: a digest of its content, else of the error (a missing file is one version)."""
    try:
        content = read_location(location)
    except Exception:  # noqa: BLE001 - unreadable: its error names the version
        content = error.encode()
    return hashlib.sha256(content).hexdigest()[:12]


def check_settings_files(settings: Settings) -> None:
    """The BUDGETS and LABELS files read strictly: `SettingsError` names the first bad one (the CLI refuses it)."""
    load_budgets(settings)
    load_labels(settings)


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
