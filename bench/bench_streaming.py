"""Memory of `usage-lake export` and `usage-lake sql` over millions of rows (issue 21.6): bounded, not growing with rows.

A benchmark, not a test. One day of the simulator's large org (1,000 API keys x 10 models, every hour: about
240,000 `usage_messages` rows) is made as the pipeline would write it, and its Parquet stored under as many
days as the row target needs (with the org's `workspaces` and `api_keys` snapshots, so `export` joins names).
Then, each in a fresh process, as a user runs them, timed wall clock with its peak RSS:

- `usage-lake export usage_messages --format csv` of --export-rows rows (default 9,000,000), names joined in;
- the same as Parquet;
- `usage-lake sql "SELECT * FROM usage_messages WHERE dt < ..." --format csv --out` of --sql-rows rows
  (default 3,000,000), streamed in record batches;
- the same to the terminal's table (capped at 1,000 rows, the rest counted).

    python bench/bench_streaming.py [--export-rows 9000000] [--sql-rows 3000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_reports import usage_day  # noqa: E402 - the reports benchmark's day, as the pipeline writes it

from usage_lake.lake import LocalLake, parquet_bytes  # noqa: E402
from usage_lake.lake.layout import partition_key  # noqa: E402
from usage_lake.simulator import SimulatedOrg  # noqa: E402

FIRST = date(2026, 1, 1)
LIMIT_MB = 600


def fill(root: Path, days: int) -> int:
    org = SimulatedOrg.large()
    day = usage_day(org, FIRST, datetime(2026, 1, 2, tzinfo=UTC))
    data = parquet_bytes(day)
    lake = LocalLake(root)
    for i in range(days):
        lake.put(partition_key("usage_messages", FIRST + timedelta(days=i)), data)
    directory = org.directory
    lake.put(partition_key("workspaces", FIRST), parquet_bytes(pa.Table.from_pylist(
        [{"id": w["id"], "name": w["name"]} for w in directory.workspaces])))
    lake.put(partition_key("api_keys", FIRST), parquet_bytes(pa.Table.from_pylist(
        [{"id": k["id"], "name": k["name"], "workspace_id": k["workspace_id"]} for k in directory.api_keys])))
    lake.put("raw/usage/bench.json", b"{}")  # a lake is where a run wrote something: the readers check for it
    return day.num_rows


def timed(argv: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) and stderr of one command in a fresh process."""
    began = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - began
    err = child.stderr.read().decode() if child.stderr else ""
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {err}")
    return seconds, round(usage.ru_maxrss / 1024), err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export-rows", type=int, default=9_000_000)
    parser.add_argument("--sql-rows", type=int, default=3_000_000)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "usage_lake.app.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "lake"
        began = time.perf_counter()
        per_day = fill(root, 1)
        export_days = -(-args.export_rows // per_day)
        sql_days = -(-args.sql_rows // per_day)
        fill(root, max(export_days, sql_days))
        print(f"Streaming outputs ({os.cpu_count()} cores; DuckDB threads = cores): {per_day:,} usage rows a day, "
              f"lake filled in {time.perf_counter() - began:.0f} s", flush=True)
        end = FIRST + timedelta(days=export_days)
        sql_end = FIRST + timedelta(days=sql_days)
        cases = [
            (f"export usage_messages csv, {export_days * per_day:,} rows", [*cli, "export", "usage_messages", "--lake", str(root),
             "--start", FIRST.isoformat(), "--end", end.isoformat(), "--out", f"{tmp}/export.csv"]),
            (f"export usage_messages parquet, {export_days * per_day:,} rows", [*cli, "export", "usage_messages", "--lake", str(root),
             "--start", FIRST.isoformat(), "--end", end.isoformat(), "--format", "parquet", "--out", f"{tmp}/export.parquet"]),
            (f"sql SELECT * csv to a file, {sql_days * per_day:,} rows", [*cli, "sql", f"SELECT * FROM usage_messages WHERE dt < '{sql_end}'",
             "--lake", str(root), "--format", "csv", "--out", f"{tmp}/sql.csv"]),
            (f"sql SELECT * table (1,000 shown), {sql_days * per_day:,} rows", [*cli, "sql",
             f"SELECT * FROM usage_messages WHERE dt < '{sql_end}'", "--lake", str(root)]),
        ]
        results = {}
        for name, argv in cases:
            seconds, rss, _ = timed(argv)
            out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else None
            size = f", {out.stat().st_size / 1e9:.2f} GB written" if out else ""
            verdict = "ok" if rss < LIMIT_MB else f"OVER {LIMIT_MB} MB"
            print(f"  {name}: {seconds:.0f} s, peak RSS {rss} MB{size} ({verdict})", flush=True)
            results[name] = {"seconds": round(seconds, 1), "peak_rss_mb": rss}
            if out:
                out.unlink()
        print(json.dumps(results))


if __name__ == "__main__":
    main()
