"""Cold start: importing the handler loads neither boto3 nor the X-Ray SDK; each comes with its first use.

Checked in a fresh interpreter (this process has long imported both). The times are measured by
`bench/bench_cold_start.py` on the built zip under Python 3.13, not here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from handlers.ingest import METRIC_NAMES, tracing_enabled

PROBE = r"""
import json, sys
heavy = lambda: sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "aws_xray_sdk") or m.startswith("botocore."))
import handlers.ingest
at_import = heavy()
tracer = handlers.ingest.tracer()
after_tracer = heavy()
from usage_lake.lake import S3Lake
S3Lake("bucket")  # the first S3 client
print(json.dumps({"at_import": at_import, "tracer": None if tracer is None else not tracer.disabled,
                  "xray_after_tracer": "aws_xray_sdk.core" in after_tracer, "boto3_after_client": "boto3" in heavy()}))
"""


def probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_", "AWS_SAM", "_X_AMZN"))}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120,
                         env=clean | {"AWS_DEFAULT_REGION": "us-east-1", "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9", **env})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_tracing_off_costs_nothing_the_tracer_is_never_built():
    report = probe(POWERTOOLS_TRACE_DISABLED="true", LAMBDA_TASK_ROOT="/var/task")
    assert report == {"at_import": [], "tracer": None, "xray_after_tracer": False, "boto3_after_client": True}


def test_tracing_on_builds_the_tracer_at_first_use_only():
    report = probe(LAMBDA_TASK_ROOT="/var/task")
    assert report == {"at_import": [], "tracer": True, "xray_after_tracer": True, "boto3_after_client": True}


@pytest.mark.parametrize(("env", "enabled"), [
    ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
    ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
    ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"}, False),
    ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
    ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
    ({}, False),  # outside Lambda (the CLI, tests)
])
def test_tracing_follows_powertools_rules(env, enabled):
    assert tracing_enabled(env) is enabled


def test_at_most_four_metric_names_and_the_handler_emits_no_other():
    assert len(METRIC_NAMES) <= 4 and "RunSucceeded" in METRIC_NAMES  # the "no successful run" alarm's
    source = (Path(__file__).resolve().parents[2] / "src" / "handlers" / "ingest.py").read_text()
    assert set(re.findall(r'(?:add_metric|single_metric)\(name="(\w+)"', source)) == set(METRIC_NAMES)
