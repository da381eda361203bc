"""The lake: where objects live (`store`), what they are called (`layout`: every key), their columns
(`schema`: the Athena contract) and how curated days are written and read (`curated`).

`store` is the only module of the package that talks to S3.
"""

from usage_lake.lake.curated import DayAction, parquet_bytes, partition_days, read_parquet, read_table, store_day
from usage_lake.lake.schema import TABLES
from usage_lake.lake.store import Lake, LocalLake, S3Lake, open_lake, read_location

__all__ = [
    "TABLES", "DayAction", "Lake", "LocalLake", "S3Lake", "open_lake", "parquet_bytes", "partition_days",
    "read_location", "read_parquet", "read_table", "store_day",
]
