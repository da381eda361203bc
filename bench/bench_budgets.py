"""How long a run's budget evaluation takes for a large organization, and how much memory it holds.

A benchmark, not a test. The simulator's large org (1,000 API keys x 10 models, every hour: 240,000 usage rows
a day) fills one day over HTTP, as the pipeline does, in a child process; that day's Parquet (usage and cost)
is then stored under every day of a month, so the lake holds a full month plus the days before it. Then one
run's alerting evaluates a budgets file of every period and scope kind, reading each day once (only the
columns it needs, aggregated by the dimensions a scope can name). It prints the wall time and the peak RSS of
the evaluating process, and checks the org budget's figure against the month's billed total.

    python bench/bench_budgets.py [--days 31]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.compute as pc

from usage_lake.alerts import Alerting
from usage_lake.app.jobs import IngestJob
from usage_lake.config.events import RunRequest
from usage_lake.config.secrets import AdminKey
from usage_lake.config.settings import Settings
from usage_lake.lake import LocalLake, read_table
from usage_lake.lake.layout import partition_key
from usage_lake.simulator import SimulatedOrg, Simulator

DAY = date(2026, 11, 2)


class Quiet:
    def __init__(self) -> None:
        self.sent = 0

    def publish(self, alert) -> str:
        self.sent += 1
        return f"m-{self.sent}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=31, help="days of the month in the lake (default 31: a whole month)")
    parser.add_argument("--fill", help=argparse.SUPPRESS)  # the child process: fill one day into this folder
    args = parser.parse_args()
    org = SimulatedOrg.large()
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    if args.fill:
        with Simulator(org, now=now) as sim:
            job = IngestJob(settings=Settings(base_url=sim.base_url), key=AdminKey(sim.admin_key), lake=LocalLake(args.fill))
            job.run(RunRequest(mode="backfill", start=DAY, end=DAY + timedelta(days=1), now=now))
        return
    with tempfile.TemporaryDirectory() as folder:
        lake = LocalLake(Path(folder) / "lake")
        subprocess.run([sys.executable, __file__, "--fill", str(lake.root)], check=True)
        usage, cost = lake.get(partition_key("usage_messages", DAY)), lake.get(partition_key("cost_report", DAY))
        days = [date(2026, 12, 3) - timedelta(days=n) for n in range(args.days + 2)]  # the month, and the 1st-3rd of December
        for day in days:
            lake.put(partition_key("usage_messages", day), usage)
            lake.put(partition_key("cost_report", day), cost)
        workspace = org.workspace_ids[1]
        keys = [k for k in org.api_key_ids[:50] if k]
        budgets = {"budgets": [
            {"name": "org-monthly", "period": "monthly", "amount": "1", "thresholds": [50, 80, 100], "forecast": True},
            {"name": "ws-weekly", "period": "weekly", "amount": "1", "scope": {"workspace_id": [workspace]}, "forecast": True},
            {"name": "keys-monthly", "period": "monthly", "amount": "1", "scope": {"api_key_id": keys}},
            {"name": "model-daily-output", "period": "daily", "measure": "output_tokens", "amount": "1",
             "scope": {"model": [org.models[0]]}},
            {"name": "tier-monthly-estimate", "period": "monthly", "measure": "estimated_cost", "amount": "1",
             "scope": {"service_tier": ["batch"]}},
        ]}
        path = Path(folder) / "budgets.json"
        path.write_text(json.dumps(budgets))
        publisher = Quiet()
        began = time.perf_counter()
        alerting = Alerting(lake, Settings(budgets=str(path)), publisher, run_id="bench", clock=lambda: now)
        alerts = alerting.evaluate([], now)
        elapsed = time.perf_counter() - began
        rows = alerting.budget_rows(now)
        november = next(r for r in rows if r["budget"] == "org-monthly" and r["period_id"] == "2026-11")
        billed = pc.sum(read_table(lake, "cost_report", [DAY]).column("amount_usd")).as_py() * sum(d.month == 11 for d in {*days, DAY})
        assert Decimal(november["figure"]) == billed, (november["figure"], billed)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"budget evaluation: {len(alerts)} alerts over {len(days)} days of {240_000:,} usage rows each "
              f"in {elapsed:.1f} s; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
