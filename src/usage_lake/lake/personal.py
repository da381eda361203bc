"""Personal data in the lake: which fields hold a person's e-mail or name, and what `PERSONAL_DATA` does to them.

`keep` (the default) stores them as the API gives them; `hash` stores a keyed hash instead (`hmac:` and 32 hex
digits of HMAC-SHA256 over the e-mail in lower case, or the name; the same person always hashes the same, so
joins and counts per person still work, and without the key a hash cannot be tested against a list of
addresses); `drop` stores null. The same transform is applied to the raw page before it is stored (`body`) and to
the curated rows (`table`), so a rebuild from raw gives what the run wrote; it is idempotent (a hash is not
hashed again), so applying it twice, or to a lake already minimised, changes nothing.

What counts as personal is decided by field names, so an endpoint added later is covered without a list to
keep up to date: in a raw page, every `email` / `email_address` string at any depth, and the `name` of an object
that is a person (`type` user, user_actor or invite); in a curated table, every column named `email`,
`email_address` or ending in `_email` / `_email_address`, and the person-name columns (`users.name`, columns
ending in `actor_name` or `user_name`). The usage and cost reports hold none and are not parsed for it.

Ids (user ids, `created_by_id`, `principal_id`) are kept: they name a person only together with the `users`
table. `usage-lake purge --email` (`purge_email`) erases one address from every curated day and raw page.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.config.settings import PERSONAL_DATA_MODES
from usage_lake.lake.curated import partition_days, read_parquet, replace_day
from usage_lake.lake.layout import RAW, partition_key
from usage_lake.lake.schema import TABLES
from usage_lake.lake.store import Lake

__all__ = ["MODES", "NO_PERSONAL_DATA", "PersonalData", "Purged", "personal_columns", "purge_email"]

MODES = PERSONAL_DATA_MODES
EMAIL, NAME = "email", "name"
EMAIL_FIELDS = frozenset({"email", "email_address"})
PERSON_TYPES = frozenset({"user", "user_actor", "invite"})  # objects whose `name` is a person's
NO_PERSONAL_DATA = frozenset({"usage", "cost"})  # endpoints whose (large) pages hold no person: never parsed for it
REMOVED_WITH_PERSON = frozenset({"users", "invites"})  # a purge removes the record itself, not just its e-mail
_EMAIL_COLUMN = re.compile(r"(.*_)?email(_address)?")
_NAME_COLUMN = re.compile(r".*(actor|user)_name")
_HASHED = re.compile(r"hmac:[0-9a-f]{32}")
_CONTEXT = b"anthropic-usage-lake/personal-data/v1"


def personal_columns(table: str, column_names: list[str]) -> list[tuple[str, str]]:
    """(column, EMAIL or NAME) of a curated table's columns that hold a person's e-mail or name."""
    found = []
    for column in column_names:
        if _EMAIL_COLUMN.fullmatch(column):
            found.append((column, EMAIL))
        elif _NAME_COLUMN.fullmatch(column) or (table == "users" and column == "name"):
            found.append((column, NAME))
    return found


@dataclass(frozen=True)
class PersonalData:
    """What to do with personal fields: `keep`, `hash` (with `key`), or `drop`."""

    mode: str = "keep"
    key: bytes = field(default=b"", repr=False)

    @classmethod
    def derived(cls, mode: str, secret: str) -> PersonalData:
        """The hash key derived from a secret (the Admin key, or PERSONAL_DATA_KEY): never the secret itself."""
        return cls(mode, hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest())

    @property
    def keeps(self) -> bool:
        return self.mode == "keep"

    def value(self, text: str | None, kind: str = EMAIL) -> str | None:
        """One e-mail or name as stored."""
        if text is None or self.mode == "keep" or _HASHED.fullmatch(text):
            return text
        if self.mode == "drop":
            return None
        return self.hash(text, kind)

    def hash(self, text: str, kind: str = EMAIL) -> str:
        normal = text.strip().lower() if kind == EMAIL else text.strip()
        return "hmac:" + hmac.new(self.key, normal.encode(), hashlib.sha256).hexdigest()[:32]

    def body(self, endpoint: str, body: bytes | bytearray) -> bytes | bytearray:
        """A raw page with its personal fields transformed (the same bytes when there are none or the mode is keep)."""
        if self.keeps or endpoint in NO_PERSONAL_DATA or not _may_hold_people(body):
            return body
        document = json.loads(body)
        if not _walk(document, self.value):
            return body
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

    def table(self, name: str, table: pa.Table) -> pa.Table:
        """Curated rows with their personal columns transformed."""
        if self.keeps or table.num_rows == 0:
            return table
        for column, kind in personal_columns(name, table.column_names):
            index = table.schema.get_field_index(column)
            values = [self.value(v, kind) for v in table.column(column).to_pylist()]
            table = table.set_column(index, table.schema.field(index), pa.array(values, pa.string()))
        return table


def _may_hold_people(body: bytes | bytearray) -> bool:
    return b"email" in body or b'"name"' in body


def _walk(node: Any, change: Callable[[str | None, str], str | None]) -> bool:
    """Apply `change(value, kind)` to every personal field at any depth; whether there was one."""
    found = False
    if isinstance(node, dict):
        for key in EMAIL_FIELDS & node.keys():
            if isinstance(node[key], str):
                node[key], found = change(node[key], EMAIL), True
        if node.get("type") in PERSON_TYPES and isinstance(node.get("name"), str):
            node["name"], found = change(node["name"], NAME), True
        for child in node.values():
            if isinstance(child, (dict, list)):
                found = _walk(child, change) or found
    elif isinstance(node, list):
        for child in node:
            if isinstance(child, (dict, list)):
                found = _walk(child, change) or found
    return found


@dataclass
class Purged:
    """What `purge_email` changed: the objects it rewrote and the rows and records it erased."""

    objects: list[str] = field(default_factory=list)
    rows: int = 0
    records: int = 0


def purge_email(lake: Lake, address: str, personal: PersonalData | None = None) -> Purged:
    """Erase one e-mail address from the lake: the rows of `users` and `invites` that hold it are removed, and in
    every other table its e-mail (and the person's name) is nulled, the figures kept; every raw page that holds it
    is rewritten in place the same way. Matches the address in any case, and its hash when `personal` has a key."""
    wanted = {address.strip().lower()}
    if personal is not None and personal.key:
        wanted.add(personal.hash(address, EMAIL))
    purged = Purged()
    for table, schema in TABLES.items():
        columns = personal_columns(table, schema.names)
        emails = [c for c, kind in columns if kind == EMAIL]
        if not emails:
            continue
        for day in partition_days(lake, table):
            key = partition_key(table, day)
            stored = read_parquet(lake.get(key), table=table)
            hits = pa.array([False] * stored.num_rows)
            for column in emails:
                match = pc.fill_null(pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(stored.column(column))),
                                              value_set=pa.array(sorted(wanted))), False)
                hits = pc.or_(hits, match)
            count = pc.sum(hits).as_py() or 0
            if not count:
                continue
            if table in REMOVED_WITH_PERSON:
                rewritten = stored.filter(pc.invert(hits))
            else:
                rewritten = stored
                for column, _ in columns:
                    index = rewritten.schema.get_field_index(column)
                    rewritten = rewritten.set_column(index, rewritten.schema.field(index), pc.if_else(
                        hits, pa.scalar(None, pa.string()), rewritten.column(column)))
            replace_day(lake, table, day, rewritten)
            purged.objects.append(key)
            purged.rows += count
    for key in lake.list(f"{RAW}/"):
        endpoint = key.split("/")[1] if key.count("/") > 1 else ""
        if not key.endswith(".json.gz") or endpoint in NO_PERSONAL_DATA:
            continue
        body = gzip.decompress(lake.get(key))
        if not _may_hold_people(body):
            continue
        document = json.loads(body)
        erased = _erase(document, wanted, remove=endpoint in REMOVED_WITH_PERSON)
        if erased:
            lake.put(key, gzip.compress(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(), mtime=0))
            purged.objects.append(key)
            purged.records += erased
    return purged


def _holds(node: Any, wanted: set[str]) -> bool:
    """Whether a record holds a wanted address in any e-mail field, at any depth."""
    found: list[bool] = []

    def look(text: str | None, kind: str) -> str | None:
        found.append(kind == EMAIL and text is not None and text.strip().lower() in wanted)
        return text

    _walk(node, look)
    return any(found)


def _erase(document: Any, wanted: set[str], *, remove: bool) -> int:
    """Remove (or null the e-mails and person names of) every record of the page that holds a wanted address."""
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        return 0
    erased, kept = 0, []
    for record in data:
        if _holds(record, wanted):
            erased += 1
            if remove:
                continue
            _walk(record, lambda text, kind: None)
        kept.append(record)
    document["data"] = kept
    return erased
