"""Spend alerts end to end: figures from the simulator, delivery through moto SNS to SQS, once per key."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, timedelta
from decimal import Decimal

import boto3
import pyarrow.compute as pc
import pytest
from support import LAKE_BUCKET
from support import NOW, TODAY, FakeContext, backfill, deploy_env, incremental, ingest, midnight

from usage_lake.alerts import Alerting
from usage_lake.app.cli import main
from usage_lake.lake.curated import read_table
from usage_lake.lake import S3Lake
from usage_lake.alerts.publishers import OutboxPublisher, SnsPublisher
from usage_lake.money import usd
from usage_lake.config.settings import Settings, SettingsError
from usage_lake.simulator import SimulatedOrg, Simulator

SECRET_ID = "anthropic/admin-api-key"
TOPIC = "usage-lake-alerts"
THRESHOLD = Decimal("70")


class Recorder:
    """A publisher that keeps what it was given (and can be slow, to widen race windows)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.alerts = []
        self.delay = delay
        self._lock = threading.Lock()

    def publish(self, alert) -> str:
        time.sleep(self.delay)
        with self._lock:
            self.alerts.append(alert)
            return f"message-{len(self.alerts)}"

    @property
    def keys(self) -> list[str]:
        return [a.key for a in self.alerts]


def billed_by_day(org: SimulatedOrg, start: date, end: date) -> dict[date, Decimal]:
    return {date.fromisoformat(day): cents / 100 for (day,), cents in org.cost_totals_by(midnight(start), midnight(end), ("day",)).items()}


def sns_to_sqs() -> tuple[str, str]:
    topic = boto3.client("sns").create_topic(Name=TOPIC)["TopicArn"]
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue


def received(queue: str) -> list[dict]:
    messages = []
    while batch := boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            messages.append(json.loads(message["Body"]))
            boto3.client("sqs").delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return messages


@pytest.fixture
def deployed(aws, sim, monkeypatch):
    boto3.client("s3").create_bucket(Bucket=LAKE_BUCKET)
    boto3.client("secretsmanager").create_secret(Name=SECRET_ID, SecretString=sim.admin_key)
    topic, queue = sns_to_sqs()
    deploy_env(monkeypatch, base_url=sim.base_url, secret_id=SECRET_ID, bucket=LAKE_BUCKET, ALERT_TOPIC_ARN=topic,
               DAILY_SPEND_THRESHOLD_USD=str(THRESHOLD), ATHENA_DATABASE="usage_lake_db", ATHENA_WORKGROUP="usage-lake-wg")
    from handlers import ingest as handler_module

    return lambda event: handler_module.handler(event, FakeContext()), queue


def test_the_exact_daily_alerts_reach_sns_once(deployed, org):
    invoke, queue = deployed
    invoke({"mode": "backfill", "start": "2026-11-01", "end": "2026-11-23", "now": "2026-11-23T14:30:00Z"})
    assert received(queue) == []  # a backfill never alerts

    summary = invoke({"mode": "incremental", "now": "2026-11-23T14:30:00Z"})

    billed = billed_by_day(org, date(2026, 11, 13), TODAY)
    window = [TODAY - timedelta(days=d) for d in (3, 2, 1)]
    expected = {f"daily/{day}/billed": billed[day] for day in window if billed[day] > THRESHOLD}
    usage_today = read_table(S3Lake(LAKE_BUCKET), "usage_messages", [TODAY])
    estimate_today = pc.sum(usage_today.column("estimated_cost_usd")).as_py()
    if estimate_today > THRESHOLD:
        expected[f"daily/{TODAY}/estimated"] = estimate_today
    assert expected, "the simulated window must pass the threshold at least once for this test to mean anything"

    messages = received(queue)
    documents = {json.loads(m["Message"])["key"]: (m, json.loads(m["Message"])) for m in messages}
    assert set(documents) == set(expected)
    assert summary["alerts_sent"] == len(expected) and summary["outcome"] == "succeeded"
    for key, figure in expected.items():
        message, document = documents[key]
        day = key.split("/")[1]
        assert Decimal(document["figure_usd"]) == figure
        label = " (estimated)" if key.endswith("estimated") else ""
        assert message["Subject"] == f"Anthropic spend {usd(figure)}{label} on {day} passed your $70 daily threshold"
        assert {name: value["Value"] for name, value in message["MessageAttributes"].items()} == {
            "severity": "critical" if figure >= 2 * THRESHOLD else "warning",
            "basis": key.split("/")[2], "day": day, "kind": "daily"}
        text = document["text"]
        assert text.startswith(f"Anthropic API spend on {day} (UTC) was {usd(figure)}")
        assert f"above your daily threshold of {usd(THRESHOLD)}" in text
        assert "Bedrock" in text and "Vertex" in text
        assert """FROM "usage_lake_db".""" in text and f"dt = '{day}'" in text and "workgroup usage-lake-wg" in text
    # billed days: the 7-day average is of the seven billed days before, and Priority Tier is shown beside
    first = min(k for k in expected if k.endswith("billed"))
    day = date.fromisoformat(first.split("/")[1])
    average = sum(billed[day - timedelta(days=d)] for d in range(1, 8)) / 7
    text = documents[first][1]["text"]
    assert f"Trailing 7-day average: {usd(average)} (7 day(s) with data)" in text
    usage_day = read_table(S3Lake(LAKE_BUCKET), "usage_messages", [day])
    priority = pc.sum(pc.filter(usage_day.column("estimated_cost_usd"), pc.equal(usage_day.column("service_tier"), "priority"))).as_py()
    assert f"estimated at {usd(priority)} for the day" in text
    assert documents[first][1]["priority_tier_estimated_usd"] == str(priority)

    again = invoke({"mode": "incremental", "now": "2026-11-23T15:30:00Z"})
    assert received(queue) == [] and again["alerts_sent"] == 0


def test_concurrent_runs_send_each_alert_once(sim, local_lake):
    ingest(backfill(date(2026, 11, 10), TODAY), sim=sim, lake=local_lake)
    settings = Settings(daily_spend_threshold_usd=Decimal("60"))
    publisher = Recorder(delay=0.05)
    days = [TODAY - timedelta(days=d) for d in range(4, 0, -1)]

    def one_run(n: int) -> None:
        alerting = Alerting(local_lake, settings, publisher, run_id=f"run-{n}", clock=lambda: NOW)
        alerting.deliver(alerting.evaluate(days, NOW))

    threads = [threading.Thread(target=one_run, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    expected = [f"daily/{d}/billed" for d in days if billed_by_day(sim.org, days[0], TODAY)[d] > 60]
    assert sorted(publisher.keys) == sorted(expected) and expected


def test_a_run_that_meets_a_fresh_claim_leaves_the_alert_to_its_owner(sim, s3_lake):
    ingest(backfill(date(2026, 11, 10), TODAY), sim=sim, lake=s3_lake)
    settings = Settings(daily_spend_threshold_usd=Decimal("60"))
    second = Recorder()

    class SlowFirst(Recorder):
        def publish(self, alert):
            # while the first run is still publishing, a second run evaluates the same window
            other = Alerting(s3_lake, settings, second, run_id="run-2", clock=lambda: NOW)
            self.interrupted = other.deliver(other.evaluate([alert.day], NOW))
            return super().publish(alert)

    first = SlowFirst()
    alerting = Alerting(s3_lake, settings, first, run_id="run-1", clock=lambda: NOW)
    day = TODAY - timedelta(days=1)
    delivery = alerting.deliver(alerting.evaluate([day], NOW))

    assert delivery.sent == [f"daily/{day}/billed"] and first.interrupted.skipped == [f"daily/{day}/billed"]
    assert second.alerts == []
    sent = json.loads(s3_lake.get(f"alerts/sent/daily/{day}/billed.json"))
    assert sent["run_id"] == "run-1" and sent["message_id"] == "message-1" and sent["attempt"] == 1


def test_an_sns_outage_loses_no_alert_and_the_next_run_sends_it(aws, sim, org, monkeypatch):
    boto3.client("s3").create_bucket(Bucket=LAKE_BUCKET)
    lake = S3Lake(LAKE_BUCKET)
    ingest(backfill(date(2026, 11, 10), TODAY), sim=sim, lake=lake)
    topic_arn = f"arn:aws:sns:us-east-1:123456789012:{TOPIC}"  # not created yet: every publish fails
    settings = Settings(base_url=sim.base_url, daily_spend_threshold_usd=THRESHOLD, alert_topic_arn=topic_arn)

    down = ingest(incremental(), sim=sim, lake=lake, settings=settings, publisher=SnsPublisher(topic_arn))

    expected = {f"daily/{d}/billed" for d, b in billed_by_day(org, TODAY - timedelta(days=3), TODAY).items() if b > THRESHOLD}
    assert down.outcome == "alerts_failed" and down.alerts_failed == len(expected) and down.alerts_sent == 0
    assert {n.split(": ")[1] for n in down.notes if n.startswith("alert NOT sent")} == expected
    assert not lake.list("alerts/sent/")
    assert len([k for k in lake.list("alerts/claims/") if k.endswith(".failed.json")]) == len(expected)
    run_log = read_table_runs(lake, down.run_id)
    assert (run_log["outcome"], run_log["alerts_failed"]) == ("alerts_failed", len(expected))

    _, queue = sns_to_sqs()  # SNS is back
    back = ingest(incremental(), sim=sim, lake=lake, settings=settings, publisher=SnsPublisher(topic_arn))
    assert back.outcome == "succeeded" and back.alerts_sent == len(expected)
    assert {json.loads(m["Message"])["key"] for m in received(queue)} == expected
    assert all(json.loads(lake.get(f"alerts/sent/{k}.json"))["attempt"] == 2 for k in expected)

    later = ingest(incremental(), sim=sim, lake=lake, settings=settings, publisher=SnsPublisher(topic_arn))
    assert later.alerts_sent == 0 and received(queue) == []


def read_table_runs(lake, run_id: str) -> dict:
    from usage_lake.lake.curated import read_parquet

    (key,) = [k for k in lake.list("runs/") if run_id in k]
    return read_parquet(lake.get(key)).to_pylist()[0]


def test_an_estimated_alert_is_confirmed_by_the_billed_figure(org, local_lake):
    day = date(2026, 11, 22)
    late_evening = midnight(day) + timedelta(hours=23, minutes=30)
    next_afternoon = midnight(day) + timedelta(days=1, hours=14, minutes=30)
    publisher = Recorder()
    with Simulator(org, now=late_evening) as sim:
        settings = Settings(base_url=sim.base_url, daily_spend_threshold_usd=THRESHOLD, usage_lookback_days=1, cost_lookback_days=1)
        ingest(backfill(day - timedelta(days=8), day), sim=sim, lake=local_lake)
        ingest(incremental(late_evening), sim=sim, lake=local_lake, settings=settings, publisher=publisher)
        sim.now = next_afternoon
        ingest(incremental(next_afternoon), sim=sim, lake=local_lake, settings=settings, publisher=publisher)

    estimated, confirmed = [a for a in publisher.alerts if a.day == day]
    billed = billed_by_day(org, day, day + timedelta(days=1))[day]
    assert estimated.key == f"daily/{day}/estimated" and confirmed.key == f"daily/{day}/billed"
    first_figure = Decimal(estimated.document["figure_usd"])
    assert first_figure > THRESHOLD and billed > THRESHOLD
    assert estimated.subject == f"Anthropic spend {usd(first_figure)} (estimated) on {day} passed your $70 daily threshold"
    assert confirmed.subject == f"Confirmed: Anthropic spend {usd(billed)} on {day} passed your $70 daily threshold"
    assert f"estimated {usd(first_figure)}, billed {usd(billed)}" in confirmed.text
    assert confirmed.document["confirms"]["figure_usd"] == str(first_figure)


def test_monthly_budget_steps_and_forecast_fire_once_each(sim, org, local_lake):
    ingest(backfill(date(2026, 11, 1), TODAY + timedelta(days=1)), sim=sim, lake=local_lake)  # today so far included
    probe = Alerting(local_lake, Settings(), Recorder(), run_id="probe", clock=lambda: NOW)
    spent, days_with_data = probe.month_to_date(NOW)
    billed = billed_by_day(org, date(2026, 11, 1), TODAY)
    today_estimate = pc.sum(read_table(local_lake, "usage_messages", [TODAY]).column("estimated_cost_usd")).as_py()
    assert spent == sum(billed.values()) + today_estimate and days_with_data == 23

    publisher = Recorder()
    budget = (spent / Decimal("0.9")).quantize(Decimal("1"))  # 90% used: the 80% step, and a forecast well over
    ingest(incremental(), sim=sim, lake=local_lake, settings=Settings(base_url=sim.base_url, monthly_budget_usd=budget), publisher=publisher)
    assert publisher.keys == ["monthly/2026-11/actual-80", "monthly/2026-11/forecast-100"]
    actual = publisher.alerts[0]
    assert actual.subject == f"Anthropic spend {usd(spent)} this month reached 80% of your ${budget:,} monthly budget"
    forecast = Decimal(publisher.alerts[1].document["figure_usd"])
    assert forecast == spent / (Decimal(22) + Decimal(14 * 60 + 30) / 1440) * 30

    ingest(incremental(), sim=sim, lake=local_lake, settings=Settings(base_url=sim.base_url, monthly_budget_usd=budget), publisher=publisher)
    assert len(publisher.alerts) == 2  # nothing new
    smaller = (spent / Decimal("1.05")).quantize(Decimal("1"))
    ingest(incremental(), sim=sim, lake=local_lake, settings=Settings(base_url=sim.base_url, monthly_budget_usd=smaller), publisher=publisher)
    assert publisher.keys[2:] == ["monthly/2026-11/actual-100"] and publisher.alerts[2].severity == "critical"


def test_a_spike_today_fires_once(sim, org, local_lake):
    ingest(backfill(date(2026, 11, 10), TODAY), sim=sim, lake=local_lake)
    settings = Settings(base_url=sim.base_url, spike_ratio=Decimal("2"))
    publisher = Recorder()
    ingest(incremental(), sim=sim, lake=local_lake, settings=settings, publisher=publisher)
    assert publisher.alerts == []  # an ordinary day

    org.adjust(TODAY, 8)  # a runaway job: every counter today x8
    ingest(incremental(), sim=sim, lake=local_lake, settings=settings, publisher=publisher)
    ingest(incremental(), sim=sim, lake=local_lake, settings=settings, publisher=publisher)

    (spike,) = publisher.alerts
    estimate = pc.sum(read_table(local_lake, "usage_messages", [TODAY]).column("estimated_cost_usd")).as_py()
    average = sum(billed_by_day(org, TODAY - timedelta(days=7), TODAY).values()) / 7
    assert spike.key == f"spike/{TODAY}" and Decimal(spike.document["estimated_usd"]) == estimate
    assert spike.subject == f"Anthropic spend today ({usd(estimate)} so far) is {estimate / average:.1f}x your 7-day average of {usd(average)}"


def test_an_unknown_model_is_null_named_in_a_metric_and_never_zero(aws, monkeypatch, capsys):
    from usage_lake.money.pricing import PriceTable

    default = PriceTable.load_default()
    data = json.loads(json.dumps(default.data))
    data["models"].insert(0, {"id": "claude-mystery-9", "name": "Claude Mystery 9", "input": "1", "cache_write_5m": "1.25",
                              "cache_write_1h": "2", "cache_read": "0.10", "output": "4"})
    org = SimulatedOrg.large(api_keys=3, models=2, workspaces=1, prices=PriceTable.from_dict(data))
    boto3.client("s3").create_bucket(Bucket=LAKE_BUCKET)
    with Simulator(org, now=NOW) as sim:
        boto3.client("secretsmanager").create_secret(Name=SECRET_ID, SecretString=sim.admin_key)
        deploy_env(monkeypatch, base_url=sim.base_url, secret_id=SECRET_ID, bucket=LAKE_BUCKET)
        from handlers import ingest as handler_module

        summary = handler_module.handler({"mode": "backfill", "start": "2026-11-20", "end": "2026-11-21",
                                          "now": "2026-11-23T14:30:00Z", "reports": ["usage"]}, FakeContext())

    usage = read_table(S3Lake(LAKE_BUCKET), "usage_messages")
    mystery = pc.equal(usage.column("model"), "claude-mystery-9")
    assert pc.sum(mystery).as_py() == 3 * 24
    assert pc.filter(usage.column("estimated_cost_usd"), mystery).null_count == 3 * 24
    assert pc.filter(usage.column("estimated_cost_usd"), pc.invert(mystery)).null_count == 0
    assert "unpriced model claude-mystery-9: estimated_cost_usd is null for its rows" in summary["notes"]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{") and '"_aws"' in line]
    unpriced = [m for m in emf if "UnpricedModel" in m]
    assert [(m["model"], m["UnpricedModel"]) for m in unpriced] == [("claude-mystery-9", [1.0])]


@pytest.mark.parametrize(("variable", "value", "named"), [
    ("DAILY_SPEND_THRESHOLD_USD", "a lot", "DAILY_SPEND_THRESHOLD_USD"),
    ("DAILY_SPEND_THRESHOLD_USD", "-10", "DAILY_SPEND_THRESHOLD_USD"),
    ("MONTHLY_BUDGET_USD", "0", "MONTHLY_BUDGET_USD"),
    ("SPIKE_RATIO", "0.8", "SPIKE_RATIO"),
    ("SPIKE_RATIO", "often", "SPIKE_RATIO"),
    ("PRICING_OVERRIDES", "s3://", "PRICING_OVERRIDES"),
])
def test_bad_alert_settings_fail_at_start(variable, value, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env({variable: value})


def test_thresholds_without_a_topic_fail_at_start_in_lambda():
    with pytest.raises(SettingsError, match="ALERT_TOPIC_ARN"):
        Settings.from_env({"LAKE_BUCKET": "lake-bucket", "ADMIN_KEY_SECRET_ID": "s", "SPIKE_RATIO": "3"}, lambda_runtime=True)


def test_the_alerts_command_shows_sent_and_pending(sim, local_lake, monkeypatch, capsys):
    ingest(backfill(date(2026, 11, 10), TODAY), sim=sim, lake=local_lake)
    publisher = OutboxPublisher(local_lake)
    settings = Settings(base_url=sim.base_url, daily_spend_threshold_usd=THRESHOLD)
    ingest(incremental(), sim=sim, lake=local_lake, settings=settings, publisher=publisher)
    sent = sorted(local_lake.list("alerts/sent/"))
    assert sent and len(local_lake.list("alerts/outbox/")) == len(sent)

    monkeypatch.setenv("DAILY_SPEND_THRESHOLD_USD", "60")
    import usage_lake.app.cli as cli

    monkeypatch.setattr(cli, "datetime", type("FixedClock", (), {"now": staticmethod(lambda tz=None: NOW)}))
    assert main(["alerts", "--lake", str(local_lake.root), "--days", "5"]) == 0
    out = capsys.readouterr().out
    for key in sent:
        day = key.split("/")[3]
        assert any(line.startswith(day) and "billed sent" in line for line in out.splitlines())
    assert "daily threshold $60.00" in out and "WOULD FIRE" in out  # 60 is lower than the 70 the alerts were sent at
