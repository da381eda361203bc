"""Issue 17 items 1, 2, 4, 5 and issue 16 item 7 (sql): a CLI that cannot hurt the lake, one line per mistake,
one set of flags, quiet by default; `sql` over an s3:// lake fetches what the statement needs, in UTC."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from support import LAKE_BUCKET, NOW, TODAY, backfill, incremental, ingest, midnight

from usage_lake.app.cli import _parser, main
from usage_lake.config.events import RunRequest
from usage_lake.lake import LocalLake
from usage_lake.lake.curated import read_table
from usage_lake.simulator import FaultPlan, SimulatedOrg, Simulator

NOW_FLAG = ["--now", "2026-11-23T14:30:00Z"]
FIRST = date(2026, 11, 1)
READING = ("summary", "alerts", "report", "sql", "runs", "prices")


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """Nov 1 - Nov 22 back-filled, then an incremental run at NOW."""
    org = SimulatedOrg.small()
    lake = LocalLake(tmp_path_factory.mktemp("guards") / "lake")
    with Simulator(org, now=NOW) as sim:
        assert ingest(backfill(FIRST, TODAY), sim=sim, lake=lake).outcome == "succeeded"
        assert ingest(incremental(), sim=sim, lake=lake).outcome == "succeeded"
    return org, lake


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch):
    for name in ("LAKE_BUCKET", "LAKE_PREFIX", "DAILY_SPEND_THRESHOLD_USD", "MONTHLY_BUDGET_USD", "SPIKE_RATIO", "ALERT_TOPIC_ARN",
                 "BUDGETS", "LABELS", "ADMIN_KEY_SECRET_ID"):
        monkeypatch.delenv(name, raising=False)


def fingerprint(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def call(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as done:  # argparse's usage errors
        code = int(done.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(code: int, out: str, err: str, message: str = "") -> str:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("usage-lake") and ": error: " in lines[0], err
    assert "Traceback" not in err + out and out == ""
    assert message in lines[0], lines[0]
    return lines[0]


# -- 17.1: sql only reads, and only the lake ----------------------------------------------------------------

def test_sql_refuses_every_statement_that_writes_attaches_installs_loads_sets_or_copies(filled, capsys, tmp_path):
    _, lake = filled
    root = Path(lake.root)
    day = next(root.glob("usage_messages/dt=2026-11-20/*.parquet"))  # a stored day, as COPY's target
    outside = tmp_path / "secret.txt"
    outside.write_text("not the lake's\n")
    before = fingerprint(root)
    refused = [
        (f"COPY (SELECT 1 AS x) TO '{day}' (FORMAT parquet)", "COPY statements are refused"),
        (f"COPY (SELECT 1 AS x) TO '{tmp_path}/anywhere.csv'", "COPY statements are refused"),
        (f"ATTACH '{tmp_path}/other.db' AS other", "ATTACH statements are refused"),
        ("INSTALL httpfs", "LOAD statements are refused"),
        ("LOAD httpfs", "LOAD statements are refused"),
        ("CREATE TABLE t AS SELECT 1 AS x", "CREATE statements are refused"),
        ("INSERT INTO cost_report SELECT * FROM cost_report", "INSERT statements are refused"),
        ("SET enable_external_access = true", "SET statements are refused"),
        ("PRAGMA version", "PRAGMA statements are refused"),
        (f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{tmp_path}/x.csv'", "COPY statements are refused"),
        ("SELECT * FROM read_csv('/etc/passwd')", "Permission Error"),
        (f"SELECT * FROM read_text('{outside}')", "Permission Error"),
        (f"SELECT * FROM read_text('{root}/../{outside.name}')", "Permission Error"),
        ("SELECT 1 AS a; SELECT 2 AS b", "one statement at a time: this text holds 2"),
        (f"SELECT 1 AS a; COPY (SELECT 1 AS x) TO '{day}' (FORMAT parquet)", "one statement at a time"),
    ]
    for statement, message in refused:
        code, out, err = call(capsys, "sql", statement, "--lake", str(root))
        assert_one_line(code, out, err, message)
        assert "root:" not in out + err  # nothing of /etc/passwd shown
    assert fingerprint(root) == before  # the lake's bytes unchanged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.txt"]  # nothing written or attached beside it


def test_sql_runs_what_reads_including_the_lakes_own_files(filled, capsys):
    org, lake = filled
    root = str(lake.root)
    cents = org.cost_total_cents(midnight(date(2026, 11, 20)), midnight(date(2026, 11, 21)))
    reading = [
        "SELECT sum(amount_cents) AS cents FROM cost_report WHERE dt = '2026-11-20'",
        "WITH c AS (SELECT * FROM cost_report WHERE dt = '2026-11-20') SELECT sum(amount_cents) AS cents FROM c",
        f"SELECT sum(amount_cents) AS cents FROM read_parquet('{root}/cost_report/dt=2026-11-20/*.parquet')",
    ]
    for statement in reading:
        code, out, err = call(capsys, "sql", statement, "--lake", root, "--format", "csv")
        assert code == 0 and err == "", err
        assert out.splitlines() == ["cents", str(cents)]
    for statement in ("VALUES (1, 'a')", "DESCRIBE cost_report", "SHOW TABLES", "EXPLAIN SELECT * FROM cost_report"):
        code, out, err = call(capsys, "sql", statement, "--lake", root)
        assert code == 0 and "error" not in err, (statement, err)


# -- 17.2: every mistake is one line, exit 2, nothing written -----------------------------------------------

def bad_inputs(lake: str, tmp: Path) -> list[tuple[list[str], str]]:
    folder, afile = tmp / "folder", tmp / "afile"
    lake_file = f"{lake}/usage_messages/out.csv"
    export = ["export", "usage_messages", "--lake", lake, "--start", "2026-11-20", "--end", "2026-11-22"]
    sql = ["sql", "SELECT 1 AS x", "--lake", lake]
    cases: list[tuple[list[str], str]] = []
    for command in (["report", "daily", "--lake", lake, *NOW_FLAG], export, sql, ["report", "html", "--lake", lake, *NOW_FLAG],
                    ["summary", "--lake", lake, *NOW_FLAG], ["alerts", "--lake", lake]):
        cases += [
            ([*command, "--out", str(folder)], "is a folder"),
            ([*command, "--out", str(tmp / "missing" / "deeper" / "x.csv")], "does not exist"),
            ([*command, "--out", str(afile / "x.csv")], "is a file, not a folder"),
            ([*command, "--out", lake_file], "is inside the lake"),
        ]
    for command in (["report", "daily"], ["report", "html"], ["report", "alerts"], ["summary"], ["alerts"], ["demo"]):
        cases += [
            ([*command, "--lake", lake, "--days", "1000000"], "at most 3660 days"),
            ([*command, "--lake", lake, "--days", "-3"], "at least 1"),
            ([*command, "--lake", lake, "--days", "2.5"], "at least 1"),
        ]
    cases += [
        (["report", "daily", "--lake", lake, "--start", "2026-02-30", "--end", "2026-03-01"], "expected a UTC day"),
        (["report", "daily", "--lake", lake, "--start", "9999-12-30", "--end", "9999-12-31"], "expected a UTC day"),
        (["report", "daily", "--lake", lake, "--start", "2026-11-20", "--end", "2026-11-10"], "must be after --start"),
        (["export", "usage_messages", "--lake", lake, "--start", "20261101", "--end", "2026-11-02", "--out", str(tmp / "x.csv")],
         "expected a UTC day"),
        (["run", "--lake", lake, "--start", "2026-13-01", "--end", "2026-11-02"], "expected a UTC day"),
        (["rebuild", "--lake", lake, "--start", "yesterday", "--end", "2026-11-02"], "expected a UTC day"),
        (["report", "daily", "--lake", lake, "--now", "tomorrow"], "--now:"),
        (["report", "weekly", "--lake", lake], "invalid choice: 'weekly'"),
        (["report", "html", "--lake", lake, "--format", "csv", "--out", str(tmp / "r.html")], "--format is for the other views"),
        (["sql", "SELEC 1", "--lake", lake], "not valid"),
        (["sql", "SELECT no_such_column FROM cost_report", "--lake", lake], "the query failed"),
        (["sql", "--lake", lake], "either as an argument or with --file"),
        (["simulate", "--faults", "bogus"], "unknown kind 'bogus'"),
        (["simulate", "--faults", "429:7"], "a probability is from 0 to 1"),
        (["rebuild", "--lake", lake, "--start", "2020-01-01", "--end", "2020-01-03"], "nothing to rebuild"),
        (["runs", "--lake", lake, "--limit", "0"], "at least 1"),
        (["summary", "--lake", lake, "-v", "-q"], "contradict"),
        (["summary", "--lake", lake, "--start", "2026-11-01"], "unrecognized arguments: --start"),
        (["purge", "--lake", lake, "--email", "not an address"], "expected one e-mail address"),
        (["report", "headroom", "--lake", lake, "--days", "1000000"], "at most 3660 days"),
        (["report", "reconcile", "--lake", lake, "--out", str(tmp / "folder")], "is a folder"),
    ]
    return cases


def test_every_command_answers_a_table_of_bad_inputs_with_one_line_and_exit_2(filled, capsys, tmp_path):
    _, lake = filled
    root = Path(lake.root)
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("a file\n")
    before, around = fingerprint(root), sorted(tmp_path.rglob("*"))
    for argv, message in bad_inputs(str(root), tmp_path):
        code, out, err = call(capsys, *argv)
        assert_one_line(code, out, err, message)
    assert fingerprint(root) == before and sorted(tmp_path.rglob("*")) == around  # nothing half-written anywhere


def test_out_on_a_read_only_folder_is_one_line_for_report_export_and_sql(filled, tmp_path):
    """As root, the command runs without the capability to write anywhere (setpriv), as an ordinary user would."""
    _, lake = filled
    prefix: list[str] = []
    if os.getuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only for this process")
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o555)
    env = {"PATH": os.environ["PATH"], **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    try:
        for argv in (["report", "daily", *NOW_FLAG], ["export", "cost_report", "--start", "2026-11-20", "--end", "2026-11-21"],
                     ["sql", "SELECT 1 AS x"]):
            done = subprocess.run([*prefix, sys.executable, "-m", "usage_lake.app.cli", *argv, "--lake", str(lake.root),
                                   "--out", str(readonly / "x.csv")], env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 2, done.stderr
            assert done.stderr.splitlines() == [f"usage-lake: error: --out {readonly}/x.csv: cannot write in {readonly} (permission denied)"]
    finally:
        readonly.chmod(0o755)
    assert list(readonly.iterdir()) == []


def test_ctrl_c_while_duckdb_runs_report_html_is_exit_130_and_one_line(filled, capsys, tmp_path, monkeypatch):
    """DuckDB's own interrupt (what Ctrl-C does to a running query) lands inside a real query of `report html`
    (made long so that it does); older DuckDB releases raise `RuntimeError: Query interrupted` for the same."""
    from usage_lake.app.cli import _query_interrupted
    from usage_lake.reporting.query import LakeDB

    _, lake = filled
    plain = LakeDB.arrow

    def long_query(self, sql, params=None):  # noqa: ANN001, ANN202
        done = threading.Event()

        def press_ctrl_c() -> None:
            while not done.wait(0.1):
                self.con.interrupt()

        threading.Thread(target=press_ctrl_c, daemon=True).start()
        try:
            return plain(self, "SELECT count(*) FROM range(1000000000000) a, range(10) b")
        finally:
            done.set()

    monkeypatch.setattr(LakeDB, "arrow", long_query)
    out = tmp_path / "report.html"
    code, stdout, err = call(capsys, "report", "html", "--lake", str(lake.root), "--out", str(out), *NOW_FLAG)
    assert code == 130 and stdout == "" and not out.exists()
    assert err.splitlines() == ["usage-lake: interrupted; days already written are complete, the rest was not written"]
    assert _query_interrupted(RuntimeError("Query interrupted")) and not _query_interrupted(RuntimeError("out of memory"))


def test_report_html_over_1500_days_draws_months_instead_of_failing(filled, capsys, tmp_path):
    _, lake = filled
    out = tmp_path / "report.html"
    code, _, err = call(capsys, "report", "html", "--lake", str(lake.root), "--days", "1500", "--out", str(out), *NOW_FLAG)
    assert code == 0, err
    page = out.read_text()
    assert page.count('<figure class="chart"') >= 6 and "Spend per month" in page and "Cache hit rate by month" in page


def test_chart_period_groups_long_ranges_by_week_then_month():
    from usage_lake.reporting.html import chart_period

    def days(n: int) -> list[str]:
        return [(date(2026, 11, 23) - timedelta(days=i)).isoformat() for i in range(n - 1, -1, -1)]

    assert chart_period(days(92))[0] == "day"
    unit, period = chart_period(days(93))
    assert unit == "week" and period("2026-11-23") == "2026-11-23" and period("2026-11-22") == "2026-11-16"
    assert len({period(d) for d in days(93)}) == 15
    unit, period = chart_period(days(1500))
    assert unit == "month" and period("2026-11-23") == "2026-11" and len({period(d) for d in days(1500)}) == 50


# -- 17.4: one set of flags ---------------------------------------------------------------------------------

REQUIRED = {"rebuild": ["--start", "2026-11-01", "--end", "2026-11-02"], "report": ["daily"], "sql": ["SELECT 1"],
            "purge": ["--email", "someone@example.com"],
            "export": ["cost_report", "--start", "2026-11-01", "--end", "2026-11-02", "--out", "x.csv"]}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_subcommand_takes_verbose_and_quiet_before_or_after_and_the_reading_ones_one_set_of_output_flags():
    parser = _parser()
    commands = subcommands()
    assert set(commands) == {"run", "demo", "simulate", "rebuild", "summary", "alerts", "report", "export", "sql", "runs", "purge", "prices"}
    for name, sub in commands.items():
        argv = [name, *REQUIRED.get(name, [])]
        for flags in (["-v", *argv], [*argv, "-v"], [*argv, "--verbose"], ["-q", *argv], [*argv, "-q"], [*argv, "--quiet"]):
            args = parser.parse_args(flags)
            assert args.verbose == ("-v" in flags or "--verbose" in flags) and args.quiet == ("-q" in flags or "--quiet" in flags)
        options = {o: a for a in sub._actions for o in a.option_strings}
        for action in sub._actions:  # one default each, and it is the one the parser uses
            text = action.help or ""
            assert text.count("default") <= 1, (name, action.option_strings, text)
        if name in READING:
            assert options["--format"].choices in (("table", "csv", "json"), ("table", "json")) and options["--format"].default == "table"
            assert parser.parse_args([*argv, "--json"]).format == "json"
        if name in ("summary", "alerts", "report", "sql"):
            args = parser.parse_args([*argv, "--wide", "--raw-csv", "--limit", "5", "--format", "csv"])
            assert (args.wide, args.raw_csv, args.limit, args.format) == (True, True, 5, "csv")
    # summary lists only what it accepts
    summary = {o for a in commands["summary"]._actions for o in a.option_strings}
    assert not summary & {"--start", "--end", "--by"}
    assert {"--lake", "--days", "--now", "--format", "--json", "--wide", "--raw-csv", "--limit", "--out"} <= summary


def test_flags_reach_the_output(filled, capsys, tmp_path):
    _, lake = filled
    root = str(lake.root)
    code, out, err = call(capsys, "report", "daily", "--lake", root, "--days", "10", "--json", *NOW_FLAG)
    assert code == 0 and out.lstrip().startswith(("{", "["))
    code, out, err = call(capsys, "-q", "report", "daily", "--lake", root, "--format", "csv", "--out", str(tmp_path / "d.csv"), *NOW_FLAG)
    assert code == 0 and out == "" and err == ""  # -q: not even "wrote ..."
    assert len((tmp_path / "d.csv").read_text().splitlines()) == 31  # a header and 30 days
    code, out, err = call(capsys, "report", "daily", "--lake", root, "--format", "csv", "--out", str(tmp_path / "e.csv"), *NOW_FLAG, "-v")
    assert code == 0 and err.splitlines()[-1] == f"wrote {tmp_path / 'e.csv'}"
    code, out, err = call(capsys, "runs", "--lake", root, "--json", "--limit", "1")
    assert code == 0 and '"outcome": "succeeded"' in out and out.count('"run_id"') == 1


# -- 17.5: quiet by default -----------------------------------------------------------------------------------

def test_a_retry_storm_backfill_prints_no_warning_without_verbose_and_one_closing_note(sim, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", sim.admin_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sim.base_url)
    sim.faults = FaultPlan.from_spec("429=0:0.2", seed=7)  # a fifth of the requests answered 429 (retry-after 0)
    lake = tmp_path / "lake"
    code, out, err = call(capsys, "run", "--start", "2026-11-01", "--end", "2026-11-21", "--lake", str(lake), *NOW_FLAG)
    assert code == 0, err
    notes = [line for line in out.splitlines() if "note: retries: 429 x" in line]
    retried = int(notes[0].split("429 x", 1)[1].split(",")[0].split()[0]) if notes else 0
    assert len(notes) == 1 and retried >= 5, out
    assert "WARNING" not in err and err == ""
    # the same storm with -v: each retry on its own line
    sim.faults = FaultPlan.from_spec("429=0:0.2", seed=7)
    code, out, err = call(capsys, "run", "-v", "--restart", "--start", "2026-11-01", "--end", "2026-11-21", "--lake", str(tmp_path / "again"),
                          *NOW_FLAG)
    assert code == 0 and sum("retrying in" in line for line in err.splitlines()) >= 5


def test_a_refused_key_is_printed_once(sim, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sim.base_url)
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", "sk-ant-admin01-" + "x" * 90)
    code, out, err = call(capsys, "run", "--lake", str(tmp_path / "lake"), *NOW_FLAG)
    assert code == 2 and err.count("The Admin API refused the key") == 1 and len(err.splitlines()) == 1, err


def test_a_warning_repeated_per_day_is_shown_once_and_counted_in_one_closing_line(capsys):
    import logging

    from usage_lake.app.runner import configure_logging, flush_repeated_warnings

    configure_logging(verbose=False, stream=sys.stderr)
    log = logging.getLogger("usage_lake.focus.build")
    for day in range(1, 6):
        log.warning("%d cost row(s) of 2026-11-%02d matched no usage", 3, day)
    flush_repeated_warnings()
    assert capsys.readouterr().err.splitlines() == [
        "WARNING usage_lake.focus.build: 3 cost row(s) of 2026-11-01 matched no usage",
        "note: 4 more warning(s) like the one above from usage_lake.focus.build (-v shows each)"]


# -- 16.7: sql over an s3:// lake fetches what the statement needs, in UTC ---------------------------------------

@pytest.fixture
def s3_and_local(s3_lake, org, sim, tmp_path):
    local = LocalLake(tmp_path / "local")
    for lake in (s3_lake, local):
        assert ingest(backfill(date(2026, 11, 1), date(2026, 11, 23), reports=("usage", "cost")), sim=sim, lake=lake).outcome == "succeeded"
    return f"s3://{LAKE_BUCKET}/anthropic", str(local.root)


def sql_csv(capsys, statement: str, lake: str) -> tuple[list[str], str]:
    code, out, err = call(capsys, "sql", statement, "--lake", lake, "--format", "csv")
    assert code == 0, err
    return out.splitlines(), err


def test_sql_on_s3_fetches_every_day_an_or_a_subquery_or_a_not_needs(s3_and_local, capsys):
    s3, local = s3_and_local
    workspace = sql_csv(capsys, "SELECT min(workspace_id) AS w FROM cost_report WHERE workspace_id IS NOT NULL", local)[0][1]
    shapes = [
        f"SELECT sum(amount_cents) AS cents FROM cost_report WHERE dt = '2026-11-05' OR workspace_id = '{workspace}'",
        "SELECT sum(amount_cents) AS cents FROM cost_report WHERE workspace_id IN "
        "(SELECT workspace_id FROM cost_report WHERE dt = '2026-11-05')",
        "SELECT sum(amount_cents) AS cents FROM cost_report WHERE NOT (dt < '2026-11-20')",
    ]
    for statement in shapes:
        expected, _ = sql_csv(capsys, statement, local)  # a local lake is read whole and pruned by DuckDB itself
        got, err = sql_csv(capsys, statement, s3)
        assert got == expected and expected[1] not in ("", "0"), statement
        assert "fetched 22 partition object(s)" in err  # every day of cost_report: none of these bounds the fetch
    # a top-level AND of dt bounds does bound it
    statement = f"SELECT sum(amount_cents) AS cents FROM cost_report WHERE dt >= '2026-11-05' AND dt <= '2026-11-06' AND workspace_id = '{workspace}'"
    expected, _ = sql_csv(capsys, statement, local)
    got, err = sql_csv(capsys, statement, s3)
    assert got == expected and "fetched 2 partition object(s)" in err


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Adak"])
def test_sql_on_s3_reads_current_date_as_a_utc_date_in_any_local_time_zone(s3_lake, capsys, monkeypatch, zone):
    """`current_date` without --now, west and east of UTC: the fetch and the query both mean the UTC day."""
    now = datetime.now(UTC)
    yesterday = now.date() - timedelta(days=1)
    with Simulator(SimulatedOrg.small(), now=now) as sim:
        request = RunRequest(mode="backfill", start=yesterday - timedelta(days=2), end=now.date(), now=now, reports=("cost",))
        assert ingest(request, sim=sim, lake=s3_lake).outcome == "succeeded"
    rows = read_table(s3_lake, "cost_report", [yesterday]).num_rows
    assert rows > 0
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        out, err = sql_csv(capsys, "SELECT count(*) AS n, min(dt) AS day FROM cost_report "
                                   "WHERE dt = date_format(current_date - INTERVAL '1' DAY, '%Y-%m-%d')", f"s3://{LAKE_BUCKET}/anthropic")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert out == ["n,day", f"{rows},{yesterday.isoformat()}"]
    assert "fetched 1 partition object(s)" in err
