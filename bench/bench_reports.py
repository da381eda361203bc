"""`make bench`, part 3: how long the reports take over a year of a large organization.

The simulator's large org (1,000 API keys x 10 models, every hour: 240,000 usage rows a day) fills a local
lake with N days of curated `usage_messages` and `cost_report` partitions, straight from the simulator's rows
in worker processes (no HTTP, no raw pages: the reports never read them; a day is checked equal to what the
production transform makes of the simulator's JSON). The lake is kept in bench/out/ and reused
by later runs (delete it, or pass --rebuild, to fill it again).

Then each report runs as a user runs it, `usage-lake report ...` in a fresh process, timed wall clock, with
its peak RSS; median of --repeat runs. A benchmark, not a test: it fails only if the figures are wrong.

    python bench/bench_reports.py [--days 365] [--repeat 3] [--workers 2] [--rebuild]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
KEYS, MODELS = 1000, 10
ROWS_PER_DAY = KEYS * MODELS * 24
END = date(2026, 11, 1)  # fixed, so a kept lake stays valid whatever day the bench runs

_org = None


def _fill_day(args: tuple[str, str]) -> None:
    """One day of the large org into the lake: usage (24 hourly buckets) and cost.

    Usage rows are taken from the simulator's per-stream hourly rows straight into Arrow (the JSON round trip of
    the API is bench_transform's subject, and costs 2/3 of the time here), with the production estimate; cost goes
    through the simulator's JSON and the production `cost_table`. A day already in the lake is kept (resumable).
    """
    global _org
    from usage_lake.lake import LocalLake
    from usage_lake.lake.curated import store_day
    from usage_lake.lake.layout import partition_key
    from usage_lake.simulator.org import SimulatedOrg
    from usage_lake.sources.admin.cost import COST_GROUP_BY, cost_table
    from usage_lake.sources.http import decode_page

    lake_dir, day_text = args
    day = date.fromisoformat(day_text)
    lake = LocalLake(lake_dir)
    keys = [partition_key(name, day) for name in ("usage_messages", "cost_report")]
    if all(lake.exists(k) for k in keys):
        return
    if _org is None:
        _org = SimulatedOrg.large(api_keys=KEYS, models=MODELS)
    stamp = datetime.now(UTC)
    usage = usage_day(_org, day, stamp)
    cost = _org.render_cost(tuple(COST_GROUP_BY), [(day, True)])
    store_day(lake, "usage_messages", day, usage)
    costs = cost_table(decode_page(_page(cost.buckets)), run_id="bench", ingested_at=stamp, where="bench")
    store_day(lake, "cost_report", day, costs)


def usage_day(org, day: date, stamp: datetime) -> pa.Table:  # noqa: ANN001 - a SimulatedOrg
    """A day of `usage_messages` from the simulator's hourly rows, as the pipeline would write it (estimate included)."""
    import pyarrow.compute as pc

    from usage_lake.lake.schema import USAGE_COUNTERS, USAGE_MESSAGES
    from usage_lake.money import default_prices, estimated_cost
    from usage_lake.simulator.org import STREAM_DIMS, epoch_seconds

    start = epoch_seconds(datetime(day.year, day.month, day.day, tzinfo=UTC))
    streams: list[int] = []
    counts: list[tuple[int, ...]] = []
    hours: list[int] = []
    for h in range(24):
        rows = org.bucket_rows(start + 3600 * h, "1h")
        streams += [s for s, _ in rows]
        counts += [c for _, c in rows]
        hours += [start + 3600 * h] * len(rows)
    index = pa.array(streams, pa.int32())
    n = len(streams)
    seconds = pa.array(hours, pa.int64())
    columns: dict[str, pa.Array] = {
        "bucket_start": pc.multiply(seconds, 1000).cast(pa.timestamp("ms", tz="UTC")),
        "bucket_end": pc.multiply(pc.add(seconds, 3600), 1000).cast(pa.timestamp("ms", tz="UTC")),
        "bucket_width": pa.array(["1h"] * n, pa.string()),
    }
    for dim in STREAM_DIMS:
        columns[dim] = pa.array([getattr(s, dim) for s in org.streams], pa.string()).take(index)
    columns["account_id"] = pa.nulls(n, pa.string())
    columns["service_account_id"] = pa.nulls(n, pa.string())
    for name, values in zip(USAGE_COUNTERS, zip(*counts, strict=True), strict=True):
        columns[name] = pa.array(values, pa.int64())
    columns["ingested_at"] = pa.array([stamp] * n, pa.timestamp("ms", tz="UTC"))
    columns["run_id"] = pa.array(["bench"] * n, pa.string())
    columns["estimated_cost_usd"] = pa.nulls(n, USAGE_MESSAGES.field("estimated_cost_usd").type)
    columns["estimate_basis"] = pa.nulls(n, pa.string())
    table = pa.table(columns, schema=USAGE_MESSAGES)
    index_of = table.schema.get_field_index("estimated_cost_usd")
    return table.set_column(index_of, USAGE_MESSAGES.field("estimated_cost_usd"), estimated_cost(table, default_prices()))


def check_against_the_pipeline(day: date) -> None:
    """The direct table of a day equals what the production transform makes of the simulator's JSON page."""
    from usage_lake.simulator.org import STREAM_DIMS, SimulatedOrg, UsageQuery, epoch_seconds
    from usage_lake.sources.admin.usage import usage_table
    from usage_lake.sources.http import decode_page

    org = SimulatedOrg.large(api_keys=KEYS, models=MODELS)
    stamp = datetime.now(UTC)
    start = epoch_seconds(datetime(day.year, day.month, day.day, tzinfo=UTC))
    page = org.render_usage(UsageQuery(bucket_width="1h", group_by=STREAM_DIMS), [start + 3600 * h for h in range(24)])
    piped = usage_table(decode_page(_page(page.buckets)), bucket_width="1h", run_id="bench", ingested_at=stamp, where="bench")
    direct = usage_day(org, day, stamp)
    keep = [c for c in piped.column_names if c not in ("ingested_at",)]
    if not piped.select(keep).equals(direct.select(keep)):
        raise SystemExit("the bench's usage table differs from the production transform's")


def _page(buckets: list[bytes]) -> bytes:
    return b'{"data":[' + b",".join(buckets) + b'],"has_more":false,"next_page":null}'


def fill(lake_dir: Path, days: int, workers: int) -> dict:
    marker = lake_dir / "bench.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        if info["days"] == days and info["end"] == END.isoformat():
            print(f"  reusing the lake in {lake_dir} ({days} days)", flush=True)
            return info
    lake_dir.mkdir(parents=True, exist_ok=True)
    day_list = [(END - timedelta(days=days - i)).isoformat() for i in range(days)]
    print(f"  filling {lake_dir}: {days} days x {ROWS_PER_DAY:,} usage rows, {workers} worker process(es) ...", flush=True)
    check_against_the_pipeline(END - timedelta(days=1))
    began = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for i, _ in enumerate(pool.map(_fill_day, [(str(lake_dir), d) for d in day_list]), 1):
            if i % 30 == 0:
                print(f"    {i}/{days} days, {time.perf_counter() - began:.0f} s", flush=True)
    import pyarrow.parquet as pq

    files = {name: sorted((lake_dir / name).rglob("*.parquet")) for name in ("usage_messages", "cost_report")}
    usage_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files["usage_messages"])
    cost_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files["cost_report"])
    size = sum(f.stat().st_size for fs in files.values() for f in fs)
    if usage_rows != days * ROWS_PER_DAY:
        raise SystemExit(f"filled {usage_rows:,} usage rows, expected {days * ROWS_PER_DAY:,}")
    info = {"days": days, "end": END.isoformat(), "usage_rows": usage_rows, "cost_rows": cost_rows,
            "parquet_mb": round(size / 1e6, 1), "fill_seconds": round(time.perf_counter() - began)}
    marker.write_text(json.dumps(info))
    return info


def timed(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of one command in a fresh process."""
    began = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - began
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {child.stderr.read().decode() if child.stderr else ''}")
    return seconds, round(usage.ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365, help="days of the large org in the lake (default: a year)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes filling the lake")
    parser.add_argument("--rebuild", action="store_true", help="fill the lake again even if bench/out holds it")
    args = parser.parse_args()
    import duckdb

    lake_dir = OUT / f"lake-large-{args.days}d"
    if args.rebuild:
        shutil.rmtree(lake_dir, ignore_errors=True)
    print(f"Part 3: reports over {args.days} days of a {KEYS:,} keys x {MODELS} models org ({os.cpu_count()} cores; "
          f"DuckDB {duckdb.__version__} uses all of them) ...", flush=True)
    info = fill(lake_dir, args.days, args.workers)
    now = f"{(END - timedelta(days=1)).isoformat()}T23:30:00Z"  # today: the lake's last day
    cli = [sys.executable, "-m", "usage_lake.app.cli"]
    daily_csv = OUT / "bench-daily.csv"
    commands = {
        "report daily --days 365": [*cli, "report", "daily", "--days", "365", "--lake", str(lake_dir), "--now", now,
                                    "--format", "csv", "--out", str(daily_csv)],
        "report html --days 90": [*cli, "report", "html", "--days", "90", "--lake", str(lake_dir), "--now", now,
                                  "--out", str(OUT / "bench-report.html")],
        "summary (all time)": [*cli, "summary", "--lake", str(lake_dir), "--now", now, "--format", "json", "--out", str(OUT / "bench-summary.json")],
    }
    results: dict = {"machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, pyarrow {pa.__version__}, duckdb {duckdb.__version__}",
                     "lake": info, "reports": {}}
    for name, argv in commands.items():
        runs = [timed(argv) for _ in range(args.repeat)]
        seconds = sorted(s for s, _ in runs)
        results["reports"][name] = {"median_seconds": round(seconds[len(seconds) // 2], 1), "best_seconds": round(seconds[0], 1),
                                    "peak_rss_mb": max(m for _, m in runs)}
        r = results["reports"][name]
        print(f"  {name}: {r['median_seconds']} s median of {args.repeat} (best {r['best_seconds']} s), peak RSS {r['peak_rss_mb']} MB", flush=True)
    rows = list(csv.DictReader(daily_csv.open()))
    in_lake = min(args.days, 365)
    if len(rows) != 365 or sum(int(r["usage_rows"] or 0) for r in rows) != in_lake * ROWS_PER_DAY:
        raise SystemExit("report daily does not cover the lake's rows")
    results["reports"]["report html --days 90"]["html_kb"] = round((OUT / "bench-report.html").stat().st_size / 1024)
    print(f"  html report: {results['reports']['report html --days 90']['html_kb']} KB; "
          f"lake: {info['usage_rows']:,} usage rows, {info['parquet_mb']} MB of Parquet", flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "report_results.json").write_text(json.dumps(results, indent=2))
    print(f"figures saved to {OUT / 'report_results.json'}")


if __name__ == "__main__":
    main()
