"""Interrupted and abandoned runs (issue 8, item 19): `usage-lake run` in its own process against the simulator,
stopped by SIGINT (Ctrl-C), SIGTERM or SIGKILL part-way through a backfill, then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from support import NOW, lake_cents, lake_tokens, midnight, sim_tokens

from usage_lake.app.cli import main
from usage_lake.ingest.runlog import ABANDONED_AFTER, Outcome, effective_outcome, read_records
from usage_lake.lake import LocalLake
from usage_lake.simulator import Fault

START, END = date(2026, 10, 1), date(2026, 10, 21)  # 20 days: three 7-day slices
RANGE = ["--start", START.isoformat(), "--end", END.isoformat()]


@pytest.fixture
def cli(sim, tmp_path, monkeypatch):
    """`usage-lake run` in a child process (so a signal stops it, not the tests), and the lake it fills."""
    lake_dir = tmp_path / "lake"
    env = {"PATH": os.environ["PATH"], "ANTHROPIC_ADMIN_API_KEY": sim.admin_key, "ANTHROPIC_BASE_URL": sim.base_url,
           **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    for name in ("LAKE_BUCKET", "LAKE_PREFIX", "DAILY_SPEND_THRESHOLD_USD", "ADMIN_KEY_SECRET_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", sim.admin_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sim.base_url)

    def start(*args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "usage_lake.app.cli", "run", *args, "--lake", str(lake_dir)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    start.lake = LocalLake(lake_dir)  # type: ignore[attr-defined]
    return start


def wait_for(predicate, what: str, process: subprocess.Popen) -> None:
    """Poll (not a timing assertion: the bound only keeps a broken run from hanging the suite)."""
    for _ in range(1200):
        if predicate():
            return
        if process.poll() is not None:
            pytest.fail(f"the run ended before {what}: {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"gave up waiting for {what}")


def records(lake) -> list[dict]:
    return read_records(lake, limit=100) if lake.root.exists() else []


def one_slice_done(lake) -> bool:
    return any(r["outcome"] == "running" and (r["resume_from"] or "") >= "2026-10-08" for r in records(lake))


@pytest.mark.parametrize(("signum", "name"), [(signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")])
def test_item19_an_interrupted_backfill_is_recorded_and_the_same_command_resumes_it(sim, org, cli, signum, name):
    sim.faults.every(1, Fault.slow(0.15))  # slow enough to stop it part-way
    process = cli(*RANGE)
    wait_for(lambda: one_slice_done(cli.lake), "the first slice", process)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)

    assert process.returncode == 130
    (stopped,) = records(cli.lake)
    assert stopped["outcome"] == Outcome.INTERRUPTED and stopped["error_type"] == name
    resume = date.fromisoformat(stopped["resume_from"])
    assert date(2026, 10, 8) <= resume < END
    assert stopped["error"] == f"interrupted by {name}; resume from {resume}"
    assert err.strip() == (f"usage-lake: interrupted by {name}; days already written are complete, the rest "
                           f"was not written; run the same command again (or `usage-lake run --resume`) to carry on from {resume}")
    assert (stopped["range_start"], stopped["range_end"], stopped["finished_at"] is not None) == ("2026-10-01", "2026-10-21", True)

    sim.faults.clear()
    sim.clear_requests()
    done = cli(*RANGE)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    assert err.startswith(f"usage-lake: resuming 2026-10-01..2026-10-21 from {resume} (run {stopped['run_id']} was interrupted")
    # nothing before the resume point was fetched again, and no day twice: the usage queries tile resume..END
    assert tiles(usage_queries(sim, resume), resume, END), usage_queries(sim, resume)
    # and the lake holds the whole range, exactly
    assert lake_tokens(cli.lake, START, END) == sim_tokens(org, midnight(START), midnight(END))
    assert lake_cents(cli.lake, START, END) == org.cost_total_cents(midnight(START), midnight(END))
    latest = records(cli.lake)[0]
    assert latest["outcome"] == "succeeded" and latest["continues"] == stopped["run_id"] and latest["range_start"] == "2026-10-01"
    # a third run of the same range starts over (the last one finished it)
    assert main(["run", *RANGE, "--lake", str(cli.lake.root), "--resume"]) == 2


def test_item19_a_killed_run_shows_as_abandoned_and_resumes_from_its_last_checkpoint(sim, org, cli, capsys):
    sim.faults.every(1, Fault.slow(0.15))
    process = cli(*RANGE)
    wait_for(lambda: one_slice_done(cli.lake), "the first slice", process)
    process.kill()  # SIGKILL: no chance to say anything
    process.communicate(timeout=60)

    (left,) = records(cli.lake)
    assert left["outcome"] == Outcome.RUNNING and left["finished_at"] is None and left["pid"] == process.pid
    assert effective_outcome(left, datetime.now(UTC)) == Outcome.ABANDONED  # same host, the process is gone
    assert main(["runs", "--lake", str(cli.lake.root)]) == 0
    shown = capsys.readouterr().out.splitlines()[2]  # header, rule, the run
    assert " abandoned " in shown and f"resume from {left['resume_from']}" in shown and "its process is gone" in shown

    sim.faults.clear()
    assert main(["run", "--resume", "--lake", str(cli.lake.root)]) == 0  # --resume alone: the latest stopped backfill
    assert f"resuming 2026-10-01..2026-10-21 from {left['resume_from']} (run {left['run_id']} was abandoned" in capsys.readouterr().err
    assert lake_tokens(cli.lake, START, END) == sim_tokens(org, midnight(START), midnight(END))


def test_item19_a_quiet_running_record_from_another_host_is_abandoned_after_the_bound():
    started = datetime(2026, 11, 23, 14, tzinfo=UTC)
    run = {"outcome": "running", "host": "some-lambda-sandbox", "pid": 8, "started_at": started, "updated_at": started + timedelta(minutes=5)}
    assert effective_outcome(run, started + timedelta(minutes=20)) == Outcome.RUNNING
    assert effective_outcome(run, started + timedelta(minutes=5) + ABANDONED_AFTER + timedelta(seconds=1)) == Outcome.ABANDONED
    assert effective_outcome(run | {"outcome": "succeeded"}, started + timedelta(days=9)) == "succeeded"
    # this host, a process that is alive: running
    assert effective_outcome(run | {"host": os.uname().nodename, "pid": os.getpid()}, started + timedelta(minutes=20)) == Outcome.RUNNING


def test_item19_restart_fetches_the_whole_range_again(sim, org, cli, capsys):
    sim.faults.every(1, Fault.slow(0.15))
    process = cli(*RANGE)
    wait_for(lambda: one_slice_done(cli.lake), "the first slice", process)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    sim.faults.clear()
    sim.clear_requests()
    assert main(["run", *RANGE, "--restart", "--lake", str(cli.lake.root), "--reports", "usage,cost"]) == 0
    assert "resuming" not in capsys.readouterr().err
    assert tiles(usage_queries(sim, START), START, END), usage_queries(sim, START)  # the whole range, each day once


def usage_queries(sim, first: date) -> list[tuple[str, str]]:
    """(starting_at, ending_at) of each usage query the simulator answered (its cursor pages aside), from `first`.

    The stopped process's last request may still be in the simulator (slowed by the fault) when the test clears
    the request log, and be recorded just after, before the new run's: a leading query that does not start at
    `first`, or that the next one repeats, is that one, not the new run fetching a day twice."""
    queries = [(q["starting_at"], q["ending_at"]) for q in (dict(r.query) for r in sim.requests if r.path.endswith("/usage_report/messages"))
               if "page" not in q]
    if queries and (queries[0][0] != f"{first}T00:00:00Z" or queries[1:2] == queries[:1]):
        queries = queries[1:]
    return queries


def tiles(queries: list[tuple[str, str]], start: date, end: date) -> bool:
    """The queries run edge to edge from `start` to `end`: every day asked once."""
    edges = [f"{start}T00:00:00Z", *(e for _, e in queries)]
    return bool(queries) and [s for s, _ in queries] == edges[:-1] and edges[-1] == f"{end}T00:00:00Z"


def test_item19_an_incremental_run_is_never_resumed(sim, cli, capsys):
    assert main(["run", "--lake", str(cli.lake.root), "--now", NOW.isoformat()]) == 0
    assert "resuming" not in capsys.readouterr().err
