"""The Lambda handler, end to end: moto Secrets Manager + S3 (+ Lambda for continuations), simulator over HTTP."""

from __future__ import annotations

import json
from datetime import date, timedelta

import boto3
import pytest
from support import LAKE_BUCKET
from support import NOW, TODAY, FakeContext, all_object_bytes, deploy_env, midnight, sim_tokens

from usage_lake.sources.http import AuthenticationError
from usage_lake.lake.curated import read_table
from usage_lake.config.events import EventError
from usage_lake.lake import S3Lake
from usage_lake.lake.layout import partition_key
from usage_lake.reporting import token_totals
from usage_lake.config.settings import SettingsError

SECRET_ID = "anthropic/admin-api-key"
FUNCTION = "usage-lake-ingest"


@pytest.fixture
def deployed(aws, sim, monkeypatch):
    """What `sam deploy` sets up: the bucket, the secret and the function's environment."""
    boto3.client("s3").create_bucket(Bucket=LAKE_BUCKET)
    boto3.client("secretsmanager").create_secret(Name=SECRET_ID, SecretString=json.dumps({"admin_api_key": sim.admin_key}))
    deploy_env(monkeypatch, base_url=sim.base_url, secret_id=SECRET_ID, bucket=LAKE_BUCKET, LAKE_PREFIX="anthropic",
               POWERTOOLS_METRICS_NAMESPACE="AnthropicUsageLakeTest")
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    from handlers import ingest

    # as at a cold start: the core's loggers log through the handler's JSON logger (import did it once per process)
    copy_config_to_registered_loggers(source_logger=ingest.logger, include={"usage_lake"})
    return ingest


@pytest.fixture
def log_lines(deployed):
    """The handler's JSON log lines (Powertools binds its stream at import, so point it at a buffer)."""
    import io

    buffer = io.StringIO()
    handler = deployed.logger.registered_handler
    # not setStream(): it flushes the old stream, which may be an earlier test's closed capture file
    previous, handler.stream = handler.stream, buffer
    yield lambda: json_lines(buffer.getvalue())
    handler.stream = previous


def lake() -> S3Lake:
    return S3Lake(LAKE_BUCKET, "anthropic")


def metric(emf: dict, name: str) -> float:
    """A value from an EMF metrics line (Powertools writes each value as a one-element list)."""
    value = emf[name]
    return value[0] if isinstance(value, list) else value


def metric_names(emf: dict) -> list[str]:
    """The CloudWatch metrics an EMF line defines (what is billed); every other key is a searchable property."""
    return sorted(m["Name"] for directive in emf["_aws"]["CloudWatchMetrics"] for m in directive["Metrics"])


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_scheduled_event_runs_an_incremental_and_reports_it(deployed, sim, org, capsys, log_lines):
    event = {"mode": "incremental", "now": "2026-11-23T14:30:00Z"}
    summary = deployed.handler(event, FakeContext())

    assert json.loads(json.dumps(summary)) == summary
    assert summary["outcome"] == "succeeded" and summary["mode"] == "incremental"
    start = midnight(TODAY - timedelta(days=3))
    assert token_totals(read_table(lake(), "usage_messages")) == sim_tokens(org, start, NOW)
    assert summary["rows"]["usage"] == read_table(lake(), "usage_messages").num_rows
    out = json_lines(capsys.readouterr().out)
    (metrics,) = [line for line in out if "_aws" in line]
    # one metric billed (the alarm's); the run's counters ride along as EMF properties, not as metrics
    assert metric_names(metrics) == ["RunSucceeded"] and metric(metrics, "RunSucceeded") == 1
    assert metrics["usage_rows"] == summary["rows"]["usage"] and metrics["requests"] == summary["requests"] == len(sim.requests)
    assert metrics["days_written"] == summary["days_written"] and metrics["outcome"] == "succeeded"
    # a fresh lake: a day of usage and of cost, then the rest of each in one page (the next run knows the sizes)
    assert report_requests(sim) == {"usage": 2, "cost": 2}
    assert metrics["run_id"] == summary["run_id"]
    logs = log_lines()
    assert len(logs) >= 8 and all(line["run_id"] == summary["run_id"] for line in logs)
    assert any("usage 2026-11-20: written" in line["message"] for line in logs)

    sim.clear_requests()
    hour_later = deployed.handler({"mode": "incremental", "now": "2026-11-23T15:30:00Z"}, FakeContext())
    assert hour_later["outcome"] == "succeeded"
    assert report_requests(sim) == {"usage": 1, "cost": 1}  # 3 days + today of usage, 3 days of cost: a page each


def report_requests(sim) -> dict[str, int]:
    """Requests of the usage and cost reports (the run also reads Claude Code a day a query, and the snapshots)."""
    paths = {"/v1/organizations/usage_report/messages": "usage", "/v1/organizations/cost_report": "cost"}
    counted = [paths[r.path] for r in sim.requests if r.path in paths]
    return {name: counted.count(name) for name in ("usage", "cost")}


def test_the_eventbridge_envelope_is_an_incremental_run(deployed, sim):
    with open("events/eventbridge-scheduled.json") as f:
        summary = deployed.handler(json.load(f), FakeContext())
    assert summary["mode"] == "incremental" and summary["outcome"] == "succeeded"


@pytest.mark.parametrize(("event", "field"), [
    ({"mode": "replay"}, "mode"),
    ({"mode": "backfill", "start": "2026-11-01"}, "end"),
    ({"mode": "incremental", "lookback": 9}, "lookback"),
    ({"mode": "backfill", "start": "2026-11-01", "end": "2026-11-01"}, "end"),
])
def test_a_bad_event_is_refused_before_anything_is_written(deployed, sim, event, field):
    with pytest.raises(EventError, match=field):
        deployed.handler(event, FakeContext())
    assert lake().list("") == [] and sim.requests == []


@pytest.mark.parametrize(("variable", "value"), [
    ("USAGE_BUCKET_WIDTH", "5m"),
    ("USAGE_LOOKBACK_DAYS", "forty"),
    ("LAKE_BUCKET", ""),
    ("DAILY_SPEND_THRESHOLD_USD", "-3"),
])
def test_a_bad_setting_is_refused_by_name_before_anything_is_written(deployed, sim, monkeypatch, capsys, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        deployed.handler({"mode": "incremental"}, FakeContext())
    assert lake().list("") == [] and sim.requests == []
    (emf,) = [line for line in json_lines(capsys.readouterr().out) if "_aws" in line]
    assert metric_names(emf) == ["RunFailed"] and metric(emf, "RunFailed") == 1
    assert emf["outcome"] == "rejected" and emf["error_type"] == "SettingsError"


def test_a_wrong_key_fails_clearly_and_never_leaks(deployed, sim, capsys, caplog, log_lines):
    wrong_key = "sk-ant-admin01-WRONG-KEY-1234567890abcdef"
    from aws_lambda_powertools.utilities import parameters

    boto3.client("secretsmanager").put_secret_value(SecretId=SECRET_ID, SecretString=wrong_key)
    parameters.clear_caches()
    with pytest.raises(AuthenticationError) as failure:
        deployed.handler({"mode": "incremental", "now": "2026-11-23T14:30:00Z"}, FakeContext())

    message = str(failure.value)
    assert "sk-ant-admin" in message and "Admin API key" in message
    captured = capsys.readouterr()
    logs = json.dumps(log_lines())
    assert "AuthenticationError" in logs
    for text in (message, repr(failure.value), captured.out, captured.err, caplog.text, logs):
        assert wrong_key not in text and sim.admin_key not in text
    for key, data in all_object_bytes(lake()):
        assert wrong_key.encode() not in data and sim.admin_key.encode() not in data, key
    (run_key,) = lake().list("runs/")
    (failed,) = [line for line in json_lines(captured.out) if "_aws" in line]
    assert metric_names(failed) == ["RunFailed", "RunSucceeded"]
    assert metric(failed, "RunFailed") == 1 and metric(failed, "RunSucceeded") == 0 and failed["outcome"] == "failed"
    assert run_key.startswith("runs/dt=")


def test_the_key_appears_nowhere_after_a_successful_run(deployed, sim, capsys, caplog, log_lines):
    deployed.handler({"mode": "backfill", "start": "2026-11-18", "end": "2026-11-20", "now": "2026-11-23T14:30:00Z"}, FakeContext())
    captured = capsys.readouterr()
    for text in (captured.out, captured.err, caplog.text, json.dumps(log_lines())):
        assert sim.admin_key not in text
    objects = all_object_bytes(lake())
    assert len(objects) > 5
    assert all(sim.admin_key.encode() not in data for _, data in objects)


def test_a_backfill_near_the_time_limit_hands_the_rest_to_a_new_invocation(deployed, sim, org, monkeypatch):
    invocations = []
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("provide-client-params.lambda.Invoke", lambda params, **_: invocations.append(params))
    _create_function()

    class ShortOnTime(FakeContext):
        def get_remaining_time_in_millis(self) -> int:
            # plenty until the second slice (to 2026-11-15) is done, too little before the third (the client checks
            # before every page too, so this follows the run's progress rather than counting checks)
            return 20_000 if lake().exists(partition_key("cost_report", date(2026, 11, 14))) else 600_000

    event = {"mode": "backfill", "start": "2026-11-01", "end": "2026-11-22", "now": "2026-11-23T14:30:00Z", "reports": ["usage", "cost"]}
    summary = deployed.handler(event, ShortOnTime())

    assert summary["outcome"] == "partial" and summary["resume_from"] == "2026-11-15"
    (call,) = invocations
    assert call["FunctionName"] == FakeContext.invoked_function_arn and call["InvocationType"] == "Event"
    follow_up = json.loads(call["Payload"])
    assert follow_up == {"mode": "backfill", "reports": ["usage", "cost"], "start": "2026-11-15", "end": "2026-11-22",
                         "now": "2026-11-23T14:30:00Z", "continues": summary["run_id"]}
    rest = deployed.handler(follow_up, FakeContext())
    assert rest["outcome"] == "succeeded"
    assert token_totals(read_table(lake(), "usage_messages")) == sim_tokens(org, midnight(TODAY.replace(day=1)), midnight(TODAY.replace(day=22)))


def _create_function() -> None:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="ingest", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers/ingest.py", "def handler(event, context):\n    return event\n")
    boto3.client("lambda").create_function(
        FunctionName=FUNCTION, Runtime="python3.13", Role=role["Role"]["Arn"], Handler="handlers.ingest.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
