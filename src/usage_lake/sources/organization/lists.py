"""The organization endpoints -> one snapshot table each, partitioned by the UTC day of the snapshot.

Lists page by `after_id=<last_id>` (limit up to 1000) and are read whole: every status (no `status` filter on
API keys) and archived workspaces (`include_archived=true`), so usage from long ago can still be named.
Records are parsed strictly: a wrong type or a missing `id` is refused with the field's path; fields not
listed here are ignored. Nested objects are flattened to `<object>_<field>` (`created_by_id`, `scope_type`).

Where the documentation disagrees (reference section 5.3), both shapes are read:

- `principal` is `{id, type: user|service_account}` in one reference and `{type: user_actor, user_id}` /
  `{type: service_account_actor, service_account_id}` in another: `principal_id` takes whichever id is there
  and `principal_type` is `user` or `service_account` either way;
- an API key's top-level `workspace_id` is deprecated in favour of `scope`: `workspace_id` is the top-level
  value, else `scope.workspace_id` (null for default-workspace and organization-scoped keys alike).

A snapshot that holds the same id twice (a cursor that repeated a page) is refused: joining it would double
every usage row of that key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.config.settings import Settings
from usage_lake.errors import ResponseShapeError
from usage_lake.lake.schema import TABLES
from usage_lake.sources.base import Kind, per_workspace
from usage_lake.sources.http import LIST_PAGES, OBJECT, Headers, Paging, Params
from usage_lake.times import parse_timestamp

__all__ = [
    "LIST_LIMIT", "ListSnapshot", "MembersSnapshot", "api_keys", "invites", "organization", "users", "workspace_members", "workspaces",
]

LIST_LIMIT = 1000  # records per page, the documented maximum
BASE = "/v1/organizations"


# -- the records, as documented; every field but the id may be missing or null ------------------------------------

class _Ref(msgspec.Struct):
    id: str | None = None
    type: str | None = None


class _Principal(msgspec.Struct):
    type: str | None = None
    id: str | None = None
    user_id: str | None = None
    service_account_id: str | None = None


class _Scope(msgspec.Struct):
    type: str | None = None
    workspace_id: str | None = None


class _ApiKey(msgspec.Struct):
    id: str
    type: str | None = None
    name: str | None = None
    status: str | None = None
    workspace_id: str | None = None
    scope: _Scope | None = None
    created_at: str | None = None
    expires_at: str | None = None
    created_by: _Ref | None = None
    principal: _Principal | None = None
    partial_key_hint: str | None = None


class _Residency(msgspec.Struct):
    workspace_geo: str | None = None
    default_inference_geo: str | None = None
    allowed_inference_geos: list[str] | None = None


class _Workspace(msgspec.Struct):
    id: str
    type: str | None = None
    name: str | None = None
    created_at: str | None = None
    archived_at: str | None = None
    display_color: str | None = None
    compartment_id: str | None = None
    external_key_id: str | None = None
    data_residency: _Residency | None = None
    tags: dict[str, str] | None = None


class _User(msgspec.Struct):
    id: str
    type: str | None = None
    email: str | None = None
    name: str | None = None
    role: str | None = None
    added_at: str | None = None


class _Invite(msgspec.Struct):
    id: str
    type: str | None = None
    email: str | None = None
    role: str | None = None
    status: str | None = None
    invited_at: str | None = None
    expires_at: str | None = None


class _Member(msgspec.Struct):
    user_id: str
    workspace_id: str
    workspace_role: str | None = None
    type: str | None = None


class _Organization(msgspec.Struct):
    id: str
    type: str | None = None
    name: str | None = None


def _stamp(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise ValueError(f"`{field}` {value!r} is not an RFC 3339 timestamp") from None


_PRINCIPAL_TYPES = {"user_actor": "user", "service_account_actor": "service_account"}


def _api_key(r: _ApiKey) -> dict[str, Any]:
    scope, principal, created_by = r.scope or _Scope(), r.principal or _Principal(), r.created_by or _Ref()
    return {
        "id": r.id, "type": r.type, "name": r.name, "status": r.status,
        "workspace_id": r.workspace_id if r.workspace_id is not None else scope.workspace_id,
        "scope_type": scope.type, "scope_workspace_id": scope.workspace_id,
        "created_at": _stamp(r.created_at, "created_at"), "expires_at": _stamp(r.expires_at, "expires_at"),
        "created_by_id": created_by.id, "created_by_type": created_by.type,
        "principal_id": principal.id or principal.user_id or principal.service_account_id,
        "principal_type": _PRINCIPAL_TYPES.get(principal.type or "", principal.type),
        "partial_key_hint": r.partial_key_hint,
    }


def _workspace(r: _Workspace) -> dict[str, Any]:
    residency = r.data_residency or _Residency()
    return {
        "id": r.id, "type": r.type, "name": r.name,
        "created_at": _stamp(r.created_at, "created_at"), "archived_at": _stamp(r.archived_at, "archived_at"),
        "display_color": r.display_color, "compartment_id": r.compartment_id, "external_key_id": r.external_key_id,
        "data_residency_workspace_geo": residency.workspace_geo,
        "data_residency_default_inference_geo": residency.default_inference_geo,
        "data_residency_allowed_inference_geos": residency.allowed_inference_geos,
        "tags": sorted(r.tags.items()) if r.tags is not None else None,
    }


def _user(r: _User) -> dict[str, Any]:
    return {"id": r.id, "type": r.type, "email": r.email, "name": r.name, "role": r.role, "added_at": _stamp(r.added_at, "added_at")}


def _invite(r: _Invite) -> dict[str, Any]:
    return {"id": r.id, "type": r.type, "email": r.email, "role": r.role, "status": r.status,
            "invited_at": _stamp(r.invited_at, "invited_at"), "expires_at": _stamp(r.expires_at, "expires_at")}


def _member(r: _Member) -> dict[str, Any]:
    return {"workspace_id": r.workspace_id, "user_id": r.user_id, "workspace_role": r.workspace_role, "type": r.type}


def _organization(r: _Organization) -> dict[str, Any]:
    return {"id": r.id, "type": r.type, "name": r.name}


@dataclass(frozen=True)
class ListSnapshot:
    """One list endpoint (or `/me`), read whole into one snapshot table."""

    name: str
    path: str
    params: tuple[tuple[str, str], ...]
    record: type[msgspec.Struct]
    flatten: Callable[[Any], dict[str, Any]]
    unique: tuple[str, ...] = ("id",)
    paging: Paging = LIST_PAGES

    @property
    def table(self) -> str:
        return self.name

    @property
    def kind(self) -> Kind:
        return Kind.SNAPSHOT

    @property
    def required(self) -> bool:
        return False

    @property
    def headers(self) -> Headers:
        return ()

    @property
    def needs(self) -> tuple[str, ...]:
        return ()

    def requests(self, inputs: Mapping[str, pa.Table]) -> list[tuple[str, Params]]:
        return [(self.path, list(self.params))]

    def to_table(self, records: Sequence[msgspec.Raw], *, run_id: str, snapshot_at: datetime, where: str) -> pa.Table:
        decode = msgspec.json.Decoder(self.record).decode
        rows = []
        for number, raw in enumerate(records):
            try:
                rows.append(self.flatten(decode(raw)) | {"snapshot_at": snapshot_at, "run_id": run_id})
            except (msgspec.ValidationError, ValueError) as exc:
                raise ResponseShapeError(f"{where}: record {number}: {exc}") from None
        schema = TABLES[self.table]
        table = pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
        _refuse_duplicates(table, self.unique, where)
        return table


def _refuse_duplicates(table: pa.Table, keys: tuple[str, ...], where: str) -> None:
    if table.num_rows < 2:
        return
    counts = table.group_by(list(keys)).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts.column("count_all"), 1))
    if repeated.num_rows:
        first = {k: repeated.column(k)[0].as_py() for k in keys}
        raise ResponseShapeError(f"{where}: {first} appears {repeated.column('count_all')[0].as_py()} times in one snapshot "
                                 "(a repeated page?); refusing it, as it would double rows in every join")


@dataclass(frozen=True)
class MembersSnapshot(ListSnapshot):
    """Workspace members: one list per active workspace of the same day's `workspaces` snapshot."""

    @property
    def needs(self) -> tuple[str, ...]:
        return ("workspaces",)

    def requests(self, inputs: Mapping[str, pa.Table]) -> list[tuple[str, Params]]:
        return per_workspace(self.path, inputs["workspaces"], self.params)


_LIMIT = (("limit", str(LIST_LIMIT)),)


def organization(settings: Settings) -> ListSnapshot:
    return ListSnapshot("organization", f"{BASE}/me", (), _Organization, _organization, paging=OBJECT)


def workspaces(settings: Settings) -> ListSnapshot:
    return ListSnapshot("workspaces", f"{BASE}/workspaces", (("include_archived", "true"), *_LIMIT), _Workspace, _workspace)


def api_keys(settings: Settings) -> ListSnapshot:
    return ListSnapshot("api_keys", f"{BASE}/api_keys", _LIMIT, _ApiKey, _api_key)  # every status: no filter


def users(settings: Settings) -> ListSnapshot:
    return ListSnapshot("users", f"{BASE}/users", _LIMIT, _User, _user)


def invites(settings: Settings) -> ListSnapshot:
    return ListSnapshot("invites", f"{BASE}/invites", _LIMIT, _Invite, _invite)


def workspace_members(settings: Settings) -> MembersSnapshot:
    return MembersSnapshot("workspace_members", f"{BASE}/workspaces/{{workspace_id}}/members", _LIMIT, _Member, _member,
                           unique=("workspace_id", "user_id"))
