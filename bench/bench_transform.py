"""`make bench`: how fast raw usage pages become Parquet, and what a large backfill costs in memory and requests.

A benchmark, not a test: it prints figures and fails only if the results are wrong (row counts, totals).

Part 1, transform: the simulator's large org (1,000 API keys x 10 models, every hour) renders N hourly
days as raw pages, fetched over HTTP exactly as the pipeline fetches them; then each page is decoded,
flattened and written as zstd Parquet, timed alone. Compared with a plain `json.loads` + loop transform.

Part 2, a whole backfill: the simulator runs in its own process; the pipeline back-fills N days into a
local lake in another process, which reports its peak RSS, the requests it made, and the wall time.

    python bench/bench_transform.py [--days 31] [--transform-days 5] [--skip-backfill]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa

from usage_lake.config.settings import Settings
from usage_lake.lake.curated import parquet_bytes
from usage_lake.sources import registry
from usage_lake.sources.admin.usage import usage_table
from usage_lake.sources.http import decode_page

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
KEYS, MODELS = 1000, 10
END = datetime.now(UTC).date()  # the backfill ends yesterday (exclusive today), whole days only


def fetch_pages(days: int) -> list[bytes]:
    """N hourly days of the large org, one page per day, as the pipeline requests them."""
    from usage_lake.simulator import SimulatedOrg, Simulator

    report = registry.endpoint("usage", Settings(usage_bucket_width="1h"))
    pages = []
    with Simulator(SimulatedOrg.large(api_keys=KEYS, models=MODELS)) as sim, httpx.Client(
        base_url=sim.base_url, timeout=300, headers={"x-api-key": sim.admin_key, "anthropic-version": "2023-06-01"}
    ) as http:
        for i in range(days):
            day = END - timedelta(days=days - i)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            response = http.get(report.path, params=report.params(start, start + timedelta(days=1)))
            response.raise_for_status()
            pages.append(response.content)
    return pages


def transform_page(body: bytes) -> tuple[int, int]:
    """The production path: envelope decode, bulk parse, flatten, Parquet. Returns (rows, parquet bytes)."""
    table = usage_table(decode_page(body), bucket_width="1h", run_id="bench", ingested_at=datetime.now(UTC), where="bench")
    return table.num_rows, len(parquet_bytes(table))


def naive_transform_page(body: bytes) -> int:
    """The baseline the issue quotes: json.loads and a Python loop per row."""
    page = json.loads(body)
    columns: dict[str, list] = {}
    for bucket in page["data"]:
        for row in bucket["results"]:
            flat = {
                "bucket_start": bucket["starting_at"],
                "uncached_input_tokens": row["uncached_input_tokens"],
                "cache_creation_5m_input_tokens": row["cache_creation"]["ephemeral_5m_input_tokens"],
                "cache_creation_1h_input_tokens": row["cache_creation"]["ephemeral_1h_input_tokens"],
                "cache_read_input_tokens": row["cache_read_input_tokens"],
                "output_tokens": row["output_tokens"],
                "web_search_requests": row["server_tool_use"]["web_search_requests"],
                **{k: row.get(k) for k in ("api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo")},
            }
            for key, value in flat.items():
                columns.setdefault(key, []).append(value)
    table = pa.table(columns)
    parquet_bytes(table)
    return table.num_rows


def pyarrow_whole_page_transform(body: bytes) -> int:
    """The other baseline the issue quotes: Arrow's JSON reader on the whole page, then vectorised flattening."""
    import io

    import pyarrow.compute as pc
    import pyarrow.json as pajson

    from usage_lake.sources.admin.usage import USAGE_ROW

    schema = pa.schema([("data", pa.list_(pa.struct([("starting_at", pa.string()), ("ending_at", pa.string()),
                                                      ("results", pa.list_(pa.struct(list(USAGE_ROW))))])))])
    page = pajson.read_json(io.BytesIO(body), read_options=pajson.ReadOptions(block_size=len(body) + 1),
                            parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"))
    buckets = pc.list_flatten(page.column("data").combine_chunks())
    rows = pc.list_flatten(buckets.field("results"))
    starts = pc.take(buckets.field("starting_at"), pc.list_parent_indices(buckets.field("results")))
    columns = {"bucket_start": pc.strptime(starts, format="%Y-%m-%dT%H:%M:%SZ", unit="ms")}
    for name in ("uncached_input_tokens", "cache_read_input_tokens", "output_tokens", "api_key_id", "workspace_id", "model",
                 "service_tier", "context_window", "inference_geo"):
        columns[name] = rows.field(name)
    columns["cache_creation_5m_input_tokens"] = rows.field("cache_creation").field("ephemeral_5m_input_tokens")
    columns["cache_creation_1h_input_tokens"] = rows.field("cache_creation").field("ephemeral_1h_input_tokens")
    columns["web_search_requests"] = rows.field("server_tool_use").field("web_search_requests")
    table = pa.table(columns)
    parquet_bytes(table)
    return table.num_rows


def bench_transform(days: int) -> dict:
    """Each approach on each page, interleaved, so machine noise hits all of them alike; medians reported."""
    print(f"Part 1: rendering {days} hourly day(s) of a {KEYS:,} keys x {MODELS} models org ...", flush=True)
    pages = fetch_pages(days)
    approaches = {
        "ours": lambda body: transform_page(body)[0],
        "pyarrow_whole_page": pyarrow_whole_page_transform,
        "json_loads_loop": naive_transform_page,
    }
    seconds: dict[str, list[float]] = {name: [] for name in approaches}
    expected = KEYS * MODELS * 24
    for body in pages:
        for name, function in approaches.items():
            began = time.perf_counter()
            rows = function(body)
            seconds[name].append(time.perf_counter() - began)
            if rows != expected:
                raise SystemExit(f"{name} produced {rows} rows from one day, expected {expected}")
    median = {name: sorted(values)[len(values) // 2] for name, values in seconds.items()}
    return {
        "pages": len(pages),
        "rows_per_page": expected,
        "raw_json_mb_per_day": round(sum(len(p) for p in pages) / len(pages) / 1e6, 1),
        "parquet_mb_per_day": round(transform_page(pages[0])[1] / 1e6, 2),
        "rows_per_second": round(expected / median["ours"]),
        "rows_per_second_best": round(expected / min(seconds["ours"])),
        "pyarrow_whole_page_rows_per_second": round(expected / median["pyarrow_whole_page"]),
        "naive_rows_per_second": round(expected / median["json_loads_loop"]),
    }


BACKFILL_CHILD = r"""
import json, os, resource, sys, time
from datetime import date
from usage_lake.app.runner import run_to_completion
from usage_lake.config.events import RunRequest
from usage_lake.config.secrets import AdminKey
from usage_lake.config.settings import Settings
from usage_lake.lake import LocalLake
def peak_rss_mb():
    # VmHWM is this process's own high-water mark; ru_maxrss would include the parent's from before exec
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
start, end, base_url, key, lake_dir = sys.argv[1:6]
request = RunRequest(mode="backfill", start=date.fromisoformat(start), end=date.fromisoformat(end))
began = time.perf_counter()
records = run_to_completion(request, settings=Settings(base_url=base_url), key=AdminKey(key), lake=LocalLake(lake_dir), out=open(os.devnull, "w"))
seconds = time.perf_counter() - began
record = records[-1]
print(json.dumps({"outcome": record.outcome, "requests": sum(r.requests for r in records), "pages": sum(r.pages for r in records),
                  "usage_rows": sum(r.rows("usage") for r in records), "cost_rows": sum(r.rows("cost") for r in records),
                  "seconds": round(seconds, 1), "peak_rss_mb": peak_rss_mb()}))
"""


def bench_backfill(days: int) -> dict:
    start, end = END - timedelta(days=days), END
    print(f"Part 2: back-filling {start} .. {end} ({days} days, hourly) from a simulator in another process ...", flush=True)
    port = 18765
    simulator = subprocess.Popen([sys.executable, "-m", "usage_lake.app.cli", "simulate", "--org", "large", "--port", str(port)],
                                 stdout=subprocess.PIPE, text=True)
    try:
        banner = simulator.stdout.readline()  # "Admin API simulator (large org) on http://127.0.0.1:18765"
        if "simulator" not in banner:
            raise SystemExit(f"simulator did not start: {banner!r}")
        with tempfile.TemporaryDirectory() as lake_dir:
            child = subprocess.run([sys.executable, "-c", BACKFILL_CHILD, start.isoformat(), end.isoformat(),
                                    f"http://127.0.0.1:{port}", "sk-ant-admin01-simulator-0000", lake_dir],
                                   capture_output=True, text=True, check=True)
            result = json.loads(child.stdout.strip().splitlines()[-1])
            sizes = {area: sum(f.stat().st_size for f in Path(lake_dir, area).rglob("*") if f.is_file()) for area in ("raw", "usage_messages", "cost_report")}
    finally:
        simulator.terminate()
        simulator.wait()
    if result["usage_rows"] != days * KEYS * MODELS * 24:
        raise SystemExit(f"backfill wrote {result['usage_rows']} usage rows, expected {days * KEYS * MODELS * 24}")
    usage_queries = -(-days // 7)  # 7 days per hourly query at the maximum of 168 buckets per page
    result["minimum_requests"] = usage_queries + -(-days // 31)  # cost: 31 daily buckets per page
    result["rows_per_second_end_to_end"] = round(result["usage_rows"] / result["seconds"])
    result["lake_mb"] = {area: round(size / 1e6, 1) for area, size in sizes.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=31, help="days in the whole backfill (part 2)")
    parser.add_argument("--transform-days", type=int, default=5, help="days of pages timed in part 1")
    parser.add_argument("--skip-backfill", action="store_true")
    args = parser.parse_args()
    results = {"machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, pyarrow {pa.__version__}",
               "transform": bench_transform(args.transform_days)}
    t = results["transform"]
    print(f"  transform (median of {t['pages']} pages of {t['rows_per_page']:,} rows): {t['rows_per_second']:,} rows/s "
          f"(best page {t['rows_per_second_best']:,}); same pages, same machine: Arrow's JSON reader on the whole page "
          f"+ flattening {t['pyarrow_whole_page_rows_per_second']:,} rows/s, json.loads + loop {t['naive_rows_per_second']:,} rows/s; "
          f"{t['raw_json_mb_per_day']} MB of JSON -> {t['parquet_mb_per_day']} MB of Parquet per day")
    if not args.skip_backfill:
        results["backfill"] = bench_backfill(args.days)
        b = results["backfill"]
        print(f"  backfill: {b['usage_rows']:,} usage rows in {b['seconds']} s ({b['rows_per_second_end_to_end']:,} rows/s end to end, "
              f"simulator included), peak RSS {b['peak_rss_mb']} MB, {b['requests']} requests (minimum the page limits allow: "
              f"{b['minimum_requests']}); lake {b['lake_mb']}")
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(f"figures saved to {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
