"""Invocation events -> RunRequest (product.md, "Events")."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from usage_lake.app.jobs import parse_event
from usage_lake.config.events import EventError, RunRequest
from usage_lake.sources import registry

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
PINNED_NOW = "2026-11-23T12:00:00Z"

SCHEDULED_ENVELOPE = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-23T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/anthropic-usage-lake-hourly"],
    "detail": {},
}


def backfill(**fields: object) -> dict[str, object]:
    event: dict[str, object] = {"mode": "backfill", "start": "2026-10-01", "end": "2026-11-01", "now": PINNED_NOW}
    event.update(fields)
    return {k: v for k, v in event.items() if v is not None}


def rejection(event: object) -> str:
    with pytest.raises(EventError) as info:
        parse_event(event)
    return str(info.value)


# --- incremental ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("event", [SCHEDULED_ENVELOPE, {}, None], ids=["eventbridge-envelope", "empty-object", "none"])
def test_schedule_events_mean_an_incremental_run_of_both_reports(event: object) -> None:
    request = parse_event(event)
    # every endpoint runs by default: the two reports first, then Claude Code and the organization snapshots
    assert request == RunRequest(mode="incremental", reports=registry.names(), now=None)
    assert request.reports[:2] == ("usage", "cost")
    assert request.start is None and request.end is None and request.continues is None


def test_explicit_incremental_with_reports_and_now_pins_the_clock_in_utc() -> None:
    request = parse_event({"mode": "incremental", "reports": ["usage"], "now": "2026-11-20T06:30:00+01:00"})
    assert request.mode == "incremental"
    assert request.reports == ("usage",)
    assert request.now == datetime(2026, 11, 20, 5, 30, tzinfo=UTC)
    assert request.now.utcoffset().total_seconds() == 0


def test_reports_come_back_in_canonical_order_whatever_order_was_sent() -> None:
    assert parse_event({"reports": ["cost", "usage"]}).reports == ("usage", "cost")


# --- backfill -------------------------------------------------------------------------------------------------

def test_backfill_with_start_and_end_days() -> None:
    request = parse_event({"mode": "backfill", "start": "2026-01-01", "end": "2026-03-01", "now": PINNED_NOW, "reports": ["usage", "cost"]})
    assert request == RunRequest(
        mode="backfill", reports=("usage", "cost"), now=datetime(2026, 11, 23, 12, tzinfo=UTC),
        start=date(2026, 1, 1), end=date(2026, 3, 1),
    )


def test_backfill_may_end_tomorrow_to_include_today_so_far() -> None:
    request = parse_event(backfill(start="2026-11-20", end="2026-11-24"))
    assert request.end == date(2026, 11, 24)


def test_backfill_may_start_on_the_earliest_day() -> None:
    assert parse_event(backfill(start="2020-01-01", end="2020-01-02")).start == date(2020, 1, 1)


# --- rejections, each naming the field ------------------------------------------------------------------------

def test_unknown_mode_is_rejected_naming_mode() -> None:
    message = rejection({"mode": "replay"})
    assert "mode" in message and "'replay'" in message


def test_unknown_extra_field_is_rejected_naming_it() -> None:
    message = rejection({"mode": "incremental", "window": "7d"})
    assert "window" in message


def test_start_on_an_incremental_event_is_an_unknown_field() -> None:
    assert "start" in rejection({"mode": "incremental", "start": "2026-01-01"})


@pytest.mark.parametrize("reports", ["usage", {"usage": True}, ["usage", "tokens"], [], None],
                         ids=["string", "object", "unknown-report", "empty-list", "null"])
def test_bad_reports_are_rejected_naming_reports(reports: object) -> None:
    message = rejection({"mode": "incremental", "reports": reports})
    assert "reports" in message


def test_unknown_report_is_named_in_the_message() -> None:
    assert "tokens" in rejection({"reports": ["usage", "tokens"]})


@pytest.mark.parametrize("now", ["yesterday", "2026-11-20", "2026-11-20T06:30:00", "", 1700000000, None],
                         ids=["word", "date-only", "no-offset", "empty", "epoch-number", "null"])
def test_bad_now_is_rejected_naming_now(now: object) -> None:
    message = rejection({"mode": "incremental", "now": now})
    assert message.startswith("now ")


@pytest.mark.parametrize("missing", ["start", "end"])
def test_backfill_without_start_or_end_is_rejected_naming_it(missing: str) -> None:
    event = backfill()
    del event[missing]
    message = rejection(event)
    assert message.startswith(f"{missing} ") and "required" in message


@pytest.mark.parametrize("field", ["start", "end"])
@pytest.mark.parametrize("value", ["2026-1-5", "2026-01-05T00:00:00Z", "20260105", "2026/01/05", "2026-02-30", 20260105,
                                   "2026-W02-1"])
def test_backfill_days_must_be_yyyy_mm_dd(field: str, value: object) -> None:
    # the other bound is chosen so that, if the bad value were accepted, no later check would reject it either
    event = backfill(start="2025-01-01", end="2026-11-01")
    event[field] = value
    message = rejection(event)
    assert message.startswith(f"{field} ") and "YYYY-MM-DD" in message


@pytest.mark.parametrize("start,end", [("2026-02-01", "2026-02-01"), ("2026-02-02", "2026-02-01")], ids=["equal", "reversed"])
def test_backfill_end_must_be_after_start(start: str, end: str) -> None:
    message = rejection(backfill(start=start, end=end))
    assert "end" in message and "start" in message and "exclusive" in message


def test_backfill_end_beyond_tomorrow_is_rejected() -> None:
    message = rejection(backfill(start="2026-11-20", end="2026-11-25"))  # now is 2026-11-23, tomorrow is 11-24
    assert message.startswith("end ") and "2026-11-24" in message


def test_backfill_starting_before_2020_is_rejected() -> None:
    message = rejection(backfill(start="2019-12-31", end="2020-01-02"))
    assert message.startswith("start ") and "2020-01-01" in message


@pytest.mark.parametrize("event", [[], "incremental", 42, ["mode", "incremental"]], ids=["list", "string", "number", "pairs"])
def test_non_object_event_is_rejected(event: object) -> None:
    message = rejection(event)
    assert "event must be a JSON object" in message and type(event).__name__ in message


def test_continues_must_be_a_non_empty_string() -> None:
    assert "continues" in rejection(backfill(continues=""))
    assert "continues" in rejection(backfill(continues=17))


# --- round trips and samples ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "request_",
    [
        RunRequest(mode="incremental", reports=("usage", "cost")),  # what an event without "reports" asks for
        RunRequest(mode="incremental", reports=("cost",), now=datetime(2026, 11, 20, 5, 30, 15, tzinfo=UTC)),
        RunRequest(mode="backfill", reports=("usage",), now=datetime(2026, 11, 23, 12, tzinfo=UTC),
                   start=date(2026, 1, 1), end=date(2026, 3, 1)),
        RunRequest(mode="backfill", reports=("usage", "cost"), now=datetime(2026, 11, 23, 12, tzinfo=UTC),
                   start=date(2026, 2, 5), end=date(2026, 3, 1), continues="run-20261123T120000Z-abc123"),
    ],
    ids=["incremental-default", "incremental-pinned", "backfill", "backfill-continuation"],
)
def test_to_event_round_trips_through_parse_event(request_: RunRequest) -> None:
    event = request_.to_event()
    assert json.loads(json.dumps(event)) == event  # JSON-serialisable, as a Lambda re-invocation payload must be
    assert parse_event(event) == request_


def test_to_event_writes_now_in_utc_with_a_z() -> None:
    event = RunRequest(mode="incremental", reports=("usage", "cost"), now=datetime(2026, 11, 20, 5, 30, tzinfo=UTC)).to_event()
    assert event == {"mode": "incremental", "reports": ["usage", "cost"], "now": "2026-11-20T05:30:00Z"}


SAMPLE_EVENTS = sorted(EVENTS_DIR.glob("*.json"))


def test_the_sample_events_folder_is_not_empty() -> None:
    assert len(SAMPLE_EVENTS) >= 4


@pytest.mark.parametrize("path", SAMPLE_EVENTS, ids=lambda p: p.name)
def test_every_sample_event_parses(path: Path) -> None:
    event = json.loads(path.read_text())
    # pin the clock so backfill samples stay valid whatever today is
    if isinstance(event, dict) and event.get("mode") == "backfill" and "now" not in event:
        event["now"] = "2026-11-23T00:00:00Z"
    request = parse_event(event)
    assert request.mode in ("incremental", "backfill")
    if request.mode == "backfill":
        assert request.start is not None and request.end is not None and request.start < request.end
