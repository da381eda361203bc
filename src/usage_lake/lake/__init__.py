"""The lake: where objects live (`store`), what they are called (`layout`: every key), their columns
(`schema`: the Athena contract), how curated days are written and read (`curated`), the one reader of the
snapshot tables (`snapshots`: the snapshot in force on a day is the latest on or before it, else the earliest),
and names for the ids in them (`names`).

`store` is the only module of the package that talks to S3.
"""

from usage_lake.lake.curated import DayAction, parquet_bytes, partition_days, read_parquet, read_table, store_day
from usage_lake.lake.names import Names
from usage_lake.lake.schema import TABLES
from usage_lake.lake.snapshots import InForce, SnapshotReader
from usage_lake.lake.store import Lake, LocalLake, S3Lake, check_lake, open_lake, read_location

__all__ = [
    "TABLES", "DayAction", "InForce", "Lake", "LocalLake", "Names", "S3Lake", "SnapshotReader", "check_lake", "open_lake", "parquet_bytes", "partition_days",
    "read_location", "read_parquet", "read_table", "store_day",
]
