"""Every endpoint a run can fetch: name -> factory. Adding a source is a folder under `sources/` and one line here.

The order is the run order (and the order of `reports` in events and the run log).
"""

from __future__ import annotations

from collections.abc import Callable

from usage_lake.config.settings import Settings
from usage_lake.sources import admin
from usage_lake.sources.base import Endpoint

__all__ = ["ENDPOINTS", "endpoint", "endpoints", "names"]

ENDPOINTS: dict[str, Callable[[Settings], Endpoint]] = {
    "usage": admin.usage.endpoint,
    "cost": admin.cost.endpoint,
}


def names() -> tuple[str, ...]:
    """The endpoint names, in run order."""
    return tuple(ENDPOINTS)


def endpoint(name: str, settings: Settings) -> Endpoint:
    """The endpoint called `name`, configured by `settings`."""
    return ENDPOINTS[name](settings)


def endpoints(settings: Settings, wanted: tuple[str, ...] = ()) -> list[Endpoint]:
    """The endpoints named in `wanted` (all when empty), in run order."""
    return [factory(settings) for name, factory in ENDPOINTS.items() if not wanted or name in wanted]
