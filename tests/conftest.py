"""Shared fixtures: the simulator on a pinned clock, moto AWS, and the two lake sinks."""

from __future__ import annotations

import logging

import boto3
import pytest
from moto import mock_aws

from support import LAKE_BUCKET, NOW
from usage_lake.lake import LocalLake, S3Lake
from usage_lake.simulator import SimulatedOrg, Simulator


@pytest.fixture
def org() -> SimulatedOrg:
    return SimulatedOrg.small()


@pytest.fixture
def sim(org: SimulatedOrg):
    with Simulator(org, now=NOW) as simulator:
        yield simulator


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    """moto for every AWS call in the test, with fake credentials and no Powertools caches left over."""
    from aws_lambda_powertools.utilities import parameters

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    parameters.clear_caches()
    with mock_aws(config={"lambda": {"use_docker": False}}):  # Lambda calls are recorded, never run
        yield
    parameters.clear_caches()


@pytest.fixture
def s3_lake(aws) -> S3Lake:
    boto3.client("s3").create_bucket(Bucket=LAKE_BUCKET)
    return S3Lake(LAKE_BUCKET, "anthropic")


@pytest.fixture
def local_lake(tmp_path) -> LocalLake:
    return LocalLake(tmp_path / "lake")


@pytest.fixture(autouse=True)
def _logging_as_found():
    """Logging is process-wide: importing the Lambda handler hands the `usage_lake` loggers to Powertools (and
    stops them propagating), and `usage-lake` installs its own handler on the root logger. Each test gets the
    logging it found, whatever ran before it in the same worker."""
    root = logging.getLogger()
    level = root.level
    ours = {name: (list(logger.handlers), logger.propagate, logger.level) for name, logger in logging.root.manager.loggerDict.items()
            if name.startswith("usage_lake") and isinstance(logger, logging.Logger)}
    for name in ours:
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate, logger.level = [], True, logging.NOTSET
    yield
    for handler in [h for h in root.handlers if type(h).__module__.startswith("usage_lake.")]:
        root.removeHandler(handler)
    root.setLevel(level)
    for name, logger in logging.root.manager.loggerDict.items():
        if name.startswith("usage_lake") and isinstance(logger, logging.Logger):
            logger.handlers, logger.propagate, logger.level = ours.get(name, ([], True, logging.NOTSET))
