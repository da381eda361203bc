"""The Usage and Cost Analytics API (beta, `/v1/organizations/analytics/usage` and `/cost`): hourly usage with
request counts, and hourly billed cost per API key, model, token type and service tier (Priority Tier included),
into `analytics_usage` and `analytics_cost`. It runs beside the legacy reports (`ANALYTICS_API=auto|off`)."""

from usage_lake.sources.analytics.report import (
    ANALYTICS_BETA,
    ANALYTICS_FLOOR,
    AnalyticsReport,
    analytics_cost,
    analytics_usage,
)

__all__ = ["ANALYTICS_BETA", "ANALYTICS_FLOOR", "AnalyticsReport", "analytics_cost", "analytics_usage"]
