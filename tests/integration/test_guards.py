"""Data guards over real HTTP (issue 8, items 9-15): a page the API gets wrong is refused by name, or survived,
and the stored days never change for the worse."""

from __future__ import annotations

from datetime import date

import pytest
from support import backfill, ingest, lake_tokens, midnight, sim_tokens

from usage_lake.errors import ResponseShapeError
from usage_lake.ingest.runlog import Outcome
from usage_lake.lake.curated import DayAction, read_parquet, read_table
from usage_lake.lake.layout import partition_key
from usage_lake.simulator import Fault

NOV = lambda d: date(2026, 11, d)  # noqa: E731


@pytest.fixture
def stored(sim, local_lake):
    """Three complete days in the lake, and their curated objects' bytes."""
    ingest(backfill(NOV(10), NOV(13)), sim=sim, lake=local_lake)
    return {day: local_lake.get(partition_key("usage_messages", day)) for day in (NOV(10), NOV(11), NOV(12))}


def refused(sim, lake, fault: Fault) -> tuple[str, list]:
    sim.faults.add(fault, path="usage_report")  # the first usage page: day 2026-11-10
    with pytest.raises(ResponseShapeError) as info:
        ingest(backfill(NOV(10), NOV(13)), sim=sim, lake=lake)
    runs = [read_parquet(lake.get(k)).to_pylist()[0] for k in lake.list("runs/")]
    return str(info.value), runs


def assert_unchanged(lake, stored) -> None:
    for day, data in stored.items():
        assert lake.get(partition_key("usage_messages", day)) == data


def test_item09_a_negative_count_fails_the_run_by_name_and_keeps_the_stored_day(sim, local_lake, stored):
    message, runs = refused(sim, local_lake, Fault.set_field("output_tokens", -5))

    assert "usage report page 1" in message
    assert "result 0 of bucket 2026-11-10T00:00:00Z (day 2026-11-10) has `output_tokens` = -5, a negative count" in message
    assert_unchanged(local_lake, stored)
    failed = [r for r in runs if r["outcome"] == Outcome.FAILED]
    assert len(failed) == 1 and failed[0]["error_type"] == "ResponseShapeError" and "-5" in failed[0]["error"]


def test_item10_a_duplicated_row_fails_the_run_naming_the_group(sim, org, local_lake, stored):
    groups = read_table(local_lake, "usage_messages", [NOV(10)]).num_rows
    message, _ = refused(sim, local_lake, Fault.duplicate_row())

    assert "result 1 of bucket 2026-11-10T00:00:00Z (day 2026-11-10) repeats the group of result 0" in message
    assert "api_key_id=" in message and "model=" in message
    assert_unchanged(local_lake, stored)
    assert read_table(local_lake, "usage_messages", [NOV(10)]).num_rows == groups
    assert lake_tokens(local_lake, NOV(10), NOV(13)) == sim_tokens(org, midnight(NOV(10)), midnight(NOV(13)))


def test_item13_an_absurd_count_fails_by_name_not_with_a_bare_overflow(sim, local_lake, stored):
    message, runs = refused(sim, local_lake, Fault.set_field("output_tokens", 2**63 - 1))

    assert "result 0 of bucket 2026-11-10T00:00:00Z (day 2026-11-10) has `output_tokens` = 9,223,372,036,854,775,807" in message
    assert "too large" in message
    assert [r["error_type"] for r in runs if r["outcome"] == Outcome.FAILED] == ["ResponseShapeError"]
    assert_unchanged(local_lake, stored)


@pytest.mark.parametrize(("missing", "columns"), [
    ("server_tool_use", ["web_search_requests"]),
    ("cache_creation", ["cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens"]),
])
def test_item15_a_missing_optional_object_is_zero_and_noted_and_ingestion_goes_on(sim, org, local_lake, missing, columns):
    sim.faults.add(Fault.missing_field(missing), path="usage_report")  # day 2026-11-10 lacks the object
    record = ingest(backfill(NOV(10), NOV(12)), sim=sim, lake=local_lake)

    assert record.outcome == "succeeded"
    assert [d.action for d in record.days if d.report == "usage"] == [DayAction.WRITTEN] * 2
    first_day = read_table(local_lake, "usage_messages", [NOV(10)])
    for column in columns:
        assert set(first_day.column(column).to_pylist()) == {0}
    # everything else is exact, and the second day has its counters
    expected = sim_tokens(org, midnight(NOV(10)), midnight(NOV(12)))
    lake = lake_tokens(local_lake, NOV(10), NOV(12))
    first_day_expected = sim_tokens(org, midnight(NOV(10)), midnight(NOV(11)))
    for name, value in expected.items():
        assert lake[name] == (value - first_day_expected[name] if name in columns else value)
    (note,) = [n for n in record.notes if missing in n]
    assert note == f"usage: {first_day.num_rows:,} row(s) had no `{missing}` object (older API responses lack it); its counters were stored as 0"


def test_item11_a_short_page_keeps_the_stored_days_and_says_why(sim, local_lake, stored):
    sim.faults.add(Fault.short_page(12), path="usage_report")  # day 2026-11-10: 12 of 24 buckets, then has_more false
    record = ingest(backfill(NOV(10), NOV(13), reports=("usage",)), sim=sim, lake=local_lake)

    assert [(d.day, d.action) for d in record.days] == [(NOV(10), DayAction.INCOMPLETE), (NOV(11), DayAction.INCOMPLETE),
                                                        (NOV(12), DayAction.INCOMPLETE)]
    assert_unchanged(local_lake, stored)
    assert any(n.startswith("usage 2026-11-10: not written") and "reach only 2026-11-10T12:00:00Z" in n for n in record.notes)
    assert any(n.startswith("usage 2026-11-11: not written") and "no bucket of this day came back" in n for n in record.notes)
    assert record.count(DayAction.WRITTEN) == 0


def test_item11_a_short_page_on_a_later_day_writes_the_days_before_it_only(sim, org, local_lake):
    sim.faults.every(2, Fault.short_page(12), path="usage_report")  # the second usage page: day 2026-11-11
    record = ingest(backfill(NOV(10), NOV(13), reports=("usage",)), sim=sim, lake=local_lake)

    assert [(d.day, d.action) for d in record.days] == [(NOV(10), DayAction.WRITTEN), (NOV(11), DayAction.INCOMPLETE),
                                                        (NOV(12), DayAction.INCOMPLETE)]
    assert local_lake.list("usage_messages/") == [partition_key("usage_messages", NOV(10))]
    assert lake_tokens(local_lake, NOV(10), NOV(11)) == sim_tokens(org, midnight(NOV(10)), midnight(NOV(11)))
