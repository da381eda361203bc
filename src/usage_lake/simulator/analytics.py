"""The Usage and Cost Analytics API (`/v1/organizations/analytics/usage` and `/cost`, beta) of the simulated org.

Both endpoints are served from the same hourly stream counters as the legacy usage and cost reports, so the
numbers reconcile exactly: a day's analytics cost is the legacy cost report's day plus the Priority Tier the
legacy report leaves out (per stream hour: tokens x the same rates, web search per request, and the day's
code-execution charge in its first hour). What the real beta documents, the simulator enforces: the
`anthropic-beta: analytics-usage-cost-2026-08-24` header, `starting_at` no earlier than 2026-01-01, at most
31 days a query, `ending_at` with `time_bucket_width`, at most 5 `group_by[]` (cost: not counting `cost_type`
and `token_type`), rows ranked by the metric unless `order_by=time`, an offset cursor bound to its query.

`requests` (usage) is a pure function of a stream hour's counters (`requests_of`), so tests know the exact
count. `drift` (cents per UTC day) is added to the first token row of that day in the cost endpoint only: a
billing difference between the two APIs, for the `reconcile` view to find.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from usage_lake.simulator.ids import render_time
from usage_lake.simulator.org import TOKEN_TYPES, SimulatedOrg, epoch_seconds, from_epoch, plain_decimal

__all__ = ["ANALYTICS_BETA", "ANALYTICS_COST_PATH", "ANALYTICS_USAGE_PATH", "FLOOR", "Refused", "cost_rows", "requests_of",
           "serve", "usage_rows"]

ANALYTICS_USAGE_PATH = "/v1/organizations/analytics/usage"
ANALYTICS_COST_PATH = "/v1/organizations/analytics/cost"
ANALYTICS_BETA = "analytics-usage-cost-2026-08-24"
FLOOR = datetime(2026, 1, 1, tzinfo=UTC)
MAX_SPAN = timedelta(days=31)
_WIDTHS = {"1h": 3600, "1d": 86400}
_STREAM_DIMS = ("api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo")
GROUP_DIMS = (
    "actor", "actor_type", "agent_id", "api_key_id", "claude_tag_category", "claude_tag_user_id", "context_window",
    "deployment_id", "environment_id", "inference_geo", "model", "organization_id", "product", "rbac_group_id",
    "service_tier", "session_id", "slack_channel_id", "speed", "user_profile_id", "workspace_id",
)
_COST_ONLY = ("cost_type", "token_type")
_TOKEN_NAMES = {  # simulator counter path -> the analytics API's token_type
    "uncached_input_tokens": "uncached_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens": "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens": "cache_creation.ephemeral_1h_input_tokens",
    "cache_read_input_tokens": "cache_read_input_tokens",
    "output_tokens": "output_tokens",
}
_CENTS_PER_USD_MTOK = Decimal(10_000)
_PARAMS = {"starting_at", "ending_at", "time_bucket_width", "group_by[]", "order_by", "order", "limit", "page"}


class Refused(Exception):
    """A 4xx the server answers with the API's error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def requests_of(counts: Sequence[int]) -> int:
    """API requests of one stream hour: a fixed function of its counters (at least one)."""
    return 1 + (counts[0] + counts[4]) // 4096


def _group(values: Mapping[str, str | None], group_by: Sequence[str], cost: bool) -> dict[str, Any]:
    dims = GROUP_DIMS + (_COST_ONLY if cost else ())
    return {d: (values.get(d) if d in group_by else None) for d in dims}


def _hours(start: datetime, end: datetime, now: datetime) -> range:
    first = -(-epoch_seconds(start) // 3600)
    return range(first, epoch_seconds(min(end, now)) // 3600)


def usage_rows(org: SimulatedOrg, start: datetime, end: datetime, now: datetime, width: str,
               group_by: Sequence[str]) -> list[dict[str, Any]]:
    """Usage rows per bucket and group with usage, in time order (groups in first-seen order)."""
    step = _WIDTHS[width]
    acc: dict[tuple[int, tuple], list[int]] = {}
    for hour in _hours(start, end, now):
        bucket = hour * 3600 // step * step
        for s, counts in org.bucket_rows(hour * 3600, "1h"):
            stream = org.streams[s]
            key = (bucket, tuple(stream.dim(d) if d in group_by else None for d in _STREAM_DIMS))
            total = acc.setdefault(key, [0] * 7)
            for i, value in enumerate(counts):
                total[i] += value
            total[6] += requests_of(counts)
    rows = []
    for (bucket, dims), c in acc.items():
        values = dict(zip(_STREAM_DIMS, dims, strict=True))
        rows.append({
            "starting_at": render_time(from_epoch(bucket)), "ending_at": render_time(from_epoch(bucket + step)),
            "group": _group(values, group_by, cost=False),
            "usage": {"uncached_input_tokens": c[0], "cache_creation": {"ephemeral_5m_input_tokens": c[1], "ephemeral_1h_input_tokens": c[2]},
                      "cache_read_input_tokens": c[3], "output_tokens": c[4], "total_tokens": sum(c[:5]), "requests": c[6],
                      "server_tool_use": {"web_search_requests": c[5]}},
            "_rank": sum(c[:5]),
        })
    return rows


def cost_rows(org: SimulatedOrg, start: datetime, end: datetime, now: datetime, width: str, group_by: Sequence[str],
              drift: Mapping[date, Decimal] | None = None) -> list[dict[str, Any]]:
    """Cost rows per bucket and group, amounts in cents (exact decimals), in time order."""
    step = _WIDTHS[width]
    by_type = "token_type" in group_by
    acc: dict[tuple, Decimal] = {}
    drifted: set[date] = set()
    for hour in _hours(start, end, now):
        bucket = hour * 3600 // step * step
        day = date(1970, 1, 1) + timedelta(days=hour // 24)
        for s, counts in org.bucket_rows(hour * 3600, "1h"):
            stream = org.streams[s]
            rates = org.prices.rates(stream.model, stream.service_tier, stream.context_window, stream.inference_geo)
            if rates is None:
                raise ValueError(f"simulated model {stream.model!r} is not in the price table")
            dims = tuple(stream.dim(d) if d in group_by else None for d in _STREAM_DIMS)
            per_rate = (rates.uncached_input, rates.cache_write_5m, rates.cache_write_1h, rates.cache_read, rates.output)
            for token_type, n, rate in zip(TOKEN_TYPES, counts, per_rate, strict=False):
                if n:
                    cents = n * rate / _CENTS_PER_USD_MTOK
                    if drift and day in drift and day not in drifted:
                        cents += drift[day]
                        drifted.add(day)
                    key = (bucket, dims, "tokens" if ("cost_type" in group_by or by_type) else None,
                           _TOKEN_NAMES[token_type] if by_type else None)
                    acc[key] = acc.get(key, Decimal(0)) + cents
            if counts[5]:
                key = (bucket, dims, "web_search" if ("cost_type" in group_by or by_type) else None, None)
                acc[key] = acc.get(key, Decimal(0)) + counts[5] * org.prices.web_search_per_request * 100
        if hour % 24 == 0:  # the day's code-execution charge (no key, no model), as the legacy report bills it
            for item in org.cost_items(day):
                if item.cost_type == "code_execution":
                    dims = tuple(item.workspace_id if d == "workspace_id" and d in group_by else None for d in _STREAM_DIMS)
                    key = (bucket, dims, "code_execution" if ("cost_type" in group_by or by_type) else None, None)
                    acc[key] = acc.get(key, Decimal(0)) + item.amount
    rows = []
    for (bucket, dims, cost_type, token_type), cents in acc.items():
        values: dict[str, str | None] = dict(zip(_STREAM_DIMS, dims, strict=True))
        values |= {"cost_type": cost_type, "token_type": token_type}
        amount = plain_decimal(cents)
        rows.append({
            "starting_at": render_time(from_epoch(bucket)), "ending_at": render_time(from_epoch(bucket + step)),
            "group": _group(values, (*group_by, *_COST_ONLY), cost=True),
            "cost": {"amount": amount, "list_amount": amount, "currency": "USD", "requests": None},
            "_rank": cents,
        })
    return rows


def _parse_time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(400, f"{name}: must be an RFC 3339 datetime, got {value!r}") from None
    if parsed.tzinfo is None:
        raise Refused(400, f"{name}: must carry a time zone, got {value!r}")
    return parsed.astimezone(UTC)


def _token(offset: int, fingerprint: str) -> str:
    return "page_" + base64.urlsafe_b64encode(f"{offset}|{fingerprint}".encode()).decode()


def _offset(token: str, fingerprint: str, size: int) -> int:
    try:
        payload = token.removeprefix("page_")
        offset, _, fp = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().partition("|")
        value = int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Refused(400, "Invalid page token") from None
    if fp != fingerprint or not 0 < value < size:
        raise Refused(400, "Invalid page token")
    return value


def serve(path: str, pairs: Sequence[tuple[str, str]], beta: str | None, org: SimulatedOrg, now: datetime,
          drift: Mapping[date, Decimal] | None = None) -> dict[str, Any]:
    """One page of `/analytics/usage` or `/analytics/cost` for `pairs`; raises `Refused` for what the API refuses."""
    if ANALYTICS_BETA not in [b.strip() for b in (beta or "").split(",")]:
        raise Refused(400, f"anthropic-beta: this endpoint is in beta; send the header anthropic-beta: {ANALYTICS_BETA}")
    unknown = sorted({k for k, _ in pairs} - _PARAMS)
    if unknown:
        raise Refused(400, f"{unknown[0]}: unknown parameter")
    one = {k: v for k, v in pairs if k != "group_by[]"}
    cost = path == ANALYTICS_COST_PATH
    start = _parse_time("starting_at", one.get("starting_at"))
    if start is None:
        raise Refused(400, "starting_at: parameter is required")
    if start < FLOOR:
        raise Refused(400, "starting_at: must be no earlier than 2026-01-01T00:00:00Z")
    width = one.get("time_bucket_width")
    if width is not None and width not in _WIDTHS:
        raise Refused(400, f"time_bucket_width: the simulator serves 1h and 1d, got {width!r}")
    end = _parse_time("ending_at", one.get("ending_at"))
    if end is None:
        if width is not None:
            raise Refused(400, "ending_at: required when time_bucket_width is set")
        end = min(now, start + MAX_SPAN)
    if end <= start:
        raise Refused(400, "ending_at: must be after starting_at")
    if end - start > MAX_SPAN:
        raise Refused(400, "the range may span at most 31 days")
    group_by = [v for k, v in pairs if k == "group_by[]"]
    allowed = GROUP_DIMS + (_COST_ONLY if cost else ())
    bad = [g for g in group_by if g not in allowed]
    if bad:
        raise Refused(400, f"group_by[]: invalid value {bad[0]!r}")
    if len([g for g in group_by if g not in _COST_ONLY]) > 5:
        raise Refused(400, "group_by[]: at most 5 dimensions" + (" (not counting cost_type and token_type)" if cost else ""))
    limit_text = one.get("limit", "20")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
        raise Refused(400, f"limit: must be an integer between 1 and 1000, got {limit_text!r}")
    metrics = ("amount", "list_amount", "time") if cost else ("total_tokens", "uncached_input_tokens", "output_tokens", "requests", "time")
    order_by, order = one.get("order_by", metrics[0]), one.get("order", "desc")
    if order_by not in metrics or order not in ("asc", "desc"):
        raise Refused(400, f"order_by/order: invalid ({order_by!r}, {order!r})")
    bucket_width = width or "1d"
    if width is None:  # one row per group over the whole range (whole hours)
        start, end = start.replace(minute=0, second=0, microsecond=0), end.replace(minute=0, second=0, microsecond=0)
    rows = (cost_rows(org, start, end, now, bucket_width, group_by, drift) if cost
            else usage_rows(org, start, end, now, bucket_width, group_by))
    if width is None:
        rows = _whole_range(rows, start, end, cost)
    if order_by == "time" and width is not None:
        rows.sort(key=lambda r: -r["_rank"])  # within a bucket: the metric, highest first
        rows.sort(key=lambda r: r["starting_at"], reverse=order == "desc")
    else:
        rows.sort(key=lambda r: r["_rank"], reverse=order == "desc")
    fingerprint = hashlib.sha256(repr((path, sorted(p for p in pairs if p[0] != "page"))).encode()).hexdigest()[:12]
    offset = 0 if "page" not in one else _offset(one["page"], fingerprint, len(rows))
    limit = int(limit_text)
    page = rows[offset:offset + limit]
    following = offset + limit if offset + limit < len(rows) else None
    for row in page:
        row.pop("_rank")
    return {"data": page, "has_more": following is not None, "next_page": None if following is None else _token(following, fingerprint),
            "data_refreshed_at": render_time(now)}


def _whole_range(rows: list[dict[str, Any]], start: datetime, end: datetime, cost: bool) -> list[dict[str, Any]]:
    """Rows of a query without buckets: one per group over the range."""
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = repr(sorted(row["group"].items()))
        into = merged.get(key)
        if into is None:
            merged[key] = row | {"starting_at": render_time(start), "ending_at": render_time(end)}
            continue
        if cost:
            total = Decimal(into["cost"]["amount"]) + Decimal(row["cost"]["amount"])
            into["cost"] = into["cost"] | {"amount": plain_decimal(total), "list_amount": plain_decimal(total)}
        else:
            for name in ("uncached_input_tokens", "cache_read_input_tokens", "output_tokens", "total_tokens", "requests"):
                into["usage"][name] += row["usage"][name]
        into["_rank"] += row["_rank"]
    return list(merged.values())
