"""Measure the scheduled (incremental) run of a large org: the figures the README's monthly cost is worked from.

    .venv/bin/python infra/measure_incremental.py [--keys 1000] [--models 10] [--cpus 1] [--org small]

The simulator's large org (every API key x every model active every hour) runs in its own process. Two
hourly runs go into one local lake, an hour apart (pinned `now`s): the first into the empty lake (no run log
yet, so its pages start at one day), the second as every later hourly run is (sized by the first's record,
re-reading pages the lake already holds). Each is the real pipeline - `USAGE_LOOKBACK_DAYS=3`,
`COST_LOOKBACK_DAYS=3`, 1h buckets - in a child process pinned to `--cpus` cores (Lambda at 1,024 MB has
about 0.58 of a vCPU). Prints and saves (build/measure-incremental.json), per run: wall and CPU seconds, peak
RSS, requests, rows, and the objects and bytes it wrote per lake area (new or replaced objects; raw pages
already held are not written again; replaced curated days leave noncurrent versions in a versioned bucket).
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
from datetime import UTC, datetime, timedelta
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
from collections import Counter
calls = Counter()
class CountingLake(LocalLake):  # what S3 would bill: PUT (put, put_if_absent), GET, HEAD (exists), LIST
    def put(self, key, data): calls["PUT"] += 1; return super().put(key, data)
    def put_if_absent(self, key, data): calls["PUT"] += 1; return super().put_if_absent(key, data)
    def get(self, key): calls["GET"] += 1; return super().get(key)
    def exists(self, key): calls["HEAD"] += 1; return super().exists(key)
    def list(self, prefix): calls["LIST"] += 1; return super().list(prefix)
base_url, key, lake_dir = sys.argv[1:4]
settings = Settings(base_url=base_url, usage_lookback_days=3, cost_lookback_days=3)
wall = time.perf_counter()
record = IngestJob(settings=settings, key=AdminKey(key), lake=CountingLake(lake_dir)).run(parse_event(json.loads(sys.argv[5])))
wall = time.perf_counter() - wall
usage = resource.getrusage(resource.RUSAGE_SELF)
peak = next((int(l.split()[1]) // 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")), 0)
print(json.dumps({"outcome": record.outcome, "seconds": round(wall, 2), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
                  "peak_rss_mb": peak, "requests": record.requests, "pages": record.pages, "raw_pages_reused": record.raw_pages_reused,
                  "usage_rows": record.rows("usage"), "cost_rows": record.rows("cost"),
                  "bytes_per_bucket": {f"{r}/{w}": n for (r, w), n in record.bytes_per_bucket.items()}, "lake_calls": dict(calls)}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def written(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> dict[str, dict[str, float]]:
    """Objects a run created or replaced, and their megabytes, per top-level lake area; raw pages also per report and day
    (the simulator's page cursors name their query, whose `ending_at` is the run's `now`, so its pages of past days
    never repeat from one run to the next; the API's cursors, a bucket time in its documented example, would)."""
    areas: dict[str, dict[str, float]] = {}
    for key, (size, mtime) in after.items():
        if before.get(key, (None, None))[1] != mtime:
            parts = key.split("/")
            names = [parts[0]] + ([f"raw pages {parts[1]} {parts[2]}"] if parts[0] == "raw" and parts[-1].startswith("page-") else [])
            for name in names:
                entry = areas.setdefault(name, {"objects": 0, "mb": 0.0})
                entry["objects"] += 1
                entry["mb"] += size / 1e6
    return {a: {"objects": int(v["objects"]), "mb": round(v["mb"], 2)} for a, v in sorted(areas.items())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--cpus", type=int, default=1, help="cores the run may use (0: all)")
    parser.add_argument("--org", choices=("large", "small"), default="large", help="small: the demo org (28 streams); --keys/--models ignored")
    args = parser.parse_args()
    port = free_port()
    org_expression = "SimulatedOrg.small()" if args.org == "small" else f"SimulatedOrg.large(api_keys={args.keys}, models={args.models})"
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    simulator = subprocess.Popen(
        [sys.executable, "-c", "import sys; from usage_lake.simulator import SimulatedOrg, Simulator; "
         f"s = Simulator({org_expression}, port={port}); "
         "print('ready', s.base_url, s.admin_key, flush=True); s.serve_forever()"],
        stdout=subprocess.PIPE, text=True, env=env)
    hour = datetime.now(UTC).replace(minute=15, second=0, microsecond=0)
    if hour > datetime.now(UTC):
        hour -= timedelta(hours=1)
    runs = {"first": hour - timedelta(hours=1), "hourly": hour}  # the schedule's minute 15, an hour apart
    result: dict = {}
    try:
        _, base_url, key = simulator.stdout.readline().split()
        with tempfile.TemporaryDirectory() as lake_dir:
            for name, now in runs.items():
                before = snapshot(Path(lake_dir))
                event = json.dumps({"mode": "incremental", "now": now.strftime("%Y-%m-%dT%H:%M:%SZ")})
                child = subprocess.run([sys.executable, "-c", CHILD, base_url, key, lake_dir, str(args.cpus), event],
                                       capture_output=True, text=True, env=env, timeout=1800)
                if child.returncode != 0:
                    raise SystemExit(child.stderr)
                run = json.loads(child.stdout.strip().splitlines()[-1])
                run["lake_written"] = written(before, snapshot(Path(lake_dir)))
                result[name] = run
    finally:
        simulator.terminate()
        simulator.wait()
    result["org"] = "the small demo org (28 streams)" if args.org == "small" else f"{args.keys} API keys x {args.models} models, every hour"
    result["cpus"] = args.cpus or os.cpu_count()
    result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = ROOT / "build" / "measure-incremental.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
