"""Measure one scheduled (incremental) run of a large org: the figures the README's monthly cost is worked from.

    .venv/bin/python infra/measure_incremental.py [--keys 1000] [--models 10] [--cpus 1]

The simulator's large org (every API key x every model active every hour) runs in its own process; the run
itself - the real pipeline, `USAGE_LOOKBACK_DAYS=3`, `COST_LOOKBACK_DAYS=3`, 1h buckets, into a local lake -
runs in a child process pinned to `--cpus` cores (Lambda at 1,024 MB has about 0.58 of a vCPU). Prints and
saves (build/measure-incremental.json): wall and CPU seconds, peak RSS, requests, rows, objects and bytes
written per lake area. Every run writes that much again: raw pages are new objects, curated days replace
the previous versions (which the bucket keeps as noncurrent versions until they expire).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, resource, sys, time
cpus = int(sys.argv[4])
if cpus and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cpus]))
from usage_lake.app import IngestJob, parse_event
from usage_lake.config import AdminKey, Settings
from usage_lake.lake import LocalLake
base_url, key, lake_dir = sys.argv[1:4]
settings = Settings(base_url=base_url, usage_lookback_days=3, cost_lookback_days=3)
wall = time.perf_counter()
record = IngestJob(settings=settings, key=AdminKey(key), lake=LocalLake(lake_dir)).run(parse_event({"mode": "incremental"}))
wall = time.perf_counter() - wall
usage = resource.getrusage(resource.RUSAGE_SELF)
peak = next((int(l.split()[1]) // 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")), 0)
print(json.dumps({"outcome": record.outcome, "seconds": round(wall, 2), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
                  "peak_rss_mb": peak, "requests": record.requests, "pages": record.pages,
                  "usage_rows": record.rows("usage"), "cost_rows": record.rows("cost")}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--cpus", type=int, default=1, help="cores the run may use (0: all)")
    args = parser.parse_args()
    port = free_port()
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    simulator = subprocess.Popen(
        [sys.executable, "-c", "import sys; from usage_lake.simulator import SimulatedOrg, Simulator; "
         f"s = Simulator(SimulatedOrg.large(api_keys={args.keys}, models={args.models}), port={port}); "
         "print('ready', s.base_url, s.admin_key, flush=True); s.serve_forever()"],
        stdout=subprocess.PIPE, text=True, env=env)
    try:
        _, base_url, key = simulator.stdout.readline().split()
        with tempfile.TemporaryDirectory() as lake_dir:
            child = subprocess.run([sys.executable, "-c", CHILD, base_url, key, lake_dir, str(args.cpus)],
                                   capture_output=True, text=True, env=env, timeout=1800)
            if child.returncode != 0:
                raise SystemExit(child.stderr)
            result = json.loads(child.stdout.strip().splitlines()[-1])
            areas: dict[str, dict[str, float]] = {}
            for path in Path(lake_dir).rglob("*"):
                if path.is_file():
                    area = path.relative_to(lake_dir).parts[0]
                    entry = areas.setdefault(area, {"objects": 0, "mb": 0.0})
                    entry["objects"] += 1
                    entry["mb"] += path.stat().st_size / 1e6
    finally:
        simulator.terminate()
        simulator.wait()
    result["lake_written"] = {a: {"objects": v["objects"], "mb": round(v["mb"], 2)} for a, v in sorted(areas.items())}
    result["org"] = f"{args.keys} API keys x {args.models} models, every hour"
    result["cpus"] = args.cpus or os.cpu_count()
    result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = ROOT / "build" / "measure-incremental.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
