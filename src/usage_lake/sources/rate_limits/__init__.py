"""The Rate Limits API (`GET /v1/organizations/rate_limits` and `/v1/organizations/workspaces/{id}/rate_limits`):
the configured per-minute limits of the organization and each workspace's overrides, as a daily `rate_limits`
snapshot (one row per entry and limiter type)."""

from usage_lake.sources.rate_limits.limits import RateLimitsSnapshot, rate_limits

__all__ = ["RateLimitsSnapshot", "rate_limits"]
