"""Sending each alert exactly once, with the delivery state in the lake (keys from `lake/layout.py`).

A run claims an attempt with a conditional write (only one run can create `alerts/claims/<key>/attempt-N.json`),
publishes, then records `alerts/sent/<key>.json`. A failed publish leaves a `.failed` marker so the next run
claims attempt N+1: the alert is retried, never repeated. Only a run that dies between publishing and
recording could cause a repeat, after STALE_CLAIM.

Alerts come in families (a day's billed figure, a month's budget steps, a day's spike): an alert is sent only
when no alert of its family was sent at its level or above. So a month's budget steps only go up, a raised
threshold gets its own alert, and a lowered one does not repeat what was already said. A record written before
levels were kept (keys without the amount) covers its whole family.

A message no retry can deliver (the publisher raises `Unsendable`: too big for SNS even cut down, or refused as
invalid) is reported once, with its reason, in the run that tried (`Delivery.unsendable`, the run log) and
recorded as `alerts/sent/<key>.json` with `not_sent` set, so later runs do not fail on it again every hour.

A budget's alerts are also of one rule (`rule_of`: its amount, the last part of the key, and its scope): a
lowered or raised amount, or a changed scope, is a new rule whose steps are evaluated afresh and sent once each;
within one rule a lower step never follows a higher one.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from usage_lake.alerts.messages import Alert
from usage_lake.lake.layout import alert_claim_key, alert_claims_prefix, alert_failed_key, alert_sent_key, alert_sent_prefix
from usage_lake.lake.store import Lake
from usage_lake.times import format_timestamp

__all__ = [
    "STALE_CLAIM", "Delivery", "Outcome", "Publisher", "Sender", "Unsendable", "covering", "family_records", "rule_of", "sent_record",
]

logger = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=15)
_AMOUNT_PART = re.compile(r"[ab]\d+(\.\d+)?")  # a budget key's last part: its amount (`rules._amount_part`)


class Outcome(StrEnum):
    """What happened to one alert in one run."""

    SENT = "sent"
    COVERED = "covered"  # already sent, or an alert of its family at this level or above was
    IN_PROGRESS = "in_progress"  # being sent by another run
    FAILED = "failed"  # the publish failed: the next run retries it
    UNSENDABLE = "unsendable"  # no retry can send it: reported once, recorded, not retried


class Unsendable(Exception):  # noqa: N818 - what the publisher says about a message, not a failure to retry
    """A message no retry can deliver (too big, or refused as invalid); the message says why."""


class Publisher(Protocol):
    def publish(self, alert: Alert) -> str:
        """Send the alert; return a message id; raise on failure."""


@dataclass
class Delivery:
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already sent (or covered by its family), or being sent by another run
    unsendable: dict[str, str] = field(default_factory=dict)  # alert key -> why no retry can send it (reported once)


def sent_record(lake: Lake, key: str) -> dict[str, Any] | None:
    """The record of an alert that was sent (message id, figure, when), or None."""
    sent_key = alert_sent_key(key)
    return json.loads(lake.get(sent_key)) if lake.exists(sent_key) else None


def family_records(lake: Lake, family: str) -> list[dict[str, Any]]:
    """The sent records of an alert family, oldest first."""
    records = []
    for key in lake.list(alert_sent_prefix(family)):
        record = json.loads(lake.get(key))
        if record.get("family", family) == family:  # a record from before families shares the family's key prefix
            records.append(record)
    return sorted(records, key=lambda record: record["sent_at"])


def rule_of(key: str, scope: str | None) -> tuple[str, str] | None:
    """A budget alert's rule: its amount (the key's last part: `a500`, `b1000`, `a500-s<scope digest>`) and its scope; None for the
    daily-threshold and spike alerts (their families already hold one line each)."""
    if not key.startswith(("budget/", "monthly/")):
        return None
    return key.rsplit("/", 1)[-1].partition("-")[0], scope or "all"


def _of_rule(record: dict[str, Any], rule: tuple[str, str]) -> bool:
    """True when a sent record is of `rule`. Records from before amounts (or scopes) were kept cover every rule."""
    amount = record.get("key", "").rsplit("/", 1)[-1].partition("-")[0]  # a scope's digest may follow: a500-s1a2b3c4d
    if not _AMOUNT_PART.fullmatch(amount):
        return True
    return amount == rule[0] and record.get("scope", rule[1]) == rule[1]


def covering(lake: Lake, family: str, level: Decimal, rule: tuple[str, str] | None = None) -> dict[str, Any] | None:
    """The sent record that makes an alert of this family and level redundant (at this level or above), if any;
    with `rule`, only a record of that rule covers it."""
    for record in reversed(family_records(lake, family)):
        if rule is not None and not _of_rule(record, rule):
            continue
        if record.get("level") is None or Decimal(record["level"]) >= level:
            return record
    return None


class Sender:
    """Delivers alerts through a publisher, each alert key at most once across all runs."""

    def __init__(self, lake: Lake, publisher: Publisher, *, run_id: str, clock: Callable[[], datetime]) -> None:
        self.lake = lake
        self.publisher = publisher
        self.run_id = run_id
        self.clock = clock
        self.reasons: dict[str, str] = {}  # why each unsendable alert of this run could not be sent

    def deliver(self, alerts: list[Alert]) -> Delivery:
        delivery = Delivery()
        for alert in alerts:
            outcome = self.deliver_one(alert)
            if outcome == Outcome.UNSENDABLE:
                delivery.unsendable[alert.key] = self.reasons.get(alert.key, "")
                continue
            {Outcome.SENT: delivery.sent, Outcome.FAILED: delivery.failed}.get(outcome, delivery.skipped).append(alert.key)
        return delivery

    def deliver_one(self, alert: Alert) -> Outcome:
        if covering(self.lake, alert.family, alert.level, rule_of(alert.key, alert.scope)) is not None:
            return Outcome.COVERED
        claims = sorted(k for k in self.lake.list(alert_claims_prefix(alert.key)) if not k.endswith(".failed.json"))
        now = self.clock()
        if claims and not self.lake.exists(alert_failed_key(claims[-1])):
            claimed_at = datetime.fromisoformat(json.loads(self.lake.get(claims[-1]))["claimed_at"])
            if now - claimed_at < STALE_CLAIM:
                return Outcome.IN_PROGRESS  # another run is sending it right now
        claim = alert_claim_key(alert.key, len(claims) + 1)
        if not self.lake.put_if_absent(claim, json.dumps({"run_id": self.run_id, "claimed_at": now.isoformat()}).encode()):
            return Outcome.IN_PROGRESS  # another run claimed the same attempt first
        not_sent: str | None = None
        try:
            message_id: str | None = self.publisher.publish(alert)
        except Unsendable as exc:  # recorded as done, with the reason: retrying would fail the same way every run
            logger.error("alert %s cannot be sent and is not retried: %s", alert.key, exc)
            message_id, not_sent = None, str(exc)
            self.reasons[alert.key] = not_sent
        except Exception as exc:  # noqa: BLE001 - any publish failure is retried by the next run
            logger.error("alert %s could not be sent (the next run retries it): %s", alert.key, exc)
            self.lake.put(alert_failed_key(claim), json.dumps({"run_id": self.run_id, "error": str(exc)}).encode())
            return Outcome.FAILED
        figure = alert.document.get("figure_usd") or alert.document.get("estimated_usd")
        self.lake.put(alert_sent_key(alert.key), json.dumps({
            "key": alert.key, "message_id": message_id, "run_id": self.run_id, "sent_at": format_timestamp(self.clock()),
            "attempt": len(claims) + 1, "subject": alert.subject, "figure_usd": figure, "figure": alert.document.get("figure", figure),
            "family": alert.family, "level": str(alert.level), "budget": alert.budget, "scope": alert.scope,
            **({"not_sent": not_sent} if not_sent else {}),
        }).encode())
        if not_sent:
            return Outcome.UNSENDABLE
        logger.info("alert %s sent: %s", alert.key, alert.subject)
        return Outcome.SENT
