"""`make bench-cold-start` (also part of `make bench`): the Lambda's cold start, measured on the built zip.

A benchmark, not a test: it prints figures and fails only if the package misbehaves (boto3 or the X-Ray SDK
loaded at import, a module compiled from source although the zip carries its bytecode).

What it runs: `dist/lambda.zip` (built by `make package` if it is missing or stale) unpacked as Lambda
unpacks it into /var/task, under Python 3.13, each figure in a fresh process (`python -I`, so nothing from the
interpreter's own site-packages), pinned to one core (`--cpus`). boto3 and its dependencies come from a side
folder, as the runtime provides them from /var/runtime: once as pip installs them (no bytecode) and once
compiled, since whether the runtime ships bytecode for its boto3 is the runtime's business; the two bracket it.
The runs of every figure are interleaved, so machine noise hits them alike; medians are reported.

    python bench/bench_cold_start.py [--runs 9] [--cpus 1]

Figures:
- `import pyarrow` alone: the floor any handler that uses Arrow pays.
- `import handlers.ingest`: what the Lambda's init phase runs; tracing on and off (it must not differ: the
  Tracer is built on the first invocation).
- the same without the zip's bytecode (every module compiled from source), and the import as the handler did it
  before: without bytecode, with boto3 and a Tracer (the X-Ray SDK, built whether tracing was on or off).
- first use, paid on the first invocation: boto3 and the four clients a run makes (S3, Secrets Manager, SNS;
  Lambda only for a backfill's hand-over: not counted), with and without the runtime's bytecode; the Tracer
  (X-Ray SDK import and patching) when tracing is on.
- the modules that cost most, from `python -X importtime`.
Each figure is wall time (what a cold start waits) and the process's CPU time (what it would be on an idle core:
on a shared build machine the wall time also holds the other jobs' turns).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
WORK = ROOT / "build" / "cold-start"


def _packager():
    spec = importlib.util.spec_from_file_location("usage_lake_package", ROOT / "infra" / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


package = _packager()

# each probe prints one JSON line; the task root and the runtime folder come first on sys.path, as on Lambda
PROBE = r"""
import json, os, sys, time
cpus = int(os.environ["BENCH_CPUS"])
if cpus and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cpus]))
sys.path[:0] = [sys.argv[1], sys.argv[2]]
what = sys.argv[3]
c0, t0 = time.process_time(), time.perf_counter()
if what == "pyarrow":
    import pyarrow
    result = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
elif what == "before":  # the previous handler's import: no bytecode, boto3 and a Tracer (the X-Ray SDK) at import
    import boto3, handlers.ingest
    from aws_lambda_powertools import Tracer
    Tracer(service="bench")
    result = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
else:
    import handlers.ingest
    t1 = time.perf_counter()
    result = {"seconds": t1 - t0, "cpu_seconds": time.process_time() - c0,
              "loaded_at_import": sorted(m for m in ("boto3", "botocore.session", "aws_xray_sdk") if m in sys.modules)}
    compiled = [m.__spec__.cached for m in list(sys.modules.values()) if getattr(m, "__file__", None)
                and m.__file__.startswith(sys.argv[1]) and m.__file__.endswith(".py")]
    result["modules_from_zip"] = len(compiled)
    result["modules_with_bytecode"] = sum(1 for c in compiled if c and os.path.exists(c))
    if what == "first_use":  # in the handler's order: the Tracer (first invocation), then the run's clients
        t2 = time.perf_counter()
        tracer = handlers.ingest.tracer()
        result["tracer_seconds"] = time.perf_counter() - t2
        result["tracing"] = tracer is not None and not tracer.disabled
        t3 = time.perf_counter()
        import boto3
        for service in ("s3", "secretsmanager", "sns"):
            boto3.client(service)
        result["boto3_seconds"] = time.perf_counter() - t3
print(json.dumps(result))
"""


def python313() -> list[str]:
    found = package.python313()
    if found is None:
        raise SystemExit("no Python 3.13 here (tried $PYTHON313 and python3.13 with PYENV_VERSION=3.13.0): the cold start "
                         "is measured under the Lambda runtime's Python")
    return found


def unpacked(zip_path: Path) -> Path:
    """The zip as /var/task holds it; unpacked again only when the zip changed."""
    stamp = package.zip_sizes(zip_path)["sha256"]
    task = WORK / "task"
    marker = WORK / "task.sha256"
    if not (marker.is_file() and marker.read_text() == stamp and task.is_dir()):
        shutil.rmtree(task, ignore_errors=True)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(task)
        marker.write_text(stamp)
    return task


def without_bytecode(task: Path) -> Path:
    """A copy of the task root with every __pycache__ removed: the zip as it was built before."""
    plain = WORK / "task-no-bytecode"
    marker = WORK / "task-no-bytecode.sha256"
    stamp = (WORK / "task.sha256").read_text()
    if not (marker.is_file() and marker.read_text() == stamp and plain.is_dir()):
        shutil.rmtree(plain, ignore_errors=True)
        shutil.copytree(task, plain, ignore=shutil.ignore_patterns("__pycache__"))
        marker.write_text(stamp)
    return plain


def compiled_runtime(runtime: Path, python: list[str]) -> Path:
    """The runtime stand-in with bytecode, for the other end of the bracket."""
    target = WORK / "runtime-bytecode"
    marker = WORK / "runtime-bytecode.stamp"
    stamp = (runtime / ".lock-sha256").read_text()
    if not (marker.is_file() and marker.read_text() == stamp and target.is_dir()):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(runtime, target)
        package.compile_bytecode(target, python)
        marker.write_text(stamp)
    return target


def probe(python: list[str], task: Path, runtime: Path, what: str, *, tracing: bool, cpus: int) -> dict:
    env = {"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "BENCH_CPUS": str(cpus), "POWERTOOLS_SERVICE_NAME": "bench"}
    if tracing:  # what `Tracing: Active` gives a function: in Lambda, tracing not disabled
        env |= {"LAMBDA_TASK_ROOT": str(task), "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
                "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}
    else:
        env |= {"POWERTOOLS_TRACE_DISABLED": "true"}
    out = subprocess.run([*python, "-I", "-B", "-c", PROBE, str(task), str(runtime), what], capture_output=True, text=True,
                         env=env, cwd=WORK, timeout=120)
    if out.returncode != 0:
        raise SystemExit(f"probe {what} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def top_modules(python: list[str], task: Path, runtime: Path, cpus: int, count: int = 12) -> dict:
    """`-X importtime` of one cold import: the costliest modules (self time) and packages (summed self time)."""
    code = (f"import os, sys; os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:{cpus}])) if {cpus} else None; "
            f"sys.path[:0] = [{str(task)!r}, {str(runtime)!r}]; import handlers.ingest")
    out = subprocess.run([*python, "-I", "-B", "-X", "importtime", "-c", code], capture_output=True, text=True,
                         env={"PATH": os.environ["PATH"], "POWERTOOLS_TRACE_DISABLED": "true"}, cwd=WORK, timeout=120)
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        rows.append((name, int(self_us), int(cumulative_us)))
    packages: dict[str, int] = {}
    for name, self_us, _ in rows:
        packages[name.split(".")[0]] = packages.get(name.split(".")[0], 0) + self_us
    total = next(c for n, _, c in rows if n == "handlers.ingest")
    return {
        "total_ms_under_importtime": round(total / 1000),
        "packages_ms": {n: round(us / 1000) for n, us in sorted(packages.items(), key=lambda kv: -kv[1])[:count]},
        "modules_self_ms": {n: round(s / 1000, 1) for n, s, _ in sorted(rows, key=lambda r: -r[1])[:count]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per figure (medians are reported)")
    parser.add_argument("--cpus", type=int, default=1, help="cores each process may use (0: all); Lambda at 1,024 MB has ~0.58")
    args = parser.parse_args()
    python = python313()
    WORK.mkdir(parents=True, exist_ok=True)
    zip_path = package.build(quiet=True)
    task = unpacked(zip_path)
    plain = without_bytecode(task)
    runtime = package.runtime_deps(ROOT / "build" / "runtime-provided")
    runtime_compiled = compiled_runtime(runtime, python)
    cpus = min(args.cpus, len(os.sched_getaffinity(0))) if args.cpus else len(os.sched_getaffinity(0))
    figures = {
        "import pyarrow": ("pyarrow", task, runtime, False),
        "import handlers.ingest (tracing off)": ("import", task, runtime, False),
        "import handlers.ingest (tracing on)": ("import", task, runtime, True),
        "import handlers.ingest, runtime boto3 & co. with bytecode": ("import", task, runtime_compiled, False),
        "import handlers.ingest, zip without bytecode": ("import", plain, runtime, False),
        "as before: no bytecode, boto3 and the X-Ray SDK at import": ("before", plain, runtime, False),
        "first use, tracing on, runtime boto3 without bytecode": ("first_use", task, runtime, True),
        "first use, tracing on, runtime boto3 with bytecode": ("first_use", task, runtime_compiled, True),
    }
    load = os.getloadavg()[0]
    print(f"Cold start of {zip_path.relative_to(ROOT)} under {' '.join(python)}: {args.runs} fresh processes per figure, "
          f"interleaved, each pinned to {cpus} core(s) of {os.cpu_count()} (load average {load:.1f} at the start)", flush=True)
    samples: dict[str, list[dict]] = {name: [] for name in figures}
    for _ in range(args.runs):
        for name, (what, root, rt, tracing) in figures.items():
            samples[name].append(probe(python, root, rt, what, tracing=tracing, cpus=cpus))
    results: dict = {"python": " ".join(python), "cpus": cpus, "runs": args.runs, "zip_sha256": package.zip_sizes(zip_path)["sha256"],
                     "load_average": [round(load, 1), round(os.getloadavg()[0], 1)]}

    def median(name: str, key: str = "seconds") -> float:
        return round(statistics.median(s[key] for s in samples[name]), 3)

    for name in figures:
        results[name] = {"median_s": median(name), "min_s": round(min(s["seconds"] for s in samples[name]), 3),
                         "max_s": round(max(s["seconds"] for s in samples[name]), 3), "cpu_median_s": median(name, "cpu_seconds")}
    for name in ("first use, tracing on, runtime boto3 without bytecode", "first use, tracing on, runtime boto3 with bytecode"):
        results[name] |= {"boto3_and_3_clients_median_s": median(name, "boto3_seconds"), "tracer_median_s": median(name, "tracer_seconds")}
    imported = samples["import handlers.ingest (tracing on)"][0]
    leaked = sorted({m for s in samples["import handlers.ingest (tracing on)"] + samples["import handlers.ingest (tracing off)"]
                     for m in s["loaded_at_import"]})
    if leaked:
        raise SystemExit(f"importing handlers.ingest loaded {leaked}: they must wait for their first use")
    if imported["modules_with_bytecode"] != imported["modules_from_zip"]:
        raise SystemExit(f"only {imported['modules_with_bytecode']} of {imported['modules_from_zip']} modules imported from the zip have bytecode")
    if not all(s["tracing"] for s in samples["first use, tracing on, runtime boto3 with bytecode"]):
        raise SystemExit("the Tracer did not come up with tracing on")
    results["modules_from_zip_at_import"] = imported["modules_from_zip"]
    results["top"] = top_modules(python, task, runtime, cpus)

    handler, bare = results["import handlers.ingest (tracing off)"], results["import pyarrow"]
    results["ratio_to_import_pyarrow"] = round(handler["median_s"] / bare["median_s"], 1)
    results["cpu_ratio_to_import_pyarrow"] = round(handler["cpu_median_s"] / bare["cpu_median_s"], 1)
    width = max(len(name) for name in figures)
    for name in figures:
        r = results[name]
        extra = ""
        if "boto3_and_3_clients_median_s" in r:
            extra = (f"  + first invocation: Tracer {r['tracer_median_s']:.3f} s, then boto3 + S3/Secrets Manager/SNS clients "
                     f"{r['boto3_and_3_clients_median_s']:.3f} s")
        print(f"  {name:<{width}}  median {r['median_s']:.3f} s  [{r['min_s']:.3f} .. {r['max_s']:.3f}], CPU {r['cpu_median_s']:.3f} s{extra}")
    print(f"  import handlers.ingest = {results['ratio_to_import_pyarrow']} x import pyarrow ({results['cpu_ratio_to_import_pyarrow']} x in CPU "
          f"time, which other jobs on the machine disturb less); {imported['modules_from_zip']} modules from the zip, all from bytecode; "
          f"neither boto3 nor the X-Ray SDK loaded at import")
    top = results["top"]
    print(f"  costliest at import (self time, -X importtime, which inflates the total to {top['total_ms_under_importtime']} ms):")
    print("    packages: " + ", ".join(f"{n} {ms} ms" for n, ms in top["packages_ms"].items()))
    print("    modules:  " + ", ".join(f"{n} {ms} ms" for n, ms in top["modules_self_ms"].items()))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cold_start.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"figures saved to {(OUT / 'cold_start.json').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
