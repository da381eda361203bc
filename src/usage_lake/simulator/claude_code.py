"""Simulated Claude Code activity: the records of the Claude Code usage report, day by day, with exact totals.

Actors are the directory's people (user actors, by e-mail) and two of its active API keys (API actors, by key
*name*, as the report gives them). On a day an actor is active or not (a seeded draw); a user may have a second,
remote record (``is_remote``), as the report splits local and remote sessions. About one day in five nobody
uses Claude Code at all (an empty day: ``{"data": [], ...}``), and days after the simulator's clock are empty.

The report's shapes that sources disagree on are both served: ``date`` is ``YYYY-MM-DD`` on odd days and an
RFC 3339 midnight on even ones; some records carry a tool the reference does not list, some lack
``notebook_edit_tool``. ``estimated_cost.amount`` is a JSON *number* of cents, often with decimals
(``12.3456``), rendered from a ``Decimal`` so the wire text is exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

from usage_lake.simulator.ids import _hash
from usage_lake.simulator.organization import Directory

__all__ = ["ClaudeCodeActivity", "encode"]

_TAG_CC = 21
_TERMINALS = ("vscode", "iTerm.app", "tmux", "cursor", "ghostty")
_EPOCH = date(1970, 1, 1)
_KNOWN_TOOLS = ("edit_tool", "multi_edit_tool", "notebook_edit_tool", "write_tool")
_encoder = msgspec.json.Encoder(decimal_format="number")


def encode(value: Any) -> bytes:
    """JSON with decimals as numbers (the report sends cents as a JSON number)."""
    return _encoder.encode(value)


class ClaudeCodeActivity:
    """Records per UTC day (deterministic in the org's seed) and their exact totals."""

    def __init__(self, org: Any, directory: Directory) -> None:
        self.seed = org.seed
        self.models = org.models
        self.organization_id = directory.organization["id"]
        self.users = [u["email"] for u in directory.users if u["role"] in ("admin", "developer", "claude_code_user")]
        active = [k["name"] for k in directory.api_keys if k["status"] == "active"]
        self.api_keys = list(dict.fromkeys([active[0], active[-1]]))  # e.g. prod-backend and staging-smoke

    def is_empty(self, day: date) -> bool:
        return _hash(self.seed, _TAG_CC, (day - _EPOCH).days) % 5 == 0

    def records(self, day: date) -> list[dict[str, Any]]:
        """The day's records, in the order the report serves them."""
        index = (day - _EPOCH).days
        if self.is_empty(day):
            return []
        actors = [("user_actor", "email_address", e) for e in self.users] + [("api_actor", "api_key_name", n) for n in self.api_keys]
        stamp = day.isoformat() if index % 2 else f"{day.isoformat()}T00:00:00Z"
        out = []
        for a, (kind, field, who) in enumerate(actors):
            h = _hash(self.seed, _TAG_CC, index, a)
            if h % 10 >= 7:
                continue
            remote_too = kind == "user_actor" and (h >> 8) % 4 == 0
            for remote in (False, True) if remote_too else (False,):
                out.append(self._record(stamp, kind, field, who, _hash(self.seed, _TAG_CC, index, a, int(remote) + 1), remote))
        return out

    def _record(self, stamp: str, kind: str, field: str, who: str, h: int, remote: bool) -> dict[str, Any]:
        tools = {tool: {"accepted": (h >> (6 * i)) % 40, "rejected": (h >> (6 * i + 3)) % 6} for i, tool in enumerate(_KNOWN_TOOLS)}
        if (h >> 24) % 2:
            del tools["notebook_edit_tool"]
        if (h >> 26) % 5 == 0:
            tools["web_fetch_tool"] = {"accepted": (h >> 28) % 9, "rejected": (h >> 32) % 3}
        count = 1 + (h >> 34) % min(3, len(self.models))
        first = (h >> 36) % len(self.models)
        breakdown = []
        for m in range(count):
            g = _hash(h, m)
            cents = Decimal(g % 400_000).scaleb(-4) if m else Decimal(g % 900)  # 12.3456 cents, or whole cents
            breakdown.append({
                "model": self.models[(first + m) % len(self.models)],
                "tokens": {"input": 1_000 + g % 900_000, "output": 200 + (g >> 20) % 90_000,
                           "cache_read": (g >> 36) % 2_000_000, "cache_creation": (g >> 50) % 80_000},
                "estimated_cost": {"currency": "USD", "amount": cents},
            })
        record: dict[str, Any] = {
            "date": stamp,
            "actor": {"type": kind, field: who},
            "organization_id": self.organization_id,
            "customer_type": "api",
            "subscription_type": None,
            "terminal_type": "web" if remote else _TERMINALS[(h >> 40) % len(_TERMINALS)],
            "is_remote": remote,
            "core_metrics": {
                "num_sessions": 1 + (h >> 44) % 12,
                "lines_of_code": {"added": (h >> 48) % 5_000, "removed": (h >> 52) % 2_000},
                "commits_by_claude_code": (h >> 56) % 15,
                "pull_requests_by_claude_code": (h >> 60) % 4,
            },
            "tool_actions": tools,
            "model_breakdown": breakdown,
        }
        return record

    def totals(self, days: Iterable[date]) -> dict[str, Any]:
        """Exact sums over the days' records: counts, core metrics, tokens and cents (a Decimal)."""
        totals: dict[str, Any] = dict.fromkeys(
            ("records", "model_rows", "num_sessions", "lines_added", "lines_removed", "commits", "pull_requests",
             "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens"), 0)
        totals["estimated_cost_cents"] = Decimal(0)
        for day in days:
            for record in self.records(day):
                core = record["core_metrics"]
                totals["records"] += 1
                totals["num_sessions"] += core["num_sessions"]
                totals["lines_added"] += core["lines_of_code"]["added"]
                totals["lines_removed"] += core["lines_of_code"]["removed"]
                totals["commits"] += core["commits_by_claude_code"]
                totals["pull_requests"] += core["pull_requests_by_claude_code"]
                for model in record["model_breakdown"]:
                    totals["model_rows"] += 1
                    for name, value in model["tokens"].items():
                        totals[f"{name}_tokens"] += value
                    totals["estimated_cost_cents"] += model["estimated_cost"]["amount"]
        return totals
