"""The Lambda artifact: `make package`'s dist/lambda.zip, within budget, and its handler run under Python 3.13.

The smoke test unpacks the very zip `sam deploy` uploads and invokes `handlers.ingest.handler` in a Python 3.13
subprocess (`python -I`: nothing from the interpreter's own site-packages) against the Admin API simulator and a
moto server, both running in this test process. boto3 comes from a side folder (infra/runtime-provided.lock), as
the Lambda runtime provides it from /var/runtime: it is not in the zip. The zip is rebuilt only when
infra/lambda-requirements.lock, infra/package.py or src/ change (building needs PyPI).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import boto3
import pytest
from support import NOW

from usage_lake.simulator import SimulatedOrg, Simulator

ROOT = Path(__file__).resolve().parents[2]
BUDGET_BYTES = 120 * 1024 * 1024
BUCKET = "smoke-lake"
SECRET = "anthropic/admin-api-key"
PYTHON313_CANDIDATES = ([os.environ["PYTHON313"]] if os.environ.get("PYTHON313") else []) + ["python3.13"]


def _load_packager():
    spec = importlib.util.spec_from_file_location("usage_lake_package", ROOT / "infra" / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


package = _load_packager()


def _python313() -> list[str] | None:
    env = os.environ | {"PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.13.0")}
    for candidate in PYTHON313_CANDIDATES:
        try:
            out = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 13))"],
                                 capture_output=True, text=True, env=env, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == "True":
            return [candidate]
    return None


PYTHON313 = _python313()
PYTHON313_ENV = {"PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.13.0")}
needs_313 = pytest.mark.skipif(
    PYTHON313 is None,
    reason="no Python 3.13 interpreter runs here (tried PYENV_VERSION=3.13.0 python3.13; set PYTHON313=/path/to/python3.13): "
           "the Lambda package's smoke test needs the runtime's Python version",
)


@pytest.fixture(scope="module")
def lambda_zip() -> Path:
    return package.build(quiet=False)


@pytest.fixture(scope="module")
def task_root(lambda_zip, tmp_path_factory) -> Path:
    """The zip unpacked, as Lambda unpacks it into /var/task."""
    root = tmp_path_factory.mktemp("var-task")
    with zipfile.ZipFile(lambda_zip) as archive:
        archive.extractall(root)
    return root


@pytest.fixture(scope="module")
def runtime_root() -> Path:
    """boto3 & co. for Python 3.13: what the runtime has in /var/runtime (never in the zip)."""
    return package.runtime_deps(ROOT / "build" / "runtime-provided")


# -- the zip ------------------------------------------------------------------------------------------

def test_zip_is_within_budget_and_holds_only_what_runs(lambda_zip):
    sizes = package.zip_sizes(lambda_zip)
    print(f"\nlambda.zip: {sizes['unzipped'] / 2**20:.1f} MiB unzipped, {sizes['zipped'] / 2**20:.1f} MiB zipped, "
          f"{sizes['files']} files")
    assert sizes["unzipped"] <= BUDGET_BYTES
    with zipfile.ZipFile(lambda_zip) as archive:
        names = archive.namelist()
    top = {name.split("/")[0] for name in names}
    assert {"handlers", "usage_lake", "pyarrow", "httpx", "aws_lambda_powertools", "msgspec", "aws_xray_sdk"} <= top
    assert "handlers/ingest.py" in names and "usage_lake/money/prices.json" in names
    assert not top & {"boto3", "botocore", "s3transfer", "bin"}  # the runtime provides boto3
    assert not [n for n in names if n.startswith("usage_lake/simulator/")]
    assert not [n for n in names if n.endswith((".pyx", ".pxd", ".h"))]
    if package.python313():  # bytecode for Python 3.13 beside every module, and for no other Python
        sources = {n for n in names if n.endswith(".py")}
        compiled = {n for n in names if n.endswith(".pyc")}
        assert compiled == {package.cached_name(n) for n in sources}
        assert {n.rsplit(".", 2)[-2] for n in compiled} == {"cpython-313"}
    assert not [n for n in names if n.startswith(("pyarrow/tests/", "pyarrow/include/")) or "flight" in n.lower()]
    assert names == sorted(names)  # deterministic order
    assert {i.date_time for i in zipfile.ZipFile(lambda_zip).infolist()} == {package.ZIP_DATE}


def test_zip_is_fresh_for_the_current_sources(lambda_zip):
    stamp = lambda_zip.with_name(lambda_zip.name + ".key")
    assert stamp.read_text().strip() == package.input_key()
    names = set(zipfile.ZipFile(lambda_zip).namelist())
    source = ROOT / "src" / "usage_lake"
    for path in source.rglob("*.py"):
        if "simulator" not in path.parts:
            assert f"usage_lake/{path.relative_to(source).as_posix()}" in names


def test_lock_leaves_out_what_the_runtime_provides():
    locked = [line.split("==")[0] for line in package.LOCK.read_text().splitlines() if "==" in line]
    assert {"pyarrow", "httpx", "aws-lambda-powertools", "msgspec"} <= set(locked)
    assert not set(locked) & set(package.RUNTIME_PROVIDED)
    assert all("--hash=sha256:" in chunk for chunk in package.LOCK.read_text().split("==")[1:])


# -- the handler under Python 3.13 ----------------------------------------------------------------------

DRIVER = r"""
import json, sys, time
task, runtime, events = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path[:0] = [task, runtime]  # Lambda's order: /var/task before the runtime's own packages

class Context:
    function_name = "anthropic-usage-lake-ingest"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:anthropic-usage-lake-ingest"
    aws_request_id = "6f1c2a55-6a3e-4b0e-9a55-3c0c6b6b1f00"
    def get_remaining_time_in_millis(self):
        return 900_000

started = time.perf_counter()
import handlers.ingest
imported = time.perf_counter() - started
at_import = sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore", "aws_xray_sdk"))
results = [handlers.ingest.handler(event, Context()) for event in events]  # one cold, then warm invocations
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pyarrow", "boto3", "botocore", "aws_xray_sdk"))
tracer = handlers.ingest.tracer()
tracing = tracer is not None and not tracer.disabled
print("SMOKE-RESULT " + json.dumps({"results": results, "import_seconds": imported, "modules": loaded, "tracing": tracing,
                                    "at_import": at_import,
                                    "files": sorted({getattr(sys.modules[m], "__file__", None) or "" for m in loaded})}))
"""


@pytest.fixture
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _aws_env(endpoint: str) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}


@needs_313
def test_the_zip_runs_the_handler_under_python_313(task_root, runtime_root, moto_server, tmp_path):
    aws = _aws_env(moto_server)
    client = lambda service: boto3.client(service, endpoint_url=moto_server, region_name="us-east-1",  # noqa: E731
                                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client("s3").create_bucket(Bucket=BUCKET)
    org = SimulatedOrg.small()
    topic = client("sns").create_topic(Name="smoke-alerts")["TopicArn"]
    queue = client("sqs").create_queue(QueueName="smoke-inbox")["QueueUrl"]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    # a backfill, then the hourly incremental run with a threshold every day passes: the alert path runs too
    events = [{"mode": "backfill", "start": "2026-11-18", "end": "2026-11-21", "now": "2026-11-23T14:30:00Z", "reports": ["usage", "cost"]},
              {"mode": "incremental", "now": "2026-11-23T14:30:00Z"}]  # every endpoint: Claude Code and the snapshots run in the zip too
    with Simulator(org, now=NOW) as sim:
        client("secretsmanager").create_secret(Name=SECRET, SecretString=json.dumps({"admin_api_key": sim.admin_key}))
        env = {
            "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path)), **PYTHON313_ENV, **aws,
            "LAKE_BUCKET": BUCKET, "LAKE_PREFIX": "anthropic", "ADMIN_KEY_SECRET_ID": SECRET,
            "ANTHROPIC_BASE_URL": sim.base_url, "USAGE_BUCKET_WIDTH": "1h", "USAGE_LOOKBACK_DAYS": "3",
            "COST_LOOKBACK_DAYS": "3", "DAILY_SPEND_THRESHOLD_USD": "10", "MONTHLY_BUDGET_USD": "", "SPIKE_RATIO": "",
            "ALERT_TOPIC_ARN": topic,
            "PRICING_OVERRIDES": "", "POWERTOOLS_SERVICE_NAME": "anthropic-usage-lake",
            "POWERTOOLS_METRICS_NAMESPACE": "AnthropicUsageLake", "LOG_LEVEL": "INFO",
            # what Lambda sets with `Tracing: Active`: the Tracer is on and patches boto3 and httpx through the
            # zip's aws_xray_sdk (segments go over UDP to a daemon address nobody listens on)
            "LAMBDA_TASK_ROOT": str(task_root), "AWS_LAMBDA_FUNCTION_NAME": "anthropic-usage-lake-ingest",
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
        }
        run = subprocess.run([*PYTHON313, "-I", "-B", "-c", DRIVER, str(task_root), str(runtime_root), json.dumps(events)],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        served = sim.served
    assert run.returncode == 0, f"the handler failed under Python 3.13:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    (line,) = [line for line in run.stdout.splitlines() if line.startswith("SMOKE-RESULT ")]
    report = json.loads(line.removeprefix("SMOKE-RESULT "))
    summary, incremental = report["results"]
    assert summary["outcome"] == "succeeded"
    # every row the simulator served over both invocations was written, exactly once per invocation
    assert summary["rows"]["usage"] + incremental["rows"]["usage"] == served.usage_rows > 0
    assert summary["rows"]["cost"] + incremental["rows"]["cost"] == served.cost_rows > 0
    # 3 days x (usage, cost), and the organization and workspaces snapshots FOCUS names its rows by (with their tags as labels)
    assert summary["days_written"] == 6 + 3
    # the alert path ran in the package: every day of the window passed $10, one SNS message each
    assert incremental["outcome"] == "succeeded" and incremental["alerts_sent"] == 4 and incremental["alerts_failed"] == 0
    messages = client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(json.loads(m["Body"])["Message"])["key"] for m in messages) == [
        "daily/2026-11-20/billed/t10", "daily/2026-11-21/billed/t10", "daily/2026-11-22/billed/t10", "daily/2026-11-23/estimated/t10"]
    # the code and pyarrow came from the zip, boto3 from the runtime stand-in; no dropped pyarrow part was needed
    assert all(f.startswith((str(task_root), str(runtime_root))) for f in report["files"] if f)
    assert "pyarrow.parquet" in report["modules"] and "boto3" in report["modules"]
    assert report["tracing"] is True  # the X-Ray Tracer ran, as it does in the deployed function
    # ... but only from the first invocation on: the import loaded neither boto3 (beyond botocore's bare package,
    # which Powertools' user-agent hook touches) nor the X-Ray SDK
    assert report["at_import"] == ["botocore"], report["at_import"]
    assert "aws_xray_sdk.core" in report["modules"]
    assert not [m for m in report["modules"] if m.split(".")[1:2] and m.split(".")[1].lstrip("_") in
                ("flight", "substrait", "dataset", "orc", "s3fs", "parquet_encryption")]
    assert "pyarrow._acero" in report["modules"]  # Table.group_by (the alerts' top lists) needs Acero: kept
    # the objects landed in the (moto) bucket: raw pages, curated days and the run log
    keys = [o["Key"] for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="anthropic/")
            for o in page.get("Contents", [])]
    # usage 11-18..11-23 (the backfill's three days, the incremental's 11-20..today), cost 11-18..11-22
    assert len([k for k in keys if k.startswith("anthropic/usage_messages/dt=")]) == 6
    assert len([k for k in keys if k.startswith("anthropic/cost_report/dt=")]) == 5
    assert len([k for k in keys if k.startswith("anthropic/focus/dt=")]) == 5  # each cost day's FOCUS day, built in the zip
    assert [k for k in keys if k.startswith("anthropic/raw/") and k.endswith(".json.gz")]
    assert len([k for k in keys if k.startswith("anthropic/runs/")]) == 2
    # the incremental run asked for every endpoint: the organization snapshots (today) and Claude Code (its lookback)
    for table in ("organization", "workspaces", "api_keys", "users", "invites", "workspace_members", "labels"):
        assert [k for k in keys if k.startswith(f"anthropic/{table}/dt=")] == [f"anthropic/{table}/dt=2026-11-23/{table}-2026-11-23.parquet"]
    assert len([k for k in keys if k.startswith("anthropic/claude_code_usage/dt=")]) == \
        len([d for d in range(20, 24) if not org.claude_code.is_empty(date(2026, 11, d))])
    assert len([k for k in keys if k.startswith("anthropic/alerts/sent/")]) == 4
    # the metrics the alarms watch, as EMF lines on stdout
    emf = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{") and '"_aws"' in line]
    succeeded = [m["RunSucceeded"] for m in emf if "RunSucceeded" in m]
    assert succeeded and (succeeded[0][0] if isinstance(succeeded[0], list) else succeeded[0]) == 1
    assert all(m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "AnthropicUsageLake" for m in emf if "RunSucceeded" in m)
    assert sim.admin_key not in run.stdout + run.stderr


@needs_313
def test_the_cold_import_uses_the_zips_bytecode_and_defers_boto3_and_xray(task_root, runtime_root, tmp_path):
    """What the cold start rests on, checked exactly (the times are `make bench`'s, not a test's): in a fresh 3.13
    process, `import handlers.ingest` from the unpacked zip takes every module of the zip from its unchecked-hash
    3.13 bytecode (`-B`: nothing is written, as on Lambda's read-only /var/task), and loads neither boto3 nor the
    X-Ray SDK, tracing on or off."""
    code = (
        "import importlib.util, json, os, sys; sys.path[:0] = sys.argv[1:3]; import handlers.ingest\n"
        "files = {m.__name__: m.__spec__.cached for m in list(sys.modules.values())\n"
        "         if (getattr(m, '__file__', None) or '').startswith(sys.argv[1]) and m.__file__.endswith('.py')}\n"
        "heads = {name: open(cached, 'rb').read(8).hex() if cached and os.path.exists(cached) else None for name, cached in files.items()}\n"
        "print(json.dumps({'heads': heads, 'magic': importlib.util.MAGIC_NUMBER.hex(),"
        " 'loaded': sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'aws_xray_sdk'))}))"
    )
    for tracing in ({"POWERTOOLS_TRACE_DISABLED": "true"}, {"LAMBDA_TASK_ROOT": str(task_root)}):
        env = {"PATH": os.environ["PATH"], **PYTHON313_ENV, "AWS_DEFAULT_REGION": "us-east-1", **tracing}
        out = subprocess.run([*PYTHON313, "-I", "-B", "-c", code, str(task_root), str(runtime_root)],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        assert report["loaded"] == ["botocore"]  # the bare package only: no session, client or boto3
        heads = report["heads"]
        assert len(heads) > 100 and "handlers.ingest" in heads and "pyarrow.compute" in heads
        # every header: this interpreter's magic number, then flags 0b01 (hash-based, source not checked)
        assert {name: head for name, head in heads.items() if head != report["magic"] + "01000000"} == {}


def test_skips_cleanly_without_python_313(monkeypatch):
    """What a machine without 3.13 sees: a skip with a reason, never an error."""
    monkeypatch.setattr(sys.modules[__name__], "PYTHON313_CANDIDATES", ["python3.13-that-does-not-exist"])
    assert _python313() is None
    assert "Python 3.13" in needs_313.kwargs["reason"]
