"""Settings.from_env (product.md, "Settings")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from usage_lake.config.settings import Settings, SettingsError

LAMBDA_ENV = {"LAKE_BUCKET": "my-usage-lake", "ADMIN_KEY_SECRET_ID": "anthropic/admin-key"}


def settings_error(env: dict[str, str], *, lambda_runtime: bool = False) -> str:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env, lambda_runtime=lambda_runtime)
    return str(info.value)


def test_defaults_outside_lambda() -> None:
    assert Settings.from_env({}) == Settings(
        lake_bucket=None,
        lake_prefix="",
        admin_key_secret_id=None,
        base_url="https://api.anthropic.com",
        usage_bucket_width="1h",
        usage_lookback_days=3,
        cost_lookback_days=3,
        alert_topic_arn=None,
        daily_spend_threshold_usd=None,
    )


def test_every_setting_is_read() -> None:
    settings = Settings.from_env({
        "LAKE_BUCKET": "my-usage-lake",
        "LAKE_PREFIX": "anthropic",
        "ADMIN_KEY_SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:anthropic-admin-AbCdEf",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:8080/",
        "USAGE_BUCKET_WIDTH": "1d",
        "USAGE_LOOKBACK_DAYS": "7",
        "COST_LOOKBACK_DAYS": "1",
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:usage-alerts",
        "DAILY_SPEND_THRESHOLD_USD": "250",
    }, lambda_runtime=True)
    assert settings == Settings(
        lake_bucket="my-usage-lake",
        lake_prefix="anthropic/",
        admin_key_secret_id="arn:aws:secretsmanager:us-east-1:123456789012:secret:anthropic-admin-AbCdEf",
        base_url="http://127.0.0.1:8080",
        usage_bucket_width="1d",
        usage_lookback_days=7,
        cost_lookback_days=1,
        alert_topic_arn="arn:aws:sns:us-east-1:123456789012:usage-alerts",
        daily_spend_threshold_usd=Decimal("250"),
    )


@pytest.mark.parametrize("width", ["1h", "1d", "1m"])
def test_each_documented_bucket_width_is_accepted(width: str) -> None:
    assert Settings.from_env({"USAGE_BUCKET_WIDTH": width}).usage_bucket_width == width


def test_lookback_bounds_are_accepted() -> None:
    assert Settings.from_env({"USAGE_LOOKBACK_DAYS": "1", "COST_LOOKBACK_DAYS": "31"}).usage_lookback_days == 1
    assert Settings.from_env({"USAGE_LOOKBACK_DAYS": "1", "COST_LOOKBACK_DAYS": "31"}).cost_lookback_days == 31


@pytest.mark.parametrize("name", ["USAGE_LOOKBACK_DAYS", "COST_LOOKBACK_DAYS"])
def test_item08_lookback_zero_is_refused(name: str) -> None:
    """0 days never fetches cost and loses the 23:00 hour (or, at 1d, everything): the minimum is 1."""
    message = settings_error({name: "0"})
    assert name in message and "from 1 to 31" in message and "'0'" in message


@pytest.mark.parametrize("missing", ["LAKE_BUCKET", "ADMIN_KEY_SECRET_ID"])
def test_lambda_requires_bucket_and_secret_id(missing: str) -> None:
    env = {k: v for k, v in LAMBDA_ENV.items() if k != missing}
    message = settings_error(env, lambda_runtime=True)
    assert missing in message and "required" in message


def test_blank_required_variable_counts_as_missing_in_lambda() -> None:
    assert "LAKE_BUCKET" in settings_error({**LAMBDA_ENV, "LAKE_BUCKET": "   "}, lambda_runtime=True)


def test_lambda_settings_with_both_required_variables() -> None:
    settings = Settings.from_env(LAMBDA_ENV, lambda_runtime=True)
    assert (settings.lake_bucket, settings.admin_key_secret_id) == ("my-usage-lake", "anthropic/admin-key")


@pytest.mark.parametrize(
    "name,value",
    [
        ("USAGE_BUCKET_WIDTH", "2h"),
        ("USAGE_BUCKET_WIDTH", "hourly"),
        ("USAGE_LOOKBACK_DAYS", "-1"),
        ("USAGE_LOOKBACK_DAYS", "abc"),
        ("USAGE_LOOKBACK_DAYS", "32"),
        ("USAGE_LOOKBACK_DAYS", "\u00b2"),  # superscript two: str.isdigit() is True but int() refuses it
        ("COST_LOOKBACK_DAYS", "3.5"),
        ("COST_LOOKBACK_DAYS", "1e1"),
        ("DAILY_SPEND_THRESHOLD_USD", "abc"),
        ("DAILY_SPEND_THRESHOLD_USD", "-5"),
        ("DAILY_SPEND_THRESHOLD_USD", "NaN"),
        ("DAILY_SPEND_THRESHOLD_USD", "Infinity"),
        ("ALERT_TOPIC_ARN", "not-an-arn"),
        ("ALERT_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:queue"),
        ("ANTHROPIC_BASE_URL", "ftp://x"),
        ("ANTHROPIC_BASE_URL", "api.anthropic.com"),
        ("LAKE_BUCKET", "s3://bucket"),
        ("LAKE_BUCKET", "bucket/prefix"),
        ("LAKE_BUCKET", "My_Bucket"),
        ("BUDGETS", "s3://bucket"),
        ("WEEKLY_DIGEST", "yes"),
    ],
)
def test_bad_value_raises_settings_error_naming_the_variable(name: str, value: str) -> None:
    message = settings_error({name: value})
    assert name in message
    assert repr(value) in message or value in message


def test_threshold_accepts_thousands_separators_exactly() -> None:
    threshold = Settings.from_env({"DAILY_SPEND_THRESHOLD_USD": "1,000.50"}).daily_spend_threshold_usd
    assert threshold == Decimal("1000.50")
    assert isinstance(threshold, Decimal)
    assert str(threshold) == "1000.50"


def test_threshold_keeps_every_digit() -> None:
    threshold = Settings.from_env({"DAILY_SPEND_THRESHOLD_USD": "99.10000000000000000001"}).daily_spend_threshold_usd
    assert threshold == Decimal("99.10000000000000000001")


@pytest.mark.parametrize("raw,prefix", [("/a/b/", "a/b/"), ("a/b", "a/b/"), ("a", "a/"), ("", ""), ("/", ""), ("  x/ ", "x/")])
def test_lake_prefix_is_normalised(raw: str, prefix: str) -> None:
    assert Settings.from_env({"LAKE_PREFIX": raw}).lake_prefix == prefix


@pytest.mark.parametrize("raw,problem", [
    ("../../etc", "'..'"),
    ("anthropic/../other", "'..'"),
    ("a/./b", "'.'"),
    ("a//b", "empty segment"),
    ("a/\x00b", "control character"),
    ("anthropic\n", "control character"),
    ("\tanthropic", "control character"),
    ("a/\x7fb", "control character"),
])
def test_item14_lake_prefix_that_escapes_or_is_malformed_is_refused(raw: str, problem: str) -> None:
    message = settings_error({"LAKE_PREFIX": raw})
    assert "LAKE_PREFIX" in message and problem in message and repr(raw) in message


@pytest.mark.parametrize("location,problem", [
    ("s3://usage-lake-bucket/../../etc", "'..'"),
    ("s3://usage-lake-bucket/a//b", "empty segment"),
    ("s3://usage-lake-bucket/a\x01", "control character"),
    ("s3://Not_A_Bucket/x", "not an S3 bucket name"),
])
def test_item14_an_s3_lake_uri_with_a_bad_prefix_is_refused(location: str, problem: str) -> None:
    from usage_lake.errors import LakeError
    from usage_lake.lake.store import open_lake

    with pytest.raises(LakeError, match=problem):
        open_lake(location)


def test_budgets_and_the_weekly_digest_are_read_and_need_a_topic_in_lambda() -> None:
    settings = Settings.from_env({"BUDGETS": "s3://team-config/budgets.json", "WEEKLY_DIGEST": "TRUE"})
    assert (settings.budgets, settings.weekly_digest, settings.alerts_enabled) == ("s3://team-config/budgets.json", True, True)
    assert Settings.from_env({"WEEKLY_DIGEST": "false"}).alerts_enabled is False
    for name, value in (("BUDGETS", "./budgets.json"), ("WEEKLY_DIGEST", "true")):
        assert "ALERT_TOPIC_ARN is required" in settings_error({**LAMBDA_ENV, name: value}, lambda_runtime=True)
