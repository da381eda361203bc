"""Every endpoint a run can fetch: name -> factory. Adding a source is a folder under `sources/` and one line here.

A factory returns None when a setting turns its source off (`ANALYTICS_API=off`); an endpoint that is on by
default but may be refused to a key or organization (403/404 "not available") is recorded `unavailable`.
The order is the run order (and the order of `reports` in events and the run log). Every endpoint runs by default
(an event without `reports`, the hourly schedule); a snapshot endpoint fetches at most once a UTC day, and one
that `needs` another's snapshot comes after it.
"""

from __future__ import annotations

from collections.abc import Callable

import usage_lake.sources.analytics as analytics
from usage_lake.config.settings import Settings
from usage_lake.sources.admin import cost, usage
from usage_lake.sources.base import AnyEndpoint
from usage_lake.sources.claude_code import endpoint as claude_code_endpoint
from usage_lake.sources.organization import api_keys, invites, organization, users, workspace_members, workspaces
from usage_lake.sources.rate_limits import rate_limits
from usage_lake.sources.spend_limits import spend_limits

__all__ = ["ENDPOINTS", "endpoint", "endpoints", "names"]

ENDPOINTS: dict[str, Callable[[Settings], AnyEndpoint | None]] = {
    "usage": usage.endpoint,
    "cost": cost.endpoint,
    "claude_code": claude_code_endpoint,
    "analytics_usage": analytics.analytics_usage,
    "analytics_cost": analytics.analytics_cost,
    "organization": organization,
    "workspaces": workspaces,
    "api_keys": api_keys,
    "users": users,
    "invites": invites,
    "workspace_members": workspace_members,
    "spend_limits": spend_limits,
    "rate_limits": rate_limits,
}


def names() -> tuple[str, ...]:
    """The endpoint names, in run order."""
    return tuple(ENDPOINTS)


def endpoint(name: str, settings: Settings) -> AnyEndpoint:
    """The endpoint called `name`, configured by `settings` (a source switched off still reads its stored raw pages)."""
    found = ENDPOINTS[name](settings)
    if found is None:
        found = ENDPOINTS[name](Settings())
    assert found is not None, name
    return found


def endpoints(settings: Settings, wanted: tuple[str, ...] = ()) -> list[AnyEndpoint]:
    """The endpoints named in `wanted` (all when empty) that `settings` leave on, in run order."""
    chosen = (factory(settings) for name, factory in ENDPOINTS.items() if not wanted or name in wanted)
    return [e for e in chosen if e is not None]
