"""The Athena named queries (infra/queries/*.sql): valid Trino SQL, and - transpiled to DuckDB - the right figures
over a lake the simulator filled through the real pipeline.

DuckDB stands in for Athena: one view per Glue table over the lake's Parquet files, with the `dt` partition as a
string and timestamps as UTC wall-clock `timestamp`, as Athena shows them. `current_date` is pinned to the
simulator's clock so the queries' relative windows ("last 30 days", "this month") are deterministic. Every
expected figure comes from the simulated org itself (its exact usage and billed totals, and its price table),
not from reading the lake back.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from support import NOW, TODAY, backfill, incremental, ingest, midnight

from usage_lake.lake import LocalLake
from usage_lake.lake.schema import TABLES, athena_columns
from usage_lake.reporting.query import LakeDB
from usage_lake.simulator import SimulatedOrg, Simulator
from usage_lake.sources.admin.usage import counters_by_column

QUERIES = Path(__file__).resolve().parents[2] / "infra" / "queries"
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


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """Oct 20 - Nov 22 back-filled, then an incremental run at NOW (today's usage so far)."""
    org = SimulatedOrg.small()
    lake = LocalLake(tmp_path_factory.mktemp("athena") / "lake")
    with Simulator(org, now=NOW) as sim:
        assert ingest(backfill(FIRST_DAY, TODAY), sim=sim, lake=lake).outcome == "succeeded"
        assert ingest(incremental(), sim=sim, lake=lake).outcome == "succeeded"
    return org, lake


@pytest.fixture(scope="module")
def athena(filled):
    """Run a named query the way Athena would, returning rows as dicts: the CLI's DuckDB views of the lake
    (`usage_lake.reporting.query.LakeDB`, what `usage-lake sql` runs), one per Glue table."""
    _, lake = filled
    db = LakeDB(lake)
    for table in TABLES:
        described = [row[0] for row in db.con.execute(f"DESCRIBE {table}").fetchall()]
        assert described == [name for name, _ in athena_columns(table)] + ["dt"]  # the Glue table's columns
        kinds = dict(db.con.execute(f"SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '{table}'").fetchall())
        assert all(kinds[name] == "TIMESTAMP" for name, kind in athena_columns(table) if kind == "timestamp")  # UTC wall clock

    def run(name: str) -> list[dict]:
        cursor = db.con.execute(to_duckdb(sql_text(name)))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    yield run
    db.close()


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

@pytest.mark.parametrize("path", sorted(QUERIES.glob("*.sql")), ids=lambda p: p.stem)
def test_every_query_is_trino_sql_and_runs(path, athena):
    sql = sql_text(path.stem)
    tree = sqlglot.parse_one(sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    # every column resolves, unambiguously, against the Glue tables' columns (Trino's name resolution)
    glue = {table: {**dict(athena_columns(table)), "dt": "varchar"} for table in TABLES}
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
    assert set(rows) == {m for (m,) in tokens} | {m or "(no model)" for (m,) in billed}
    assert "(no model)" in rows  # web search and code execution lines
    for model, row in rows.items():
        assert row["billed_usd"] == billed.get((None if model == "(no model)" else model,))
        if model == "(no model)":
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
    label = lambda w: w or "(default workspace)"  # noqa: E731
    tokens = {label(w): t for (w,), t in usage_by(org, midnight(WINDOW_30), ("workspace_id",)).items()}
    billed = {label(w): v for (w,), v in billed_usd(org, WINDOW_30, ("workspace_id",)).items()}
    estimated = {label(w): v for (w,), v in estimate(org, midnight(WINDOW_30), ("workspace_id",)).items()}
    assert set(rows) == set(tokens) | set(billed)
    assert "(default workspace)" in rows
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
    assert set(rows) == {(k or "(no API key)", w) for k, w in tokens}
    assert any(key == "(no API key)" for key, _ in rows)  # Console usage
    for (key, workspace), t in tokens.items():
        row = rows[(key or "(no API key)", workspace)]
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
    today_estimate = sum(estimate(org, midnight(TODAY), ()).values())
    assert row["billed_usd"] == billed
    assert row["billed_through"] == (TODAY - timedelta(days=1)).isoformat()
    assert row["estimated_not_yet_billed_usd"] == today_estimate
    assert row["month_to_date_usd"] == billed + today_estimate  # complete days billed, today estimated
    assert row["budget_usd"] == BUDGET
    mtd = float(billed + today_estimate)
    assert row["percent_of_budget"] == pytest.approx(100 * mtd / float(BUDGET))
    days_in_month = 30  # November
    assert row["forecast_usd"] == pytest.approx(mtd / TODAY.day * days_in_month)
    assert row["forecast_percent_of_budget"] == pytest.approx(100 * mtd / TODAY.day * days_in_month / float(BUDGET))


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
