"""The organization's lists, as daily snapshots: the organization, workspaces, API keys, users, invites and
workspace members (reference section 5). They name the ids the reports carry."""

from usage_lake.sources.organization import lists
from usage_lake.sources.organization.lists import (
    ListSnapshot,
    MembersSnapshot,
    api_keys,
    invites,
    organization,
    users,
    workspace_members,
    workspaces,
)

__all__ = [
    "ListSnapshot", "MembersSnapshot", "api_keys", "invites", "lists", "organization", "users", "workspace_members", "workspaces",
]
