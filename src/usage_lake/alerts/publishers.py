"""Where alerts go: an SNS topic (e-mail and machine subscribers), or a local outbox folder in the lake.

boto3 and botocore are imported when an SNS publisher is made, not with this module (cold start).

An SNS message is at most 256 KiB, subject, message (every subscriber's copy of it) and attributes together.
`sns_message` builds it under `SNS_MESSAGE_LIMIT`: names are already cut where the message is written
(`messages.bounded`); if it is still too big the machine copies lose the words (`text`), then their rankings
(`top`), then the e-mail text is cut, with a line saying so. A message SNS still refuses as invalid is
`Unsendable`: the sender records it once, with the reason, and does not retry it every run.
"""

from __future__ import annotations

import json
import re
from typing import Any

from usage_lake.alerts.delivery import Unsendable
from usage_lake.alerts.messages import Alert
from usage_lake.lake.layout import ALERT_OUTBOX, alert_outbox_key
from usage_lake.lake.store import Lake

OUTBOX = ALERT_OUTBOX
SNS_RETRIES = {"max_attempts": 5, "mode": "standard"}
ATTRIBUTE_LIMIT = 256  # characters of one attribute value (filter policies match whole values; scopes are short)
SNS_MESSAGE_LIMIT = 256 * 1024  # bytes: subject, message and attributes together
_HEADROOM = 2048  # for SNS's own accounting of attribute names and types
_REFUSED = ("InvalidParameter", "InvalidParameterValue", "MissingParameter")  # SNS error codes that no retry can fix
_CUT = "\n\n[This message was cut to fit the 256 KiB limit of Amazon SNS; the full figures are in the lake.]"


class SnsPublisher:
    """One SNS message per alert: text for e-mail, JSON for SQS/Lambda/HTTP subscribers, filterable attributes."""

    def __init__(self, topic_arn: str, client=None) -> None:
        self.topic_arn = topic_arn
        self._sns = client or _sns_client()

    def publish(self, alert: Alert) -> str:
        from botocore.exceptions import ClientError

        try:
            response = self._sns.publish(TopicArn=self.topic_arn, **sns_message(alert))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _REFUSED:
                raise Unsendable(f"SNS refused the message: {exc.response['Error'].get('Message') or exc}") from None
            raise
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


def sns_message(alert: Alert, limit: int = SNS_MESSAGE_LIMIT) -> dict[str, Any]:
    """The Publish arguments of an alert, under `limit` bytes (see the module docstring); `Unsendable` if impossible."""
    attrs = {name: {"DataType": "String", "StringValue": value} for name, value in attributes(alert).items()}
    subject = _subject(alert.subject)
    room = limit - _HEADROOM - len(subject.encode()) - sum(len(k.encode()) + len(v["StringValue"].encode()) for k, v in attrs.items())
    document, text = dict(alert.document), alert.text
    candidates = [(text, document), (text, _without(document, "text")), (text, _without(document, "text", "top", "movers"))]
    for candidate_text, candidate in candidates:
        message = _message(candidate_text, candidate)
        if len(message.encode()) <= room:
            return {"Subject": subject, "MessageStructure": "json", "Message": message, "MessageAttributes": attrs}
    keep = min(len(text), max(0, room // 2))
    while True:  # the e-mail text cut until it fits (a character may take up to 6 bytes once JSON-escaped twice)
        message = _message(text[:keep] + _CUT, candidate)
        if len(message.encode()) <= room:
            return {"Subject": subject, "MessageStructure": "json", "Message": message, "MessageAttributes": attrs}
        if keep == 0:
            raise Unsendable(f"the alert does not fit the {limit:,}-byte SNS limit even without its text ({len(message.encode()):,} bytes)")
        keep = keep * 3 // 4


def _without(document: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name not in names}


def _message(text: str, document: dict[str, Any]) -> str:
    machine = json.dumps(document, sort_keys=True)
    return json.dumps({"default": text, "email": text, "email-json": machine, "sqs": machine, "lambda": machine, "http": machine,
                       "https": machine})


def attributes(alert: Alert) -> dict[str, str]:
    """What subscriptions filter on: severity, basis, day, kind, and the budget and its scope (a team subscribes to its own
    budgets with a filter policy on `budget`). SNS refuses an empty attribute value, so none is."""
    values = {"severity": alert.severity, "basis": alert.basis, "day": alert.day.isoformat(), "kind": alert.kind,
              "budget": alert.budget, "scope": alert.scope}
    return {name: (value or "-")[:ATTRIBUTE_LIMIT] for name, value in values.items()}


def _sns_client():
    import boto3
    from botocore.config import Config

    return boto3.client("sns", config=Config(retries=SNS_RETRIES))


def _subject(text: str) -> str:
    """SNS subjects: at most 100 printable ASCII characters, no line breaks."""
    return re.sub(r"[^\x20-\x7e]", "-", text)[:100]
