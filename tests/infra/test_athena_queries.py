"""The Athena views (src/usage_lake/lake/athena_views/*.sql) and named queries (infra/queries/*.sql): valid Trino SQL, and - transpiled to
DuckDB - the right figures over a lake the simulator filled through the real pipeline.

DuckDB stands in for Athena: one view per Glue table over the lake's Parquet files, with the `dt` partition as a
string and timestamps as UTC wall-clock `timestamp`, as Athena shows them. `current_date` is pinned to the
simulator's clock so the queries' relative windows ("last 30 days", "this month") are deterministic. Every
expected figure comes from the simulated org itself (its exact usage and billed totals, and its price table),
not from reading the lake back.
"""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify

from support import NOW, TODAY, backfill, incremental, ingest, midnight
from usage_lake import words
from usage_lake.config.settings import Settings
from usage_lake.lake import LocalLake
from usage_lake.lake.curated import read_table
from usage_lake.lake.schema import SNAPSHOT_TABLES, TABLES, athena_columns
from usage_lake.lake.views import views
from usage_lake.reporting.query import LakeDB, Partitions
from usage_lake.simulator import SimulatedOrg, Simulator
from usage_lake.sources import registry
from usage_lake.sources.admin.usage import counters_by_column

INFRA = Path(__file__).resolve().parents[2] / "infra"
QUERIES = INFRA / "queries"
VIEWS = INFRA.parent / "src" / "usage_lake" / "lake" / "athena_views"
_spec = importlib.util.spec_from_file_location("sync_template", INFRA / "sync_template.py")
assert _spec and _spec.loader
SYNC = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(SYNC)
EARLIER = datetime(2026, 11, 10, 12, tzinfo=UTC)  # an earlier snapshot, taken while a key and a workspace had other names
SNAPSHOTS = tuple(name for name in registry.names() if name in SNAPSHOT_TABLES)
BUDGET = Decimal("500")
FIRST_DAY = date(2026, 10, 20)  # before the 30-day window (which starts 2026-10-25), so the cut-off is tested
WINDOW_30 = TODAY - timedelta(days=29)
WINDOW_7 = TODAY - timedelta(days=6)
MONTH_START = TODAY.replace(day=1)
MTOK = Decimal(1_000_000)
TOKEN_FIELDS = ("uncached_input_tokens", "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens",
                "cache_read_input_tokens")


def sql_text(name: str) -> str:
    # the template's !Sub fills ${MonthlyBudgetUsd} at deploy time; the test fills it the same way
    return (QUERIES / f"{name}.sql").read_text().replace("${MonthlyBudgetUsd}", str(BUDGET))


def to_duckdb(sql: str, today: date = TODAY) -> str:
    """Parse as Trino (raising on any error), pin the clock, transpile to DuckDB."""
    tree = sqlglot.parse_one(sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    assert not list(tree.find_all(exp.CurrentTimestamp, exp.CurrentTime)), "pin any other clock function too"

    def pin(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.CurrentDate):
            return exp.cast(exp.Literal.string(today.isoformat()), exp.DataType.build("date"))
        return node

    return tree.transform(pin).sql(dialect="duckdb")


def label_file(org: SimulatedOrg) -> dict:
    """The LABELS file of the filled lake: projects on keys (an archived one too) and a workspace, a cost center that
    overrides the workspace's own tag."""
    keys, spaces = org.directory.api_keys, org.directory.workspaces
    return {"api_keys": {keys[0]["id"]: {"project": "search", "team": "growth"}, keys[2]["id"]: {"project": "research"}},
            "workspaces": {spaces[0]["id"]: {"project": "platform", "cost_center": "Engineering"}}}


def agent_key(org: SimulatedOrg) -> str:
    return org.directory.api_keys[5]["id"]  # the organization-scoped key


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A snapshot of Nov 10 (with two old names); Oct 20 - Nov 22 back-filled with every endpoint; then an
    incremental run at NOW (today's usage so far) with a LABELS file and ANTHROPIC_AGENT_MAP_JSON."""
    org = SimulatedOrg.small()
    root = tmp_path_factory.mktemp("athena")
    lake = LocalLake(root / "lake")
    (root / "labels.json").write_text(json.dumps(label_file(org)))
    with Simulator(org, now=NOW, page_record_cap=3) as sim:
        settings = Settings(base_url=sim.base_url, labels=str(root / "labels.json"), agent_map=((agent_key(org), "ci-bot"),))
        key, space = org.directory.api_keys[0], org.directory.workspaces[0]
        current = key["name"], space["name"]
        key["name"], space["name"] = "backend-v1", "Prod (old)"
        assert ingest(incremental(EARLIER, reports=SNAPSHOTS), sim=sim, lake=lake).outcome == "succeeded"
        key["name"], space["name"] = current
        assert ingest(backfill(FIRST_DAY, TODAY, reports=registry.names()), sim=sim, lake=lake, settings=settings).outcome == "succeeded"
        assert ingest(incremental(reports=registry.names()), sim=sim, lake=lake, settings=settings).outcome == "succeeded"
    return org, lake


@pytest.fixture(scope="module")
def duck(filled):
    """The CLI's DuckDB over the lake (`usage_lake.reporting.query.LakeDB`, what `usage-lake sql` runs): one view per
    Glue table, as Athena shows it, and one per Athena view (`usage_lake.lake.views`, transpiled)."""
    _, lake = filled
    db = LakeDB(lake, partitions={table: Partitions() for table in SNAPSHOT_TABLES})  # every day, as Athena reads them
    for table in TABLES:
        described = [row[0] for row in db.con.execute(f"DESCRIBE {table}").fetchall()]
        assert described == [name for name, _ in athena_columns(table)] + ["dt"]  # the Glue table's columns
        kinds = dict(db.con.execute(f"SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '{table}'").fetchall())
        assert all(kinds[name] == "TIMESTAMP" for name, kind in athena_columns(table) if kind == "timestamp")  # UTC wall clock
    assert set(views()) <= {row[0] for row in db.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    yield db.con
    db.close()


@pytest.fixture(scope="module")
def athena(duck):
    """Run a named query the way Athena would, returning rows as dicts."""

    def run(name: str) -> list[dict]:
        return rows(duck, to_duckdb(sql_text(name)))

    return run


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# -- what the simulated org says, independently of the lake ----------------------------------------

def usage_by(org: SimulatedOrg, start: datetime, dims: tuple[str, ...], end: datetime = NOW) -> dict[tuple, dict[str, int]]:
    """Counter totals (keyed by lake column) per value tuple of `dims`."""
    return {k: counters_by_column(t) for k, t in org.usage_totals_by(start, end, dims).items()}


def estimate(org: SimulatedOrg, start: datetime, dims: tuple[str, ...], end: datetime = NOW) -> dict[tuple, Decimal]:
    """Usage x list prices from the org's own price table, exact, summed per `dims`."""
    combo = ("model", "service_tier", "context_window", "inference_geo")
    out: dict[tuple, Decimal] = defaultdict(Decimal)
    for key, t in usage_by(org, start, (*dims, *combo), end).items():
        rates = org.prices.rates(*key[len(dims):])
        assert rates is not None
        out[key[:len(dims)]] += (t["uncached_input_tokens"] * rates.uncached_input
                                 + t["cache_creation_5m_input_tokens"] * rates.cache_write_5m
                                 + t["cache_creation_1h_input_tokens"] * rates.cache_write_1h
                                 + t["cache_read_input_tokens"] * rates.cache_read
                                 + t["output_tokens"] * rates.output) / MTOK \
            + t["web_search_requests"] * rates.web_search_per_request
    return dict(out)


def billed_usd(org: SimulatedOrg, start: date, dims: tuple[str, ...]) -> dict[tuple, Decimal]:
    return {k: v / 100 for k, v in org.cost_totals_by(midnight(start), midnight(TODAY), dims).items()}


# -- every query ------------------------------------------------------------------------------------

# the FOCUS queries read the AWS export beside our tables: tests/infra/test_focus_union.py runs them
@pytest.mark.parametrize("path", sorted(p for p in QUERIES.glob("*.sql") if not p.stem.startswith("focus_")), ids=lambda p: p.stem)
def test_every_query_is_trino_sql_and_runs(path, athena):
    sql = sql_text(path.stem)
    tree = sqlglot.parse_one(sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    # every column resolves, unambiguously, against the Glue tables' columns (Trino's name resolution)
    glue = {table: {**dict(athena_columns(table)), "dt": "varchar"} for table in TABLES}
    glue |= {path.stem: {name: trino for name, trino, _ in SYNC.view_columns(path.stem, SYNC.view_parts(path)[1])}
             for path in VIEWS.glob("*.sql")}
    qualify(tree, schema=glue, dialect="trino", validate_qualify_columns=True)
    assert "${" not in sql
    assert "dt >=" in sql  # every query prunes partitions: Athena scans (and bills) only the days it needs
    assert athena(path.stem), f"{path.stem} returned no rows"


def test_daily_spend_billed_beside_estimated(filled, athena):
    org, _ = filled
    rows = {r["day_utc"]: r for r in athena("daily_spend")}
    days = [(WINDOW_30 + timedelta(days=i)).isoformat() for i in range(30)]
    assert sorted(rows) == days  # 30 days ending today; 2026-10-20..24 are in the lake but outside the window
    billed = billed_usd(org, WINDOW_30, ("day",))
    estimated = estimate(org, midnight(WINDOW_30), ("day",))
    tokens = usage_by(org, midnight(WINDOW_30), ("day",))
    for day, row in rows.items():
        assert row["billed_usd"] == billed.get((day,)), day  # exact: decimal sums, never floats
        assert row["estimated_usd"] == estimated[(day,)], day
        assert row["output_tokens"] == tokens[(day,)]["output_tokens"]
        assert row["input_tokens"] == sum(tokens[(day,)][f] for f in TOKEN_FIELDS)
        assert row["unpriced_rows"] == 0
    assert rows[TODAY.isoformat()]["billed_usd"] is None  # today: estimated only
    assert rows[TODAY.isoformat()]["estimated_usd"] > 0
    yesterday = rows[(TODAY - timedelta(days=1)).isoformat()]
    assert yesterday["billed_minus_estimated_usd"] == yesterday["billed_usd"] - yesterday["estimated_usd"]
    assert sum(r["billed_usd"] or 0 for r in rows.values()) == org.cost_total_cents(midnight(WINDOW_30), midnight(TODAY)) / 100


def test_spend_by_model_with_cache_hit_rate(filled, athena):
    org, _ = filled
    rows = {r["model"]: r for r in athena("spend_by_model")}
    tokens = usage_by(org, midnight(WINDOW_30), ("model",))
    billed = billed_usd(org, WINDOW_30, ("model",))
    estimated = estimate(org, midnight(WINDOW_30), ("model",))
    assert set(rows) == {m for (m,) in tokens} | {m or words.NO_MODEL for (m,) in billed}
    assert words.NO_MODEL in rows  # web search and code execution lines
    for model, row in rows.items():
        assert row["billed_usd"] == billed.get((None if model == words.NO_MODEL else model,))
        if model == words.NO_MODEL:
            continue
        t = tokens[(model,)]
        assert row["estimated_usd"] == estimated[(model,)]
        assert row["output_tokens"] == t["output_tokens"]
        assert row["cache_read_tokens"] == t["cache_read_input_tokens"]
        assert row["cache_write_tokens"] == t["cache_creation_5m_input_tokens"] + t["cache_creation_1h_input_tokens"]
        assert row["cache_hit_rate"] == pytest.approx(t["cache_read_input_tokens"] / sum(t[f] for f in TOKEN_FIELDS), rel=1e-12)
    figures = [r["billed_usd"] for r in athena("spend_by_model") if r["billed_usd"] is not None]
    assert figures == sorted(figures, reverse=True)
    assert sum(figures) == org.cost_total_cents(midnight(WINDOW_30), midnight(TODAY)) / 100


def test_spend_by_workspace(filled, athena):
    org, _ = filled
    rows = {r["workspace"]: r for r in athena("spend_by_workspace")}
    label = lambda w: w or words.DEFAULT_WORKSPACE  # noqa: E731
    tokens = {label(w): t for (w,), t in usage_by(org, midnight(WINDOW_30), ("workspace_id",)).items()}
    billed = {label(w): v for (w,), v in billed_usd(org, WINDOW_30, ("workspace_id",)).items()}
    estimated = {label(w): v for (w,), v in estimate(org, midnight(WINDOW_30), ("workspace_id",)).items()}
    assert set(rows) == set(tokens) | set(billed)
    assert words.DEFAULT_WORKSPACE in rows
    for workspace, row in rows.items():
        assert row["billed_usd"] == billed.get(workspace)
        assert row["estimated_usd"] == estimated.get(workspace)
        assert row["output_tokens"] == (tokens[workspace]["output_tokens"] if workspace in tokens else None)


def test_spend_by_api_key(filled, athena):
    org, _ = filled
    rows = {(r["api_key"], r["workspace_id"]): r for r in athena("spend_by_api_key")}
    dims = ("api_key_id", "workspace_id")
    tokens = usage_by(org, midnight(WINDOW_30), dims)
    estimated = estimate(org, midnight(WINDOW_30), dims)
    assert set(rows) == {(k or words.NO_API_KEY, w) for k, w in tokens}
    assert any(key == words.NO_API_KEY for key, _ in rows)  # Console usage
    for (key, workspace), t in tokens.items():
        row = rows[(key or words.NO_API_KEY, workspace)]
        assert row["output_tokens"] == t["output_tokens"]
        assert row["uncached_input_tokens"] == t["uncached_input_tokens"]
        assert row["web_search_requests"] == t["web_search_requests"]
        assert row["estimated_usd"] == estimated[(key, workspace)]
    assert sum(r["estimated_usd"] for r in rows.values()) == sum(estimate(org, midnight(WINDOW_30), ()).values())


def test_busiest_hours(filled, athena):
    org, _ = filled
    rows = athena("busiest_hours")
    hours = []
    hour = midnight(WINDOW_7)
    while hour + timedelta(hours=1) <= NOW:
        per_stream = usage_by(org, hour, ("api_key_id", "model"), hour + timedelta(hours=1))
        total = sum(t[f] for t in per_stream.values() for f in (*TOKEN_FIELDS, "output_tokens"))
        keys = {k for k, _ in per_stream if k is not None}
        hours.append((-total, hour, keys, {m for _, m in per_stream}))
        hour += timedelta(hours=1)
    top = sorted(hours)[:24]
    assert len(rows) == 24
    assert [(r["hour_start_utc"].replace(tzinfo=UTC), r["total_tokens"]) for r in rows] == [(h, -t) for t, h, _, _ in top]
    assert [(r["api_keys"], r["models"]) for r in rows] == [(len(k), len(m)) for _, _, k, m in top]
    assert rows[0]["hour_start_utc"].date() >= WINDOW_7
    for row in rows[:3]:
        start = row["hour_start_utc"].replace(tzinfo=UTC)
        assert row["estimated_usd"] == sum(estimate(org, start, (), end=start + timedelta(hours=1)).values())


def test_month_to_date_against_budget(filled, athena):
    org, _ = filled
    (row,) = athena("month_to_date")
    billed = org.cost_total_cents(midnight(MONTH_START), midnight(TODAY)) / 100  # October is not this month
    by_tier = estimate(org, midnight(TODAY), ("service_tier",))
    today_estimate = sum(usd for (tier,), usd in by_tier.items() if tier != "priority")  # what the cost report will bill
    priority = estimate(org, midnight(MONTH_START), ("service_tier",))[("priority",)]  # the month so far, beside
    assert row["billed_usd"] == billed
    assert row["billed_through"] == (TODAY - timedelta(days=1)).isoformat()
    assert row["estimated_not_yet_billed_usd"] == today_estimate
    assert row["priority_tier_estimated_usd"] == priority > 0
    assert row["month_to_date_usd"] == billed + today_estimate  # the cost basis: complete days billed, today estimated without Priority Tier
    assert row["budget_usd"] == BUDGET
    mtd = billed + today_estimate
    days_in_month = 30  # November
    # decimals rounded for reading, never floats (a float forecast printed 15 digits)
    assert row["percent_of_budget"] == (100 * mtd / BUDGET).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert row["forecast_usd"] == (mtd * days_in_month / TODAY.day).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert row["forecast_percent_of_budget"] == (100 * mtd * days_in_month / TODAY.day / BUDGET).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert all(isinstance(row[c], Decimal) for c in ("percent_of_budget", "forecast_usd", "forecast_percent_of_budget"))


def test_month_to_date_without_a_budget_leaves_it_null(athena, filled):
    _, lake = filled
    sql = (QUERIES / "month_to_date.sql").read_text().replace("${MonthlyBudgetUsd}", "")  # the parameter's default
    con = duckdb.connect()
    for table in ("usage_messages", "cost_report"):
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{lake.root}/{table}/*/*.parquet', "
                    "hive_partitioning = true, hive_types = {'dt': VARCHAR})")
    cursor = con.execute(to_duckdb(sql))
    row = dict(zip([d[0] for d in cursor.description], cursor.fetchone()))
    assert row["budget_usd"] is None and row["percent_of_budget"] is None
    assert row["month_to_date_usd"] > 0


# -- the views: names and labels beside every row -----------------------------------------------------

CONSOLE = words.NO_API_KEY


@pytest.mark.parametrize("path", sorted(VIEWS.glob("*.sql")), ids=lambda p: p.stem)
def test_each_view_stores_the_columns_its_query_returns(path, duck):
    """Athena refuses a view whose stored column types differ from its query's: the template's are the query's."""
    description, sql = SYNC.view_parts(path)
    stored = SYNC.view_columns(path.stem, sql)
    described = duck.execute(f"DESCRIBE {path.stem}").fetchall()
    assert [row[0] for row in described] == [name for name, _, _ in stored]
    for (name, duck_type, *_), (_, trino, hive) in zip(described, stored, strict=True):
        shown = duck_type.lower().replace(" ", "")
        assert {"timestamp": "timestamp(3)"}.get(shown, shown) == trino, name
        assert hive == {"varchar": "string", "timestamp(3)": "timestamp", "map(varchar,varchar)": "map<string,string>"}.get(trino, trino)
    base = path.stem.removesuffix("_named")
    assert [name for name, _, _ in stored][:len(athena_columns(base)) + 1] == [n for n, _ in athena_columns(base)] + ["dt"]
    assert "dt" in description


@pytest.mark.parametrize("view", ["usage_messages_named", "cost_report_named"])
def test_the_named_views_keep_every_row_once(view, duck):
    base = view.removesuffix("_named")
    money = "estimated_cost_usd" if base == "usage_messages" else "amount_cents"
    figures = f"SELECT count(*) AS n, sum({money}) AS money FROM {{}}"
    assert rows(duck, figures.format(view)) == rows(duck, figures.format(base))
    assert rows(duck, figures.format(view))[0]["n"] > 1000


def test_every_key_and_workspace_in_usage_has_its_name_archived_ones_included(filled, duck):
    org, _ = filled
    keys = {r["api_key_id"]: r["api_key_name"] for r in rows(duck, "SELECT DISTINCT api_key_id, api_key_name FROM usage_messages_named")}
    spaces = {r["workspace_id"]: r["workspace_name"] for r in rows(duck, "SELECT DISTINCT workspace_id, workspace_name FROM usage_messages_named")}
    names, places = org.directory.key_names(), org.directory.workspace_names()
    assert keys == {key: names[key] if key else CONSOLE for key in keys}
    assert spaces == {space: places[space] for space in spaces}
    assert None in keys and None in spaces  # Console usage, the default workspace
    archived = {k["name"] for k in org.directory.api_keys if k["status"] == "archived"} & set(keys.values())
    assert archived == {"research-notebooks", "evals"}
    assert "Research" in spaces.values()  # an archived workspace, listed only with include_archived=true
    assert sorted(keys.values()).count("batch-worker") == 2  # two keys, one name: the id tells them apart
    billed = {r["workspace_id"]: r["workspace_name"] for r in rows(duck, "SELECT DISTINCT workspace_id, workspace_name FROM cost_report_named")}
    assert billed == {space: places[space] for space in billed} and None in billed


def test_names_at_the_time_come_from_the_snapshot_in_force_on_the_day(filled, duck):
    org, _ = filled
    key, space = org.directory.api_keys[0], org.directory.workspaces[0]
    seen = rows(duck, """SELECT dt, min(api_key_name) AS now_name, min(api_key_name_at_time) AS then_name,
                                min(workspace_name) AS now_space, min(workspace_name_at_time) AS then_space
                         FROM usage_messages_named WHERE api_key_id = ? GROUP BY dt ORDER BY dt""", [key["id"]])
    by_day = {r["dt"]: r for r in seen}
    assert len(by_day) == (TODAY - FIRST_DAY).days + 1
    assert {r["now_name"] for r in seen} == {"prod-backend"} and {r["now_space"] for r in seen} == {"Production"}
    assert (by_day["2026-11-10"]["then_name"], by_day["2026-11-10"]["then_space"]) == ("backend-v1", "Prod (old)")
    assert (by_day[TODAY.isoformat()]["then_name"], by_day[TODAY.isoformat()]["then_space"]) == (key["name"], space["name"])
    # the snapshot in force: the latest on or before the day (11-10 until today), else the earliest (11-10, for the days before it)
    assert {(r["then_name"], r["then_space"]) for d, r in by_day.items() if d != TODAY.isoformat()} == {("backend-v1", "Prod (old)")}


def test_labels_from_the_file_the_agent_map_and_workspace_tags(filled, duck):
    org, lake = filled
    keys, spaces = org.directory.api_keys, org.directory.workspaces
    stored = read_table(lake, "labels", [TODAY])
    found = {(r["entity_type"], r["entity_id"], r["key"]): (r["value"], r["source"]) for r in stored.to_pylist()}
    assert found == {
        ("api_key", keys[0]["id"], "project"): ("search", "file"),
        ("api_key", keys[0]["id"], "team"): ("growth", "file"),
        ("api_key", keys[2]["id"], "project"): ("research", "file"),
        ("api_key", agent_key(org), "agent"): ("ci-bot", "agent_map"),
        ("workspace", spaces[0]["id"], "project"): ("platform", "file"),
        ("workspace", spaces[0]["id"], "cost_center"): ("Engineering", "file"),  # the file wins over the tag "R&D"
        ("workspace", spaces[0]["id"], "env"): ("prod", "workspace_tags"),
        ("workspace", spaces[1]["id"], "cost_center"): ("Research", "workspace_tags"),
        ("workspace", spaces[3]["id"], "cost_center"): ("R&D", "workspace_tags"),  # an archived workspace without usage
    }
    labels = {r["api_key_id"]: dict(r["labels"]) for r in rows(duck, "SELECT DISTINCT api_key_id, labels FROM usage_messages_named")}
    assert labels[keys[0]["id"]] == {"project": "search", "team": "growth", "cost_center": "Engineering", "env": "prod"}
    assert labels[keys[1]["id"]] == {"project": "platform", "cost_center": "Engineering", "env": "prod"}  # its workspace's
    assert labels[keys[2]["id"]] == {"project": "research", "cost_center": "Research"}
    assert labels[agent_key(org)] == {"agent": "ci-bot"}  # an organization-scoped key: no workspace labels
    assert labels[None] == {}


def project_of(org: SimulatedOrg, key: str | None, space: str | None) -> str:
    file = label_file(org)
    return (file["api_keys"].get(key, {}).get("project") or file["workspaces"].get(space, {}).get("project") or words.no_label("project"))


def test_spend_by_project(filled, athena):
    """Labels as in force on each row's day: the LABELS file's from today (the run that set it), the Nov 10 snapshot's
    (workspace tags only, no `project`) on the days before it."""
    org, _ = filled
    expected: dict[str, Decimal] = defaultdict(Decimal)
    output: dict[str, int] = defaultdict(int)
    for start, end, labelled in ((midnight(WINDOW_30), midnight(TODAY), False), (midnight(TODAY), NOW, True)):
        by_key = estimate(org, start, ("api_key_id", "workspace_id"), end)
        tokens = usage_by(org, start, ("api_key_id", "workspace_id"), end)
        for (key, space), usd in by_key.items():
            project = project_of(org, key, space) if labelled else words.no_label("project")
            expected[project] += usd
            output[project] += tokens[(key, space)]["output_tokens"]
    found = {r["project"]: r for r in athena("spend_by_project")}
    assert set(found) == {"search", "research", "platform", words.no_label("project")}
    assert {p: r["estimated_usd"] for p, r in found.items()} == expected  # exact decimals
    assert {p: r["output_tokens"] for p, r in found.items()} == output
    assert found["platform"]["api_keys"] == 1 and found["search"]["workspaces"] == 1
    assert sum(r["estimated_usd"] for r in found.values()) == sum(estimate(org, midnight(WINDOW_30), ()).values())


def test_claude_code_by_user(filled, athena):
    org, _ = filled
    expected: dict[tuple[str, str], dict] = {}
    for offset in range(30):
        day = WINDOW_30 + timedelta(days=offset)
        for record in org.claude_code.records(day):
            actor = record["actor"]
            row = expected.setdefault((actor["type"], actor.get("email_address") or actor.get("api_key_name")), defaultdict(Decimal, days=set()))
            row["days"].add(day)
            core = record["core_metrics"]
            row["sessions"] += core["num_sessions"]
            row["lines_added"] += core["lines_of_code"]["added"]
            row["commits"] += core["commits_by_claude_code"]
            row["edits_accepted"] += sum(t["accepted"] for name, t in record["tool_actions"].items() if name != "web_fetch_tool")
            for model in record["model_breakdown"]:
                row["output_tokens"] += model["tokens"]["output"]
                row["estimated_usd"] += model["estimated_cost"]["amount"] / 100
    found = {(r["actor_type"], r["actor"]): r for r in athena("claude_code_by_user")}
    assert set(found) == set(expected)
    assert {"api_actor", "user_actor"} == {kind for kind, _ in found}
    for actor, row in found.items():
        want = expected[actor]
        assert row["days_active"] == len(want["days"]), actor
        assert (row["sessions"], row["lines_added"], row["commits"], row["edits_accepted"], row["output_tokens"]) == \
            (want["sessions"], want["lines_added"], want["commits"], want["edits_accepted"], want["output_tokens"]), actor
        assert row["estimated_usd"] == want["estimated_usd"], actor  # to the hundredth of a cent, no float
    totals = org.claude_code.totals(WINDOW_30 + timedelta(days=i) for i in range(30))
    assert sum(r["estimated_usd"] for r in found.values()) == totals["estimated_cost_cents"] / 100
    assert sum(r["lines_added"] for r in found.values()) == totals["lines_added"]
