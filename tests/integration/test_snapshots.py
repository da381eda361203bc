"""Issue 16 items 1, 2 and 7 (part): one snapshot rule, names through the whole history, nothing about budgets or
labels stopping the data, and the rule gaps (a changed amount or scope is a new rule, labels that go away, the
current LABELS setting, `report alerts` without BUDGETS).

Real parts: the simulator over HTTP, a local lake, the job as the handler builds it. Expected token figures come
from the simulator's own totals (`usage_totals_by`), never from the lake.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from support import ingest
from usage_lake.alerts import Alerting
from usage_lake.app.cli import main
from usage_lake.config.events import RunRequest
from usage_lake.config.settings import Settings
from usage_lake.lake import LocalLake
from usage_lake.lake.curated import parquet_bytes, partition_days, read_table
from usage_lake.lake.layout import partition_key
from usage_lake.lake.snapshots import SnapshotReader
from usage_lake.simulator import SimulatedOrg, Simulator

DAY1 = datetime(2026, 11, 20, 10, tzinfo=UTC)  # the names as they were
DAY2 = datetime(2026, 11, 21, 10, tzinfo=UTC)  # after the rename and the rotation
MONTH = date(2026, 11, 1)


class Recorder:
    def __init__(self) -> None:
        self.alerts: list = []

    def publish(self, alert) -> str:
        self.alerts.append(alert)
        return f"m-{len(self.alerts)}"

    @property
    def keys(self) -> list[str]:
        return [a.key for a in self.alerts]


def rules(publisher: Recorder) -> list[str]:
    """The keys sent, without the digest of a scoped budget's scope (`-s1a2b3c4d`)."""
    return [re.sub(r"-s[0-9a-f]{8}$", "", key) for key in publisher.keys]


def run(sim: Simulator, lake: LocalLake, now: datetime, publisher: Recorder | None = None, **settings):
    return ingest(RunRequest(mode="incremental", now=now), sim=sim, lake=lake, settings=Settings(base_url=sim.base_url, **settings),
                  publisher=publisher)


def fill(sim: Simulator, lake: LocalLake, now: datetime = DAY1) -> None:
    """The month so far, back-filled at `now` (usage and cost; the run takes the snapshots FOCUS needs)."""
    request = RunRequest(mode="backfill", start=MONTH, end=now.date(), now=now, reports=("usage", "cost"))
    assert ingest(request, sim=sim, lake=lake, settings=Settings(base_url=sim.base_url)).outcome == "succeeded"


def budgets_file(tmp_path, *budgets: dict) -> str:
    path = tmp_path / f"budgets-{len(list(tmp_path.glob('budgets-*')))}.json"
    path.write_text(json.dumps({"budgets": list(budgets)}))
    return str(path)


def output_tokens(org: SimulatedOrg, end: datetime, *, workspaces=(), keys=()) -> int:
    """Output tokens of the month through `end`, of the usage rows of these workspaces or keys (the simulator's totals)."""
    totals = org.usage_totals_by(datetime(2026, 11, 1, tzinfo=UTC), end, ("workspace_id", "api_key_id"))
    return sum(t["output_tokens"] for (w, k), t in totals.items() if w in workspaces or k in keys)


# -- the rule ------------------------------------------------------------------------------------------------------

def test_the_snapshot_in_force_is_the_latest_on_or_before_the_day_else_the_earliest_and_says_which(tmp_path):
    lake = LocalLake(tmp_path)
    for day, name in ((date(2026, 11, 5), "Growth"), (date(2026, 11, 9), "Growth Team")):
        lake.put(partition_key("workspaces", day), parquet_bytes(pa.table({"id": ["w1"], "name": [name]})))
    reader = SnapshotReader(lake)
    assert reader.on("workspaces", date(2026, 11, 1)).day == date(2026, 11, 5)  # before every snapshot: the earliest
    assert reader.on("workspaces", date(2026, 11, 1)).source == "workspaces 2026-11-05 (the earliest, later than the day)"
    assert reader.on("workspaces", date(2026, 11, 8)).day == date(2026, 11, 5)
    assert reader.on("workspaces", date(2026, 11, 9)).source == "workspaces 2026-11-09"
    assert reader.values("workspaces", date(2026, 12, 1), "name") == {"w1": "Growth Team"}
    assert reader.ids_named("workspaces", "growth") == reader.ids_named("workspaces", "Growth Team") == ["w1"]  # any name it had
    assert reader.on("api_keys", date(2026, 11, 9)) is None


# -- rename and rotation mid-period ---------------------------------------------------------------------------------

def test_rename_and_rotation_mid_period_the_run_succeeds_the_budget_follows_the_ids_and_alerts_with_the_current_name(tmp_path):
    org = SimulatedOrg.small()
    lake = LocalLake(tmp_path / "lake")
    directory = org.directory
    production, old_key, new_key = directory.workspaces[0], directory.api_keys[0], directory.api_keys[2]
    assert (production["name"], old_key["name"]) == ("Production", "prod-backend")
    with Simulator(org, now=DAY1) as sim:
        fill(sim, lake)
        by_old_names = budgets_file(tmp_path, {"name": "prod", "period": "monthly", "amount": "1000", "measure": "output_tokens",
                                               "scope": {"workspace": ["Production"]}})
        assert run(sim, lake, DAY1, Recorder(), budgets=by_old_names).outcome == "succeeded"
        # the Console rename, and a routine key rotation: the old key archived, another one now called prod-backend
        production["name"] = "Production Team"
        old_key["status"] = "archived"
        new_key["name"] = "prod-backend"
        sim.now = DAY2
        publisher = Recorder()
        by_new_names = budgets_file(tmp_path, {
            "name": "prod", "period": "monthly", "amount": "1000", "measure": "output_tokens", "scope": {"workspace": ["Production Team"]}}, {
            "name": "prod-key", "period": "monthly", "amount": "1000", "measure": "output_tokens", "scope": {"api_key": ["prod-backend"]}})
        record = run(sim, lake, DAY2, publisher, budgets=by_new_names)
    assert record.outcome == "succeeded" and record.alerts_failed == 0
    assert not [n for n in record.notes if "cannot be evaluated" in n]
    assert partition_days(lake, "workspaces") == [date(2026, 11, 20), date(2026, 11, 21)]
    by_budget = {a.budget: a for a in publisher.alerts}
    workspace = by_budget["prod"]
    assert int(workspace.document["figure"]) == output_tokens(org, DAY2, workspaces={production["id"]})  # every day, old name too
    assert [label for label, _ in workspace.document["top"]["workspaces"]] == ["Production Team"]  # the current name
    rotated = by_budget["prod-key"]  # both ids that were ever called prod-backend
    assert int(rotated.document["figure"]) == output_tokens(org, DAY2, keys={old_key["id"], new_key["id"]})
    assert {label for label, _ in rotated.document["top"]["api_keys"]} == {"prod-backend (" + old_key["id"] + ")",
                                                                          "prod-backend (" + new_key["id"] + ")"}


def test_a_budget_no_snapshot_can_resolve_is_told_once_per_period_and_the_run_succeeds(tmp_path):
    org = SimulatedOrg.small()
    lake = LocalLake(tmp_path / "lake")
    budgets = budgets_file(tmp_path, {"name": "ghost", "period": "monthly", "amount": "10", "measure": "output_tokens",
                                      "scope": {"workspace": ["Nowhere"]}})
    publisher = Recorder()
    with Simulator(org, now=DAY1) as sim:
        first = run(sim, lake, DAY1, publisher, budgets=budgets)
        second = run(sim, lake, DAY1 + timedelta(hours=1), publisher, budgets=budgets)
    assert first.outcome == second.outcome == "succeeded"
    assert publisher.keys == ["problem/ghost/2026-11/cannot-evaluate"]
    assert "is no workspace name in any workspaces snapshot" in publisher.alerts[0].text
    assert any(n.startswith("alerts: budget 'ghost' (2026-11) cannot be evaluated: ") for n in second.notes)
    alerting = Alerting(lake, Settings(budgets=budgets), Recorder(), run_id="status", clock=lambda: DAY1)
    (row,) = [r for r in alerting.budget_rows(DAY1) if r["budget"] == "ghost"]
    assert row["error"].startswith("cannot evaluate: BUDGETS: budget 'ghost': `scope.workspace` 'Nowhere' is no workspace name")


# -- a changed amount or scope is a new rule ----------------------------------------------------------------------

def test_a_lowered_amount_is_a_new_rule_and_sends_its_steps_once(tmp_path):
    org = SimulatedOrg.small()
    lake = LocalLake(tmp_path / "lake")
    production = org.directory.workspaces[0]
    spent = output_tokens(org, DAY1, workspaces={production["id"]})

    def budget(amount: int, workspace: str = "Production") -> str:
        return budgets_file(tmp_path, {"name": "prod", "period": "monthly", "amount": str(amount), "measure": "output_tokens",
                                       "scope": {"workspace": [workspace]}, "thresholds": [50, 80, 100]})

    publisher = Recorder()
    high = spent * 100 // 85  # about 85% used: the 80% step
    with Simulator(org, now=DAY1) as sim:
        fill(sim, lake)
        run(sim, lake, DAY1, publisher, budgets=budget(high))
        assert rules(publisher) == [f"budget/prod/2026-11/output_tokens/actual-80/a{high}"]
        low = spent * 100 // 120  # lowered mid-period: 120% used
        run(sim, lake, DAY1 + timedelta(minutes=10), publisher, budgets=budget(low))
        assert rules(publisher)[1:] == [f"budget/prod/2026-11/output_tokens/actual-100/a{low}"]
        run(sim, lake, DAY1 + timedelta(minutes=20), publisher, budgets=budget(low))  # sent once
        run(sim, lake, DAY1 + timedelta(minutes=30), publisher, budgets=budget(high))  # back up: its 80% was sent; nothing lower
        assert len(publisher.alerts) == 2
        research = org.directory.workspaces[1]
        over = output_tokens(org, DAY1, workspaces={research["id"]}) * 100 // 120
        run(sim, lake, DAY1 + timedelta(minutes=40), publisher, budgets=budget(over, "Research"))  # the scope moved: news
    assert rules(publisher)[2:] == [f"budget/prod/2026-11/output_tokens/actual-100/a{over}"]
    assert publisher.alerts[2].scope == "workspace=Research"


# -- labels ---------------------------------------------------------------------------------------------------------

def test_removed_labels_write_an_empty_snapshot_and_stop_applying(tmp_path):
    org = SimulatedOrg.small()
    org.directory.workspaces[:] = [dict(w, tags={}) for w in org.directory.workspaces]  # no tags: only the file labels
    lake = LocalLake(tmp_path / "lake")
    key = org.directory.api_keys[0]["id"]
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"api_keys": {key: {"project": "search"}}}))
    with Simulator(org, now=DAY1) as sim:
        run(sim, lake, DAY1, labels=str(labels))
        sim.now = DAY2
        run(sim, lake, DAY2)  # LABELS unset: the labels went away
    assert partition_days(lake, "labels") == [DAY1.date(), DAY2.date()]
    assert read_table(lake, "labels", [DAY2.date()]).num_rows == 0
    reader = SnapshotReader(lake)
    assert reader.on("labels", DAY2.date()).rows.num_rows == 0 and reader.on("labels", DAY1.date()).rows.num_rows == 1


def test_a_label_budget_shown_by_alerts_reads_the_current_labels_setting(tmp_path):
    org = SimulatedOrg.small()
    lake = LocalLake(tmp_path / "lake")
    key = org.directory.api_keys[0]["id"]
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"api_keys": {key: {"project": "search"}}}))
    budgets = budgets_file(tmp_path, {"name": "search", "period": "monthly", "amount": "1000", "measure": "output_tokens",
                                      "scope": {"label:project": ["search"]}})
    with Simulator(org, now=DAY1) as sim:
        fill(sim, lake)  # no labels yet in the lake
    # what `usage-lake alerts` builds, in a shell with LABELS set and before any run wrote those labels
    alerting = Alerting(lake, Settings(budgets=budgets, labels=str(labels)), Recorder(), run_id="status", clock=lambda: DAY1)
    (row,) = [r for r in alerting.budget_rows(DAY1) if r["budget"] == "search"]
    # the labels in force today are the setting's (the next run writes them); the days before take them too (the earliest)
    assert int(row["figure"]) == output_tokens(org, DAY1.replace(hour=0), keys={key}) > 0  # the back-fill ends at midnight


def test_report_projects_reads_the_current_labels_setting(tmp_path, monkeypatch, capsys):
    org = SimulatedOrg.small()
    lake_dir = tmp_path / "lake"
    key = org.directory.api_keys[0]["id"]
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"api_keys": {key: {"project": "search"}}}))
    with Simulator(org, now=DAY1) as sim:
        fill(sim, LocalLake(lake_dir))  # the lake has the workspaces' tags as labels, no project yet
    monkeypatch.setenv("LABELS", str(labels))
    assert main(["report", "projects", "--lake", str(lake_dir), "--now", "2026-11-20T10:00:00Z", "--days", "30", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    (search,) = [r for r in rows if r["project"] == "search"]
    assert int(search["output_tokens"]) == output_tokens(org, DAY1.replace(hour=0), keys={key})


def test_missing_and_malformed_labels_do_not_stop_ingestion_and_keep_the_last_good_labels(tmp_path):
    org = SimulatedOrg.small()
    lake = LocalLake(tmp_path / "lake")
    key = org.directory.api_keys[0]["id"]
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"api_keys": {key: {"project": "search"}}}))
    publisher = Recorder()
    with Simulator(org, now=DAY1) as sim:
        assert run(sim, lake, DAY1, publisher, labels=str(labels)).outcome == "succeeded"
        good = read_table(lake, "labels").num_rows
        labels.write_text("{not json")
        sim.now = DAY2
        broken = run(sim, lake, DAY2, publisher, labels=str(labels))
        again = run(sim, lake, DAY2 + timedelta(hours=1), publisher, labels=str(labels))
        missing = run(sim, lake, DAY2 + timedelta(hours=2), publisher, labels=str(tmp_path / "gone.json"))
    assert broken.outcome == again.outcome == missing.outcome == "partial"
    assert [e.report for e in broken.errors] == ["labels"] and "LABELS" in broken.errors[0].error
    assert read_table(lake, "usage_messages", [DAY2.date()]).num_rows > 0  # the data is in
    assert partition_days(lake, "labels") == [DAY1.date()] and read_table(lake, "labels").num_rows == good  # the last good ones
    assert [k.split("/")[1] for k in publisher.keys] == ["LABELS", "LABELS"]  # one notice per version: broken, then missing


def test_the_cli_refuses_a_malformed_budgets_file_before_it_starts(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "budgets.json"
    bad.write_text(json.dumps({"budgets": [{"name": "x", "period": "fortnightly", "amount": "1"}]}))
    monkeypatch.setenv("BUDGETS", str(bad))
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", "sk-ant-admin01-" + "x" * 40)
    assert main(["run", "--lake", str(tmp_path / "lake")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "BUDGETS: budget 'x': `period` must be one of" in err[0]
    assert not (tmp_path / "lake").exists() or not list((tmp_path / "lake").rglob("*.parquet"))


# -- report alerts -------------------------------------------------------------------------------------------------

def test_report_alerts_lists_the_alerts_the_lake_sent_without_budgets_in_this_shell(tmp_path, monkeypatch, capsys):
    org = SimulatedOrg.small()
    lake_dir = tmp_path / "lake"
    lake = LocalLake(lake_dir)
    budgets = budgets_file(tmp_path, {"name": "org-tokens", "period": "monthly", "amount": "1000", "measure": "output_tokens"})
    publisher = Recorder()
    with Simulator(org, now=DAY1) as sim:
        fill(sim, lake)
        run(sim, lake, DAY1, publisher, budgets=budgets)
    assert publisher.keys == ["budget/org-tokens/2026-11/output_tokens/actual-100/a1000"]
    monkeypatch.delenv("BUDGETS", raising=False)
    assert main(["report", "alerts", "--lake", str(lake_dir), "--now", DAY1.strftime("%Y-%m-%dT%H:%M:%SZ"), "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert "budget/org-tokens/2026-11/output_tokens/actual-100/a1000" in out and "org-tokens" in out


@pytest.fixture(autouse=True)
def _no_settings_from_the_shell(monkeypatch):
    for name in ("BUDGETS", "LABELS", "MONTHLY_BUDGET_USD", "DAILY_SPEND_THRESHOLD_USD", "ALERT_TOPIC_ARN"):
        monkeypatch.delenv(name, raising=False)
