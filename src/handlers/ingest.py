"""Lambda entry point (SAM `Handler: handlers.ingest.handler`).

Thin on purpose: parse the event, validate settings, read the key, build the run through `usage_lake.app`
(the same job the CLI and the tests run), publish metrics, hand a long backfill's remainder to a fresh
invocation of this function, and return a JSON summary. Everything else lives in `usage_lake`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from usage_lake.alerts.publishers import SnsPublisher
from usage_lake.app import IngestJob, parse_event
from usage_lake.config import Settings, admin_key_from_secret
from usage_lake.errors import ConfigError
from usage_lake.ingest import LambdaDeadline, Outcome, RunRecord
from usage_lake.lake import DayAction, S3Lake

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "anthropic-usage-lake")
logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AnthropicUsageLake"), service=SERVICE)
# the core logs through the standard `usage_lake` loggers: give them this JSON format (and the run id)
copy_config_to_registered_loggers(source_logger=logger, include={"usage_lake"})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_event(event)
        settings = Settings.from_env(os.environ, lambda_runtime=True)
        assert settings.lake_bucket is not None and settings.admin_key_secret_id is not None
        lake = S3Lake(settings.lake_bucket, settings.lake_prefix)
        publisher = SnsPublisher(settings.alert_topic_arn) if settings.alert_topic_arn else None
        job = IngestJob(settings=settings, key=admin_key_from_secret(settings.admin_key_secret_id), lake=lake,
                        publisher=publisher)
    except ConfigError:
        metrics.add_metric(name="RunRejected", unit=MetricUnit.Count, value=1)  # nothing was fetched or written
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
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=record.requests)
    metrics.add_metric(name="Pages", unit=MetricUnit.Count, value=record.pages)
    metrics.add_metric(name="Retries", unit=MetricUnit.Count, value=record.retries)
    metrics.add_metric(name="UsageRows", unit=MetricUnit.Count, value=record.rows("usage"))
    metrics.add_metric(name="CostRows", unit=MetricUnit.Count, value=record.rows("cost"))
    metrics.add_metric(name="DaysWritten", unit=MetricUnit.Count, value=record.count(DayAction.WRITTEN))
    metrics.add_metric(name="DaysKept", unit=MetricUnit.Count, value=record.count(DayAction.KEPT))
    metrics.add_metric(name="RunFailed", unit=MetricUnit.Count, value=1 if record.outcome == Outcome.FAILED else 0)
    # "no successful run for 26 hours" alarms on this one: partial runs (a backfill handing over) count as progress
    metrics.add_metric(name="RunSucceeded", unit=MetricUnit.Count, value=1 if record.outcome.made_progress else 0)
    metrics.add_metric(name="AlertsSent", unit=MetricUnit.Count, value=record.alerts_sent)
    metrics.add_metric(name="AlertsFailed", unit=MetricUnit.Count, value=record.alerts_failed)
    for model in sorted(unpriced_models):  # one metric per model, named by a dimension, so it can be graphed and alarmed
        with single_metric(name="UnpricedModel", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
            metric.add_dimension(name="model", value=model)


@tracer.capture_method
def _continue(function_arn: str, event: dict[str, Any]) -> None:
    """Hand the rest of a backfill to a new asynchronous invocation of this same function."""
    boto3.client("lambda").invoke(FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(event).encode())
    logger.info("backfill continues in a new invocation", extra={"next_event": event})
