"""Names for the ids the reports carry, from the latest organization snapshot in the lake.

For people reading a message or a terminal: a workspace or API key shows as its name; when two of them share
a name, as "name (id)"; one the snapshot does not know (or a lake without snapshots) as its id. The default
workspace (a null `workspace_id` in the reports) is "Default Workspace"; usage without an API key (Console,
Workbench) says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from usage_lake import words
from usage_lake.lake.curated import latest_partition, read_parquet
from usage_lake.lake.layout import partition_key
from usage_lake.lake.store import Lake

__all__ = ["DEFAULT_WORKSPACE", "NO_API_KEY", "Names"]

DEFAULT_WORKSPACE = words.DEFAULT_WORKSPACE
NO_API_KEY = words.NO_API_KEY


def _latest(lake: Lake, table: str, value: str) -> dict[str, str]:
    day = latest_partition(lake, table)
    if day is None:
        return {}
    rows = read_parquet(lake.get(partition_key(table, day)), table=table, columns=["id", value])
    return {i: v for i, v in zip(rows.column("id").to_pylist(), rows.column(value).to_pylist(), strict=True) if v}


class Names:
    """id -> name of workspaces and API keys, id -> e-mail of users; see the module docstring."""

    def __init__(self, workspaces: Mapping[str, str] | None = None, api_keys: Mapping[str, str] | None = None,
                 users: Mapping[str, str] | None = None) -> None:
        self.workspaces = dict(workspaces or {})
        self.api_keys = dict(api_keys or {})
        self.users = dict(users or {})
        self._shared = {"workspaces": Counter(self.workspaces.values()), "api_keys": Counter(self.api_keys.values())}

    @classmethod
    def load(cls, lake: Lake) -> Names:
        """The latest snapshot of each list (names of archived workspaces and keys included)."""
        return cls(_latest(lake, "workspaces", "name"), _latest(lake, "api_keys", "name"), _latest(lake, "users", "email"))

    def workspace(self, workspace_id: str | None) -> str:
        return DEFAULT_WORKSPACE if workspace_id is None else self._label("workspaces", workspace_id)

    def api_key(self, api_key_id: str | None) -> str:
        return NO_API_KEY if api_key_id is None else self._label("api_keys", api_key_id)

    def user(self, user_id: str | None) -> str:
        return "-" if user_id is None else self.users.get(user_id, user_id)

    def _label(self, kind: str, entity_id: str) -> str:
        name = getattr(self, kind).get(entity_id)
        if name is None:
            return entity_id
        return words.with_id(name, entity_id) if self._shared[kind][name] > 1 else name
