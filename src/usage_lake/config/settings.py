"""Settings: the environment variables the SAM template sets and the CLI reads.

Every setting is validated once, at start, and a bad or missing one fails with a single message that
names the variable, before anything is fetched or written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from usage_lake.errors import SettingsError

__all__ = [
    "API_KEY_ID", "BUCKET_WIDTHS", "DEFAULT_BASE_URL", "PERSONAL_DATA_MODES", "WORKSPACE_ID", "Settings", "SettingsError", "is_bucket_name",
    "normalize_prefix", "prefix_problem",
]

DEFAULT_BASE_URL = "https://api.anthropic.com"
BUCKET_WIDTHS = ("1h", "1d", "1m")
PERSONAL_DATA_MODES = ("keep", "hash", "drop")
# At least one day: a run re-reads whole days from today - lookback, so with 0 the hour (or day) that ended just
# before midnight is never read again after midnight, and the cost report (whole days that have ended) never runs.
MIN_LOOKBACK_DAYS = 1
MAX_LOOKBACK_DAYS = 31

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_USD_AMOUNT = re.compile(r"(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
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
    labels: str | None = None  # LABELS: a local path or an s3:// URI of the label map (JSON)
    agent_map: tuple[tuple[str, str], ...] = ()  # ANTHROPIC_AGENT_MAP_JSON: (API key id, agent name) pairs
    budgets: str | None = None  # BUDGETS: a local path or an s3:// URI of the budgets file (read by the alerts layer)
    weekly_digest: bool = False  # WEEKLY_DIGEST: Monday's first run sends last week's digest
    athena_database: str = "anthropic_usage"  # named in alert messages' ready-to-run queries
    athena_workgroup: str = "anthropic-usage-lake"
    focus_include_estimated_priority: bool = False  # Priority Tier (absent from the cost report) in `focus`, estimated
    accept_observed_prices: bool = False  # issue 19: estimate at the prices the bill shows wherever it shows one
    analytics_api: str = "auto"  # ANALYTICS_API: auto (fetch the Analytics API beside the legacy reports) | off
    # CAP_ALERTS: percentages of each Anthropic spend cap that alert once a cap, month and step ("" turns them off)
    cap_alert_percents: tuple[int, ...] = (80, 95)
    # personal data (docs/privacy.md)
    personal_data: str = "keep"  # PERSONAL_DATA: keep | hash | drop the e-mails and names of people
    personal_data_key: str | None = field(default=None, repr=False)  # PERSONAL_DATA_KEY: the hash key's secret (else the Admin key)
    personal_data_key_secret_id: str | None = None  # PERSONAL_DATA_KEY_SECRET_ID: ... or a Secrets Manager secret holding it
    report_no_people: bool = False  # REPORT_NO_PEOPLE: `report html` leaves per-person sections out

    @property
    def alerts_enabled(self) -> bool:
        return self.weekly_digest or any(v is not None for v in (self.daily_spend_threshold_usd, self.monthly_budget_usd,
                                                                   self.spike_ratio, self.budgets))

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, lambda_runtime: bool = False) -> Settings:
        """Read and validate settings. In Lambda the bucket and the secret id are required."""
        bucket = _optional(env, "LAKE_BUCKET")
        if bucket is not None and not is_bucket_name(bucket):
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
            lake_prefix=_prefix(env),
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
            labels=_location(env, "LABELS"),
            agent_map=_agent_map(env, "ANTHROPIC_AGENT_MAP_JSON"),
            budgets=_location(env, "BUDGETS"),
            weekly_digest=_flag(env, "WEEKLY_DIGEST"),
            athena_database=_optional(env, "ATHENA_DATABASE") or cls.athena_database,
            athena_workgroup=_optional(env, "ATHENA_WORKGROUP") or cls.athena_workgroup,
            focus_include_estimated_priority=_flag(env, "FOCUS_INCLUDE_ESTIMATED_PRIORITY"),
            accept_observed_prices=_flag(env, "ACCEPT_OBSERVED_PRICES"),
            analytics_api=_choice(env, "ANALYTICS_API", ("auto", "off"), "auto"),
            cap_alert_percents=_percents(env, "CAP_ALERTS", (80, 95)),
            personal_data=_choice(env, "PERSONAL_DATA", PERSONAL_DATA_MODES, "keep"),
            personal_data_key=_optional(env, "PERSONAL_DATA_KEY"),
            personal_data_key_secret_id=_optional(env, "PERSONAL_DATA_KEY_SECRET_ID"),
            report_no_people=_flag(env, "REPORT_NO_PEOPLE"),
        )
        if lambda_runtime and settings.alerts_enabled and settings.alert_topic_arn is None:
            raise SettingsError("ALERT_TOPIC_ARN is required when DAILY_SPEND_THRESHOLD_USD, MONTHLY_BUDGET_USD, SPIKE_RATIO, BUDGETS "
                                "or WEEKLY_DIGEST is set: it is where the alerts go")
        return settings


def normalize_prefix(prefix: str) -> str:
    """'' stays ''; 'a/b' and '/a/b/' become 'a/b/' so keys join with a plain concatenation."""
    prefix = prefix.strip().strip("/")
    return f"{prefix}/" if prefix else ""


def is_bucket_name(name: str) -> bool:
    """A bare S3 bucket name (no scheme, no path)."""
    return bool(_BUCKET_NAME.match(name)) and ".." not in name


def prefix_problem(prefix: str) -> str | None:
    """What is wrong with a lake key prefix (after `normalize_prefix`), or None: a prefix must name a folder
    inside the bucket, so no `..` or `.` segment (keys would escape it or differ from what Athena reads), no empty
    segment (`a//b`), and no control characters."""
    if _CONTROL.search(prefix):
        return "contains a control character"
    segments = prefix.removesuffix("/").split("/") if prefix else []
    if any(s in ("..", ".") for s in segments):
        return "has a '..' or '.' segment"
    if any(not s for s in segments):
        return "has an empty segment ('//')"
    return None


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _prefix(env: Mapping[str, str]) -> str:
    raw = env.get("LAKE_PREFIX", "")
    # control characters are looked for before normalising, whose strip() would hide one at either end
    problem = prefix_problem(raw if _CONTROL.search(raw) else normalize_prefix(raw))
    if problem:
        raise SettingsError(f"LAKE_PREFIX {problem} (got {raw!r}); use a folder path inside the bucket like anthropic or team/anthropic")
    return normalize_prefix(raw)


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
    if not (raw.isascii() and raw.isdigit()) or not MIN_LOOKBACK_DAYS <= int(raw) <= MAX_LOOKBACK_DAYS:
        raise SettingsError(
            f"{name} must be a whole number of days from {MIN_LOOKBACK_DAYS} to {MAX_LOOKBACK_DAYS} (got {raw!r}); "
            "0 would never re-read the last hour before midnight (or, for cost, anything at all); "
            "use a backfill for longer ranges"
        )
    return int(raw)


def _percents(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """A comma-separated list of whole percentages between 1 and 100 (`80,95`); `off` or empty: none."""
    value = env.get(name)
    if value is None:
        return default
    value = value.strip()
    if value.lower() in ("", "off", "none", "0"):
        return ()
    parts = [p.strip() for p in value.split(",")]
    if not all(p.isdigit() and 1 <= int(p) <= 100 for p in parts):
        raise SettingsError(f"{name} must be whole percentages between 1 and 100, comma-separated (like 80,95), or off; got {value!r}")
    return tuple(sorted({int(p) for p in parts}))


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (_optional(env, name) or "false").lower()
    if raw not in ("true", "false"):  # as the template's AllowedValues
        raise SettingsError(f"{name} must be true or false (got {env.get(name)!r})")
    return raw == "true"


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


API_KEY_ID = re.compile(r"apikey_[A-Za-z0-9]{1,100}")
WORKSPACE_ID = re.compile(r"wrkspc_[A-Za-z0-9]{1,100}")


def _agent_map(env: Mapping[str, str], name: str) -> tuple[tuple[str, str], ...]:
    """`{"apikey_01...": "opus-main", ...}`, the one-line map the cron tracker reads: each key's agent name."""
    raw = _optional(env, name)
    if raw is None:
        return ()
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{name} is not valid JSON ({exc.msg} at character {exc.pos}); "
                            "expected an object like {\"apikey_01...\": \"agent name\"}") from None
    if not isinstance(document, dict):
        raise SettingsError(f"{name} must be a JSON object mapping API key ids to agent names, got a {type(document).__name__}")
    pairs = []
    for key_id, agent in document.items():
        if not API_KEY_ID.fullmatch(key_id):
            raise SettingsError(f"{name}: {key_id!r} is not an API key id (apikey_...); the map goes from key ids to agent names")
        if not isinstance(agent, str) or not agent.strip():
            raise SettingsError(f"{name}: the agent name of {key_id} must be a non-empty string (got {agent!r})")
        pairs.append((key_id, agent.strip()))
    return tuple(sorted(pairs))


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
