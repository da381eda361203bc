"""The Spend Limits API (`GET /v1/organizations/spend_limits`): Anthropic's own monthly caps (organization,
workspace, and the read-only `usage_tier` cap), as a daily `spend_limits` snapshot. Early access on Console
organizations: a key or organization without it answers 403/404 and the endpoint is `unavailable`."""

from usage_lake.sources.spend_limits.caps import SpendLimitsSnapshot, spend_limits

__all__ = ["SpendLimitsSnapshot", "spend_limits"]
