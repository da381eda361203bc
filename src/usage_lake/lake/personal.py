"""Personal data in the lake: which fields hold a person's e-mail or name, and what `PERSONAL_DATA` does to them.

`keep` (the default) stores them as the API gives them; `hash` stores a keyed hash instead (`hmac:` and 32 hex
digits of HMAC-SHA256 over the e-mail in lower case, or the name; the same person always hashes the same, so
joins and counts per person still work, and without the key a hash cannot be tested against a list of
addresses); `drop` stores null. The same transform is applied to the raw page before it is stored (`body`) and to
the curated rows (`table`), so a rebuild from raw gives what the run wrote; it is idempotent (a hash is not
hashed again), so applying it twice, or to a lake already minimised, changes nothing.

Ids (user ids, `created_by_id`, `principal_id`) are kept: they name a person only together with the `users`
table. `usage-lake purge --email` (`purge_email`) erases one address from every curated day and raw page.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.config.settings import PERSONAL_DATA_MODES
from usage_lake.lake.curated import partition_days, read_parquet, replace_day
from usage_lake.lake.layout import RAW, partition_key
from usage_lake.lake.store import Lake

__all__ = ["MODES", "PERSONAL_COLUMNS", "PERSONAL_FIELDS", "PersonalData", "Purged", "purge_email"]

MODES = PERSONAL_DATA_MODES
EMAIL, NAME = "email", "name"
# raw pages: per endpoint, the path of each personal field inside every record of `data`, and what it holds
PERSONAL_FIELDS: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "users": ((("email",), EMAIL), (("name",), NAME)),
    "invites": ((("email",), EMAIL),),
    "claude_code": ((("actor", "email_address"), EMAIL),),
}
# curated tables: the columns that hold them
PERSONAL_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "users": (("email", EMAIL), ("name", NAME)),
    "invites": (("email", EMAIL),),
    "claude_code_usage": (("actor_email_address", EMAIL),),
    "claude_code_models": (("actor_email_address", EMAIL),),
}
_HASHED = re.compile(r"hmac:[0-9a-f]{32}")
_CONTEXT = b"anthropic-usage-lake/personal-data/v1"


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
        fields = PERSONAL_FIELDS.get(endpoint)
        if self.keeps or not fields:
            return body
        document = json.loads(body)
        for record in _records(document):
            for path, kind in fields:
                _edit(record, path, functools.partial(self.value, kind=kind))
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

    def table(self, name: str, table: pa.Table) -> pa.Table:
        """Curated rows with their personal columns transformed."""
        columns = PERSONAL_COLUMNS.get(name)
        if self.keeps or not columns or table.num_rows == 0:
            return table
        for column, kind in columns:
            if column in table.column_names:
                index = table.schema.get_field_index(column)
                values = [self.value(v, kind) for v in table.column(column).to_pylist()]
                table = table.set_column(index, table.schema.field(index), pa.array(values, pa.string()))
        return table


def _records(document: Any) -> Iterator[dict[str, Any]]:
    data = document.get("data") if isinstance(document, dict) else None
    for record in data if isinstance(data, list) else []:
        if isinstance(record, dict):
            yield record


def _edit(record: dict[str, Any], path: tuple[str, ...], change: Callable[[str | None], str | None]) -> bool:
    """Apply `change` to the string at `path`; whether it was there."""
    *parents, leaf = path
    node: Any = record
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or not isinstance(node.get(leaf), str):
        return False
    node[leaf] = change(node[leaf])
    return True


@dataclass
class Purged:
    """What `purge_email` changed: the objects it rewrote and the rows and records it erased."""

    objects: list[str] = field(default_factory=list)
    rows: int = 0
    records: int = 0


def purge_email(lake: Lake, address: str, personal: PersonalData | None = None) -> Purged:
    """Erase one e-mail address from the lake: the rows of `users` and `invites` that hold it are removed, and it is
    nulled in the Claude Code tables (the figures stay); every raw page that holds it is rewritten in place (its
    record removed, or its e-mail nulled). Matches the address in any case, and its hash when `personal` has a key."""
    wanted = {address.strip().lower()}
    if personal is not None and personal.key:
        wanted.add(personal.hash(address, EMAIL))
    purged = Purged()
    for table, columns in PERSONAL_COLUMNS.items():
        column = next(c for c, kind in columns if kind == EMAIL)
        for day in partition_days(lake, table):
            key = partition_key(table, day)
            stored = read_parquet(lake.get(key), table=table)
            hits = pc.is_in(pc.utf8_lower(stored.column(column)), value_set=pa.array(sorted(wanted)))
            hits = pc.fill_null(hits, False)
            count = pc.sum(hits).as_py() or 0
            if not count:
                continue
            if table in ("users", "invites"):
                rewritten = stored.filter(pc.invert(hits))
            else:
                index = stored.schema.get_field_index(column)
                rewritten = stored.set_column(index, stored.schema.field(index),
                                              pc.if_else(hits, pa.scalar(None, pa.string()), stored.column(column)))
            replace_day(lake, table, day, rewritten)
            purged.objects.append(key)
            purged.rows += count
    for endpoint, fields in PERSONAL_FIELDS.items():
        for key in lake.list(f"{RAW}/{endpoint}/"):
            if not key.endswith(".json.gz"):
                continue
            document = json.loads(gzip.decompress(lake.get(key)))
            if not isinstance(document, dict) or not isinstance(document.get("data"), list):
                continue
            erased = _erase(document, fields, wanted, remove=endpoint in ("users", "invites"))
            if erased:
                body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
                lake.put(key, gzip.compress(body, mtime=0))
                purged.objects.append(key)
                purged.records += erased
    return purged


def _erase(document: dict[str, Any], fields: tuple[tuple[tuple[str, ...], str], ...], wanted: set[str], *, remove: bool) -> int:
    """Remove (or null the e-mail of) every record of the page that holds a wanted address; how many there were."""
    emails = [path for path, kind in fields if kind == EMAIL]
    erased, kept = 0, []
    for record in document["data"]:
        values = [_value_at(record, path) for path in emails] if isinstance(record, dict) else []
        if any(isinstance(v, str) and v.strip().lower() in wanted for v in values):
            erased += 1
            if remove:
                continue
            for path in emails:
                _edit(record, path, lambda _: None)
        kept.append(record)
    document["data"] = kept
    return erased


def _value_at(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = record
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node
