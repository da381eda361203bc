"""`make bench`: how fast raw usage pages become Parquet, and what a large backfill costs in memory and requests.

A benchmark, not a test: it prints figures and fails only if the results are wrong (row counts, totals).

Part 1, transform: the simulator's large org (1,000 API keys x 10 models, every hour) renders N hourly
days as raw pages, fetched over HTTP exactly as the pipeline fetches them (one day a page, as this org's pages
are); then each page is decoded, flattened and written as zstd Parquet, timed alone, beside Arrow's JSON
reader on the whole page and a plain `json.loads` + loop transform, interleaved on the same pages. This runs
in a child process pinned to one core (Lambda at 1,024 MB has about 0.58 of a vCPU, so one core is the
honest figure; Arrow still starts its usual threads, which then share that core), then again on two.

Part 2, a whole backfill: the simulator runs in its own process; the pipeline back-fills N days into a
local lake in another process, which reports its peak RSS, the requests it made, and the wall time.

    python bench/bench_transform.py [--days 31] [--transform-days 5] [--cpus 1,2] [--skip-backfill]
"""

from __future__ import annotations

import os
import sys

if os.environ.get("BENCH_CPUS"):  # a transform child: pin before pyarrow sizes and starts its thread pool
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:int(os.environ["BENCH_CPUS"])]))

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402
import pyarrow as pa  # noqa: E402

from usage_lake.config.settings import Settings  # noqa: E402
from usage_lake.lake.curated import parquet_bytes  # noqa: E402
from usage_lake.sources import registry  # noqa: E402
from usage_lake.sources.admin.usage import usage_table  # noqa: E402
from usage_lake.sources.http import decode_page  # noqa: E402

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
            response = http.get(report.path, params=report.params(start, start + timedelta(days=1), report.page_limit()))
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


def time_transforms(page_files: list[Path]) -> dict:
    """Each approach on each page, interleaved, so machine noise hits all of them alike; medians reported."""
    approaches = {
        "ours": lambda body: transform_page(body)[0],
        "pyarrow_whole_page": pyarrow_whole_page_transform,
        "json_loads_loop": naive_transform_page,
    }
    seconds: dict[str, list[float]] = {name: [] for name in approaches}
    cpu: dict[str, list[float]] = {name: [] for name in approaches}
    expected = KEYS * MODELS * 24
    sizes = []
    for path in page_files:
        body = path.read_bytes()
        sizes.append(len(body))
        for name, function in approaches.items():
            began, cpu_began = time.perf_counter(), time.process_time()
            rows = function(body)
            seconds[name].append(time.perf_counter() - began)
            cpu[name].append(time.process_time() - cpu_began)
            if rows != expected:
                raise SystemExit(f"{name} produced {rows} rows from one day, expected {expected}")
        del body
    median = {name: sorted(values)[len(values) // 2] for name, values in seconds.items()}
    cpu_median = {name: sorted(values)[len(values) // 2] for name, values in cpu.items()}
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "arrow_threads": pa.cpu_count(),
        "pages": len(page_files),
        "rows_per_page": expected,
        "raw_json_mb_per_day": round(sum(sizes) / len(sizes) / 1e6, 1),
        "parquet_mb_per_day": round(transform_page(page_files[0].read_bytes())[1] / 1e6, 2),
        "rows_per_second": round(expected / median["ours"]),
        "rows_per_second_best": round(expected / min(seconds["ours"])),
        "pyarrow_whole_page_rows_per_second": round(expected / median["pyarrow_whole_page"]),
        "naive_rows_per_second": round(expected / median["json_loads_loop"]),
        # per second of this process's CPU time (all its threads): on one core, what an idle core would do
        "rows_per_cpu_second": round(expected / cpu_median["ours"]),
        "pyarrow_whole_page_rows_per_cpu_second": round(expected / cpu_median["pyarrow_whole_page"]),
        "naive_rows_per_cpu_second": round(expected / cpu_median["json_loads_loop"]),
    }


def bench_transform(days: int, cpu_counts: list[int]) -> dict[str, dict]:
    """Render the pages once, then time them in one child process per core count (pinned before pyarrow loads)."""
    print(f"Part 1: rendering {days} hourly day(s) of a {KEYS:,} keys x {MODELS} models org ...", flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder:
        files = []
        for number, body in enumerate(fetch_pages(days)):
            files.append(Path(folder) / f"page-{number}.json")
            files[-1].write_bytes(body)
            del body
        for cpus in cpu_counts:
            child = subprocess.run([sys.executable, __file__, "--transform-child", *map(str, files)], capture_output=True, text=True,
                                   env=os.environ | {"BENCH_CPUS": str(cpus)}, check=False)
            if child.returncode != 0:
                raise SystemExit(f"transform child ({cpus} cores) failed:\n{child.stderr[-3000:]}")
            results[f"{cpus}_cpu"] = json.loads(child.stdout.strip().splitlines()[-1])
    return results


BACKFILL_CHILD = r"""
import json, os, resource, sys, time
from datetime import date
from usage_lake.app.runner import run_to_completion
from usage_lake.config import AdminKey, RunRequest, Settings
from usage_lake.lake import LocalLake
def peak_rss_mb():
    # VmHWM is this process's own high-water mark; ru_maxrss would include the parent's from before exec
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
start, end, base_url, key, lake_dir = sys.argv[1:6]
# the usage and cost reports (what this benchmark is about; Claude Code and the snapshots would add their own requests)
request = RunRequest(mode="backfill", start=date.fromisoformat(start), end=date.fromisoformat(end), reports=("usage", "cost"))
began = time.perf_counter()
records = run_to_completion(request, settings=Settings(base_url=base_url), key=AdminKey(key), lake=LocalLake(lake_dir))
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
    # a fresh lake: usage one day a page (a day of this org is 110 MB, near the 128 MiB budget); cost a query per
    # 7-day slice, the first one's first day alone (nothing known yet)
    slices = -(-days // 7)
    result["expected_requests"] = days + slices + (1 if days > 1 else 0)
    result["rows_per_second_end_to_end"] = round(result["usage_rows"] / result["seconds"])
    result["lake_mb"] = {area: round(size / 1e6, 1) for area, size in sizes.items()}
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--transform-child":
        print(json.dumps(time_transforms([Path(p) for p in sys.argv[2:]])))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=31, help="days in the whole backfill (part 2)")
    parser.add_argument("--transform-days", type=int, default=5, help="days of pages timed in part 1")
    parser.add_argument("--cpus", default="1,2", help="core counts to time the transform on, one child process each")
    parser.add_argument("--skip-backfill", action="store_true")
    args = parser.parse_args()
    cpu_counts = [min(int(n), len(os.sched_getaffinity(0))) for n in args.cpus.split(",")]
    results = {"machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, pyarrow {pa.__version__}, "
                          f"load average {os.getloadavg()[0]:.1f} at the start",
               "transform": bench_transform(args.transform_days, cpu_counts)}
    print(f"  {results['machine']}")
    for t in results["transform"].values():
        print(f"  transform on {t['cpus']} core(s) (median of {t['pages']} pages of {t['rows_per_page']:,} rows): "
              f"{t['rows_per_second']:,} rows/s (best page {t['rows_per_second_best']:,}); same pages, same cores: Arrow's JSON "
              f"reader on the whole page + flattening {t['pyarrow_whole_page_rows_per_second']:,} rows/s, json.loads + loop "
              f"{t['naive_rows_per_second']:,} rows/s; {t['raw_json_mb_per_day']} MB of JSON -> {t['parquet_mb_per_day']} MB of Parquet per day")
        print(f"    per CPU-second (Arrow threads {t['arrow_threads']}): ours {t['rows_per_cpu_second']:,}, Arrow whole page "
              f"{t['pyarrow_whole_page_rows_per_cpu_second']:,}, json.loads + loop {t['naive_rows_per_cpu_second']:,} rows")
    if not args.skip_backfill:
        results["backfill"] = bench_backfill(args.days)
        b = results["backfill"]
        print(f"  backfill: {b['usage_rows']:,} usage rows in {b['seconds']} s ({b['rows_per_second_end_to_end']:,} rows/s end to end, "
              f"simulator included), peak RSS {b['peak_rss_mb']} MB, {b['requests']} requests (expected {b['expected_requests']}); "
              f"lake {b['lake_mb']}")
        if b["requests"] != b["expected_requests"]:
            raise SystemExit(f"the backfill made {b['requests']} requests, expected {b['expected_requests']}")
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(f"figures saved to {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
