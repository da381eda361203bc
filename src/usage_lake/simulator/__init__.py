"""Our own fake Anthropic Admin API: a deterministic synthetic org behind a real local HTTP server.

Used by end-to-end tests, ``make demo`` and the benchmark. ``SimulatedOrg`` generates usage and cost
as a pure function of a seed and knows the exact totals; ``org.directory`` holds its workspaces, API keys,
users, invites and members (``organization.py``) and ``org.claude_code`` its Claude Code report
(``claude_code.py``); ``Simulator`` serves all of it on 127.0.0.1 with the documented endpoints, pagination
and errors; ``FaultPlan``/``Fault`` inject 429s, 5xx, dropped
connections and broken bodies. Example::

    from datetime import UTC, datetime
    import httpx
    from usage_lake.simulator import Fault, SimulatedOrg, Simulator

    org = SimulatedOrg.small(seed=7)
    with Simulator(org, now=datetime(2026, 10, 4, tzinfo=UTC)) as sim:
        sim.faults.add(Fault.rate_limit(retry_after="0"), times=1)
        headers = {"x-api-key": sim.admin_key, "anthropic-version": "2023-06-01"}
        params = {"starting_at": "2026-10-01T00:00:00Z", "bucket_width": "1h", "limit": 24}
        page = httpx.get(f"{sim.base_url}/v1/organizations/usage_report/messages", params=params, headers=headers)
        # -> 429 first; retry to get 24 hourly buckets. Compare with org.usage_totals(start, end).
"""

from usage_lake.simulator.faults import Fault, FaultPlan
from usage_lake.simulator.org import SimulatedOrg
from usage_lake.simulator.server import Simulator

__all__ = ["Fault", "FaultPlan", "SimulatedOrg", "Simulator"]
