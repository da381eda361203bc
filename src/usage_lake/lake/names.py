"""Names for the ids the reports carry, from the organization snapshot in force (`lake.snapshots`: the latest one
on or before the day, else the earliest; without a day, the latest in the lake).

For people reading a message or a terminal: a workspace or API key shows as its name; when two of them share
a name, as "name (id)"; one the snapshot does not know (or a lake without snapshots) as its id. The default
workspace (a null `workspace_id` in the reports) is `words.DEFAULT_WORKSPACE`; usage without an API key (Console,
Workbench) says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date

from usage_lake import words
from usage_lake.lake.snapshots import SnapshotReader
from usage_lake.lake.store import Lake

__all__ = ["DEFAULT_WORKSPACE", "NO_API_KEY", "Names"]

DEFAULT_WORKSPACE = words.DEFAULT_WORKSPACE
NO_API_KEY = words.NO_API_KEY


class Names:
    """id -> name of workspaces and API keys, id -> e-mail of users; see the module docstring."""

    def __init__(self, workspaces: Mapping[str, str] | None = None, api_keys: Mapping[str, str] | None = None,
                 users: Mapping[str, str] | None = None) -> None:
        self.workspaces = dict(workspaces or {})
        self.api_keys = dict(api_keys or {})
        self.users = dict(users or {})
        self._shared = {"workspaces": Counter(self.workspaces.values()), "api_keys": Counter(self.api_keys.values())}

    @classmethod
    def load(cls, lake: Lake, day: date | None = None, *, reader: SnapshotReader | None = None) -> Names:
        """Each list's snapshot in force on `day` (default: the latest; names of archived workspaces and keys included)."""
        reader = reader or SnapshotReader(lake)
        on = day or date.max
        return cls(reader.values("workspaces", on, "name"), reader.values("api_keys", on, "name"), reader.values("users", on, "email"))

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
