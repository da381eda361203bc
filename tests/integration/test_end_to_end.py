"""The whole pipeline over real HTTP against the simulator, into moto S3 and into a local folder.

Every test compares the lake with the simulator's own exact totals: tokens to the unit, cost to the
cent-fraction, object counts to the object.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from support import (
    NOW,
    TODAY,
    backfill,
    curated_keys,
    days,
    incremental,
    ingest,
    lake_cents,
    lake_tokens,
    lake_usd,
    midnight,
    sim_tokens,
)

from usage_lake.sources.http import AdminApiError, RetryPolicy
from usage_lake.lake.curated import read_parquet, read_table
from usage_lake.app.jobs import IngestJob, parse_event
from usage_lake.config.secrets import AdminKey
from usage_lake.lake.layout import partition_key, raw_day_prefix
from usage_lake.ingest.rebuild import rebuild_days
from usage_lake.lake.curated import DayAction

EMPTY, KEPT, NOT_READY, WRITTEN = DayAction.EMPTY, DayAction.KEPT, DayAction.NOT_READY, DayAction.WRITTEN
from usage_lake.config.settings import Settings
from usage_lake.simulator import Fault, SimulatedOrg, Simulator

NOV = lambda d: date(2026, 11, d)  # noqa: E731


def test_backfill_into_s3_equals_the_simulator_exactly(sim, org, s3_lake):
    record = ingest(backfill(NOV(1), NOV(15)), sim=sim, lake=s3_lake)

    assert record.outcome == "succeeded"
    assert lake_tokens(s3_lake, NOV(1), NOV(15)) == sim_tokens(org, midnight(NOV(1)), midnight(NOV(15)))
    cents = org.cost_total_cents(midnight(NOV(1)), midnight(NOV(15)))
    assert cents > 0
    assert lake_cents(s3_lake, NOV(1), NOV(15)) == cents
    assert lake_usd(s3_lake, NOV(1), NOV(15)) == cents / 100  # exact: Decimal division by 100 is exact here
    # day by day and model by model, not just in total
    usage = read_table(s3_lake, "usage_messages")
    by_day = org.usage_totals_by(midnight(NOV(1)), midnight(NOV(15)), ("day",))
    for (day,), api_totals in by_day.items():
        assert lake_tokens(s3_lake, date.fromisoformat(day), date.fromisoformat(day) + timedelta(days=1))["output_tokens"] == api_totals["output_tokens"]
    by_model = org.usage_totals_by(midnight(NOV(1)), midnight(NOV(15)), ("model",))
    lake_by_model = {r["model"]: r["uncached_input_tokens_sum"] for r in usage.group_by("model").aggregate([("uncached_input_tokens", "sum")]).to_pylist()}
    assert lake_by_model == {model: t["uncached_input_tokens"] for (model,), t in by_model.items()}
    # 14 days, a fresh lake (no previous run to size pages by): in the first 7-day slice each report asks for its
    # first day alone, then the other 6 days in one page; the second slice is one page each
    assert queries(sim) == [
        ("usage", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", "24"),
        ("usage", "2026-11-02T00:00:00Z", "2026-11-08T00:00:00Z", "168"),
        ("cost", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", "1"),
        ("cost", "2026-11-02T00:00:00Z", "2026-11-08T00:00:00Z", "31"),
        ("usage", "2026-11-08T00:00:00Z", "2026-11-15T00:00:00Z", "168"),
        ("cost", "2026-11-08T00:00:00Z", "2026-11-15T00:00:00Z", "31"),
    ]
    # and the organization and workspaces snapshots FOCUS names its rows from (one page each: the lake had none)
    assert (record.requests, record.pages, record.retries) == (6 + 2, 6 + 2, 0)
    keys = s3_lake.list("")
    assert len([k for k in keys if k.startswith("usage_messages/")]) == 14
    assert len([k for k in keys if k.startswith("cost_report/")]) == 14
    assert len([k for k in keys if k.startswith("raw/") and k.endswith(".json.gz")]) == 6 + 2
    assert len([k for k in keys if k.endswith("manifest.json")]) == 28 + 2
    assert len([k for k in keys if k.startswith("runs/")]) == 1
    assert record.rows("usage") == usage.num_rows
    # what went over the wire
    assert all(r.anthropic_version == "2023-06-01" and r.api_key_sent for r in sim.requests)
    assert all(r.user_agent.startswith("anthropic-usage-lake/") for r in sim.requests)


def test_local_folder_has_the_same_layout_and_numbers(sim, org, s3_lake, local_lake):
    ingest(backfill(NOV(5), NOV(9)), sim=sim, lake=s3_lake)
    ingest(backfill(NOV(5), NOV(9)), sim=sim, lake=local_lake)

    assert curated_keys(local_lake) == curated_keys(s3_lake)
    assert lake_tokens(local_lake, NOV(5), NOV(9)) == lake_tokens(s3_lake, NOV(5), NOV(9))
    assert lake_cents(local_lake, NOV(5), NOV(9)) == lake_cents(s3_lake, NOV(5), NOV(9))


def test_re_runs_replace_days_and_never_duplicate(sim, org, local_lake):
    first = ingest(backfill(NOV(10), NOV(13)), sim=sim, lake=local_lake)
    keys = curated_keys(local_lake)
    rows = read_table(local_lake, "usage_messages").num_rows
    second = ingest(backfill(NOV(10), NOV(13)), sim=sim, lake=local_lake)
    raw_pages = [k for k in local_lake.list("raw/") if k.endswith(".json.gz")]
    third = ingest(backfill(NOV(10), NOV(13)), sim=sim, lake=local_lake)

    assert curated_keys(local_lake) == keys
    assert read_table(local_lake, "usage_messages").num_rows == rows == first.rows("usage") == third.rows("usage")
    assert lake_tokens(local_lake, NOV(10), NOV(13)) == sim_tokens(org, midnight(NOV(10)), midnight(NOV(13)))
    assert lake_cents(local_lake, NOV(10), NOV(13)) == org.cost_total_cents(midnight(NOV(10)), midnight(NOV(13)))
    # the curated rows are the latest run's
    assert set(read_table(local_lake, "usage_messages").column("run_id").to_pylist()) == {third.run_id}
    assert second.run_id != third.run_id
    # the first run, with no previous run to size its pages by, asked for a day, then the other two days (per
    # report); the next ones asked for the three days at once: new pages, stored. The third got the second's
    # pages back: not stored again, and each run's manifests still name them
    assert (first.pages, second.pages, third.pages) == (4 + 2, 2, 2)  # the first: and the organization and workspaces snapshots
    assert [k for k in local_lake.list("raw/") if k.endswith(".json.gz")] == raw_pages
    assert (first.raw_pages_reused, second.raw_pages_reused, third.raw_pages_reused) == (0, 0, third.pages)
    assert len([k for k in local_lake.list("raw/") if k.endswith("manifest.json")]) == 3 * 2 * 3 + 2


def test_incremental_refreshes_the_trailing_window(sim, org, local_lake):
    record = ingest(incremental(), sim=sim, lake=local_lake)

    start = midnight(TODAY - timedelta(days=3))
    assert record.windows["usage"] == (start, NOW)
    assert record.windows["cost"] == (start, midnight(TODAY))
    assert lake_tokens(local_lake, TODAY - timedelta(days=3), TODAY + timedelta(days=1)) == sim_tokens(org, start, NOW)
    assert lake_cents(local_lake, TODAY - timedelta(days=3), TODAY) == org.cost_total_cents(start, midnight(TODAY))
    # today so far is in the usage table (hourly buckets that have ended by 14:30), never in the cost table
    today_usage = read_table(local_lake, "usage_messages", [TODAY])
    assert today_usage.num_rows > 0
    assert max(today_usage.column("bucket_end").to_pylist()) == midnight(TODAY) + timedelta(hours=14)
    assert not local_lake.exists(partition_key("cost_report", TODAY))
    # a fresh lake: the first day of each report alone, then, knowing a bucket's size, the rest in one page each
    assert queries(sim) == [
        ("usage", "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z", "24"),
        ("usage", "2026-11-21T00:00:00Z", "2026-11-23T14:30:00Z", "168"),
        ("cost", "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z", "1"),
        ("cost", "2026-11-21T00:00:00Z", "2026-11-23T00:00:00Z", "31"),
    ]
    assert (record.requests, record.pages) == (4 + 2, 4 + 2)  # and the organization and workspaces FOCUS names rows by
    assert record.bytes_per_bucket == {("usage", "1h"): record.bytes_per_bucket[("usage", "1h")], ("cost", "1d"): record.bytes_per_bucket[("cost", "1d")]}
    assert 2_000 < record.bytes_per_bucket[("usage", "1h")] < 20_000 and record.bytes_per_bucket[("cost", "1d")] > 10_000


def test_the_hourly_run_of_a_small_org_is_two_requests(sim, org, local_lake):
    """The previous run's record says how big a bucket is: usage (3 days + today) and cost (3 days) in one page each."""
    ingest(incremental(NOW - timedelta(hours=1)), sim=sim, lake=local_lake)
    sim.clear_requests()
    record = ingest(incremental(), sim=sim, lake=local_lake)

    assert queries(sim) == [
        ("usage", "2026-11-20T00:00:00Z", "2026-11-23T14:30:00Z", "168"),
        ("cost", "2026-11-20T00:00:00Z", "2026-11-23T00:00:00Z", "31"),
    ]
    assert (record.requests, record.pages, record.outcome) == (2, 2, "succeeded")
    assert lake_tokens(local_lake, TODAY - timedelta(days=3), TODAY + timedelta(days=1)) == sim_tokens(org, midnight(TODAY - timedelta(days=3)), NOW)
    assert lake_cents(local_lake, TODAY - timedelta(days=3), TODAY) == org.cost_total_cents(midnight(TODAY - timedelta(days=3)), midnight(TODAY))
    # the figure it sized its pages by is in the run log, for Athena and for the next run
    runs = [read_parquet(local_lake.get(k), table="runs").to_pylist()[0] for k in local_lake.list("runs/")]
    assert [(r["usage_bucket_width"], r["usage_bytes_per_bucket"] > 0, r["cost_bytes_per_bucket"] > 0) for r in runs] == [("1h", True, True)] * 2


def test_a_31_day_backfill_of_a_small_org_is_twelve_requests_then_ten(sim, org, local_lake):
    record = ingest(backfill(date(2026, 10, 1), NOV(1)), sim=sim, lake=local_lake)
    # each report: its first day alone, the other 6 days of the first slice, then 3 slices of 7 days and one of 3
    assert (record.requests, record.pages) == (12 + 2, 12 + 2)  # and the organization and workspaces snapshots, once
    assert [q[0] for q in queries(sim)].count("usage") == 6
    sim.clear_requests()
    again = ingest(backfill(date(2026, 10, 1), NOV(1)), sim=sim, lake=local_lake)
    assert (again.requests, [q[3] for q in queries(sim)]) == (10, ["168", "31"] * 5)  # a page per report and slice
    assert lake_tokens(local_lake, date(2026, 10, 1), NOV(1)) == sim_tokens(org, midnight(date(2026, 10, 1)), midnight(NOV(1)))
    assert lake_cents(local_lake, date(2026, 10, 1), NOV(1)) == org.cost_total_cents(midnight(date(2026, 10, 1)), midnight(NOV(1)))


def test_pages_of_a_big_org_stay_one_day(local_lake):
    """Buckets too big for more than a day in the budget: every usage page asks for one day, as before."""
    org = SimulatedOrg.large(api_keys=50, models=4, workspaces=5)
    with Simulator(org, now=NOW) as sim:
        job = IngestJob(settings=Settings(base_url=sim.base_url), key=AdminKey(sim.admin_key), lake=local_lake)
        job.ingestion.page_budget = 3_000_000  # a day of this org is ~2 MB of JSON: one day per page, not two
        record = job.run(backfill(NOV(16), NOV(21), reports=("usage",)))
        sent = [dict(r.query) for r in sim.requests]
    # the first day alone, then one query for the other 4 days: one day a page (its first, then 3 by cursor), at 24
    assert [(q["limit"], "page" in q) for q in sent] == [("24", False), ("24", False)] + [("24", True)] * 3 and record.pages == 5
    assert 60_000 < record.bytes_per_bucket[("usage", "1h")] < 125_000  # 3 MB / 125 KB = 24 buckets: still one day
    assert lake_tokens(local_lake, NOV(16), NOV(21)) == sim_tokens(org, midnight(NOV(16)), midnight(NOV(21)))


def queries(sim) -> list[tuple[str, str, str, str]]:
    """(report, starting_at, ending_at, limit) of every query the simulator answered, in order, cursors aside."""
    out = []
    for r in sim.requests:
        q = dict(r.query)
        if "page" not in q and ("usage_report" in r.path or "cost_report" in r.path):  # the reports (not the organization)
            out.append(("cost" if "cost_report" in r.path else "usage", q["starting_at"], q["ending_at"], q["limit"]))
    return out


def test_a_quiet_start_of_day_succeeds(org, local_lake):
    just_after_midnight = midnight(TODAY) + timedelta(minutes=5)
    with Simulator(org, now=just_after_midnight) as sim:
        record = ingest(incremental(just_after_midnight), sim=sim, lake=local_lake)

    assert record.outcome == "succeeded"
    usage_days = {d.day: d.action for d in record.days if d.report == "usage"}
    assert usage_days[TODAY] == EMPTY  # no hourly bucket has ended yet today
    assert not local_lake.exists(partition_key("usage_messages", TODAY))
    assert [d.action for d in record.days if d.report == "cost"] == [WRITTEN] * 3


def test_cost_not_billed_yet_is_not_an_error(org, local_lake):
    # billing lags 30 h: at 04:00 the last billed day ends 2026-11-22 00:00, so [11-22, 11-23) is "too recent"
    now = midnight(TODAY) + timedelta(hours=4)
    settings_env = Settings(cost_lookback_days=1)
    with Simulator(org, now=now, cost_lag_hours=30) as sim:
        settings = Settings(base_url=sim.base_url, cost_lookback_days=settings_env.cost_lookback_days)
        record = ingest(incremental(now, reports=("cost",)), sim=sim, lake=local_lake, settings=settings)

    assert record.outcome == "succeeded"
    assert [(d.day, d.action) for d in record.days if d.report == "cost"] == [(TODAY - timedelta(days=1), NOT_READY)]
    assert any("ending date must be after starting date" in note for note in record.notes)
    assert local_lake.list("cost_report/") == []


def test_faults_change_nothing_in_the_lake(org, local_lake, tmp_path):
    from usage_lake.lake import LocalLake

    clean = LocalLake(tmp_path / "clean")
    with Simulator(org, now=NOW) as sim:
        ingest(backfill(NOV(1), NOV(15)), sim=sim, lake=clean)
    with Simulator(org, now=NOW, page_bucket_cap=24) as sim:  # an API that pages by size: a day a page
        sim.faults.add(Fault.rate_limit(retry_after="0"), times=2)
        sim.faults.every(4, Fault.status(503))
        sim.faults.every(9, Fault.drop())
        sim.faults.every(10, Fault.truncate())
        sim.faults.every(14, Fault.short_read())
        sim.faults.every(15, Fault.not_json())
        sim.faults.add(Fault.status(529), path="cost_report")
        record = ingest(backfill(NOV(1), NOV(15)), sim=sim, lake=local_lake)
        faulted = [r for r in sim.requests if r.fault]

    assert record.outcome == "succeeded"
    assert {r.fault for r in faulted} >= {"rate_limit", "status_503", "drop", "truncate", "short_read", "not_json", "status_529"}
    assert record.retries == len(faulted)
    assert record.requests == len(faulted) + record.pages
    assert lake_tokens(local_lake, NOV(1), NOV(15)) == sim_tokens(org, midnight(NOV(1)), midnight(NOV(15)))
    assert lake_cents(local_lake, NOV(1), NOV(15)) == org.cost_total_cents(midnight(NOV(1)), midnight(NOV(15)))
    assert curated_keys(local_lake) == curated_keys(clean)
    assert read_table(local_lake, "usage_messages").num_rows == read_table(clean, "usage_messages").num_rows
    assert any("retries:" in note for note in record.notes)


def test_a_run_that_dies_mid_backfill_keeps_finished_days_and_no_partial_day(org, local_lake):
    # the API pages by size here: 5 hourly buckets per page, so each day takes 5 requests
    with Simulator(org, now=NOW, page_bucket_cap=5) as sim:
        sim.faults.after(17, Fault.status(500), path="usage_report")  # dies on day 4's third page
        with pytest.raises(AdminApiError, match="500"):
            ingest(backfill(NOV(1), NOV(8), reports=("usage",)), sim=sim, lake=local_lake,
                   retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01))

    written = [k for k in local_lake.list("usage_messages/")]
    assert written == [partition_key("usage_messages", NOV(d)) for d in (1, 2, 3)]
    for d in (1, 2, 3):
        assert lake_tokens(local_lake, NOV(d), NOV(d + 1)) == sim_tokens(org, midnight(NOV(d)), midnight(NOV(d + 1)))
    # day 4's first pages were kept raw, but the day has no manifest and no curated object
    day4_raw = local_lake.list(raw_day_prefix("usage", NOV(4)))
    assert len(day4_raw) == 2 and not any(k.endswith("manifest.json") for k in day4_raw)
    run_log = read_table_runs(local_lake)
    assert run_log["outcome"] == "failed" and "500" in run_log["error"]
    assert [(d["dt"], d["action"]) for d in run_log["days"]] == [("2026-11-01", WRITTEN), ("2026-11-02", WRITTEN), ("2026-11-03", WRITTEN)]

    with Simulator(org, now=NOW, page_bucket_cap=5) as sim:  # the outage is over: the same event completes it
        ingest(backfill(NOV(1), NOV(8), reports=("usage",)), sim=sim, lake=local_lake)
    assert lake_tokens(local_lake, NOV(1), NOV(8)) == sim_tokens(org, midnight(NOV(1)), midnight(NOV(8)))


def read_table_runs(lake) -> dict:
    from usage_lake.lake.curated import read_parquet

    (key,) = lake.list("runs/")
    return read_parquet(lake.get(key)).to_pylist()[0]


def test_an_empty_refetch_keeps_the_stored_day_and_says_so(sim, org, local_lake):
    ingest(backfill(TODAY - timedelta(days=5), TODAY), sim=sim, lake=local_lake)
    quiet_day = TODAY - timedelta(days=2)
    before = {t: local_lake.get(partition_key(t, quiet_day)) for t in ("usage_messages", "cost_report")}
    original = lake_tokens(local_lake, quiet_day, quiet_day + timedelta(days=1))

    org.blank_days.add(quiet_day)  # the API now answers with empty buckets for that day
    record = ingest(incremental(), sim=sim, lake=local_lake)

    assert {(d.report, d.action) for d in record.days if d.day == quiet_day} == {("usage", KEPT), ("cost", KEPT)}
    assert all(local_lake.get(partition_key(t, quiet_day)) == data for t, data in before.items())
    assert lake_tokens(local_lake, quiet_day, quiet_day + timedelta(days=1)) == original
    assert sum(1 for note in record.notes if str(quiet_day) in note and "kept" in note) == 2
    assert record.count(KEPT) == 2


def test_revised_days_replace_the_stored_rows(sim, org, local_lake):
    ingest(backfill(TODAY - timedelta(days=4), TODAY), sim=sim, lake=local_lake)
    revised = TODAY - timedelta(days=1)
    before = lake_tokens(local_lake, revised, TODAY)
    org.adjust(revised, 3)

    ingest(incremental(), sim=sim, lake=local_lake)

    after = lake_tokens(local_lake, revised, TODAY)
    assert after == {name: 3 * value for name, value in before.items()}
    assert after == sim_tokens(org, midnight(revised), midnight(TODAY))
    assert lake_cents(local_lake, revised, TODAY) == org.cost_total_cents(midnight(revised), midnight(TODAY))


class Countdown:
    """Remaining Lambda time as a script: 900 s until the lake holds the cost day `until`, then `after` (the client
    checks before every page too, so the script follows the run's progress, not the number of checks)."""

    def __init__(self, lake, until: date, after: float = 0.0) -> None:
        self.lake, self.until, self.after = lake, until, after

    def remaining_seconds(self) -> float:
        return self.after if self.lake.exists(partition_key("cost_report", self.until)) else 900.0


def test_a_long_backfill_stops_at_a_slice_and_its_continuation_finishes_without_gaps_or_repeats(sim, org, local_lake):
    first = ingest(backfill(NOV(1), NOV(22)), sim=sim, lake=local_lake, deadline=Countdown(local_lake, NOV(14)))

    assert first.outcome == "partial"
    assert first.resume_from == NOV(15)
    assert first.next_event == {"mode": "backfill", "reports": ["usage", "cost"], "start": "2026-11-15", "end": "2026-11-22",
                                "now": "2026-11-23T14:30:00Z", "continues": first.run_id}
    second = ingest(parse_event(first.next_event), sim=sim, lake=local_lake)

    assert second.outcome == "succeeded" and second.continues == first.run_id
    for report in ("usage", "cost"):
        done_first = [d.day for d in first.days if d.report == report]
        done_second = [d.day for d in second.days if d.report == report]
        assert done_first == days(NOV(1), NOV(15)) and done_second == days(NOV(15), NOV(22))
    assert lake_tokens(local_lake, NOV(1), NOV(22)) == sim_tokens(org, midnight(NOV(1)), midnight(NOV(22)))
    assert lake_cents(local_lake, NOV(1), NOV(22)) == org.cost_total_cents(midnight(NOV(1)), midnight(NOV(22)))


def test_curated_days_rebuild_from_raw_without_the_api(org, local_lake):
    with Simulator(org, now=NOW, page_bucket_cap=7) as sim:
        ingest(backfill(NOV(10), NOV(13)), sim=sim, lake=local_lake)
    usage_before = read_table(local_lake, "usage_messages")
    cost_before = read_table(local_lake, "cost_report")
    for key in curated_keys(local_lake):
        (local_lake.root / key).unlink()

    results = rebuild_days(local_lake, reports=["usage", "cost"], start=NOV(10), end=NOV(14))

    assert [(r.report, r.day, r.action) for r in results] == (
        [("usage", NOV(d), WRITTEN) for d in (10, 11, 12)] + [("usage", NOV(13), "no_raw")]
        + [("cost", NOV(d), WRITTEN) for d in (10, 11, 12)] + [("cost", NOV(13), "no_raw")]
        + [("focus", NOV(d), WRITTEN) for d in (10, 11, 12)])
    assert read_table(local_lake, "usage_messages").equals(usage_before)
    assert read_table(local_lake, "cost_report").equals(cost_before)
    manifest = json.loads(local_lake.get(next(k for k in local_lake.list(raw_day_prefix("usage", NOV(11))) if k.endswith("manifest.json"))))
    assert len(manifest["pages"]) == 4  # 24 hourly buckets in pages of 7: 7 + 7 + 7 + 3


@pytest.mark.parametrize(("width", "start", "end", "requests"), [
    # one 31-day slice: the first daily bucket alone, then the other 13 in one usage page; cost alike. Next time: a page each
    ("1d", NOV(1), NOV(15), (4 + 2, 2)),  # the first run: and the organization and workspaces snapshots
    # one-day slices: a 1,440-minute page and a cost page per day (cost's first asks for one bucket, the next 31)
    ("1m", NOV(20), NOV(22), (4 + 2, 4)),
])
def test_other_bucket_widths_give_the_same_totals(sim, org, local_lake, width, start, end, requests):
    settings = Settings(base_url=sim.base_url, usage_bucket_width=width)
    record = ingest(backfill(start, end), sim=sim, lake=local_lake, settings=settings)
    again = ingest(backfill(start, end), sim=sim, lake=local_lake, settings=settings)

    assert (record.requests, again.requests) == requests
    assert lake_tokens(local_lake, start, end) == sim_tokens(org, midnight(start), midnight(end))
    assert set(read_table(local_lake, "usage_messages").column("bucket_width").to_pylist()) == {width}


def test_a_large_org_day_is_exact_too(local_lake):
    org = SimulatedOrg.large(api_keys=50, models=4, workspaces=5)
    with Simulator(org, now=NOW) as sim:
        record = ingest(backfill(NOV(20), NOV(21), reports=("usage",)), sim=sim, lake=local_lake)
    assert record.rows("usage") == 50 * 4 * 24
    assert lake_tokens(local_lake, NOV(20), NOV(21)) == sim_tokens(org, midnight(NOV(20)), midnight(NOV(21)))
