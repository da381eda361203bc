"""Issue 18's settings: ANALYTICS_API and CAP_ALERTS, and the 403/404 that mean "not available"."""

from __future__ import annotations

import pytest

from usage_lake.config.settings import Settings
from usage_lake.errors import AdminApiError, SettingsError
from usage_lake.sources import registry
from usage_lake.sources.base import is_unavailable


def test_analytics_api_defaults_to_auto_and_off_leaves_the_endpoints_out():
    assert Settings.from_env({}).analytics_api == "auto"
    on = [e.name for e in registry.endpoints(Settings.from_env({}))]
    off = [e.name for e in registry.endpoints(Settings.from_env({"ANALYTICS_API": "off"}))]
    assert {"analytics_usage", "analytics_cost"} <= set(on) and not {"analytics_usage", "analytics_cost"} & set(off)
    assert registry.endpoint("analytics_cost", Settings(analytics_api="off")).table == "analytics_cost"  # a rebuild still reads it
    with pytest.raises(SettingsError, match="ANALYTICS_API"):
        Settings.from_env({"ANALYTICS_API": "yes"})


@pytest.mark.parametrize(("value", "expected"), [(None, (80, 95)), ("off", ()), ("", ()), ("95, 70", (70, 95)), ("100", (100,))])
def test_cap_alerts(value, expected):
    env = {} if value is None else {"CAP_ALERTS": value}
    assert Settings.from_env(env).cap_alert_percents == expected


@pytest.mark.parametrize("value", ["0,80", "101", "80%", "eighty"])
def test_cap_alerts_refuses_what_is_not_a_percentage(value):
    with pytest.raises(SettingsError, match="CAP_ALERTS must be whole percentages"):
        Settings.from_env({"CAP_ALERTS": value})


@pytest.mark.parametrize(("status", "message", "unavailable"), [
    (403, "permission_error", True),
    (404, "This endpoint is not available for this organization", True),
    (404, "Workspace wrkspc_x not found", False),
    (500, "not available", False),
    (400, "anthropic-beta header required", False),
])
def test_what_counts_as_unavailable(status, message, unavailable):
    assert is_unavailable(AdminApiError("x", status=status, api_message=message)) is unavailable
