"""Alerts always fit (issue 21 item 2): a 1,000,000-character key name still gets its alert through SNS (moto), under
the 256 KiB limit, and a message SNS refuses is reported once with its reason instead of failing every run."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import boto3
from support import LAKE_BUCKET, TODAY, backfill, incremental, ingest

from usage_lake.alerts.delivery import Unsendable
from usage_lake.alerts.messages import NAME_LIMIT
from usage_lake.alerts.publishers import SNS_MESSAGE_LIMIT, SnsPublisher, sns_message
from usage_lake.config.settings import Settings
from usage_lake.lake import S3Lake

THRESHOLD = Decimal("1")
HUGE = "K" * 1_000_000


def topic_with_inbox(name: str = "alerts") -> tuple[str, str]:
    topic = boto3.client("sns").create_topic(Name=name)["TopicArn"]
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName=f"{name.replace('.', '-')}-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, queue


def received(queue: str) -> list[dict]:
    out = []
    while batch := boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            out.append(json.loads(message["Body"]))
            boto3.client("sqs").delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return out


def test_a_million_character_key_name_still_gets_its_alert_through_sns(aws, sim, org):
    for key in org.directory.api_keys:  # every key: whichever ranks in an alert carries the name
        key["name"] = HUGE
    boto3.client("s3").create_bucket(Bucket=LAKE_BUCKET)
    lake = S3Lake(LAKE_BUCKET)
    topic, queue = topic_with_inbox()
    settings = Settings(base_url=sim.base_url, daily_spend_threshold_usd=THRESHOLD, alert_topic_arn=topic)
    ingest(backfill(TODAY - timedelta(days=5), TODAY, reports=()), sim=sim, lake=lake)

    record = ingest(incremental(reports=()), sim=sim, lake=lake, settings=settings, publisher=SnsPublisher(topic))

    assert record.alerts_failed == 0 and record.alerts_sent >= 1, record.notes
    messages = received(queue)
    assert len(messages) == record.alerts_sent
    for message in messages:
        body = message["Message"]
        assert len(body.encode()) < SNS_MESSAGE_LIMIT
        document = json.loads(body)
        assert all(len(name) <= NAME_LIMIT for ranking in document["top"].values() for name, _ in ranking)
        assert "K" * (NAME_LIMIT - 1) + "\u2026" in document["text"] and "K" * NAME_LIMIT not in document["text"]


def test_a_message_is_cut_to_fit_when_even_bounded_names_do_not(aws):
    from usage_lake.alerts.messages import Alert

    text = "\n".join(f"line {i}: " + "\u00e9\u2603" * 300 for i in range(2000))  # 2.4 MB of text once escaped
    alert = Alert("daily/2026-11-22/billed/t1", "daily", "billed", date(2026, 11, 22), "warning", "subject", text,
                  {"text": text, "top": {"api_keys": [["x" * 50, "1.00"]] * 5000}, "figure_usd": "12.34"}, "daily/2026-11-22/billed",
                  Decimal(1))
    arguments = sns_message(alert)
    size = len(arguments["Message"].encode()) + len(arguments["Subject"].encode()) + sum(
        len(k) + len(v["StringValue"]) for k, v in arguments["MessageAttributes"].items())
    assert SNS_MESSAGE_LIMIT // 2 < size <= SNS_MESSAGE_LIMIT
    message = json.loads(arguments["Message"])
    assert message["email"].endswith("the full figures are in the lake.]") and message["email"].startswith("line 0: ")
    assert json.loads(message["sqs"]) == {"figure_usd": "12.34"}  # the machines keep the figures
    topic, queue = topic_with_inbox()
    SnsPublisher(topic).publish(alert)  # moto refuses anything over 256 KiB
    (delivered,) = received(queue)
    assert delivered["Message"] == message["sqs"]


def test_a_message_sns_refuses_is_reported_once_and_not_retried(aws, sim, org):
    boto3.client("s3").create_bucket(Bucket=LAKE_BUCKET)
    lake = S3Lake(LAKE_BUCKET)
    ingest(backfill(TODAY - timedelta(days=5), TODAY), sim=sim, lake=lake)
    # a FIFO topic refuses every message without a group id: no retry can fix that
    topic = boto3.client("sns").create_topic(Name="alerts.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    settings = Settings(base_url=sim.base_url, daily_spend_threshold_usd=THRESHOLD, alert_topic_arn=topic)

    first = ingest(incremental(), sim=sim, lake=lake, settings=settings, publisher=SnsPublisher(topic))

    refused = [n for n in first.notes if n.startswith("alert NOT sent and not retried")]
    assert refused and first.outcome == "alerts_failed" and first.alerts_failed == len(refused) and first.alerts_sent == 0
    assert all("MessageGroupId" in n for n in refused)
    records = [json.loads(lake.get(k)) for k in lake.list("alerts/sent/")]
    assert len(records) == len(refused) and all("MessageGroupId" in r["not_sent"] and r["message_id"] is None for r in records)

    second = ingest(incremental(), sim=sim, lake=lake, settings=settings, publisher=SnsPublisher(topic))
    assert second.outcome == "succeeded" and second.alerts_failed == 0 and second.alerts_sent == 0
    assert not [n for n in second.notes if "NOT sent" in n]

    from usage_lake.alerts.status import _sent_word

    assert _sent_word(records[0]).startswith("NOT SENT (") and issubclass(Unsendable, Exception)
