"""Reading and writing the curated Parquet objects of a lake."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from datetime import date
from enum import StrEnum

import pyarrow as pa
import pyarrow.parquet as pq

from usage_lake.lake.layout import partition_key
from usage_lake.lake.schema import TABLES
from usage_lake.lake.store import Lake

__all__ = ["DayAction", "parquet_bytes", "partition_days", "read_parquet", "read_table", "replace_day", "store_day",
           "store_tables"]

COMPRESSION = "zstd"


class DayAction(StrEnum):
    """What happened to one (endpoint, day)."""

    WRITTEN = "written"  # the day's partition was replaced with the fetched rows
    KEPT = "kept"  # the API returned nothing for a day that already holds rows: the old rows were kept
    EMPTY = "empty"  # nothing returned and nothing stored: nothing to write
    NOT_READY = "not_ready"  # the endpoint has no complete data for this range yet
    INCOMPLETE = "incomplete"  # the API's buckets stopped short of the day's end: not written, the stored day kept
    NO_RAW = "no_raw"  # rebuild: no raw pages (manifest) for the day
    CURRENT = "current"  # a snapshot: the day's partition is already there (taken earlier today): not fetched again


def parquet_bytes(table: pa.Table) -> bytes:
    """One Parquet file (zstd, dictionary-encoded strings) as bytes, ready for a single PUT."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=COMPRESSION)
    return sink.getvalue().to_pybytes()


def store_day(lake: Lake, table_name: str, day: date, table: pa.Table) -> DayAction:
    """Replace one day of a curated table in a single write; never replace stored rows with nothing.

    Returns the action taken: WRITTEN, KEPT (no rows came back for a day the lake holds: kept as it is),
    or EMPTY (no rows, nothing stored).
    """
    key = partition_key(table_name, day)
    if table.num_rows == 0:
        return DayAction.KEPT if lake.exists(key) else DayAction.EMPTY
    lake.put(key, parquet_bytes(table))
    return DayAction.WRITTEN


def store_tables(lake: Lake, day: date, tables: Mapping[str, pa.Table]) -> DayAction:
    """One day of an endpoint that writes several tables: the first decides, as in `store_day`; the others go with
    it, written (even empty) whenever it is written and left alone when it is not, so a day's tables agree."""
    (first, rows), *companions = tables.items()
    action = store_day(lake, first, day, rows)
    if action == DayAction.WRITTEN:
        for name, part in companions:
            lake.put(partition_key(name, day), parquet_bytes(part))
    return action


def replace_day(lake: Lake, table_name: str, day: date, table: pa.Table) -> DayAction:
    """A snapshot's day: always written, even empty (an organization with no invites has no invites that day)."""
    lake.put(partition_key(table_name, day), parquet_bytes(table))
    return DayAction.WRITTEN


def read_parquet(data: bytes, *, table: str | None = None, columns: list[str] | None = None,
                 dictionary: list[str] | None = None) -> pa.Table:
    """A Parquet object as a table. With `table`, conformed to today's schema: columns added since the
    object was written (as Athena does) read as nulls, so old partitions stay readable. `dictionary` names string
    columns to read dictionary-encoded (faster to decode and to group by)."""
    file = pq.ParquetFile(io.BytesIO(data), read_dictionary=dictionary)  # no dataset layer: the Lambda package leaves it out
    if table is None:
        return file.read(columns=columns)
    schema = TABLES[table]
    wanted = columns or schema.names
    present = [name for name in wanted if name in file.schema_arrow.names]
    part = file.read(columns=present)
    for name in wanted:
        if name not in present:
            part = part.append_column(schema.field(name), pa.nulls(part.num_rows, schema.field(name).type))
    return part.select(wanted)


def partition_days(lake: Lake, table: str) -> list[date]:
    """The days that hold a curated partition of `table`."""
    days = []
    for key in lake.list(f"{table}/dt="):
        if key.endswith(".parquet"):
            days.append(date.fromisoformat(key[len(f"{table}/dt="):][:10]))
    return sorted(set(days))


def read_table(lake: Lake, table: str, days: Iterable[date] | None = None) -> pa.Table:
    """A curated table (or some of its days) with its `dt` partition column, as Athena would show it."""
    wanted = partition_days(lake, table) if days is None else sorted(days)
    parts = []
    for day in wanted:
        key = partition_key(table, day)
        if lake.exists(key):
            part = read_parquet(lake.get(key), table=table)
            parts.append(part.append_column("dt", pa.repeat(day.isoformat(), part.num_rows).cast(pa.string())))
    schema = TABLES[table].append(pa.field("dt", pa.string()))
    return pa.concat_tables(parts) if parts else schema.empty_table()
