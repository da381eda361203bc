"""Lambda entry point (SAM `Handler: handlers.ingest.handler`).

Thin on purpose: parse the event, validate settings, read the key, build the run through `usage_lake.app`
(the same job the CLI and the tests run), publish metrics, hand a long backfill's remainder to a fresh
invocation of this function, and return a JSON summary. Everything else lives in `usage_lake`.

Cold start: importing this module loads neither boto3/botocore nor the X-Ray SDK. boto3 is imported by the
first AWS client (the lake's S3 client, the secret, SNS), and the Powertools Tracer, whose construction loads
the X-Ray SDK and patches boto3 and httpx, is built on the first invocation, and only when tracing is on
(`Tracing: Active` in the template; `POWERTOOLS_TRACE_DISABLED=true`, or running outside Lambda, turns it off).

Metrics: CloudWatch bills every metric name (per hour it receives data), so only what an alarm or a dashboard
needs is a metric: `RunSucceeded` (every run: the "no successful run" alarm), and, only when they happen,
`RunFailed`, `AlertsFailed` and `UnpricedModel` (per model). The run's other counters go into the same EMF
line as properties: searchable in CloudWatch Logs Insights, in the run log in Athena, and not billed as metrics.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from usage_lake.alerts.publishers import SnsPublisher
from usage_lake.app import IngestJob, parse_event
from usage_lake.config import Settings, admin_key_from_secret
from usage_lake.errors import ConfigError
from usage_lake.ingest import LambdaDeadline, Outcome, RunRecord
from usage_lake.lake import DayAction, S3Lake

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "anthropic-usage-lake")
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AnthropicUsageLake"), service=SERVICE)
# the core logs through the standard `usage_lake` loggers: give them this JSON format (and the run id)
copy_config_to_registered_loggers(source_logger=logger, include={"usage_lake"})
METRIC_NAMES = ("RunSucceeded", "RunFailed", "AlertsFailed", "UnpricedModel")  # every metric this function publishes
# At DEBUG, botocore logs every response body (GetSecretValue's holds the Admin key) and urllib3/httpcore every
# exchange: these stay at INFO or above whatever the root level (Lambda's ApplicationLogLevel=DEBUG sets the root).
SDK_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "httpx", "httpcore", "aws_xray_sdk")


def quiet_sdk_loggers() -> None:
    """Keep the SDKs' loggers at INFO or above (run at import and at every invocation: the root may change)."""
    for name in SDK_LOGGERS:
        sdk = logging.getLogger(name)
        if sdk.getEffectiveLevel() < logging.INFO:
            sdk.setLevel(logging.INFO)


quiet_sdk_loggers()


def tracing_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Powertools' own rule: on in Lambda (not SAM local or Chalice), unless POWERTOOLS_TRACE_DISABLED is true."""
    if environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in ("1", "true", "yes", "on", "y", "t"):
        return False
    return bool(environ.get("LAMBDA_TASK_ROOT")) and not environ.get("AWS_SAM_LOCAL") and not environ.get("AWS_CHALICE_CLI_MODE")


_tracer: Tracer | None = None
_traced: Callable[[dict[str, Any], LambdaContext], dict[str, Any]] | None = None


def tracer() -> Tracer | None:
    """The Powertools Tracer, built on first use and only when tracing is on (building it loads the X-Ray SDK)."""
    global _tracer
    if _tracer is None and tracing_enabled():
        from aws_lambda_powertools import Tracer

        _tracer = Tracer(service=SERVICE)
    return _tracer


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _traced
    quiet_sdk_loggers()
    if _traced is None:
        active = tracer()
        _traced = active.capture_lambda_handler(_handle) if active else _handle
    return _traced(event, context)


@metrics.log_metrics
def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_event(event)
        settings = Settings.from_env(os.environ, lambda_runtime=True)
        assert settings.lake_bucket is not None and settings.admin_key_secret_id is not None
        lake = S3Lake(settings.lake_bucket, settings.lake_prefix)
        publisher = SnsPublisher(settings.alert_topic_arn) if settings.alert_topic_arn else None
        job = IngestJob(settings=settings, key=admin_key_from_secret(settings.admin_key_secret_id), lake=lake,
                        publisher=publisher)
    except ConfigError as exc:  # nothing was fetched or written
        metrics.add_metric(name="RunFailed", unit=MetricUnit.Count, value=1)
        metrics.add_metadata(key="outcome", value="rejected")
        metrics.add_metadata(key="error_type", value=type(exc).__name__)
        raise
    logger.append_keys(run_id=job.record.run_id)
    try:
        record = job.run(request, LambdaDeadline(context))
    finally:
        _publish_metrics(job.record, job.unpriced_models)
    if record.next_event:
        _continue(context.invoked_function_arn, record.next_event)
    return record.summary()


def _publish_metrics(record: RunRecord, unpriced_models: set[str]) -> None:
    # "no successful run for 26 hours" alarms on this one: partial runs (a backfill handing over) count as progress
    metrics.add_metric(name="RunSucceeded", unit=MetricUnit.Count, value=1 if record.outcome.made_progress else 0)
    # billed only in the hours they are sent: sent when they happen, absent (zero) otherwise
    if record.outcome == Outcome.FAILED:
        metrics.add_metric(name="RunFailed", unit=MetricUnit.Count, value=1)
    if record.alerts_failed:
        metrics.add_metric(name="AlertsFailed", unit=MetricUnit.Count, value=record.alerts_failed)
    # the rest: EMF properties of the same line (Logs Insights: `fields requests, usage_rows | filter run_id = ...`)
    for key, value in (("run_id", record.run_id), ("mode", record.mode), ("outcome", str(record.outcome)),
                       ("requests", record.requests), ("pages", record.pages), ("retries", record.retries),
                       ("bytes_received", record.bytes_received), ("usage_rows", record.rows("usage")),
                       ("cost_rows", record.rows("cost")), ("days_written", record.count(DayAction.WRITTEN)),
                       ("days_kept", record.count(DayAction.KEPT)), ("alerts_sent", record.alerts_sent),
                       ("alerts_failed", record.alerts_failed)):
        metrics.add_metadata(key=key, value=value)
    for model in sorted(unpriced_models):  # one metric per model, named by a dimension, so it can be graphed and alarmed
        with single_metric(name="UnpricedModel", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
            metric.add_dimension(name="model", value=model)


def _continue(function_arn: str, event: dict[str, Any]) -> None:
    """Hand the rest of a backfill to a new asynchronous invocation of this same function."""
    import boto3

    with _subsegment("## _continue"):
        boto3.client("lambda").invoke(FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(event).encode())
    logger.info("backfill continues in a new invocation", extra={"next_event": event})


@contextlib.contextmanager
def _subsegment(name: str) -> Iterator[None]:
    """An X-Ray subsegment around a step when tracing is on (what `@tracer.capture_method` records); nothing otherwise."""
    active = tracer()
    if active is None:
        yield
        return
    with active.provider.in_subsegment(name):
        yield
