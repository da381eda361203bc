"""Where data comes from: the HTTP client, the `Endpoint` protocol, and one folder per API family.

    http.py      the source-agnostic Admin API client (headers, paging, retries, error family)
    rows.py      bulk JSON rows -> Arrow, shared by every endpoint
    base.py      the `Endpoint` (report) and `Snapshot` protocols, and the bucketed-report base
    registry.py  name -> endpoint factory: the one line a new source adds
    admin/       the usage and cost reports
    claude_code/ the Claude Code usage report (one query per UTC day)
    organization/ the organization, workspaces, API keys, users, invites, workspace members (daily snapshots)
    labels/      the label map (LABELS file, ANTHROPIC_AGENT_MAP_JSON, workspace tags) and the `labels` table
"""

from usage_lake.sources.base import AnyEndpoint, Endpoint, Kind, Snapshot
from usage_lake.sources.http import AdminClient, Page, RetryPolicy
from usage_lake.sources.registry import endpoint, endpoints, names

__all__ = ["AdminClient", "AnyEndpoint", "Endpoint", "Kind", "Page", "RetryPolicy", "Snapshot", "endpoint", "endpoints", "names"]
