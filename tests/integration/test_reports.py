"""`usage-lake report`, `export` and `sql` over a lake the simulator filled through the real pipeline.

Every expected figure comes from the simulated org itself (its exact token and billed totals), not from
reading the lake back, except for `export`, whose row counts and sums are compared with the lake's own.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from support import LAKE_BUCKET, NOW, TODAY, backfill, incremental, ingest, midnight

from usage_lake import words
from usage_lake.alerts import Alerting
from usage_lake.alerts.publishers import OutboxPublisher
from usage_lake.app.cli import main
from usage_lake.config.settings import Settings
from usage_lake.lake import LocalLake, S3Lake, parquet_bytes
from usage_lake.lake.curated import read_table
from usage_lake.lake.layout import partition_key
from usage_lake.lake.schema import USAGE_COUNTERS
from usage_lake.simulator import SimulatedOrg, Simulator
from usage_lake.sources.admin.usage import counters_by_column

FIRST_DAY = date(2026, 10, 20)
NOW_FLAG = ["--now", "2026-11-23T14:30:00Z"]
QUERIES = Path(__file__).resolve().parents[2] / "infra" / "queries"
DOC_PAGES = [Path(__file__).resolve().parents[2] / "README.md", *sorted((Path(__file__).resolve().parents[2] / "docs").glob("**/*.md"))]


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """Oct 20 - Nov 22 back-filled, then an incremental run at NOW (today's usage so far, not billed yet)."""
    org = SimulatedOrg.small()
    lake = LocalLake(tmp_path_factory.mktemp("reports") / "lake")
    with Simulator(org, now=NOW) as sim:
        assert ingest(backfill(FIRST_DAY, TODAY), sim=sim, lake=lake).outcome == "succeeded"
        assert ingest(incremental(), sim=sim, lake=lake).outcome == "succeeded"
    return org, lake


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch):
    for name in ("LAKE_BUCKET", "LAKE_PREFIX", "DAILY_SPEND_THRESHOLD_USD", "MONTHLY_BUDGET_USD", "SPIKE_RATIO", "ALERT_TOPIC_ARN"):
        monkeypatch.delenv(name, raising=False)


def cli(capsys, *argv: str) -> str:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def rows_of(text: str, fmt: str) -> list[dict]:
    if fmt == "json":
        return json.loads(text)["rows"]
    return list(csv.DictReader(io.StringIO(text)))


def num(value) -> Decimal:
    """A CSV cell or JSON value as an exact number (blank/None: 0)."""
    return Decimal(0) if value in (None, "") else Decimal(str(value))


def sim_tokens(org, start, end=NOW) -> dict[str, int]:
    return counters_by_column(org.usage_totals(start, end))


def column_sums(rows: list[dict], names) -> dict[str, Decimal]:
    return {name: sum((num(r[name]) for r in rows), Decimal(0)) for name in names}


# -- the views' totals equal the simulator's --------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_daily_totals_and_statuses(filled, capsys, fmt):
    org, lake = filled
    start = date(2026, 10, 18)  # two days before the lake begins: "no data"
    out = cli(capsys, "report", "daily", "--lake", str(lake.root), "--start", start.isoformat(), "--end", "2026-11-24",
              "--format", fmt, *NOW_FLAG)
    rows = rows_of(out, fmt)
    assert [r["day"] for r in rows] == [(start + timedelta(days=i)).isoformat() for i in range(37)]
    status = {r["day"]: r["status"] for r in rows}
    assert status["2026-10-18"] == status["2026-10-19"] == "no data"
    assert status["2026-11-23"] == "usage only, not billed yet"
    assert {status[d] for d in status if "2026-10-20" <= d < "2026-11-23"} == {"billed"}
    assert column_sums(rows, USAGE_COUNTERS) == {k: Decimal(v) for k, v in sim_tokens(org, midnight(FIRST_DAY)).items()}
    assert column_sums(rows, ["billed_cents"])["billed_cents"] == org.cost_total_cents(midnight(FIRST_DAY), midnight(TODAY))
    by_day = org.cost_totals_by(midnight(FIRST_DAY), midnight(TODAY), ("day",))
    for row in rows:
        assert num(row["billed_cents"]) == by_day.get((row["day"],), 0), row["day"]
        assert num(row["billed_usd"]) * 100 == num(row["billed_cents"])  # exact: no float on the way
        if row["status"] != "no data":
            # the budgets' `cost` basis: billed once billed, else the estimate without Priority Tier
            expected_alert = (num(row["estimated_usd"]) - num(row["priority_estimated_usd"]) if row["day"] == TODAY.isoformat()
                              else num(row["billed_usd"]))
            assert num(row["alert_usd"]) == expected_alert
    if fmt == "json":
        assert all(isinstance(r["billed_usd"], str | None) for r in rows)  # decimals travel as exact strings


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize(("view", "key", "dims"), [
    ("models", "model", ("model",)),
    ("workspaces", "workspace_id", ("workspace_id",)),
    ("keys", "api_key_id", ("api_key_id", "workspace_id")),
])
def test_grouped_views_equal_the_simulator(filled, capsys, fmt, view, key, dims):
    org, lake = filled
    out = cli(capsys, "report", view, "--lake", str(lake.root), "--days", "7", "--format", fmt, *NOW_FLAG)
    rows = rows_of(out, fmt)
    start = midnight(TODAY - timedelta(days=6))
    expected = {k: counters_by_column(t) for k, t in org.usage_totals_by(start, NOW, dims).items()}
    got = {tuple(r[d] or None for d in dims): r for r in rows if r.get("uncached_input_tokens") not in (None, "")}
    assert set(got) == set(expected)
    for group, totals in expected.items():
        assert {c: int(num(got[group][c])) for c in USAGE_COUNTERS} == totals, group
    assert column_sums(rows, USAGE_COUNTERS) == {k: Decimal(v) for k, v in sim_tokens(org, start).items()}
    if view != "keys":  # the cost report has no per-key cost
        billed = org.cost_totals_by(start, midnight(TODAY), (key,))
        assert {(r[key] or None,): num(r["billed_cents"]) for r in rows if r["billed_cents"] not in (None, "")} == billed
    if view == "models":
        hit = {r["model"]: r["cache_hit_rate"] for r in rows if r["model"]}
        for (model,), t in expected.items():
            inputs = sum(t[c] for c in USAGE_COUNTERS[:4])
            assert float(hit[model]) == pytest.approx(t["cache_read_input_tokens"] / inputs, abs=1e-6)


def test_summary_periods(filled, capsys):
    org, lake = filled
    rows = {r["period"]: r for r in rows_of(cli(capsys, "summary", "--lake", str(lake.root), "--format", "json", "--days", "3", *NOW_FLAG), "json")}
    assert list(rows) == ["all time", "today", "last 7 days", "last 30 days", "last 3 days", "month to date"]
    assert rows["all time"]["first_day"] == FIRST_DAY.isoformat() and rows["all time"]["days_with_data"] == 35
    for period, first in (("all time", FIRST_DAY), ("today", TODAY), ("last 7 days", TODAY - timedelta(days=6)),
                          ("last 30 days", TODAY - timedelta(days=29)), ("month to date", TODAY.replace(day=1))):
        row = rows[period]
        assert {c: row[c] for c in USAGE_COUNTERS} == sim_tokens(org, midnight(first)), period
        billed = org.cost_total_cents(midnight(first), midnight(TODAY))
        assert num(row["billed_cents"]) == billed, period
    assert rows["today"]["billed_usd"] is None  # today is never billed: shown as such, not as $0
    # the alert figure is the alerts' own month to date
    alerting = Alerting(lake, Settings(), publisher=None, run_id="t", clock=lambda: NOW)
    assert num(rows["month to date"]["alert_usd"]) == alerting.figures.month(TODAY.replace(day=1), NOW).cost_usd
    table = cli(capsys, "summary", "--lake", str(lake.root), *NOW_FLAG)
    assert "Days tracked: 35 since 2026-10-20" in table and "month to date" in table


def test_the_table_is_for_people(filled, capsys):
    org, lake = filled
    out = cli(capsys, "report", "models", "--lake", str(lake.root), "--days", "7", "--wide", *NOW_FLAG)
    assert "Claude Opus 4.6" in out and "claude-opus-4-6" not in out  # names, not ids
    total = next(line for line in out.splitlines() if line.startswith("total"))
    billed = org.cost_total_cents(midnight(TODAY - timedelta(days=6)), midnight(TODAY)) / 100
    assert f"${billed.quantize(Decimal('0.01')):,}" in total  # money rounded to the cent, with a totals row
    assert f"{sim_tokens(org, midnight(TODAY - timedelta(days=6)))['output_tokens']:,}" in total


# -- names and labels: hand-built snapshot partitions, and the fallback to ids --------------------------------

def write_snapshot(lake, table: str, day: date, rows: list[dict], schema: pa.Schema | None = None) -> None:
    lake.put(partition_key(table, day), parquet_bytes(pa.Table.from_pylist(rows, schema=schema)))


@pytest.fixture(scope="module")
def named(filled, tmp_path_factory):
    """The filled lake plus organization snapshots and labels (older snapshots carry stale names)."""
    org, lake = filled
    root = tmp_path_factory.mktemp("named") / "lake"
    shutil.copytree(lake.root, root)
    named_lake = LocalLake(root)
    workspaces = [w for w in org.workspace_ids if w]
    keys = [k for k in org.api_key_ids if k]
    for day, suffix in ((TODAY - timedelta(days=1), " (old)"), (TODAY, "")):
        write_snapshot(named_lake, "workspaces", day, [{"id": w, "name": f"Workspace {i}{suffix}", "tags": [("env", "prod")]}
                                                       for i, w in enumerate(workspaces)],
                       pa.schema([("id", pa.string()), ("name", pa.string()), ("tags", pa.map_(pa.string(), pa.string()))]))
        write_snapshot(named_lake, "api_keys", day, [{"id": k, "name": f"key-{i}{suffix}", "workspace_id": None} for i, k in enumerate(keys)])
    # project: key 0 labelled itself; workspace 0 labelled (its other keys inherit it); team: one key only
    write_snapshot(named_lake, "labels", TODAY, [
        {"entity_type": "api_key", "entity_id": keys[0], "key": "project", "value": "search", "source": "labels.json"},
        {"entity_type": "workspace", "entity_id": workspaces[0], "key": "project", "value": "support", "source": "labels.json"},
        {"entity_type": "api_key", "entity_id": keys[1], "key": "team", "value": "platform", "source": "labels.json"},
    ])
    return org, named_lake, workspaces, keys


def test_names_from_the_latest_snapshot(named, capsys):
    org, lake, workspaces, keys = named
    rows = rows_of(cli(capsys, "report", "keys", "--lake", str(lake.root), "--days", "7", "--format", "json", *NOW_FLAG), "json")
    names = {r["api_key_id"]: r["api_key_name"] for r in rows}
    assert names == {**{k: f"key-{keys.index(k)}" for k in names if k}, None: words.NO_API_KEY}
    table = cli(capsys, "report", "workspaces", "--lake", str(lake.root), "--days", "7", *NOW_FLAG)
    assert "Workspace 0" in table and "(old)" not in table and workspaces[0] not in table and words.DEFAULT_WORKSPACE in table


def test_projects_follow_key_labels_then_workspace_labels(named, capsys):
    org, lake, workspaces, keys = named
    start = midnight(TODAY - timedelta(days=6))
    per_key = {k: counters_by_column(t) for k, t in org.usage_totals_by(start, NOW, ("api_key_id", "workspace_id")).items()}
    expected: dict[str | None, int] = {}
    for (key, workspace), t in per_key.items():
        project = "search" if key == keys[0] else "support" if workspace == workspaces[0] else None
        expected[project] = expected.get(project, 0) + t["output_tokens"]
    rows = rows_of(cli(capsys, "report", "projects", "--lake", str(lake.root), "--days", "7", "--format", "csv", *NOW_FLAG), "csv")
    assert {r["project"] or None: int(r["output_tokens"]) for r in rows} == expected
    assert {r["project"]: r["labelled_by"] for r in rows if r["project"]} == {"search": "api_key", "support": "workspace"}
    team = rows_of(cli(capsys, "report", "projects", "--by", "team", "--lake", str(lake.root), "--days", "7", "--format", "json", *NOW_FLAG), "json")
    assert {r["team"] for r in team} == {"platform", None}


def test_without_organization_tables_views_show_ids_and_say_so(filled, capsys, tmp_path):
    _, filled_lake = filled
    lake = LocalLake(tmp_path / "lake")
    shutil.copytree(filled_lake.root, lake.root)
    shutil.rmtree(lake.root / "labels")  # the back-fill took the workspaces FOCUS needs (their tags are labels): a lake without
    out = cli(capsys, "report", "keys", "--lake", str(lake.root), "--days", "7", *NOW_FLAG)
    assert "No `api_keys` table in the lake yet: keys are shown by id." in out and "apikey_01" in out
    out = cli(capsys, "report", "projects", "--lake", str(lake.root), "--days", "7", *NOW_FLAG)
    assert "(no project label)" in out and "No `labels` table in the lake yet" in out
    out = cli(capsys, "report", "claude-code", "--lake", str(lake.root), "--days", "7", *NOW_FLAG)
    assert "no data: the lake has no `claude_code_usage` table yet." in out


def test_claude_code_per_user(named, capsys, tmp_path):
    _, base, _, _ = named
    root = tmp_path / "lake"
    shutil.copytree(base.root, root)
    lake = LocalLake(root)
    actor = {"actor_type": "user_actor", "actor_email_address": "ada@example.com", "actor_api_key_name": None}
    bot = {"actor_type": "api_actor", "actor_email_address": None, "actor_api_key_name": "ci-bot"}
    for day, scale in ((TODAY - timedelta(days=2), 1), (TODAY - timedelta(days=1), 2)):
        write_snapshot(lake, "claude_code_usage", day, [
            {"date": day.isoformat(), **actor, "num_sessions": 3 * scale, "lines_added": 100 * scale, "lines_removed": 40 * scale,
             "commits": 2 * scale, "pull_requests": scale, "edit_tool_accepted": 9 * scale, "edit_tool_rejected": scale,
             "write_tool_accepted": 1, "write_tool_rejected": 1},
            {"date": day.isoformat(), **bot, "num_sessions": 1, "lines_added": 5, "lines_removed": 0, "commits": 0, "pull_requests": 0,
             "edit_tool_accepted": 0, "edit_tool_rejected": 0, "write_tool_accepted": 0, "write_tool_rejected": 0}])
        write_snapshot(lake, "claude_code_models", day, [
            {"date": day.isoformat(), **actor, "model": "claude-opus-4-6", "input_tokens": 1000, "output_tokens": 500,
             "cache_read_tokens": 10, "cache_creation_tokens": 5, "estimated_cost_cents": Decimal("113.5") * scale,
             "estimated_cost_usd": Decimal("1.135") * scale},
            {"date": day.isoformat(), **bot, "model": "claude-haiku-4-5", "input_tokens": 10, "output_tokens": 5,
             "cache_read_tokens": 0, "cache_creation_tokens": 0, "estimated_cost_cents": Decimal("0.25"), "estimated_cost_usd": Decimal("0.0025")}])
    rows = rows_of(cli(capsys, "report", "claude-code", "--lake", str(root), "--days", "7", "--format", "json", *NOW_FLAG), "json")
    ada = next(r for r in rows if r["actor"] == "ada@example.com")
    assert (ada["sessions"], ada["lines_added"], ada["lines_removed"], ada["commits"], ada["pull_requests"]) == (9, 300, 120, 6, 3)
    assert (ada["tools_accepted"], ada["tools_rejected"]) == (29, 5)
    assert ada["tool_accept_rate"] == str(round(29 / 34, 6))  # a rate is a decimal string, like money and percents
    assert Decimal(ada["estimated_usd"]) == Decimal("3.405") and Decimal(ada["estimated_cents"]) == Decimal("340.5")
    bot_row = next(r for r in rows if r["actor"] == "ci-bot")
    assert bot_row["actor_type"] == "api_actor" and Decimal(bot_row["estimated_usd"]) == Decimal("0.005")
    assert rows[0]["actor"] == "ada@example.com"  # by estimated cost


# -- export ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
@pytest.mark.parametrize("table", ["usage_messages", "cost_report"])
def test_export_rows_and_sums_equal_the_lake(named, tmp_path, capsys, fmt, table):
    _, lake, _, keys = named
    start, end = date(2026, 11, 1), date(2026, 11, 24)
    out = tmp_path / f"{table}.{fmt}"
    code = main(["export", table, "--lake", str(lake.root), "--start", start.isoformat(), "--end", end.isoformat(), "--format", fmt, "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    stored = read_table(lake, table, [start + timedelta(days=i) for i in range((end - start).days)])
    if fmt == "parquet":
        rows = pq.read_table(out).to_pylist()
        assert pq.read_table(out).schema.field("bucket_start").type == pa.timestamp("us", tz="UTC")
    elif fmt == "json":
        rows = json.loads(out.read_text())
    else:
        rows = list(csv.DictReader(out.open()))
    assert len(rows) == stored.num_rows
    money = ["estimated_cost_usd"] if table == "usage_messages" else ["amount_cents", "amount_usd"]
    for column in [*money, *(USAGE_COUNTERS if table == "usage_messages" else [])]:
        assert sum((num(r[column]) for r in rows), Decimal(0)) == (pc.sum(stored.column(column)).as_py() or 0), column
    first = rows[0]
    if fmt != "parquet":
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", first["bucket_start"])  # UTC ISO
    assert "workspace_name" in first and ("api_key_name" in first) == (table == "usage_messages")
    assert "label_project" in first
    if table == "usage_messages":
        labelled = [r for r in rows if r["api_key_id"] == keys[0]]
        assert labelled and {r["label_project"] for r in labelled} == {"search"} and {r["api_key_name"] for r in labelled} == {"key-0"}
    assert f"wrote {len(rows):,} {table} rows" in capsys.readouterr().err


def test_export_ids_only_and_runs(filled, tmp_path, capsys):
    _, lake = filled
    out = tmp_path / "usage.csv"
    assert main(["export", "usage_messages", "--ids-only", "--lake", str(lake.root), "--start", "2026-11-22", "--end", "2026-11-23",
                 "--format", "csv", "--out", str(out)]) == 0
    header = out.read_text().splitlines()[0].split(",")
    assert "workspace_name" not in header and header[-1] == "dt"
    runs = tmp_path / "runs.json"
    assert main(["export", "runs", "--lake", str(lake.root), "--start", "2026-01-01", "--end", "2027-01-01", "--format", "json", "--out", str(runs)]) == 0
    exported = json.loads(runs.read_text())
    assert len(exported) == 2 and {r["mode"] for r in exported} == {"backfill", "incremental"}
    assert isinstance(exported[0]["days"], list) and exported[0]["days"][0]["action"] == "written"


# -- sql --------------------------------------------------------------------------------------------------

# the FOCUS queries read the AWS bill's FOCUS table too: tests/infra/test_focus_union.py runs them beside an AWS sample
@pytest.mark.parametrize("path", sorted(p for p in QUERIES.glob("*.sql") if not p.stem.startswith("focus_")), ids=lambda p: p.stem)
def test_every_saved_query_runs_through_usage_lake_sql(filled, capsys, monkeypatch, path):
    """The template's saved queries, unchanged (the CLI fills ${MonthlyBudgetUsd} from MONTHLY_BUDGET_USD as the template does)."""
    import sqlglot

    from usage_lake.reporting.query import LakeDB

    def to_duckdb(sql: str) -> str:  # as tests/infra/test_athena_queries.py runs them: Trino, the clock pinned to TODAY
        pin = lambda n: sqlglot.exp.cast(sqlglot.exp.Literal.string(TODAY.isoformat()), "date") if isinstance(n, sqlglot.exp.CurrentDate) else n  # noqa: E731
        return sqlglot.parse_one(sql, read="trino").transform(pin).sql(dialect="duckdb")

    _, lake = filled
    monkeypatch.setenv("MONTHLY_BUDGET_USD", "500")
    rows = json.loads(cli(capsys, "sql", "--file", str(path), "--lake", str(lake.root), "--format", "json", *NOW_FLAG))["rows"]
    assert rows or not lake.list("claude_code_usage/"), path.stem  # this lake has no Claude Code report: that query is empty
    with LakeDB(lake) as db:
        cursor = db.con.execute(to_duckdb(path.read_text().replace("${MonthlyBudgetUsd}", "500")))
        names = [d[0] for d in cursor.description]
        expected = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected, strict=True):
        for name, value in want.items():
            if isinstance(value, Decimal):
                assert Decimal(got[name]) == value, name
            elif isinstance(value, float):
                assert float(got[name]) == pytest.approx(value), name
            elif value is not None and not isinstance(value, str | int):
                continue  # timestamps: compared as text elsewhere
            else:
                assert got[name] == value, name


def test_the_docs_queries_run_unchanged(filled, capsys):
    """Every ```sql block of README.md and docs/ (tests/infra/test_docs.py runs them on the demo's lake too)."""
    _, lake = filled
    blocks = [b for page in DOC_PAGES for b in re.findall(r"```sql\n(.*?)```", page.read_text(), re.S)]
    statements = [s.strip() for block in blocks for s in block.split(";") if s.strip() and not s.strip().startswith("CREATE")]
    statements = [s for s in statements if any(line.strip() and not line.strip().startswith("--") for line in s.splitlines())]
    statements = [s for s in statements if "focus_all" not in s]  # over the AWS bill's table too: see test_focus_union.py
    assert len(statements) >= 3
    for statement in statements:
        cli(capsys, "sql", statement, "--lake", str(lake.root), "--format", "csv", *NOW_FLAG)
    # one of them: yesterday's bill by workspace, equal to the simulator's
    out = cli(capsys, "sql", "SELECT sum(amount_cents) AS cents FROM \"anthropic_usage\".cost_report "
              "WHERE dt = date_format(current_date - INTERVAL '1' DAY, '%Y-%m-%d')", "--lake", str(lake.root), "--format", "csv", *NOW_FLAG)
    yesterday = TODAY - timedelta(days=1)
    assert Decimal(out.splitlines()[1]) == filled[0].cost_total_cents(midnight(yesterday), midnight(TODAY))


def test_dt_bounds_from_the_query():
    import duckdb

    from usage_lake.reporting.query import dt_bounds

    con = duckdb.connect()
    assert dt_bounds("SELECT * FROM cost_report WHERE dt >= '2026-11-01' AND dt < '2026-11-10'", con) == (date(2026, 11, 1), date(2026, 11, 10))
    assert dt_bounds("SELECT * FROM cost_report WHERE dt = '2026-11-05'", con) == (date(2026, 11, 5), date(2026, 11, 6))
    assert dt_bounds("SELECT * FROM cost_report WHERE dt BETWEEN '2026-11-01' AND '2026-11-03'", con) == (date(2026, 11, 1), date(2026, 11, 4))
    relative = "SELECT * FROM usage_messages WHERE dt >= date_format(current_date - INTERVAL '6' DAY, '%Y-%m-%d')"
    assert dt_bounds(relative, con, today=TODAY) == (TODAY - timedelta(days=6), None)
    # one CTE without a dt filter: everything must be read
    assert dt_bounds("WITH a AS (SELECT * FROM cost_report WHERE dt >= '2026-11-01') SELECT * FROM a JOIN usage_messages u ON true", con) == (None, None)
    both = (QUERIES / "daily_spend.sql").read_text()
    assert dt_bounds(both, con, today=TODAY) == (TODAY - timedelta(days=29), None)


def test_a_view_in_the_shared_registry_is_created_in_duckdb(filled, monkeypatch):
    from usage_lake.lake import views as registry
    from usage_lake.reporting.query import LakeDB

    org, lake = filled
    shared = dict(registry.views())
    monkeypatch.setattr(registry, "views", lambda: shared)
    monkeypatch.setitem(shared, "billed_by_day",
                        "SELECT dt, sum(amount_cents) AS cents FROM cost_report WHERE dt >= date_format(date '2026-11-01', '%Y-%m-%d') GROUP BY dt")
    monkeypatch.setitem(shared, "needs_focus", "SELECT * FROM no_such_table")  # over a table the lake does not hold: left out
    with LakeDB(lake) as db:
        total = db.con.execute("SELECT sum(cents) FROM billed_by_day").fetchone()[0]
        assert total == org.cost_total_cents(midnight(date(2026, 11, 1)), midnight(TODAY))
        assert not db.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'needs_focus'").fetchone()[0]


# -- an s3:// lake: only the partitions a question needs are fetched ---------------------------------------

def test_reports_sql_and_export_over_an_s3_lake(s3_lake, org, sim, capsys, tmp_path):
    assert ingest(backfill(date(2026, 11, 10), TODAY), sim=sim, lake=s3_lake).outcome == "succeeded"
    assert ingest(incremental(), sim=sim, lake=s3_lake).outcome == "succeeded"
    uri = f"s3://{LAKE_BUCKET}/anthropic"
    rows = rows_of(cli(capsys, "report", "daily", "--lake", uri, "--days", "3", "--format", "csv", *NOW_FLAG), "csv")
    assert column_sums(rows, USAGE_COUNTERS) == {k: Decimal(v) for k, v in sim_tokens(org, midnight(TODAY - timedelta(days=2))).items()}
    code = main(["sql", "SELECT sum(amount_cents) AS cents FROM cost_report WHERE dt >= '2026-11-20' AND dt < '2026-11-22'",
                 "--lake", uri, "--format", "csv"])
    captured = capsys.readouterr()
    assert code == 0
    assert Decimal(captured.out.splitlines()[1]) == org.cost_total_cents(midnight(date(2026, 11, 20)), midnight(date(2026, 11, 22)))
    assert "fetched 2 partition object(s)" in captured.err  # two days of cost_report, nothing else
    out = tmp_path / "cost.parquet"
    assert main(["export", "cost_report", "--lake", uri, "--start", "2026-11-20", "--end", "2026-11-23", "--format", "parquet", "--out", str(out)]) == 0
    stored = read_table(S3Lake(LAKE_BUCKET, "anthropic"), "cost_report", [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)])
    exported = pq.read_table(out)
    assert exported.num_rows == stored.num_rows and pc.sum(exported.column("amount_cents")).as_py() == pc.sum(stored.column("amount_cents")).as_py()
    page = tmp_path / "report.html"
    assert main(["report", "html", "--lake", uri, "--days", "7", "--out", str(page), *NOW_FLAG]) == 0
    assert page.read_text().count('<figure class="chart"') == 6 and "2026-11-17 .. 2026-11-23" in page.read_text()


# -- the alerts view ------------------------------------------------------------------------------------------

def test_report_alerts_shows_each_budget_with_its_state(sim, local_lake, monkeypatch, capsys):
    assert ingest(backfill(date(2026, 11, 10), TODAY), sim=sim, lake=local_lake).outcome == "succeeded"
    settings = Settings(base_url=sim.base_url, daily_spend_threshold_usd=Decimal(70))
    ingest(incremental(), sim=sim, lake=local_lake, settings=settings, publisher=OutboxPublisher(local_lake))
    sent = {k.split("/", 2)[2].removesuffix(".json") for k in local_lake.list("alerts/sent/")}
    assert sent
    monkeypatch.setenv("DAILY_SPEND_THRESHOLD_USD", "70")
    monkeypatch.setenv("MONTHLY_BUDGET_USD", "5000")
    rows = rows_of(cli(capsys, "report", "alerts", "--lake", str(local_lake.root), "--format", "json", *NOW_FLAG), "json")
    # the same figures as the budgets' own status (`usage-lake alerts --json`)
    alerting = Alerting(local_lake, Settings(daily_spend_threshold_usd=Decimal(70), monthly_budget_usd=Decimal(5000)),
                        publisher=None, run_id="t", clock=lambda: NOW)
    status = alerting.budget_rows(NOW)
    assert [(r["budget"], r["period"]) for r in rows] == [(r["budget"], r["period_id"]) for r in status]
    daily = {r["period"]: r for r in rows if r["budget"] == "daily-threshold"}
    assert TODAY.isoformat() in daily
    for day, row in daily.items():
        spend = alerting.figures.day(date.fromisoformat(day))
        figure = spend.cost_usd  # the alert figure: billed once billed, else (today too) the estimate without Priority Tier
        assert Decimal(row["figure"]) == figure and Decimal(row["amount"]) == 70
        assert row["percent"] == str((figure * 100 / 70).quantize(Decimal("0.01")))  # as `alerts --json`: a decimal string
        if row["alert_key"] in sent:
            assert row["state"] == "sent" and row["sent_at"]
        else:
            assert (row["state"] == "under") == (figure < 70)
    monthly = next(r for r in rows if r["budget"] == "monthly-budget" and r["period"] == TODAY.strftime("%Y-%m"))
    assert Decimal(monthly["figure"]) == alerting.figures.month(TODAY.replace(day=1), NOW).cost_usd and monthly["state"] == "under"


# -- mistakes -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["report", "daily", "--start", "2026-11-01"], "a range needs both --start and --end"),
    (["report", "daily", "--days", "0"], "argument --days: expected a whole number of at least 1"),
    (["report", "daily", "--start", "2026-11-05", "--end", "2026-11-01"], "--end (2026-11-01) must be after --start"),
    (["report", "daily", "--now", "yesterday"], "--now:"),
    (["sql", "SELECT FROM WHERE ("], "not valid Athena SQL"),
    (["sql", "SELECT no_such_column FROM cost_report WHERE dt >= '2026-11-01'"], "the query failed"),
    (["sql", "SELECT ${Missing} FROM cost_report"], "--param Missing=VALUE"),
    (["export", "cost_report", "--start", "2030-01-01", "--end", "2030-01-02", "--out", "x.csv"], "has no cost_report partitions"),
])
def test_mistakes_get_one_clear_line(filled, capsys, argv, message):
    _, lake = filled
    try:
        code = main([*argv, "--lake", str(lake.root)])
    except SystemExit as done:  # a usage mistake argparse finds: `usage-lake report: error: ...`
        code = done.code
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("usage-lake") and ": error: " in err and message in err


def test_a_lake_that_is_not_there_is_an_error_not_zero(tmp_path, capsys):
    for argv in (["summary"], ["report", "daily"], ["report", "html", "--out", str(tmp_path / "r.html")]):
        assert main([*argv, "--lake", str(tmp_path / "nowhere")]) == 2
        err = capsys.readouterr().err
        assert "no lake at" in err and "$0" not in err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_an_organization_snapshot_table(named, tmp_path, fmt):
    _, lake, workspaces, _ = named
    out = tmp_path / f"workspaces.{fmt}"
    assert main(["export", "workspaces", "--lake", str(lake.root), "--start", (TODAY - timedelta(days=1)).isoformat(),
                 "--end", (TODAY + timedelta(days=1)).isoformat(), "--format", fmt, "--out", str(out)]) == 0
    rows = json.loads(out.read_text()) if fmt == "json" else list(csv.DictReader(out.open()))
    assert sorted((r["dt"], r["name"]) for r in rows) == sorted(
        [((TODAY - timedelta(days=1)).isoformat(), f"Workspace {i} (old)") for i in range(len(workspaces))]
        + [(TODAY.isoformat(), f"Workspace {i}") for i in range(len(workspaces))])
    tags = rows[0]["tags"] if fmt == "json" else json.loads(rows[0]["tags"])
    assert tags == {"env": "prod"}
