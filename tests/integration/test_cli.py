"""The `usage-lake` command: run, backfill, rebuild, summary, runs, demo, and its errors."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from support import NOW, lake_tokens, midnight, sim_tokens

from usage_lake.app.cli import main
from usage_lake.app.runner import Progress
from usage_lake.app.demo import run_demo
from usage_lake.lake import LocalLake
from usage_lake.ingest.runlog import DayResult


@pytest.fixture
def env(sim, monkeypatch, tmp_path):
    for name in ("LAKE_BUCKET", "ADMIN_KEY_SECRET_ID", "DAILY_SPEND_THRESHOLD_USD", "ALERT_TOPIC_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", sim.admin_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sim.base_url)
    return tmp_path / "lake"


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "demo", "simulate", "rebuild", "summary", "alerts", "report", "export", "sql", "runs"):
        assert f"    {command} " in out
    assert "ANTHROPIC_ADMIN_API_KEY" in out


def test_a_backfill_from_the_command_line(env, org, capsys):
    code = main(["run", "--start", "2026-11-10", "--end", "2026-11-13", "--lake", str(env), "--now", "2026-11-23T14:30:00Z"])
    captured = capsys.readouterr()
    assert code == 0
    assert lake_tokens(LocalLake(env), date(2026, 11, 10), date(2026, 11, 13)) == sim_tokens(org, midnight(date(2026, 11, 10)), midnight(date(2026, 11, 13)))
    assert "succeeded (backfill)" in captured.out and "usage: " in captured.out
    # not a terminal and no -v: no bar, no line per day
    assert captured.err == ""


@pytest.mark.parametrize("argv", [["-v", "run"], ["run", "-v"], ["run", "--verbose", "--json"]])
def test_item20_per_day_lines_are_behind_verbose_before_or_after_the_command(env, capsys, argv):
    assert main([*argv, "--start", "2026-11-10", "--end", "2026-11-12", "--reports", "usage,cost", "--lake", str(env),
                 "--now", "2026-11-23T14:30:00Z"]) == 0
    err = capsys.readouterr().err
    days = [line for line in err.splitlines() if ": written " in line and line.split("run: ", 1)[1].startswith(("usage ", "cost "))]
    assert [line.split("run: ", 1)[1] for line in days] == [
        "usage 2026-11-10: written 208 rows", "usage 2026-11-11: written 220 rows", "cost 2026-11-10: written 94 rows",
        "cost 2026-11-11: written 93 rows"]
    assert all(line.startswith("INFO usage_lake.ingest.run: ") for line in days)


def test_item20_json_output_leaves_stderr_quiet_without_verbose(env, capsys):
    assert main(["run", "--start", "2026-11-10", "--end", "2026-11-12", "--reports", "usage,cost", "--lake", str(env),
                 "--now", "2026-11-23T14:30:00Z", "--json"]) == 0
    captured = capsys.readouterr()
    # and the organization and workspaces snapshots FOCUS names its rows from (the lake had none), with their labels
    assert json.loads(captured.out)["days_written"] == 4 + 3 and captured.err == ""


def test_json_summary(env, capsys):
    assert main(["run", "--lake", str(env), "--now", "2026-11-23T14:30:00Z", "--reports", "cost", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["mode"] == "incremental" and summary["reports"] == ["cost"]
    assert [d["dt"] for d in summary["days"] if d["report"] == "cost"] == ["2026-11-20", "2026-11-21", "2026-11-22"]


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "--start", "2026-11-10"], "a backfill needs both --start and --end"),
    (["run", "--reports", "usage,tokens"], "reports has unknown value"),
    (["run", "--start", "2026-11-10", "--end", "2026-11-01"], "must be after start"),
])
def test_mistakes_get_one_clear_line_and_exit_2(env, capsys, argv, message):
    assert main([*argv, "--lake", str(env)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage-lake: error: ") and message in err and "Traceback" not in err


def test_no_key_and_a_refused_key(env, monkeypatch, capsys, sim):
    monkeypatch.delenv("ANTHROPIC_ADMIN_API_KEY")
    assert main(["run", "--lake", str(env)]) == 2
    assert "set ANTHROPIC_ADMIN_API_KEY" in capsys.readouterr().err
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", "sk-ant-api03-a-standard-key")
    assert main(["run", "--lake", str(env), "--now", "2026-11-23T14:30:00Z"]) == 2
    err = capsys.readouterr().err
    assert "Admin API key (sk-ant-admin...)" in err and "sk-ant-api03-a-standard-key" not in err


def test_rebuild_summary_and_runs(env, capsys):
    assert main(["run", "--start", "2026-11-20", "--end", "2026-11-22", "--lake", str(env), "--now", "2026-11-23T14:30:00Z"]) == 0
    for key in LocalLake(env).list("usage_messages/"):
        (env / key).unlink()
    capsys.readouterr()
    assert main(["rebuild", "--start", "2026-11-20", "--end", "2026-11-22", "--lake", str(env), "--reports", "usage"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"usage 2026-11-2{d}: written {rows:,} rows" for d, rows in zip((0, 1), rebuilt_rows(env), strict=True)]
    assert main(["runs", "--lake", str(env)]) == 0
    runs = capsys.readouterr().out.splitlines()
    assert len(runs) == 3 and runs[1].startswith("─") and "backfill" in runs[2] and "succeeded" in runs[2]  # header, rule, one run


def rebuilt_rows(lake_dir) -> list[int]:
    from usage_lake.lake.curated import read_table

    table = read_table(LocalLake(lake_dir), "usage_messages")
    return [sum(1 for dt in table.column("dt").to_pylist() if dt == day) for day in ("2026-11-20", "2026-11-21")]


def test_item20_the_progress_bar_counts_days_fits_80_columns_and_prints_retries_on_their_own_line(sim, local_lake):
    import logging
    import re

    from rich.console import Console
    from support import FAST_RETRY, backfill

    from usage_lake.app.runner import configure_logging, run_to_completion
    from usage_lake.config.secrets import AdminKey
    from usage_lake.config.settings import Settings
    from usage_lake.simulator import Fault

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=80, color_system=None)
    plain_log = io.StringIO()
    configure_logging(verbose=True, stream=plain_log)  # with -v each retry is shown (without it they are counted)
    sim.faults.every(2, Fault.status(503))  # a few retries, each logged (the backfill is ~6 requests)
    before = list(logging.getLogger().handlers)
    try:
        with Progress(io.StringIO(), console=console) as progress:
            records = run_to_completion(backfill(date(2026, 10, 1), date(2026, 10, 21)), settings=Settings(base_url=sim.base_url),
                                        key=AdminKey(sim.admin_key), lake=local_lake, progress=progress, retry=FAST_RETRY)
        assert logging.getLogger().handlers == before  # the bar gave the log back
    finally:
        configure_logging(verbose=False, stream=io.StringIO())

    assert records[-1].outcome == "succeeded" and records[-1].retries >= 3
    assert progress.days_done() == (20, 20)  # 20 days, not 40: a day's usage and cost are one day
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    lines = [line for chunk in text.split("\n") for line in chunk.split("\r")]
    bar = [line for line in lines if line.startswith("fetching")]
    assert bar and max(len(line) for line in bar) <= 80  # the bar fits the width: redrawn in place, never wrapped
    assert "20/20 days" in bar[-1]
    warnings = [line for line in lines if line.startswith("INFO usage_lake.sources.http: GET ")]
    assert len(warnings) == records[-1].retries and all("days" not in line and "retrying" in line for line in warnings)
    assert plain_log.getvalue() == ""  # the warnings went through the bar's console, not under it


def test_the_demo_fills_a_lake_that_matches_the_simulator_and_fires_an_alert(tmp_path):
    out = io.StringIO()
    assert run_demo(lake_dir=str(tmp_path / "lake"), days=3, out=out, now=NOW) == 0
    text = out.getvalue()
    assert "Lake totals equal the simulator's exactly" in text
    assert "Alerts: an incremental run with DAILY_SPEND_THRESHOLD_USD=" in text and "passed your $" in text
    assert LocalLake(tmp_path / "lake").list("alerts/outbox/")


def test_item21_a_second_demo_says_its_alerts_were_sent_by_an_earlier_run(tmp_path):
    first, second = io.StringIO(), io.StringIO()
    assert run_demo(lake_dir=str(tmp_path / "lake"), days=5, out=first, now=NOW) == 0
    assert run_demo(lake_dir=str(tmp_path / "lake"), days=5, out=second, now=NOW) == 0
    sent = [line for line in first.getvalue().splitlines() if line.startswith("  - Anthropic spend")]
    assert sent and "sent by an earlier run" not in first.getvalue()
    text = second.getvalue()
    assert " sent 0 alert(s) " in text
    assert f"{len(sent)} alert(s) in the outbox were sent by an earlier run" in text
    assert [line for line in text.splitlines() if line.startswith("  - Anthropic spend")] == sent


def test_item21_the_demo_says_how_to_reach_usage_lake_when_it_is_not_on_path(tmp_path, monkeypatch):
    import os
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # as after `make demo`: .venv/bin is not on PATH
    out = io.StringIO()
    assert run_demo(lake_dir="./lake", days=1, out=out, now=NOW) == 0
    lines = out.getvalue().splitlines()
    script = os.path.join(os.path.dirname(sys.executable), "usage-lake")
    assert lines[-4].startswith(f"Next: usage-lake is installed in {os.path.dirname(script)}/, which is not on your PATH")
    assert f"`source {os.path.dirname(script)}/activate`" in lines[-4]
    assert lines[-3].startswith(f"  {script} summary --lake ./lake ") and lines[-1].startswith(f"  {script} --help ")
    monkeypatch.setenv("PATH", os.path.dirname(script) + ":/usr/bin:/bin")  # activated: the plain name works
    out = io.StringIO()
    assert run_demo(lake_dir="./lake", days=1, out=out, now=NOW) == 0
    assert out.getvalue().splitlines()[-3].startswith("  usage-lake summary --lake ./lake ")


def test_item07_rebuild_prices_with_pricing_overrides_like_a_run(monkeypatch, tmp_path, capsys):
    """The README's fix for an unpriced model: add it to PRICING_OVERRIDES, then `usage-lake rebuild`."""
    from decimal import Decimal

    from usage_lake.lake.curated import read_table
    from usage_lake.money.pricing import PriceTable
    from usage_lake.simulator import SimulatedOrg, Simulator

    mystery = {"id": "claude-mystery-9", "name": "Claude Mystery 9", "input": "1", "cache_write_5m": "1.25",
               "cache_write_1h": "2", "cache_read": "0.10", "output": "4"}
    data = json.loads(json.dumps(PriceTable.load_default().data))
    data["models"].insert(0, mystery)
    org = SimulatedOrg.large(api_keys=3, models=2, workspaces=1, prices=PriceTable.from_dict(data))
    other_model = data["models"][1]["id"]
    lake_dir = tmp_path / "lake"
    argv = ["--start", "2026-11-20", "--end", "2026-11-21", "--lake", str(lake_dir), "--reports", "usage"]

    def estimates() -> dict[tuple, Decimal | None]:
        usage = read_table(LocalLake(lake_dir), "usage_messages")
        keys = zip(*(usage.column(c).to_pylist() for c in ("bucket_start", "api_key_id", "model", "estimated_cost_usd")), strict=True)
        return {(start, key, model): cost for start, key, model, cost in keys}

    with Simulator(org, now=NOW) as sim:
        for name in ("LAKE_BUCKET", "ADMIN_KEY_SECRET_ID", "DAILY_SPEND_THRESHOLD_USD", "PRICING_OVERRIDES"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", sim.admin_key)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", sim.base_url)
        assert main(["run", *argv, "--now", "2026-11-23T14:30:00Z"]) == 0
        unpriced = estimates()
        assert [k for k, v in unpriced.items() if v is None] == [k for k in unpriced if k[2] == "claude-mystery-9"]
        assert len([k for k in unpriced if k[2] == "claude-mystery-9"]) == 3 * 24

        overrides = tmp_path / "prices.json"
        overrides.write_text(json.dumps({"models": [mystery, {"id": other_model, "input": "7"}]}))
        monkeypatch.setenv("PRICING_OVERRIDES", str(overrides))
        assert main(["rebuild", *argv]) == 0
        rebuilt = estimates()
        assert main(["run", *argv, "--now", "2026-11-23T14:30:00Z"]) == 0  # a run with the same settings
        fetched = estimates()

    assert rebuilt == fetched  # row by row: what a run with these settings writes
    assert all(v is not None for v in rebuilt.values())
    assert sum(rebuilt.values()) != sum(v for v in unpriced.values() if v is not None)  # the override of the other model counted
    usage = read_table(LocalLake(lake_dir), "usage_messages")
    rows = [r for r in usage.to_pylist() if r["model"] == "claude-mystery-9"]
    by_hand = sum((Decimal(r["uncached_input_tokens"]) * 1 + r["cache_creation_5m_input_tokens"] * Decimal("1.25")
                   + r["cache_creation_1h_input_tokens"] * 2 + r["cache_read_input_tokens"] * Decimal("0.10")
                   + r["output_tokens"] * 4) / 10**6 + r["web_search_requests"] * Decimal("0.01") for r in rows)
    assert sum(r["estimated_cost_usd"] for r in rows) == by_hand
    assert "rebuild" not in capsys.readouterr().err


# --- issue 8, items 14, 16, 18: one line for a user's mistake, and never $0 for a lake that is not there -------------

def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("usage-lake: error: "), captured.err
    assert "Traceback" not in captured.err and "Billed cost" not in captured.out
    return lines[0]


@pytest.mark.parametrize("command", [["summary"], ["alerts"], ["runs"], ["rebuild", "--start", "2026-11-20", "--end", "2026-11-21"]])
def test_item16_reading_commands_refuse_a_path_that_holds_no_lake(env, capsys, tmp_path, command):
    missing = tmp_path / "nope"
    assert main([*command, "--lake", str(missing)]) == 2
    assert "no lake at" in one_line_error(capsys) and not missing.exists()
    afile = tmp_path / "afile"
    afile.write_text("not a lake")
    assert main([*command, "--lake", str(afile)]) == 2
    assert "is a file, not a folder" in one_line_error(capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*command, "--lake", str(empty)]) == 2
    assert "holds no run log (runs/) and no raw pages (raw/)" in one_line_error(capsys)


@pytest.mark.parametrize("lake", ["s3:/usage-lake-bucket/x", "s3:usage-lake-bucket", "S3:/bucket"])
def test_item16_a_malformed_s3_uri_is_refused_not_made_a_local_folder(env, capsys, sim, tmp_path, monkeypatch, lake):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--lake", lake, "--now", "2026-11-23T14:30:00Z"]) == 2
    assert "is malformed; an S3 lake is s3://bucket/prefix" in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == [] and sim.requests == []
    assert main(["summary", "--lake", lake]) == 2
    one_line_error(capsys)


def test_item14_a_lake_prefix_that_escapes_is_refused_before_anything_is_fetched(env, capsys, sim, monkeypatch):
    monkeypatch.setenv("LAKE_BUCKET", "usage-lake-bucket")
    monkeypatch.setenv("LAKE_PREFIX", "../../etc")
    assert main(["run", "--now", "2026-11-23T14:30:00Z"]) == 2
    assert "LAKE_PREFIX has a '..' or '.' segment (got '../../etc')" in one_line_error(capsys)
    monkeypatch.delenv("LAKE_PREFIX")
    assert main(["run", "--lake", "s3://usage-lake-bucket/../../etc", "--now", "2026-11-23T14:30:00Z"]) == 2
    assert "'..' or '.' segment" in one_line_error(capsys)
    assert sim.requests == []


def test_item18_a_lake_that_is_a_file_stops_the_run_before_the_api_is_called(env, capsys, sim, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a lake")
    assert main(["run", "--lake", str(afile), "--now", "2026-11-23T14:30:00Z"]) == 2
    assert f"the lake {afile} is a file, not a folder" in one_line_error(capsys)
    assert sim.requests == [] and afile.read_text() == "not a lake"


def test_item18_a_read_only_lake_folder_stops_the_run_before_the_api_is_called(sim, tmp_path):
    """A folder this user may not write. Root may write anywhere, so as root the command runs without the
    capability that lets it (setpriv), as an ordinary user would."""
    import os
    import shutil
    import subprocess
    import sys

    prefix: list[str] = []
    if os.getuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only for this process")
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    lake = tmp_path / "lake"
    lake.mkdir()
    lake.chmod(0o555)
    env = {"PATH": os.environ["PATH"], "ANTHROPIC_ADMIN_API_KEY": sim.admin_key, "ANTHROPIC_BASE_URL": sim.base_url,
           **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    try:
        done = subprocess.run([*prefix, sys.executable, "-m", "usage_lake.app.cli", "run", "--lake", str(lake), "--now",
                               "2026-11-23T14:30:00Z"], env=env, capture_output=True, text=True, timeout=60)
    finally:
        lake.chmod(0o755)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"usage-lake: error: cannot write {lake}/runs/") and "permission denied" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and sim.requests == []
    assert list(lake.iterdir()) == []


@pytest.fixture
def no_aws(monkeypatch, tmp_path):
    """No AWS credentials or configuration anywhere (and no instance metadata to wait for)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    monkeypatch.setattr(parameters.base, "DEFAULT_PROVIDERS", {})  # a provider (and its boto3 client) from an earlier test


def test_item18_an_s3_lake_without_credentials_is_one_line_before_the_api_is_called(env, capsys, sim, no_aws, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert main(["run", "--lake", "s3://usage-lake-bucket/anthropic", "--now", "2026-11-23T14:30:00Z"]) == 2
    assert "no AWS credentials to write s3://usage-lake-bucket/anthropic/runs/" in one_line_error(capsys)
    assert sim.requests == []
    assert main(["summary", "--lake", "s3://usage-lake-bucket/anthropic"]) == 2
    assert "no AWS credentials to list s3://usage-lake-bucket/anthropic/" in one_line_error(capsys)


def test_item18_secret_id_without_a_region_is_one_line(env, capsys, sim, no_aws, tmp_path):
    assert main(["run", "--secret-id", "anthropic/admin-key", "--lake", str(tmp_path / "lake")]) == 2
    assert "could not read secret 'anthropic/admin-key': no AWS region; set AWS_REGION" in one_line_error(capsys)
    assert sim.requests == []


def test_item18_s3_uri_without_a_bucket_is_one_line(env, capsys, sim):
    assert main(["run", "--lake", "s3://", "--now", "2026-11-23T14:30:00Z"]) == 2
    assert "has no bucket; use s3://bucket/prefix" in one_line_error(capsys)
    assert main(["summary", "--lake", "s3:///x"]) == 2
    assert "has no bucket" in one_line_error(capsys)
    assert main(["run", "--lake", "s3://Not_A_Bucket/x", "--now", "2026-11-23T14:30:00Z"]) == 2
    assert "'Not_A_Bucket' is not an S3 bucket name" in one_line_error(capsys)
    assert sim.requests == []


@pytest.mark.parametrize("argv", [["summary", "--days", "0"], ["alerts", "--days", "-1"], ["runs", "--limit", "0"],
                                  ["demo", "--days", "0"], ["simulate", "--port", "70000"]])
def test_item18_a_bad_number_is_a_usage_error_not_a_traceback(capsys, argv):
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.splitlines()[-1].startswith(f"usage-lake {argv[0]}: error: argument ")


def test_item18_simulate_on_a_port_in_use_is_one_line(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["simulate", "--port", str(port)]) == 2
    assert f"cannot serve the simulator on 127.0.0.1:{port}" in one_line_error(capsys)


def test_item18_a_closed_pipe_is_not_a_traceback(env, tmp_path):
    """`usage-lake summary | head`: the reader goes away before the output is written."""
    import os
    import subprocess
    import sys

    assert main(["run", "--start", "2026-11-20", "--end", "2026-11-22", "--lake", str(env), "--now", "2026-11-23T14:30:00Z"]) == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `head` that has exited
    try:
        done = subprocess.run([sys.executable, "-m", "usage_lake.app.cli", "summary", "--lake", str(env), "--days", "30"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert done.stderr == "" and done.returncode == 141
