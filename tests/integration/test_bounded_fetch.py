"""Bounded fetching (issue 21 item 3): a cursor that never ends costs one endpoint, never the run, and the deadline is
checked before every page of every fetcher."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from support import NOW, TODAY, FakeContext, incremental, ingest, lake_tokens, midnight, sim_tokens

from usage_lake.alerts.publishers import OutboxPublisher
from usage_lake.config.settings import Settings
from usage_lake.errors import DeadlineError, PaginationError, ResponseShapeError
from usage_lake.ingest.runlog import Outcome
from usage_lake.lake.curated import read_table
from usage_lake.simulator.faults import Fault
from usage_lake.sources.http import RECORD_PAGE_CEILING, REPORT_PAGE_HEADROOM, page_ceiling, REPORT_PAGES

USAGE, COST = "/v1/organizations/usage_report/messages", "/v1/organizations/cost_report"


def requests_to(sim, fragment: str) -> int:
    return sum(1 for r in sim.requests if fragment in r.path)


@pytest.mark.parametrize("path", ["/claude_code", "/organizations/users", "/invites", "/api_keys", "/members"])
def test_a_never_ending_cursor_costs_its_endpoint_only(sim, org, local_lake, path):
    sim.faults.after(0, Fault.endless_cursor(), path=path)
    settings = Settings(base_url=sim.base_url, daily_spend_threshold_usd=Decimal("0.01"))
    record = ingest(incremental(reports=()), sim=sim, lake=local_lake, settings=settings, publisher=OutboxPublisher(local_lake))

    # the endpoint ended with an error naming it, within its ceiling (a list: RECORD_PAGE_CEILING pages of one query)
    (error,) = record.errors
    assert error.error_type == "PaginationError" and path.split("/")[-1] in error.error and "ceiling" in error.error
    assert record.outcome == Outcome.PARTIAL
    assert requests_to(sim, path) <= RECORD_PAGE_CEILING * (3 if path == "/claude_code" else 1)
    # usage and cost were written in full, and the alert went out
    start = midnight(TODAY - timedelta(days=3))
    assert lake_tokens(local_lake, start.date(), TODAY + timedelta(days=1)) == sim_tokens(org, start, NOW)
    assert read_table(local_lake, "cost_report").num_rows > 0
    assert record.alerts_sent >= 1 and [k for k in local_lake.list("alerts/outbox/")]


@pytest.mark.parametrize("path", [USAGE, COST])
def test_a_never_ending_cursor_on_a_billing_report_costs_that_report_only(sim, org, local_lake, path):
    sim.faults.after(0, Fault.endless_cursor(), path=path)
    settings = Settings(base_url=sim.base_url, daily_spend_threshold_usd=Decimal("0.01"))
    record = ingest(incremental(reports=("usage", "cost")), sim=sim, lake=local_lake, settings=settings,
                    publisher=OutboxPublisher(local_lake))

    # the report ends with a paging error naming it (the ceiling, or the repeated page giving itself away first)
    (error,) = record.errors
    assert error.error_type == "PaginationError" and ("ceiling" in error.error or "out of order" in error.error)
    assert error.report == ("usage" if path == USAGE else "cost")
    assert record.outcome == Outcome.PARTIAL
    assert requests_to(sim, path) <= 2 * REPORT_PAGE_HEADROOM * 4
    # the other billing report is written in full, and the run still evaluates and sends its alerts
    start = midnight(TODAY - timedelta(days=3))
    if path == USAGE:
        assert read_table(local_lake, "cost_report").num_rows > 0
    else:
        assert lake_tokens(local_lake, start.date(), TODAY + timedelta(days=1)) == sim_tokens(org, start, NOW)
    assert record.alerts_sent >= 1 and local_lake.list("alerts/outbox/")


def test_the_ceiling_follows_the_window():
    one_day = [("starting_at", "2026-11-20T00:00:00Z"), ("ending_at", "2026-11-21T00:00:00Z"), ("bucket_width", "1h"),
               ("limit", "24")]
    assert page_ceiling(one_day, REPORT_PAGES) == 2 * REPORT_PAGE_HEADROOM
    month = [("starting_at", "2026-10-01T00:00:00Z"), ("ending_at", "2026-11-01T00:00:00Z"), ("bucket_width", "1h"),
             ("limit", "24")]
    assert page_ceiling(month, REPORT_PAGES) == 32 * REPORT_PAGE_HEADROOM
    assert page_ceiling([("starting_at", "2026-11-20"), ("limit", "1000")], REPORT_PAGES) == RECORD_PAGE_CEILING


class Pages:
    """Time that runs down one second a request: a deterministic deadline."""

    def __init__(self, sim, seconds: float) -> None:
        self.sim, self.seconds = sim, seconds

    def remaining_seconds(self) -> float:
        return self.seconds - len(self.sim.requests)


class Clock:
    """A Lambda context whose remaining time really runs down."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def remaining_seconds(self) -> float:
        return self.deadline - time.monotonic()


def test_the_deadline_is_checked_between_a_days_pages(sim, local_lake):
    """The Claude Code report had no check between a day's pages: a never-ending one ran past the deadline."""
    sim.faults.after(0, Fault.endless_cursor(), path="/claude_code")
    from usage_lake.ingest.run import RESERVE_SECONDS

    deadline = Pages(sim, RESERVE_SECONDS + 12)
    record = ingest(incremental(reports=("usage", "cost", "claude_code")), sim=sim, lake=local_lake, deadline=deadline)
    assert [e.error_type for e in record.errors] == ["DeadlineError"] and "claude_code" in record.errors[0].error
    assert deadline.remaining_seconds() == RESERVE_SECONDS - 1  # stopped at the first page past the reserve
    assert read_table(local_lake, "usage_messages").num_rows and read_table(local_lake, "cost_report").num_rows


def test_the_handler_returns_before_the_lambda_deadline(aws, sim, monkeypatch):
    """A handler given little time ends every endpoint between pages and returns its summary before the hard limit."""
    import boto3
    from support import LAKE_BUCKET, deploy_env

    boto3.client("s3").create_bucket(Bucket=LAKE_BUCKET)
    boto3.client("secretsmanager").create_secret(Name="k", SecretString=json.dumps({"admin_api_key": sim.admin_key}))
    deploy_env(monkeypatch, base_url=sim.base_url, secret_id="k", bucket=LAKE_BUCKET)
    sim.faults.after(0, Fault.endless_cursor(), path="/claude_code")
    from handlers import ingest as handler_module
    from usage_lake.ingest.run import RESERVE_SECONDS

    class Context(FakeContext):  # one second a request
        def get_remaining_time_in_millis(self) -> int:
            return int((RESERVE_SECONDS + 12 - len(sim.requests)) * 1000)

    context = Context()
    summary = handler_module.handler({"mode": "incremental", "now": "2026-11-23T14:30:00Z"}, context)
    assert context.get_remaining_time_in_millis() > 0
    assert summary["outcome"] == "partial"
    first, *rest = summary["errors"]
    assert first["report"] == "claude_code" and first["error_type"] == "DeadlineError"
    # the snapshots come after the reports that bill: each stops before its first page (members: no workspaces today)
    # (the Analytics API and the spend caps stop likewise; a lake with no organization or workspaces snapshot takes those
    # two before the reports, for FOCUS's billing account and names, so they are in)
    assert {e["report"]: e["error_type"] for e in rest} == {"analytics_usage": "DeadlineError", "analytics_cost": "DeadlineError",
                                                            "api_keys": "DeadlineError", "users": "DeadlineError",
                                                            "invites": "DeadlineError", "workspace_members": "DeadlineError",
                                                            "spend_limits": "DeadlineError", "rate_limits": "DeadlineError"}
    assert summary["rows"]["usage"] > 0 and summary["rows"]["cost"] > 0
    assert context.get_remaining_time_in_millis() >= (RESERVE_SECONDS - 1) * 1000  # the reserve is left for the run log


def test_a_retry_that_would_outlast_the_deadline_is_not_waited_for(sim, local_lake):
    sim.faults.after(0, Fault.rate_limit(retry_after="4"), path="cost_report")
    from usage_lake.ingest.run import RESERVE_SECONDS

    began = time.monotonic()
    record = ingest(incremental(), sim=sim, lake=local_lake, deadline=Clock(RESERVE_SECONDS + 2.0))
    assert time.monotonic() - began < 3
    assert [e.error_type for e in record.errors] == ["DeadlineError"] and "cost_report" in record.errors[0].error
    assert read_table(local_lake, "usage_messages").num_rows > 0
    assert DeadlineError.__mro__[1].__name__ == "AdminApiError"


def test_a_slow_answer_is_not_waited_for_past_the_deadline(sim, local_lake):
    """The HTTP timeout shrinks to the time left before the reserve: a 20 s answer is given up on in about 2 s."""
    from usage_lake.ingest.run import RESERVE_SECONDS

    sim.faults.after(0, Fault.slow(20), path="cost_report")
    began = time.monotonic()
    record = ingest(incremental(), sim=sim, lake=local_lake, deadline=Clock(RESERVE_SECONDS + 2.0))
    assert time.monotonic() - began < 10
    assert [e.error_type for e in record.errors] == ["DeadlineError"] and "cost_report" in record.errors[0].error
    assert read_table(local_lake, "usage_messages").num_rows > 0


def test_a_backfill_cut_between_pages_resumes_from_its_first_unfinished_day(sim, org, local_lake):
    """A deadline inside a slice: the continuation starts at the first day not written, so no day is skipped."""
    from datetime import date

    from support import backfill, lake_cents, lake_tokens

    from usage_lake.config.events import RunRequest
    from usage_lake.ingest.run import RESERVE_SECONDS

    start, end = date(2026, 11, 1), date(2026, 11, 22)
    first = ingest(backfill(start, end), sim=sim, lake=local_lake, deadline=Pages(sim, RESERVE_SECONDS + 4))  # 2 of them: the organization and workspaces snapshots a fresh lake takes first
    assert [e.error_type for e in first.errors] == ["DeadlineError"]
    written = {(d.report, d.day) for d in first.days if d.action == "written"}
    missing = min(day for report in ("usage", "cost") for day in (start + timedelta(days=i) for i in range((end - start).days))
                  if (report, day) not in written)
    assert first.resume_from == missing < date(2026, 11, 8)  # inside the first slice, not the next slice's start
    assert first.next_event["start"] == missing.isoformat()
    second = ingest(RunRequest(mode="backfill", start=missing, end=end, now=NOW, reports=("usage", "cost")), sim=sim, lake=local_lake)
    assert second.outcome == "succeeded"
    assert lake_tokens(local_lake, start, end) == sim_tokens(org, midnight(start), midnight(end))
    assert lake_cents(local_lake, start, end) == org.cost_total_cents(midnight(start), midnight(end))
