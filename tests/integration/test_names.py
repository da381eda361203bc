"""Names, projects and Claude Code, end to end: the organization snapshots, the Claude Code report and labels, over
real HTTP against the simulator into moto S3 and a local lake, compared with the simulator's own lists and totals.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

import boto3
import pyarrow.compute as pc
import pytest

from support import LAKE_BUCKET, NOW, TODAY, backfill, incremental, ingest, lake_cents, lake_tokens, midnight, sim_tokens
from usage_lake.alerts.publishers import OUTBOX, OutboxPublisher
from usage_lake.config.settings import Settings
from usage_lake.errors import AuthenticationError
from usage_lake.ingest.rebuild import rebuild_days
from usage_lake.lake import Names
from usage_lake.lake.curated import DayAction, read_parquet, read_table
from usage_lake.lake.layout import partition_key
from usage_lake.lake.schema import SNAPSHOT_TABLES
from usage_lake.simulator import Fault, SimulatedOrg, Simulator
from usage_lake.simulator.server import CLAUDE_CODE_PATH
from usage_lake.sources import registry
from usage_lake.sources.http import RetryPolicy

NOV = lambda d: date(2026, 11, d)  # noqa: E731
EVERYTHING = registry.names()
LISTS = tuple(name for name in EVERYTHING if name in SNAPSHOT_TABLES)
CLAUDE_CODE_SUMS = ("num_sessions", "lines_added", "lines_removed", "commits", "pull_requests")
MODEL_SUMS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")


def total(table, column: str):
    return pc.sum(table.column(column)).as_py() if table.num_rows else 0


def claude_code_figures(lake, start: date, end: date) -> dict:
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    usage, models = read_table(lake, "claude_code_usage", days), read_table(lake, "claude_code_models", days)
    figures = {"records": usage.num_rows, "model_rows": models.num_rows, "estimated_cost_cents": total(models, "estimated_cost_cents")}
    figures |= {name: total(usage, name) for name in CLAUDE_CODE_SUMS}
    figures |= {name: total(models, name) for name in MODEL_SUMS}
    return figures


def expected_claude_code(org: SimulatedOrg, start: date, end: date) -> dict:
    totals = org.claude_code.totals(start + timedelta(days=i) for i in range((end - start).days))
    return {name: totals[name] for name in ("records", "model_rows", "estimated_cost_cents", "num_sessions", "lines_added",
                                            "lines_removed", "commits", "pull_requests", *MODEL_SUMS)}


def org_requests(sim: Simulator) -> list[str]:
    """Requests to the organization endpoints."""
    return [r.path for r in sim.requests if not any(part in r.path for part in ("usage_report", "cost_report", "/analytics/"))]


# -- every new table equals the simulator -----------------------------------------------------------------------

def test_a_backfill_of_everything_into_s3_equals_the_simulator_exactly(org, s3_lake):
    with Simulator(org, now=NOW, page_record_cap=2) as sim:  # two records a page: every list and day takes several
        record = ingest(backfill(NOV(1), NOV(9), reports=EVERYTHING), sim=sim, lake=s3_lake)
        claude_code_pages = [r for r in sim.requests if r.path == CLAUDE_CODE_PATH]

    assert record.outcome == "succeeded" and record.errors == []
    # the reports as before, to the unit
    assert lake_tokens(s3_lake, NOV(1), NOV(9)) == sim_tokens(org, midnight(NOV(1)), midnight(NOV(9)))
    assert lake_cents(s3_lake, NOV(1), NOV(9)) == org.cost_total_cents(midnight(NOV(1)), midnight(NOV(9)))
    # Claude Code: rows, metrics, tokens and cents exactly (cents arrive as JSON numbers with decimals)
    expected = expected_claude_code(org, NOV(1), NOV(9))
    assert claude_code_figures(s3_lake, NOV(1), NOV(9)) == expected
    assert expected["records"] > 20 and expected["estimated_cost_cents"] % 1 != 0
    usd = total(read_table(s3_lake, "claude_code_models"), "estimated_cost_usd")
    assert usd == expected["estimated_cost_cents"] / 100
    assert {d.day for d in record.days if d.report == "claude_code" and d.action == DayAction.WRITTEN} == \
        {NOV(d) for d in range(1, 9) if not org.claude_code.is_empty(NOV(d))}
    assert {d.day for d in record.days if d.report == "claude_code" and d.action == DayAction.EMPTY} == \
        {NOV(d) for d in range(1, 9) if org.claude_code.is_empty(NOV(d))} == {NOV(8)}  # nobody used Claude Code that day
    pages_per_day = Counter(dict(r.query)["starting_at"] for r in claude_code_pages)
    assert sorted(pages_per_day) == [NOV(d).isoformat() for d in range(1, 9)]  # one query per day
    assert max(pages_per_day.values()) >= 3
    # the snapshots: one partition each, for the run's day, every record of every list
    directory = org.directory
    sizes = {"organization": 1, "workspaces": len(directory.workspaces), "api_keys": len(directory.api_keys),
             "users": len(directory.users), "invites": len(directory.invites), "workspace_members": len(directory.active_members())}
    for table, size in sizes.items():
        assert s3_lake.list(f"{table}/") == [partition_key(table, TODAY)], table
        assert read_table(s3_lake, table).num_rows == size, table
        assert record.rows(table) == size
    assert sizes["workspaces"] == 4 and sizes["api_keys"] == 8  # archived ones and keys without usage included


def test_the_lists_are_flattened_as_documented_whichever_shape_the_api_sent(org, local_lake):
    with Simulator(org, now=NOW) as sim:
        ingest(incremental(reports=LISTS), sim=sim, lake=local_lake)
    keys = {r["id"]: r for r in read_table(local_lake, "api_keys").to_pylist()}
    for key in org.directory.api_keys:
        row = keys[key["id"]]
        scope, principal = key.get("scope") or {}, key["principal"]
        assert (row["name"], row["status"]) == (key["name"], key["status"])
        assert row["workspace_id"] == (key["workspace_id"] or scope.get("workspace_id"))  # deprecated field, else the scope
        assert row["scope_type"] == scope.get("type") and row["scope_workspace_id"] == scope.get("workspace_id")
        assert row["principal_id"] == (principal.get("id") or principal.get("user_id") or principal.get("service_account_id"))
        assert row["principal_type"] == ("service_account" if "service_account" in (principal.get("type") or "") else "user")
        assert row["created_by_id"] == (key["created_by"] or {}).get("id")
    evals = next(k for k in org.directory.api_keys if k["name"] == "evals")
    assert keys[evals["id"]]["workspace_id"] is not None and evals["workspace_id"] is None  # found in `scope` only
    assert {k["scope_type"] for k in keys.values()} == {"workspace", "organization", None}
    spaces = {r["id"]: r for r in read_table(local_lake, "workspaces").to_pylist()}
    research = next(w for w in org.directory.workspaces if w["name"] == "Research")
    assert spaces[research["id"]]["archived_at"] == datetime(2026, 11, 21, 9, 15, tzinfo=spaces[research["id"]]["archived_at"].tzinfo)
    assert dict(spaces[research["id"]]["tags"]) == {"cost_center": "Research"}
    assert all(r["snapshot_at"] == NOW for r in spaces.values())
    members = read_table(local_lake, "workspace_members")
    assert sorted(zip(members.column("workspace_id").to_pylist(), members.column("user_id").to_pylist(), strict=True)) == \
        sorted((m["workspace_id"], m["user_id"]) for m in org.directory.active_members())


def test_names_resolve_for_every_key_and_workspace_in_the_usage_table(org, local_lake):
    with Simulator(org, now=NOW) as sim:
        ingest(backfill(NOV(16), NOV(23), reports=EVERYTHING), sim=sim, lake=local_lake)
    usage = read_table(local_lake, "usage_messages")
    names = Names.load(local_lake)
    keys = set(usage.column("api_key_id").to_pylist()) - {None}
    spaces = set(usage.column("workspace_id").to_pylist()) - {None}
    assert keys == {k for k in org.api_key_ids if k} and len(spaces) == 2
    assert {names.api_key(k) for k in keys} == {"prod-backend", "research-notebooks", "evals", "scripts"} | {
        f"batch-worker ({k['id']})" for k in org.directory.api_keys if k["name"] == "batch-worker"}  # a shared name shows its id
    assert {names.workspace(w) for w in spaces} == {"Production", "Research"}  # Research is archived
    assert names.workspace(None) == "Default Workspace" and names.api_key(None).startswith("Console / Workbench")
    assert names.api_key("apikey_01unknown") == "apikey_01unknown"


# -- labels -----------------------------------------------------------------------------------------------------

def test_labels_from_an_s3_file_and_the_agent_map_appear(org, s3_lake, monkeypatch):
    key, other = org.directory.api_keys[0]["id"], org.directory.api_keys[5]["id"]
    production = org.directory.workspaces[0]["id"]
    boto3.client("s3").put_object(Bucket=LAKE_BUCKET, Key="config/labels.json", Body=json.dumps(
        {"api_keys": {key: {"project": "search", "team": "growth"}}, "workspaces": {production: {"env": "production"}}}).encode())
    with Simulator(org, now=NOW) as sim:
        settings = Settings.from_env({"ANTHROPIC_BASE_URL": sim.base_url, "LABELS": f"s3://{LAKE_BUCKET}/config/labels.json",
                                      "ANTHROPIC_AGENT_MAP_JSON": json.dumps({other: "opus-main", key: "search-agent"})})
        record = ingest(incremental(reports=("workspaces",)), sim=sim, lake=s3_lake, settings=settings)

    labels = {(r["entity_id"], r["key"]): (r["value"], r["source"]) for r in read_table(s3_lake, "labels").to_pylist()}
    assert labels == {
        (key, "project"): ("search", "file"), (key, "team"): ("growth", "file"), (key, "agent"): ("search-agent", "agent_map"),
        (other, "agent"): ("opus-main", "agent_map"),
        (production, "env"): ("production", "file"),  # the file wins over the workspace's own tag env=prod
        (production, "cost_center"): ("R&D", "workspace_tags"),
        (org.directory.workspaces[1]["id"], "cost_center"): ("Research", "workspace_tags"),
        (org.directory.workspaces[3]["id"], "cost_center"): ("R&D", "workspace_tags"),
    }
    assert [(d.report, d.action) for d in record.days] == [("workspaces", DayAction.WRITTEN), ("labels", DayAction.WRITTEN)]
    # the same labels again: nothing to write; a changed map: today's labels are replaced
    with Simulator(org, now=NOW) as sim:
        again = ingest(incremental(reports=("workspaces",)), sim=sim, lake=s3_lake, settings=settings)
        assert [(d.report, d.action) for d in again.days] == [("workspaces", DayAction.CURRENT)]
        fewer = ingest(incremental(reports=("workspaces",)), sim=sim, lake=s3_lake, settings=Settings(base_url=sim.base_url))
    assert [(d.report, d.action, d.rows) for d in fewer.days][-1] == ("labels", DayAction.WRITTEN, 4)  # the tags alone
    assert s3_lake.list("labels/") == [partition_key("labels", TODAY)]


def test_a_label_file_that_is_wrong_does_not_stop_the_data_and_fails_the_labels_step_by_name(org, local_lake, tmp_path):
    bad = tmp_path / "labels.json"
    bad.write_text(json.dumps({"api_keys": {"prod-backend": {"project": "search"}}}))
    with Simulator(org, now=NOW) as sim:
        record = ingest(incremental(reports=EVERYTHING), sim=sim, lake=local_lake, settings=Settings(base_url=sim.base_url, labels=str(bad)))
    assert record.outcome == "partial" and [(e.report, e.error_type) for e in record.errors] == [("labels", "SettingsError")]
    assert re.search(r"LABELS file .*api_keys must be keyed by id \(apikey_\.\.\.\), got 'prod-backend'", record.errors[0].error)
    assert local_lake.list("usage_messages/") and local_lake.list("workspaces/")  # the data and the names are in
    assert local_lake.list("labels/") == []  # no labels were ever good: none are written from a bad file


# -- once a day, re-runs replace ---------------------------------------------------------------------------------

def test_snapshots_are_fetched_once_a_day_and_re_runs_never_duplicate(org, local_lake):
    with Simulator(org, now=NOW, page_record_cap=3) as sim:
        first = ingest(incremental(reports=EVERYTHING), sim=sim, lake=local_lake)
        first_lists = org_requests(sim)
        sim.clear_requests()
        second = ingest(incremental(reports=EVERYTHING), sim=sim, lake=local_lake)
        second_lists = org_requests(sim)

    assert first.outcome == second.outcome == "succeeded"
    assert len(first_lists) > len(LISTS) and second_lists == []  # the hourly runs after the first skip them
    assert [(d.report, d.action) for d in second.days if d.report in LISTS] == [(name, DayAction.CURRENT) for name in LISTS]
    window = (TODAY - timedelta(days=3), TODAY + timedelta(days=1))
    assert claude_code_figures(local_lake, *window) == expected_claude_code(org, *window)  # re-read days replaced themselves
    counts = {table: read_table(local_lake, table).num_rows for table in (*SNAPSHOT_TABLES, "claude_code_usage", "claude_code_models")}
    # a day later: a new snapshot partition beside yesterday's; Claude Code days re-read over the lookback, not doubled
    tomorrow = NOW + timedelta(days=1)
    with Simulator(org, now=tomorrow) as sim:
        third = ingest(incremental(tomorrow, reports=EVERYTHING), sim=sim, lake=local_lake)
    assert third.outcome == "succeeded"
    assert local_lake.list("api_keys/") == [partition_key("api_keys", TODAY), partition_key("api_keys", TODAY + timedelta(days=1))]
    assert read_table(local_lake, "api_keys").num_rows == 2 * counts["api_keys"]
    later = (TODAY - timedelta(days=3), TODAY + timedelta(days=2))
    assert claude_code_figures(local_lake, *later) == expected_claude_code(org, *later)


def test_a_missing_snapshot_is_taken_by_the_next_run_of_the_day(org, local_lake):
    with Simulator(org, now=NOW) as sim:
        ingest(incremental(reports=LISTS), sim=sim, lake=local_lake)
        (local_lake.root / partition_key("users", TODAY)).unlink()
        sim.clear_requests()
        record = ingest(incremental(reports=LISTS), sim=sim, lake=local_lake)
    assert [(d.report, d.action) for d in record.days if d.action != DayAction.CURRENT] == [("users", DayAction.WRITTEN)]
    assert org_requests(sim) == ["/v1/organizations/users"]


# -- failure is contained ----------------------------------------------------------------------------------------

def test_a_403_on_one_endpoint_leaves_the_others_written(org, s3_lake):
    with Simulator(org, now=NOW) as sim:
        sim.faults.after(0, Fault.status(403), path="claude_code")
        sim.faults.after(0, Fault.status(403), path="/v1/organizations/users")
        record = ingest(incremental(reports=EVERYTHING), sim=sim, lake=s3_lake)

    # issue 18: a 403 on an optional endpoint is "not available to this key", not a failure
    assert record.outcome == "succeeded" and record.errors == []
    assert list(record.unavailable) == ["claude_code", "users"]
    start = midnight(TODAY - timedelta(days=3))
    assert lake_tokens(s3_lake, TODAY - timedelta(days=3), TODAY + timedelta(days=1)) == sim_tokens(org, start, NOW)
    assert lake_cents(s3_lake, TODAY - timedelta(days=3), TODAY) == org.cost_total_cents(start, midnight(TODAY))
    written = {d.report for d in record.days if d.action == DayAction.WRITTEN}
    assert written == {"usage", "cost", "organization", "workspaces", "api_keys", "invites", "workspace_members", "labels",
                       "analytics_usage", "analytics_cost", "spend_limits", "rate_limits"}
    assert s3_lake.list("users/") == [] and s3_lake.list("claude_code_usage/") == []
    (run_key,) = s3_lake.list("runs/")
    run = read_parquet(s3_lake.get(run_key)).to_pylist()[0]
    assert run["outcome"] == "succeeded" and [u["report"] for u in run["unavailable"]] == ["claude_code", "users"]
    assert record.summary()["endpoints"]["users"] == "unavailable"
    # the permission is granted: the next run of the day fills in what is missing
    with Simulator(org, now=NOW) as sim:
        healed = ingest(incremental(reports=EVERYTHING), sim=sim, lake=s3_lake)
    assert healed.outcome == "succeeded" and read_table(s3_lake, "users").num_rows == len(org.directory.users)
    window = (TODAY - timedelta(days=3), TODAY + timedelta(days=1))
    assert claude_code_figures(s3_lake, *window) == expected_claude_code(org, *window)


def test_an_endpoint_that_keeps_failing_fails_alone_and_takes_its_dependants_with_it(org, local_lake):
    fast = {"retry": RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)}
    with Simulator(org, now=NOW) as sim:
        sim.faults.after(0, Fault.status(503), path="/v1/organizations/workspaces")  # the list and every members list
        record = ingest(incremental(reports=EVERYTHING), sim=sim, lake=local_lake, **fast)
    assert record.outcome == "partial"
    failed = {e.report: e.error for e in record.errors}
    assert set(failed) == {"workspaces", "workspace_members", "rate_limits"}  # the last two are built from today's workspaces
    assert "failed after 2 attempt(s)" in failed["workspaces"] and "today's workspaces snapshot" in failed["workspace_members"]
    assert read_table(local_lake, "api_keys").num_rows == 8 and read_table(local_lake, "usage_messages").num_rows > 0


def test_a_bad_claude_code_record_is_refused_naming_the_field(org, local_lake):
    with Simulator(org, now=NOW) as sim:
        sim.faults.after(0, Fault.missing_field("core_metrics.num_sessions"), path="claude_code")
        record = ingest(incremental(reports=EVERYTHING), sim=sim, lake=local_lake)
    assert record.outcome == "partial"
    (error,) = record.errors
    assert error.report == "claude_code" and error.error_type == "ResponseShapeError"
    assert "missing required field `num_sessions`" in error.error and "core_metrics" in error.error
    assert local_lake.list("claude_code_usage/") == [] and read_table(local_lake, "usage_messages").num_rows > 0


def test_a_refused_key_still_fails_the_run(org, local_lake):
    with Simulator(org, now=NOW) as sim:
        sim.faults.after(0, Fault.status(401))
        with pytest.raises(AuthenticationError):
            ingest(incremental(reports=("claude_code", "api_keys")), sim=sim, lake=local_lake)


# -- rebuild, alerts --------------------------------------------------------------------------------------------

def test_claude_code_and_snapshots_rebuild_from_raw_without_the_api(org, local_lake):
    with Simulator(org, now=NOW, page_record_cap=2) as sim:
        ingest(backfill(NOV(18), NOV(23), reports=EVERYTHING), sim=sim, lake=local_lake)
    tables = ("claude_code_usage", "claude_code_models", *LISTS)
    before = {t: read_table(local_lake, t) for t in tables}
    for table in tables:
        for key in local_lake.list(f"{table}/"):
            (local_lake.root / key).unlink()

    results = rebuild_days(local_lake, reports=["claude_code", *LISTS], start=NOV(18), end=NOV(24))

    written = {(r.report, r.day) for r in results if r.action == DayAction.WRITTEN}
    assert {(name, TODAY) for name in LISTS} <= written
    assert {day for report, day in written if report == "claude_code"} == {NOV(d) for d in range(18, 23) if not org.claude_code.is_empty(NOV(d))}
    for table in tables:
        assert read_table(local_lake, table).equals(before[table]), table


def test_alert_messages_name_workspaces_and_keys(org, local_lake):
    with Simulator(org, now=NOW) as sim:
        settings = Settings(base_url=sim.base_url, daily_spend_threshold_usd=Decimal(1))
        record = ingest(incremental(reports=EVERYTHING), sim=sim, lake=local_lake, settings=settings, publisher=OutboxPublisher(local_lake))
    assert record.alerts_sent >= 1
    today = next(json.loads(local_lake.get(k)) for k in local_lake.list(OUTBOX) if "estimated" in k)
    text = today["text"]
    assert "Top workspaces" in text and "Production" in text and "Default Workspace" in text
    shared = [k["id"] for k in org.directory.api_keys if k["name"] == "batch-worker"]
    assert any(f"batch-worker ({k})" in text for k in shared) and "prod-backend" in text
    assert not any(k in text for k in org.api_key_ids if k and k not in shared)  # every other key by its name alone


def test_a_run_with_only_the_reports_takes_the_names_focus_needs_once(sim, org, local_lake):
    record = ingest(backfill(NOV(1), NOV(3)), sim=sim, lake=local_lake)
    assert record.reports == ("usage", "cost") and record.errors == []
    assert {k.split("/")[0] for k in local_lake.list("")} == {"raw", "usage_messages", "cost_report", "focus", "observed_prices", "runs", "organization",
                                                              "labels", "workspaces"}  # focus, observed_prices: derived from cost; named by the two snapshots (labels: their tags)
    sim.clear_requests()
    ingest(backfill(NOV(3), NOV(4)), sim=sim, lake=local_lake)
    assert org_requests(sim) == []  # the lake has them now


def test_the_cli_shows_names_and_which_endpoint_failed(org, tmp_path, monkeypatch, capsys):
    from usage_lake.app.cli import main
    from usage_lake.lake import LocalLake
    from usage_lake.reporting import spend_and_tokens

    lake_dir = tmp_path / "lake"
    with Simulator(org, now=NOW) as sim:
        monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", sim.admin_key)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", sim.base_url)
        sim.faults.after(0, Fault.status(403), path="claude_code")
        # issue 18: a key without Claude Code is not a failing run (it used to exit 1 every hour)
        assert main(["run", "--lake", str(lake_dir), "--now", "2026-11-23T14:30:00Z"]) == 0
    run_out = capsys.readouterr().out
    assert "succeeded (incremental)" in run_out and "api_keys: 8 rows in 1 day(s)" in run_out
    assert "note: claude_code: unavailable to this organization or key (403" in run_out
    summary = spend_and_tokens(LocalLake(lake_dir), [TODAY - timedelta(days=i) for i in range(3, -1, -1)])  # `summary`, clock pinned
    for name in ("Production", "Research", "Default Workspace", "prod-backend", "research-notebooks", "evals", "scripts"):
        assert name in summary
    shared = [k["id"] for k in org.directory.api_keys if k["name"] == "batch-worker"]
    assert all(f"batch-worker ({k})" in summary for k in shared)
    assert main(["runs", "--lake", str(lake_dir)]) == 0
    assert "unavailable: claude_code" in capsys.readouterr().out
