"""Helpers shared by the test suites (a package, imported as `support`): run the real pipeline against the simulator, read the lake back."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow.compute as pc

from usage_lake.alerts import Publisher
from usage_lake.app.jobs import IngestJob
from usage_lake.ingest.deadline import Deadline
from usage_lake.sources.http import RetryPolicy
from usage_lake.lake.curated import read_table
from usage_lake.config.events import RunRequest
from usage_lake.lake import Lake
from usage_lake.reporting import token_totals
from usage_lake.ingest.runlog import RunRecord
from usage_lake.config.secrets import AdminKey
from usage_lake.config.settings import Settings
from usage_lake.simulator import SimulatedOrg, Simulator
from usage_lake.sources.admin.usage import counters_by_column

LAKE_BUCKET = "usage-lake-test"
NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
TODAY = NOW.date()
# retries without real waiting: the policy is the production one, only the delays are tiny
FAST_RETRY = RetryPolicy(max_attempts=6, base_delay=0.001, max_delay=0.01, max_total=5.0)


@dataclass
class FakeContext:
    """The parts of the Lambda context the handler and Powertools read."""

    remaining_ms: int = 900_000
    function_name: str = "usage-lake-ingest"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:usage-lake-ingest"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def deploy_env(monkeypatch, *, base_url: str, secret_id: str, bucket: str, **extra: str) -> None:
    """The function's environment as the template sets it."""
    for name, value in {"LAKE_BUCKET": bucket, "ADMIN_KEY_SECRET_ID": secret_id, "ANTHROPIC_BASE_URL": base_url,
                        "POWERTOOLS_TRACE_DISABLED": "true", **extra}.items():
        monkeypatch.setenv(name, value)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def backfill(start: date, end: date, reports: tuple[str, ...] = ("usage", "cost")) -> RunRequest:
    return RunRequest(mode="backfill", start=start, end=end, now=NOW, reports=reports)


def incremental(now: datetime = NOW, reports: tuple[str, ...] = ("usage", "cost")) -> RunRequest:
    return RunRequest(mode="incremental", now=now, reports=reports)


def ingest(request: RunRequest, *, sim: Simulator, lake: Lake, settings: Settings | None = None,
           deadline: Deadline | None = None, retry: RetryPolicy = FAST_RETRY, publisher: Publisher | None = None) -> RunRecord:
    """One real run: HTTP to the simulator, writes to `lake`. Raises like the handler would."""
    settings = settings or Settings(base_url=sim.base_url)
    job = IngestJob(settings=settings, key=AdminKey(sim.admin_key), lake=lake, publisher=publisher, retry=retry)
    return job.run(request, deadline)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]


def lake_tokens(lake: Lake, start: date, end: date) -> dict[str, int]:
    return token_totals(read_table(lake, "usage_messages", days(start, end)))


def lake_cents(lake: Lake, start: date, end: date) -> Decimal:
    cost = read_table(lake, "cost_report", days(start, end))
    return pc.sum(cost.column("amount_cents")).as_py() if cost.num_rows else Decimal(0)


def lake_usd(lake: Lake, start: date, end: date) -> Decimal:
    cost = read_table(lake, "cost_report", days(start, end))
    return pc.sum(cost.column("amount_usd")).as_py() if cost.num_rows else Decimal(0)


def sim_tokens(org: SimulatedOrg, start: datetime, end: datetime) -> dict[str, int]:
    return counters_by_column(org.usage_totals(start, end))


def curated_keys(lake: Lake) -> list[str]:
    return [k for k in lake.list("") if k.startswith(("usage_messages/", "cost_report/"))]


def all_object_bytes(lake: Lake) -> list[tuple[str, bytes]]:
    """Every object in the lake, raw pages decompressed, for secret scans."""
    out = []
    for key in lake.list(""):
        data = lake.get(key)
        out.append((key, gzip.decompress(data) if key.endswith(".gz") else data))
    return out
