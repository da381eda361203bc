"""The Spend Limits and Rate Limits APIs of the simulated org (`GET /v1/organizations/spend_limits`,
`GET /v1/organizations/rate_limits`, `GET /v1/organizations/workspaces/{id}/rate_limits`).

Shapes as documented (updates-2026-12.md A1-A2; the SDK's `OrganizationRateLimit`): a spend limit is
`{type: "spend_limit", id, amount (integer cents string, null = no cap), currency, is_enabled, period, scope,
created_at, updated_at}` with `scope` one of `{type: "organization"}`, `{type: "workspace", workspace_id}`,
`{type: "usage_tier", ...}` (read-only, set by Anthropic); a rate limit entry is `{type: "rate_limit", id,
group: {id, type, display_name}, models, limits: [{type, value}]}`. Both page with `page`/`next_page`; without
`limit` every entry comes in one page. Tests replace `sim.caps` / `sim.rate_limits` to set what is served.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from usage_lake.simulator.org import SimulatedOrg

__all__ = ["Refused", "default_caps", "default_rate_limits", "match", "serve"]

SPEND_LIMITS_PATH = "/v1/organizations/spend_limits"
RATE_LIMITS_PATH = "/v1/organizations/rate_limits"
_WORKSPACE_RATE_LIMITS = re.compile(r"^/v1/organizations/workspaces/([A-Za-z0-9_-]+)/rate_limits$")
_STAMP = "2026-09-01T00:00:00Z"


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def match(path: str) -> bool:
    return path in (SPEND_LIMITS_PATH, RATE_LIMITS_PATH) or bool(_WORKSPACE_RATE_LIMITS.match(path))


def spend_limit(spl_id: str, cents: int | None, scope: dict[str, Any], *, period: str = "monthly", enabled: bool = True) -> dict[str, Any]:
    return {"type": "spend_limit", "id": spl_id, "amount": None if cents is None else str(cents), "currency": "USD",
            "is_enabled": enabled, "period": period, "scope": scope, "created_at": _STAMP, "updated_at": _STAMP}


def default_caps(org: SimulatedOrg) -> list[dict[str, Any]]:
    """An organization cap of $50,000 a month, the usage-tier cap of $200,000, and $20,000 on the first named
    workspace: far above the small org's spend (tests set `sim.caps` to bring one within reach)."""
    caps = [spend_limit("spl_org", 5_000_000, {"type": "organization"}),
            spend_limit("spl_tier", 20_000_000, {"type": "usage_tier", "tier": "4"})]
    named = [w for w in org.workspace_ids if w]
    if named:
        caps.append(spend_limit("spl_ws", 2_000_000, {"type": "workspace", "workspace_id": named[0]}))
    return caps


def rate_limit(entry_id: str, model: str, rpm: int, itpm: int, otpm: int, *, workspace_id: str | None = None) -> dict[str, Any]:
    entry = {"type": "rate_limit", "id": entry_id, "group": {"id": f"rlg_{model}", "type": "model_group", "display_name": model},
             "models": [model], "limits": [{"type": "requests_per_minute", "value": rpm},
                                           {"type": "input_tokens_per_minute", "value": itpm},
                                           {"type": "output_tokens_per_minute", "value": otpm}]}
    if workspace_id is not None:
        entry["workspace_id"] = workspace_id
    return entry


def default_rate_limits(org: SimulatedOrg) -> list[dict[str, Any]]:
    """Per model: 4,000 requests, 2,000,000 input and 400,000 output tokens a minute; the first named workspace
    has a lower override on the first model."""
    entries = [rate_limit(f"rl_{i}", model, 4_000, 2_000_000, 400_000) for i, model in enumerate(org.models)]
    named = [w for w in org.workspace_ids if w]
    if named and org.models:
        entries.append(rate_limit("rl_ws_0", org.models[0], 1_000, 200_000, 40_000, workspace_id=named[0]))
    return entries


def serve(path: str, pairs: Sequence[tuple[str, str]], org: SimulatedOrg, caps: list[dict[str, Any]],
          rate_limits: list[dict[str, Any]]) -> dict[str, Any]:
    allowed = {"limit", "page", "group_type", "model", "include_inherited", "workspace_id"}
    unknown = sorted({k for k, _ in pairs} - allowed)
    if unknown:
        raise Refused(400, f"{unknown[0]}: unknown parameter")
    if path == SPEND_LIMITS_PATH:
        items = caps
    else:
        workspace = _WORKSPACE_RATE_LIMITS.match(path)
        if workspace is None:
            items = [e for e in rate_limits if "workspace_id" not in e]
        else:
            if workspace.group(1) not in {w["id"] for w in org.directory.workspaces}:
                raise Refused(404, f"Workspace {workspace.group(1)} not found")
            items = [e for e in rate_limits if e.get("workspace_id") == workspace.group(1)]
    return {"data": items, "has_more": False, "next_page": None}
