"""Where alerts go: an SNS topic (e-mail and machine subscribers), or a local outbox folder in the lake.

boto3 and botocore are imported when an SNS publisher is made, not with this module (cold start).
"""

from __future__ import annotations

import json
import re

from usage_lake.alerts.messages import Alert
from usage_lake.lake.layout import ALERT_OUTBOX, alert_outbox_key
from usage_lake.lake.store import Lake

OUTBOX = ALERT_OUTBOX
SNS_RETRIES = {"max_attempts": 5, "mode": "standard"}


class SnsPublisher:
    """One SNS message per alert: text for e-mail, JSON for SQS/Lambda/HTTP subscribers, filterable attributes."""

    def __init__(self, topic_arn: str, client=None) -> None:
        self.topic_arn = topic_arn
        self._sns = client or _sns_client()

    def publish(self, alert: Alert) -> str:
        machine = json.dumps(alert.document, sort_keys=True)
        response = self._sns.publish(
            TopicArn=self.topic_arn,
            Subject=_subject(alert.subject),
            MessageStructure="json",
            Message=json.dumps({"default": alert.text, "email": alert.text, "email-json": machine, "sqs": machine,
                                "lambda": machine, "http": machine, "https": machine}),
            MessageAttributes={name: {"DataType": "String", "StringValue": value} for name, value in attributes(alert).items()},
        )
        return response["MessageId"]


class OutboxPublisher:
    """Local mode and the demo: each alert becomes `alerts/outbox/<key>.json` in the lake."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def publish(self, alert: Alert) -> str:
        key = alert_outbox_key(alert.key)
        self.lake.put(key, json.dumps({"subject": alert.subject, "text": alert.text, "attributes": attributes(alert),
                                       "document": alert.document}, indent=1).encode())
        return key


def attributes(alert: Alert) -> dict[str, str]:
    """What subscriptions filter on: severity, basis, day, kind, and the budget and its scope (a team subscribes to its own
    budgets with a filter policy on `budget`). SNS refuses an empty attribute value, so none is."""
    values = {"severity": alert.severity, "basis": alert.basis, "day": alert.day.isoformat(), "kind": alert.kind,
              "budget": alert.budget, "scope": alert.scope}
    return {name: value or "-" for name, value in values.items()}


def _sns_client():
    import boto3
    from botocore.config import Config

    return boto3.client("sns", config=Config(retries=SNS_RETRIES))


def _subject(text: str) -> str:
    """SNS subjects: at most 100 printable ASCII characters, no line breaks."""
    return re.sub(r"[^\x20-\x7e]", "-", text)[:100]
