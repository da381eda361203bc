"""Spend alerts end to end: figures from the simulator, delivery through moto SNS to SQS, once per key."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from support import LAKE_BUCKET
from support import NOW, TODAY, FakeContext, backfill, deploy_env, incremental, ingest, midnight

from usage_lake.alerts import Alerting, Figures
from usage_lake.app.cli import main
from usage_lake.lake.curated import read_table, store_day
from usage_lake.lake.schema import TABLES
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
    expected = {f"daily/{day}/billed/t70": billed[day] for day in window if billed[day] >= THRESHOLD}
    usage_today = read_table(S3Lake(LAKE_BUCKET), "usage_messages", [TODAY])
    estimate_today = pc.sum(usage_today.column("estimated_cost_usd")).as_py()
    if estimate_today >= THRESHOLD:
        expected[f"daily/{TODAY}/estimated/t70"] = estimate_today
    assert expected, "the simulated window must pass the threshold at least once for this test to mean anything"

    messages = received(queue)
    documents = {json.loads(m["Message"])["key"]: (m, json.loads(m["Message"])) for m in messages}
    assert set(documents) == set(expected)
    assert summary["alerts_sent"] == len(expected) and summary["outcome"] == "succeeded"
    for key, figure in expected.items():
        message, document = documents[key]
        day = key.split("/")[1]
        assert Decimal(document["figure_usd"]) == figure
        label = " (estimated)" if "/estimated/" in key else ""
        assert message["Subject"] == f"Anthropic spend {usd(figure)}{label} on {day} passed your $70 daily threshold"
        assert {name: value["Value"] for name, value in message["MessageAttributes"].items()} == {
            "severity": "critical" if figure >= 2 * THRESHOLD else "warning",
            "basis": key.split("/")[2], "day": day, "kind": "daily", "budget": "daily-threshold", "scope": "all"}
        text = document["text"]
        assert text.startswith(f"Anthropic API spend on {day} (UTC) was {usd(figure)}")
        assert f"above your daily threshold of {usd(THRESHOLD)}" in text
        assert "Bedrock" in text and "Vertex" in text
        assert """FROM "usage_lake_db".""" in text and f"dt = '{day}'" in text and "workgroup usage-lake-wg" in text
    # billed days: the 7-day average is of the seven billed days before, and Priority Tier is shown beside
    first = min(k for k in expected if "/billed/" in k)
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

    expected = [f"daily/{d}/billed/t60" for d in days if billed_by_day(sim.org, days[0], TODAY)[d] >= 60]
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

    assert delivery.sent == [f"daily/{day}/billed/t60"] and first.interrupted.skipped == [f"daily/{day}/billed/t60"]
    assert second.alerts == []
    sent = json.loads(s3_lake.get(f"alerts/sent/daily/{day}/billed/t60.json"))
    assert sent["run_id"] == "run-1" and sent["message_id"] == "message-1" and sent["attempt"] == 1


def test_an_sns_outage_loses_no_alert_and_the_next_run_sends_it(aws, sim, org, monkeypatch):
    boto3.client("s3").create_bucket(Bucket=LAKE_BUCKET)
    lake = S3Lake(LAKE_BUCKET)
    ingest(backfill(date(2026, 11, 10), TODAY), sim=sim, lake=lake)
    topic_arn = f"arn:aws:sns:us-east-1:123456789012:{TOPIC}"  # not created yet: every publish fails
    settings = Settings(base_url=sim.base_url, daily_spend_threshold_usd=THRESHOLD, alert_topic_arn=topic_arn)

    down = ingest(incremental(), sim=sim, lake=lake, settings=settings, publisher=SnsPublisher(topic_arn))

    expected = {f"daily/{d}/billed/t70" for d, b in billed_by_day(org, TODAY - timedelta(days=3), TODAY).items() if b >= THRESHOLD}
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
    assert estimated.key == f"daily/{day}/estimated/t70" and confirmed.key == f"daily/{day}/billed/t70"
    first_figure = Decimal(estimated.document["figure_usd"])
    assert first_figure > THRESHOLD and billed > THRESHOLD
    assert estimated.subject == f"Anthropic spend {usd(first_figure)} (estimated) on {day} passed your $70 daily threshold"
    assert confirmed.subject == f"Confirmed: Anthropic spend {usd(billed)} on {day} passed your $70 daily threshold"
    assert f"estimated {usd(first_figure)}, billed {usd(billed)}" in confirmed.text
    assert confirmed.document["confirms"]["figure_usd"] == str(first_figure)


def test_monthly_budget_steps_and_forecast_fire_once_each(sim, org, local_lake):
    ingest(backfill(date(2026, 11, 1), TODAY + timedelta(days=1)), sim=sim, lake=local_lake)  # today so far included
    month = Figures(local_lake).month(date(2026, 11, 1), NOW)
    spent = month.cost_usd
    billed = billed_by_day(org, date(2026, 11, 1), TODAY)
    usage_today = read_table(local_lake, "usage_messages", [TODAY])
    standard = pc.not_equal(usage_today.column("service_tier"), "priority")
    today_comparable = pc.sum(pc.filter(usage_today.column("estimated_cost_usd"), standard)).as_py()  # as the cost report bills
    assert spent == sum(billed.values()) + today_comparable and (month.billed_days, month.estimated_days) == (22, 1)

    publisher = Recorder()
    budget = (spent / Decimal("0.9")).quantize(Decimal("1"))  # 90% used: the 80% step, and a forecast well over
    ingest(incremental(), sim=sim, lake=local_lake, settings=Settings(base_url=sim.base_url, monthly_budget_usd=budget), publisher=publisher)
    assert publisher.keys == [f"monthly/2026-11/actual-80/b{budget}", f"monthly/2026-11/forecast-100/b{budget}"]
    actual = publisher.alerts[0]
    assert actual.subject == f"Anthropic spend {usd(spent)} this month reached 80% of your ${budget:,} monthly budget"
    forecast = Decimal(publisher.alerts[1].document["figure_usd"])
    assert forecast == spent / (Decimal(22) + Decimal(14 * 60 + 30) / 1440) * 30

    ingest(incremental(), sim=sim, lake=local_lake, settings=Settings(base_url=sim.base_url, monthly_budget_usd=budget), publisher=publisher)
    assert len(publisher.alerts) == 2  # nothing new
    smaller = (spent / Decimal("1.05")).quantize(Decimal("1"))
    ingest(incremental(), sim=sim, lake=local_lake, settings=Settings(base_url=sim.base_url, monthly_budget_usd=smaller), publisher=publisher)
    # a lower budget is a new rule: its highest step (100%) and its forecast are news, sent once each
    assert publisher.keys[2:] == [f"monthly/2026-11/actual-100/b{smaller}", f"monthly/2026-11/forecast-100/b{smaller}"]
    assert publisher.alerts[2].severity == "critical"
    ingest(incremental(), sim=sim, lake=local_lake, settings=Settings(base_url=sim.base_url, monthly_budget_usd=smaller), publisher=publisher)
    assert len(publisher.alerts) == 4  # nothing new, and never a lower step of the same rule


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

    def by_now(day: date) -> Decimal:  # the estimate of the usage buckets that ended by 14:30 on that day
        usage = read_table(local_lake, "usage_messages", [day])
        ended = pc.less_equal(usage.column("bucket_end"), midnight(day) + (NOW - midnight(TODAY)))
        return pc.sum(pc.filter(usage.column("estimated_cost_usd"), ended)).as_py()

    estimate = by_now(TODAY)
    assert estimate == pc.sum(read_table(local_lake, "usage_messages", [TODAY]).column("estimated_cost_usd")).as_py()
    average = sum(by_now(TODAY - timedelta(days=d)) for d in range(1, 8)) / 7  # the same hours, estimate against estimate
    assert spike.key == f"spike/{TODAY}/r2" and Decimal(spike.document["estimated_usd"]) == estimate
    assert spike.subject == f"Anthropic spend today ({usd(estimate)} by 14:30 UTC) is {estimate / average:.1f}x your 7-day average of {usd(average)}"


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


# -- issue 8, alerts items 1-6: hand-made days with exact figures ---------------------------------------------
#
# Each day below is written into the lake as the pipeline writes it (curated Parquet, one object per day), with
# figures chosen to reproduce one reported case exactly. The rules read only these columns (the estimate,
# the Priority Tier, the bucket ends, the billed amount); token counters stay zero.

MODEL = "claude-sonnet-4-5"
Hours = dict[int, tuple[str, str]]  # hour of the day -> (standard estimate, Priority Tier estimate) in dollars


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def flat(standard: str, priority: str = "0", hours=range(20)) -> Hours:
    return dict.fromkeys(hours, (standard, priority))


def put_usage(lake, day: date, hours: Hours) -> None:
    rows = []
    for hour, tiers in sorted(hours.items()):
        for tier, amount in zip(("standard", "priority"), tiers, strict=True):
            if Decimal(amount):
                rows.append({"bucket_start": at(day, hour), "bucket_end": at(day, hour) + timedelta(hours=1), "bucket_width": "1h",
                             "api_key_id": "apikey_01", "workspace_id": None, "model": MODEL, "service_tier": tier,
                             "context_window": "0-200k", "inference_geo": "global",
                             **dict.fromkeys(("uncached_input_tokens", "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens",
                                              "cache_read_input_tokens", "output_tokens", "web_search_requests"), 0),
                             "ingested_at": at(day, 23), "run_id": "hand-made", "estimated_cost_usd": Decimal(amount)})
    store_day(lake, "usage_messages", day, pa.Table.from_pylist(rows, schema=TABLES["usage_messages"]))


def put_billed(lake, day: date, amount: str) -> None:
    row = {"bucket_start": at(day, 0), "bucket_end": at(day + timedelta(days=1), 0), "workspace_id": None,
           "description": "Claude Sonnet 4.5 Usage - Output Tokens", "cost_type": "tokens", "model": MODEL, "token_type": "output_tokens",
           "service_tier": "standard", "context_window": "0-200k", "inference_geo": "global", "currency": "USD",
           "amount_cents": Decimal(amount) * 100, "amount_usd": Decimal(amount), "ingested_at": at(day, 23), "run_id": "hand-made"}
    store_day(lake, "cost_report", day, pa.Table.from_pylist([row], schema=TABLES["cost_report"]))


def alert_run(lake, publisher, settings: Settings, now: datetime, days: list[date] = ()) -> list:
    """One run's alerting at `now`, as an incremental run does it; returns what it sent."""
    before = len(publisher.alerts)
    alerting = Alerting(lake, settings, publisher, run_id=f"run-{now:%d%H%M}", clock=lambda: now)
    alerting.deliver(alerting.evaluate(list(days), now))
    return publisher.alerts[before:]


def test_a_spike_compares_estimate_with_estimate_over_the_same_hours(local_lake):
    """Item 1: a flat org at $100 billed + $150 Priority Tier a day is no spike; a real one is told against like figures."""
    today = date(2026, 11, 23)
    for back in range(1, 8):
        put_usage(local_lake, today - timedelta(days=back), flat("5", "7.5"))  # 20 hours: $100 + $150 estimated
        put_billed(local_lake, today - timedelta(days=back), "100")  # the cost report leaves Priority Tier out
    put_usage(local_lake, today, flat("5", "7.5"))
    settings, publisher = Settings(spike_ratio=Decimal("2")), Recorder()

    assert alert_run(local_lake, publisher, settings, at(today, 22, 30)) == []  # $250 so far against $250: 1.0x

    put_usage(local_lake, today, flat("15", "22.5"))  # a runaway day: 3x every hour
    (spike,) = alert_run(local_lake, publisher, settings, at(today, 22, 45))
    assert spike.subject == "Anthropic spend today ($750.00 by 22:45 UTC) is 3.0x your 7-day average of $250.00"
    assert spike.key == "spike/2026-11-23/r2"
    document = spike.document
    assert (Decimal(document["estimated_usd"]), Decimal(document["trailing_average_usd"]), document["trailing_days"]) == (750, 250, 7)
    assert "Basis: estimated on both sides" in spike.text


def test_a_spike_early_in_the_day_is_measured_against_the_same_hours(local_lake):
    """Item 1: 06:30 at three times the usual pace is a spike, though the whole-day average is larger."""
    today = date(2026, 11, 23)
    for back in range(1, 8):
        put_usage(local_lake, today - timedelta(days=back), flat("12.5"))  # $250 a day, $75 of it by 06:00
        put_billed(local_lake, today - timedelta(days=back), "250")
    put_usage(local_lake, today, flat("37.5", hours=range(6)))  # 00:00-06:00 at 3x: $225

    (spike,) = alert_run(local_lake, Recorder(), Settings(spike_ratio=Decimal("2")), at(today, 6, 30))

    assert spike.subject == "Anthropic spend today ($225.00 by 06:30 UTC) is 3.0x your 7-day average of $75.00"
    assert "the same hours (00:00 to 06:30 UTC) of the 7 earlier day(s)" in spike.text


def test_a_spike_needs_three_days_of_history_and_says_how_many_it_averages(local_lake):
    """Item 2: one earlier day is no baseline; with three, the subject says a 3-day average."""
    today = date(2026, 11, 23)
    put_usage(local_lake, today - timedelta(days=1), flat("5"))
    put_usage(local_lake, today, flat("25", hours=range(12)))  # $300 by noon against $60: 5x
    settings, publisher = Settings(spike_ratio=Decimal("2.5")), Recorder()

    assert alert_run(local_lake, publisher, settings, at(today, 12, 5)) == []

    for back in (2, 3):
        put_usage(local_lake, today - timedelta(days=back), flat("5"))
    (spike,) = alert_run(local_lake, publisher, settings, at(today, 12, 10))
    assert spike.subject == "Anthropic spend today ($300.00 by 12:10 UTC) is 5.0x your 3-day average of $60.00"
    assert spike.document["trailing_days"] == 3 and spike.key == "spike/2026-11-23/r2.5"


def test_monthly_steps_use_the_cost_basis_and_never_go_down(local_lake):
    """Item 3: estimated days count without Priority Tier (what the cost report will bill), and a lower step after
    the billed figures land is never sent."""
    budget = Settings(monthly_budget_usd=Decimal("500"))
    publisher = Recorder()
    for day in range(1, 5):
        put_usage(local_lake, date(2026, 11, day), flat("5", "5.5"))  # $100 + $110 Priority Tier a day, not billed yet

    sent = alert_run(local_lake, publisher, budget, at(date(2026, 11, 4), 23, 30))

    assert [a.key for a in sent] == ["monthly/2026-11/actual-80/b500"]  # no forecast before 5 whole days of the month (issue 11)
    actual = sent[0]
    assert actual.subject == "Anthropic spend $400.00 this month reached 80% of your $500 monthly budget"
    assert actual.basis == "cost" and Decimal(actual.document["month_to_date_usd"]) == 400
    assert ("Basis: cost - 0 day(s) at their billed cost (the Admin API cost report) and 4 day(s) the cost report has not "
            "billed yet at their estimate without Priority Tier") in actual.text
    assert "Priority Tier usage is billed separately and is not in this figure: estimated at $440.00 over the same days" in actual.text

    for day in range(1, 5):  # the cost report lands lower (a discount): $70 a day
        put_billed(local_lake, date(2026, 11, day), "70")
    put_usage(local_lake, date(2026, 11, 5), flat("5", "5.5"))
    assert alert_run(local_lake, publisher, budget, at(date(2026, 11, 5), 2, 30)) == []  # $290: 58%, below the 80% sent

    for day in range(5, 8):
        put_billed(local_lake, date(2026, 11, day), "70")
    put_usage(local_lake, date(2026, 11, 8), flat("5"))
    full, forecast = alert_run(local_lake, publisher, budget, at(date(2026, 11, 8), 20, 0))  # 7 x $70 + $100 = $590
    assert forecast.key == "monthly/2026-11/forecast-100/b500"  # 7 whole days now: the forecast's first chance
    assert Decimal(forecast.document["figure_usd"]) == Decimal(590) / (7 + Decimal(20 * 60) / 1440) * 30
    assert full.subject == "Anthropic spend $590.00 this month reached 100% of your $500 monthly budget"
    assert full.key == "monthly/2026-11/actual-100/b500" and full.document["billed_days"] == 7


def test_the_end_of_a_month_is_alerted_after_midnight(local_lake):
    """Item 4: November's last hour lands at 00:15 on the 1st; it still counts, under November's key."""
    budget = Settings(monthly_budget_usd=Decimal("1000"))
    publisher = Recorder()
    for day in range(1, 30):
        put_billed(local_lake, date(2026, 11, day), "33")  # $957
    put_usage(local_lake, date(2026, 11, 30), flat("1", hours=range(23)))  # $23 by 23:00

    (eighty,) = alert_run(local_lake, publisher, budget, at(date(2026, 11, 30), 23, 15))
    assert eighty.subject == "Anthropic spend $980.00 this month reached 80% of your $1,000 monthly budget"

    put_usage(local_lake, date(2026, 11, 30), {**flat("1", hours=range(23)), 23: ("40", "0")})  # the last hour: $63 for the day
    (hundred,) = alert_run(local_lake, publisher, budget, at(date(2026, 12, 1), 0, 15))
    assert hundred.subject == "Anthropic spend $1,020.00 in November 2026 reached 100% of your $1,000 monthly budget"
    assert hundred.key == "monthly/2026-11/actual-100/b1000" and hundred.day == date(2026, 11, 30)
    assert hundred.document["month"] == "2026-11" and "November 2026 has ended" in hundred.text
    assert "dt BETWEEN '2026-11-01' AND '2026-11-30'" in hundred.text

    put_billed(local_lake, date(2026, 11, 30), "60")  # billed a day later: $1,017, still the step already sent
    assert alert_run(local_lake, publisher, budget, at(date(2026, 12, 2), 9, 0)) == []
    put_usage(local_lake, date(2026, 12, 4), flat("1"))
    assert alert_run(local_lake, publisher, budget, at(date(2026, 12, 4), 9, 0)) == []  # November is closed now


def test_a_threshold_fires_at_equality_and_the_subject_says_reached(aws, local_lake):
    """Item 5: `>=` as AWS Budgets; a figure that shows as the threshold "reached" it, only a higher one "passed" it."""
    topic, queue = sns_to_sqs()
    for day, billed in ((date(2026, 11, 19), "70"), (date(2026, 11, 20), "70.000005"), (date(2026, 11, 21), "70.01"),
                        (date(2026, 11, 22), "69.99")):
        put_billed(local_lake, day, billed)
    days = [date(2026, 11, 19) + timedelta(days=n) for n in range(4)]

    alerting = Alerting(local_lake, Settings(daily_spend_threshold_usd=THRESHOLD), SnsPublisher(topic), run_id="r", clock=lambda: NOW)
    alerting.deliver(alerting.evaluate(days, NOW))

    subjects = sorted(m["Subject"] for m in received(queue))
    assert subjects == ["Anthropic spend $70.00 on 2026-11-19 reached your $70 daily threshold",
                        "Anthropic spend $70.00 on 2026-11-20 reached your $70 daily threshold",
                        "Anthropic spend $70.01 on 2026-11-21 passed your $70 daily threshold"]


def test_a_raised_threshold_or_budget_is_a_new_rule_with_its_own_alerts(local_lake):
    """Item 6: the amount is in the key; raising it alerts again at the new line, lowering it repeats nothing."""
    day, now = date(2026, 11, 22), at(date(2026, 11, 23), 14, 30)
    put_billed(local_lake, day, "84.50")
    publisher = Recorder()

    def daily(threshold: str) -> list[str]:
        return [a.subject for a in alert_run(local_lake, publisher, Settings(daily_spend_threshold_usd=Decimal(threshold)), now, [day])]

    assert daily("70") == ["Anthropic spend $84.50 on 2026-11-22 passed your $70 daily threshold"]
    assert daily("80") == ["Anthropic spend $84.50 on 2026-11-22 passed your $80 daily threshold"]
    assert daily("90") == [] and daily("60") == [] and daily("80") == []
    assert publisher.keys == ["daily/2026-11-22/billed/t70", "daily/2026-11-22/billed/t80"]

    for n in range(1, 5):
        put_billed(local_lake, date(2026, 11, n), "105")  # $420: 84% of $500
    first = alert_run(local_lake, publisher, Settings(monthly_budget_usd=Decimal("500")), at(date(2026, 11, 5), 1, 0))
    assert [a.key for a in first] == ["monthly/2026-11/actual-80/b500"]  # 4 whole days: too early for a forecast (issue 11)
    put_billed(local_lake, date(2026, 11, 5), "220")  # $640 after the budget went up to $800: 80% of it
    raised = alert_run(local_lake, publisher, Settings(monthly_budget_usd=Decimal("800")), at(date(2026, 11, 6), 1, 0))
    assert [a.key for a in raised] == ["monthly/2026-11/actual-80/b800", "monthly/2026-11/forecast-100/b800"]
    assert raised[0].subject == "Anthropic spend $640.00 this month reached 80% of your $800 monthly budget"


def test_records_from_before_amounts_were_in_keys_send_nothing_twice(local_lake):
    """An upgrade: alerts sent under the old keys (no amount, no level) cover their whole family."""
    put_billed(local_lake, date(2026, 11, 22), "84.50")
    for n in range(1, 4):
        put_billed(local_lake, date(2026, 11, n), "110")  # with the 22nd, $414.50: 83% of $500
    for key in ("daily/2026-11-22/billed", "monthly/2026-11/actual-80", "monthly/2026-11/forecast-100"):
        local_lake.put(f"alerts/sent/{key}.json", json.dumps({"key": key, "message_id": "m-old", "run_id": "old", "sent_at":
                                                               "2026-11-23T13:30:00Z", "attempt": 1, "subject": "...", "figure_usd": "1"}).encode())
    settings = Settings(daily_spend_threshold_usd=THRESHOLD, monthly_budget_usd=Decimal("500"))
    alerting = Alerting(local_lake, settings, Recorder(), run_id="new", clock=lambda: NOW)
    alerts = alerting.evaluate([date(2026, 11, 22)], at(date(2026, 11, 23), 14, 30))

    assert [a.key for a in alerts] == ["daily/2026-11-22/billed/t70", "monthly/2026-11/actual-80/b500", "monthly/2026-11/forecast-100/b500"]
    delivery = alerting.deliver(alerts)
    assert delivery.sent == [] and delivery.skipped == [a.key for a in alerts]
