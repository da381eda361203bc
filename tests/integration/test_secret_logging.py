"""The Admin key appears in no log line at any level (issue 21 item 5): root logger at DEBUG, handler against moto
Secrets Manager + S3 and the simulator over HTTP."""

from __future__ import annotations

import json
import logging

import boto3
from support import LAKE_BUCKET, FakeContext, deploy_env


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()} {record.exc_text or ''}")


def test_root_at_debug_logs_no_key(aws, sim, monkeypatch, capsys):
    boto3.client("s3").create_bucket(Bucket=LAKE_BUCKET)
    boto3.client("secretsmanager").create_secret(Name="admin", SecretString=json.dumps({"admin_api_key": sim.admin_key}))
    deploy_env(monkeypatch, base_url=sim.base_url, secret_id="admin", bucket=LAKE_BUCKET, POWERTOOLS_LOG_LEVEL="DEBUG")
    root = logging.getLogger()
    everything = Everything()
    root.addHandler(everything)
    root.setLevel(logging.DEBUG)
    for name in ("botocore", "urllib3", "httpcore"):  # as a fresh Lambda process finds them: not set
        logging.getLogger(name).setLevel(logging.NOTSET)
    try:
        from handlers import ingest

        summary = ingest.handler({"mode": "incremental", "now": "2026-11-23T14:30:00Z", "reports": ["usage", "cost"]}, FakeContext())
    finally:
        root.removeHandler(everything)
    assert summary["outcome"] == "succeeded"
    captured = capsys.readouterr()
    lines = everything.lines + captured.out.splitlines() + captured.err.splitlines()
    assert len(lines) > 5  # the run logged ...
    assert [line for line in lines if sim.admin_key in line] == []  # ... and none carries the key
    secret_part = sim.admin_key[-12:]
    assert [line for line in lines if secret_part in line] == []
    assert logging.getLogger("botocore").getEffectiveLevel() >= logging.INFO
