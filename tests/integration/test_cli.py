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
    # not a terminal: one plain line per day, no progress bar
    assert "usage 2026-11-10: written" in captured.err and "\r" not in captured.err


def test_json_summary(env, capsys):
    assert main(["run", "--lake", str(env), "--now", "2026-11-23T14:30:00Z", "--reports", "cost", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["mode"] == "incremental" and summary["reports"] == ["cost"]
    assert [d["dt"] for d in summary["days"]] == ["2026-11-20", "2026-11-21", "2026-11-22"]


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
    assert len(runs) == 2 and "backfill" in runs[1] and "succeeded" in runs[1]


def rebuilt_rows(lake_dir) -> list[int]:
    from usage_lake.lake.curated import read_table

    table = read_table(LocalLake(lake_dir), "usage_messages")
    return [sum(1 for dt in table.column("dt").to_pylist() if dt == day) for day in ("2026-11-20", "2026-11-21")]


def test_progress_bar_in_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    progress = Progress(out)
    progress.day(DayResult("usage", date(2026, 11, 20), 1234, "written"))
    progress.close()
    assert out.getvalue().startswith("\r[") and "1/1 days" in out.getvalue() and "1,234 rows" in out.getvalue()


def test_the_demo_fills_a_lake_that_matches_the_simulator_and_fires_an_alert(tmp_path):
    out = io.StringIO()
    assert run_demo(lake_dir=str(tmp_path / "lake"), days=3, out=out, now=NOW) == 0
    text = out.getvalue()
    assert "Lake totals equal the simulator's exactly" in text
    assert "Alerts: an incremental run with DAILY_SPEND_THRESHOLD_USD=" in text and "passed your $" in text
    assert LocalLake(tmp_path / "lake").list("alerts/outbox/")
