"""`make demo`: the whole pipeline on the simulator, over real HTTP, into a local lake folder."""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import pyarrow.compute as pc

from usage_lake.alerts import read_day
from usage_lake.alerts.publishers import OUTBOX, OutboxPublisher
from usage_lake.app.runner import Progress, run_to_completion
from usage_lake.config.events import Mode, RunRequest
from usage_lake.config.secrets import AdminKey
from usage_lake.config.settings import Settings
from usage_lake.lake.curated import read_table
from usage_lake.lake.store import LocalLake
from usage_lake.money import usd
from usage_lake.reporting import spend_and_tokens, token_totals
from usage_lake.simulator import SimulatedOrg, Simulator
from usage_lake.sources.admin.usage import counters_by_column
from usage_lake.times import midnight

__all__ = ["run_demo"]


def run_demo(*, lake_dir: str, days: int, out: TextIO, now: datetime | None = None) -> int:
    if days < 1:
        print("usage-lake demo: --days must be at least 1", file=sys.stderr)
        return 2
    now = now or datetime.now(UTC)
    today = now.date()
    first = today - timedelta(days=days - 1)
    lake = LocalLake(lake_dir)
    org = SimulatedOrg.small()
    with Simulator(org, now=now) as sim:
        print(f"Simulator: {sim.base_url} (synthetic org, deterministic)", file=out)
        print(f"Back-filling {first} .. {today} into {lake.uri()}", file=out, flush=True)
        request = RunRequest(mode=Mode.BACKFILL, start=first, end=today + timedelta(days=1), now=now)
        with Progress(sys.stderr) as progress:
            records = run_to_completion(request, settings=Settings(base_url=sim.base_url), key=AdminKey(sim.admin_key),
                                        lake=lake, progress=progress)
        alert_lines = _alerts_demo(lake, sim, now)
    record = records[-1]
    print(f"\nRun {record.run_id}: {record.outcome}; {record.requests} requests, {record.pages} pages, "
          f"{record.rows('usage'):,} usage rows, {record.rows('cost'):,} cost rows", file=out)
    print(_objects(lake), file=out)
    print("", file=out)
    day_list = [first + timedelta(days=i) for i in range(days)]
    print(spend_and_tokens(lake, day_list), file=out)
    ok = _check_against_simulator(lake, org, day_list, now, out)
    print("", *alert_lines, sep="\n", file=out)
    print("", *_next_steps(lake_dir), sep="\n", file=out)
    return 0 if ok and record.outcome == "succeeded" else 1


def _next_steps(lake_dir: str) -> list[str]:
    """What to type next; `make demo` installs `usage-lake` into .venv/bin, which is not on PATH until activated."""
    command = "usage-lake"
    lines = ["Next:"]
    if shutil.which(command) is None:
        script = Path(sys.executable).parent / command
        try:
            command = os.path.relpath(script) if script.is_relative_to(Path.cwd()) else str(script)
        except ValueError:  # another drive (Windows)
            command = str(script)
        activate = os.path.join(os.path.dirname(command), "activate")
        lines = [f"Next: usage-lake is installed in {os.path.dirname(command)}/, which is not on your PATH: call it by "
                 f"that path as below, or run `source {activate}` once and then just `usage-lake ...`."]
    steps = [(f"{command} summary --lake {lake_dir}", "tokens and spend by day and model"),
             (f"{command} runs --lake {lake_dir}", "the run log"), (f"{command} --help", "every command")]
    width = max(len(step) for step, _ in steps)
    return lines + [f"  {step:<{width}}   # {what}" for step, what in steps]


def _alerts_demo(lake: LocalLake, sim: Simulator, now: datetime) -> list[str]:
    """The hourly incremental run as deployed, with a daily threshold a busy day passes: alerts go to the outbox."""
    billed = [s.billed_usd for d in range(1, 4) if (s := read_day(lake, now.date() - timedelta(days=d))).billed_usd]
    threshold = (min(billed) // 10 * 10) if billed else Decimal(50)
    settings = Settings(base_url=sim.base_url, daily_spend_threshold_usd=threshold)
    earlier = set(lake.list(OUTBOX))
    with Progress(sys.stderr) as progress:
        record = run_to_completion(RunRequest(mode=Mode.INCREMENTAL, now=now), settings=settings, key=AdminKey(sim.admin_key),
                                   lake=lake, progress=progress, publisher=OutboxPublisher(lake))[-1]
    keys = lake.list(OUTBOX)
    sent_now = [json.loads(lake.get(key)) for key in keys if key not in earlier]
    sent_before = [json.loads(lake.get(key)) for key in keys if key in earlier]
    lines = [f"Alerts: an incremental run with DAILY_SPEND_THRESHOLD_USD={threshold} sent {record.alerts_sent} alert(s) "
             f"to {lake.uri(OUTBOX)} (SNS e-mail when deployed); each alert is sent once, so re-running sends none again."]
    lines += [f"  - {message['subject']}" for message in sent_now]
    if sent_before:
        lines.append(f"{len(sent_before)} alert(s) in the outbox were sent by an earlier run (an earlier `make demo` on this lake), "
                     "not by this one:")
        lines += [f"  - {message['subject']}" for message in sent_before]
    shown = (sent_now or sent_before)[:1]
    if shown:
        lines += ["", "The first one, as the e-mail reads:", "", *("    " + line for line in shown[0]["text"].splitlines())]
    return lines


def _objects(lake: LocalLake) -> str:
    lines = ["Objects in the lake:"]
    for area in ("raw/usage", "raw/cost", "usage_messages", "cost_report", "claude_code_usage", "claude_code_models",
                 "workspaces", "api_keys", "users", "labels", "runs", "alerts"):
        keys = lake.list(area + "/")
        size = sum((lake.root / k).stat().st_size for k in keys)
        lines.append(f"  {area + '/':<18}{len(keys):>5} objects {size / 1024:>10,.1f} KiB")
    return "\n".join(lines)


def _check_against_simulator(lake: LocalLake, org: SimulatedOrg, days: list[date], now: datetime, out: TextIO) -> bool:
    """The lake's totals must equal the simulator's to the token and to the cent-fraction."""
    start = midnight(days[0])
    usage = read_table(lake, "usage_messages", days)
    cost = read_table(lake, "cost_report", days)
    lake_tokens = token_totals(usage)
    sim_tokens = counters_by_column(org.usage_totals(start, now))
    lake_cents = pc.sum(cost.column("amount_cents")).as_py() if cost.num_rows else 0
    sim_cents = org.cost_total_cents(start, midnight(now.date()))
    models = read_table(lake, "claude_code_models", days)
    lake_code = (read_table(lake, "claude_code_usage", days).num_rows, models.num_rows,
                 pc.sum(models.column("estimated_cost_cents")).as_py() if models.num_rows else 0)
    code = org.claude_code.totals(days)
    sim_code = (code["records"], code["model_rows"], code["estimated_cost_cents"])
    ok = lake_tokens == sim_tokens and lake_cents == sim_cents and lake_code == sim_code
    verdict = "equal the simulator's exactly" if ok else "DIFFER from the simulator's"
    print(f"\nLake totals {verdict}: tokens {sum(lake_tokens.values()):,} vs {sum(sim_tokens.values()):,}; "
          f"billed {usd(Decimal(lake_cents) / 100)} vs {usd(sim_cents / 100)}; Claude Code {lake_code[0]} records, "
          f"{usd(Decimal(lake_code[2]) / 100)} estimated vs {sim_code[0]}, {usd(sim_code[2] / 100)}", file=out)
    return ok
