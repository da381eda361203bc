"""Settings: the environment variables the SAM template sets and the CLI reads.

Every setting is validated once, at start, and a bad or missing one fails with a single message that
names the variable, before anything is fetched or written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from usage_lake.errors import SettingsError

__all__ = ["BUCKET_WIDTHS", "DEFAULT_BASE_URL", "Settings", "SettingsError", "normalize_prefix"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
BUCKET_WIDTHS = ("1h", "1d", "1m")
MAX_LOOKBACK_DAYS = 31

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_USD_AMOUNT = re.compile(r"(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")
_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


@dataclass(frozen=True)
class Settings:
    lake_bucket: str | None = None
    lake_prefix: str = ""
    admin_key_secret_id: str | None = None
    base_url: str = DEFAULT_BASE_URL
    usage_bucket_width: str = "1h"
    usage_lookback_days: int = 3
    cost_lookback_days: int = 3
    alert_topic_arn: str | None = None
    daily_spend_threshold_usd: Decimal | None = None
    monthly_budget_usd: Decimal | None = None
    spike_ratio: Decimal | None = None
    pricing_overrides: str | None = None  # a local path or an s3:// URI
    budgets: str | None = None  # BUDGETS: a local path or an s3:// URI of the budgets file (read by the alerts layer)
    weekly_digest: bool = False  # WEEKLY_DIGEST: Monday's first run sends last week's digest
    athena_database: str = "anthropic_usage"  # named in alert messages' ready-to-run queries
    athena_workgroup: str = "anthropic-usage-lake"

    @property
    def alerts_enabled(self) -> bool:
        return self.weekly_digest or any(v is not None for v in (self.daily_spend_threshold_usd, self.monthly_budget_usd,
                                                                   self.spike_ratio, self.budgets))

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, lambda_runtime: bool = False) -> Settings:
        """Read and validate settings. In Lambda the bucket and the secret id are required."""
        bucket = _optional(env, "LAKE_BUCKET")
        if bucket is not None and (not _BUCKET_NAME.match(bucket) or ".." in bucket):
            raise SettingsError(f"LAKE_BUCKET must be a bare S3 bucket name (got {bucket!r}); put any path in LAKE_PREFIX")
        secret_id = _optional(env, "ADMIN_KEY_SECRET_ID")
        if lambda_runtime:
            if bucket is None:
                raise SettingsError("LAKE_BUCKET is required: the S3 bucket the lake is written to")
            if secret_id is None:
                raise SettingsError("ADMIN_KEY_SECRET_ID is required: the Secrets Manager secret holding the Admin API key")
        topic = _optional(env, "ALERT_TOPIC_ARN")
        if topic is not None and not _SNS_ARN.match(topic):
            raise SettingsError(f"ALERT_TOPIC_ARN must be an SNS topic ARN like arn:aws:sns:us-east-1:123456789012:name (got {topic!r})")
        settings = cls(
            lake_bucket=bucket,
            lake_prefix=normalize_prefix(env.get("LAKE_PREFIX", "")),
            admin_key_secret_id=secret_id,
            base_url=_base_url(env),
            usage_bucket_width=_choice(env, "USAGE_BUCKET_WIDTH", BUCKET_WIDTHS, "1h"),
            usage_lookback_days=_days(env, "USAGE_LOOKBACK_DAYS", 3),
            cost_lookback_days=_days(env, "COST_LOOKBACK_DAYS", 3),
            alert_topic_arn=topic,
            daily_spend_threshold_usd=_usd(env, "DAILY_SPEND_THRESHOLD_USD"),
            monthly_budget_usd=_usd(env, "MONTHLY_BUDGET_USD", positive=True),
            spike_ratio=_ratio(env, "SPIKE_RATIO"),
            pricing_overrides=_location(env, "PRICING_OVERRIDES"),
            budgets=_location(env, "BUDGETS"),
            weekly_digest=_flag(env, "WEEKLY_DIGEST"),
            athena_database=_optional(env, "ATHENA_DATABASE") or cls.athena_database,
            athena_workgroup=_optional(env, "ATHENA_WORKGROUP") or cls.athena_workgroup,
        )
        if lambda_runtime and settings.alerts_enabled and settings.alert_topic_arn is None:
            raise SettingsError("ALERT_TOPIC_ARN is required when DAILY_SPEND_THRESHOLD_USD, MONTHLY_BUDGET_USD, SPIKE_RATIO, BUDGETS "
                                "or WEEKLY_DIGEST is set: it is where the alerts go")
        return settings


def normalize_prefix(prefix: str) -> str:
    """'' stays ''; 'a/b' and '/a/b/' become 'a/b/' so keys join with a plain concatenation."""
    prefix = prefix.strip().strip("/")
    return f"{prefix}/" if prefix else ""


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _base_url(env: Mapping[str, str]) -> str:
    url = _optional(env, "ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        raise SettingsError(f"ANTHROPIC_BASE_URL must be an http(s) URL like {DEFAULT_BASE_URL} (got {url!r})")
    return url.rstrip("/")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = _optional(env, name) or default
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)} (got {value!r})")
    return value


def _days(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _optional(env, name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_LOOKBACK_DAYS:
        raise SettingsError(
            f"{name} must be a whole number of days from 0 to {MAX_LOOKBACK_DAYS} (got {raw!r}); "
            "use a backfill for longer ranges"
        )
    return int(raw)


def _ratio(env: Mapping[str, str], name: str) -> Decimal | None:
    raw = _optional(env, name)
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise SettingsError(f"{name} must be a number like 3 (alert when today is 3x the 7-day average); got {raw!r}") from None
    if not value.is_finite() or value <= 1:
        raise SettingsError(f"{name} must be a number above 1 (got {raw!r}): a spike is today above a multiple of the 7-day average")
    return value


def _location(env: Mapping[str, str], name: str) -> str | None:
    raw = _optional(env, name)
    if raw is not None and raw.startswith("s3://") and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+", raw):
        raise SettingsError(f"{name} must be a local file path or an s3://bucket/key URI (got {raw!r})")
    return raw


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (_optional(env, name) or "false").lower()
    if raw not in ("true", "false"):
        raise SettingsError(f"{name} must be true or false (got {env.get(name)!r})")
    return raw == "true"


def _usd(env: Mapping[str, str], name: str, *, positive: bool = False) -> Decimal | None:
    raw = _optional(env, name)
    if raw is None:
        return None
    plain = raw.removeprefix("$")
    if not _USD_AMOUNT.fullmatch(plain):
        raise SettingsError(f"{name} must be a dollar amount like 250 or 1,000.50 (got {raw!r})")
    try:
        value = Decimal(plain.replace(",", ""))
    except InvalidOperation:
        raise SettingsError(f"{name} must be a dollar amount like 250 or 99.50 (got {raw!r})") from None
    if not value.is_finite() or value < 0 or (positive and value == 0):
        raise SettingsError(f"{name} must be a {'positive' if positive else 'non-negative'} dollar amount (got {raw!r})")
    return value
