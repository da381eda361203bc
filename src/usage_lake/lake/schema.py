"""The curated tables' Parquet schemas: the one source of truth for column names and types.

Column names and types are the contract with Athena users (product.md): never rename or retype them; add
columns freely. `athena_type` maps each Arrow type to the Glue/Athena type the template declares, and a
test checks the template against these schemas.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "AMOUNT_CENTS", "AMOUNT_USD", "COST_DIMENSIONS", "COST_REPORT", "ESTIMATED_USD", "RUNS", "TABLES", "TIMESTAMP",
    "USAGE_COUNTERS", "USAGE_DIMENSIONS", "USAGE_MESSAGES", "athena_columns", "athena_type",
]

TIMESTAMP = pa.timestamp("ms", tz="UTC")
AMOUNT_CENTS = pa.decimal128(38, 12)
# USD is cents / 100: the same unscaled integer with two more decimal places, so the division is exact.
AMOUNT_USD = pa.decimal128(38, AMOUNT_CENTS.scale + 2)
# tokens x list price, computed in whole pico-dollars (1e-12 USD)
ESTIMATED_USD = pa.decimal128(38, 12)

USAGE_DIMENSIONS = (
    "api_key_id",
    "workspace_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "account_id",
    "service_account_id",
)
USAGE_COUNTERS = (
    "uncached_input_tokens",
    "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "web_search_requests",
)
COST_DIMENSIONS = (
    "workspace_id",
    "description",
    "cost_type",
    "model",
    "token_type",
    "service_tier",
    "context_window",
    "inference_geo",
    "currency",
)

USAGE_MESSAGES = pa.schema(
    [
        pa.field("bucket_start", TIMESTAMP, nullable=False),
        pa.field("bucket_end", TIMESTAMP, nullable=False),
        pa.field("bucket_width", pa.string(), nullable=False),
        *(pa.field(name, pa.string()) for name in USAGE_DIMENSIONS),
        *(pa.field(name, pa.int64(), nullable=False) for name in USAGE_COUNTERS),
        pa.field("ingested_at", TIMESTAMP, nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        # added: list-price estimate of the row (null when the model is not in the price table)
        pa.field("estimated_cost_usd", ESTIMATED_USD),
    ]
)

COST_REPORT = pa.schema(
    [
        pa.field("bucket_start", TIMESTAMP, nullable=False),
        pa.field("bucket_end", TIMESTAMP, nullable=False),
        *(pa.field(name, pa.string()) for name in COST_DIMENSIONS),
        pa.field("amount_cents", AMOUNT_CENTS, nullable=False),
        pa.field("amount_usd", AMOUNT_USD),
        pa.field("ingested_at", TIMESTAMP, nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

DAY_RESULT = pa.struct(
    [
        pa.field("report", pa.string()),
        pa.field("dt", pa.string()),
        pa.field("rows", pa.int64()),
        pa.field("action", pa.string()),
    ]
)

RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("continues", pa.string()),
        pa.field("mode", pa.string(), nullable=False),
        pa.field("reports", pa.string(), nullable=False),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("error_type", pa.string()),
        pa.field("error", pa.string()),
        pa.field("started_at", TIMESTAMP, nullable=False),
        pa.field("finished_at", TIMESTAMP),
        pa.field("duration_seconds", pa.float64()),
        pa.field("usage_window_start", TIMESTAMP),
        pa.field("usage_window_end", TIMESTAMP),
        pa.field("cost_window_start", TIMESTAMP),
        pa.field("cost_window_end", TIMESTAMP),
        pa.field("resume_from", pa.string()),
        pa.field("requests", pa.int64(), nullable=False),
        pa.field("pages", pa.int64(), nullable=False),
        pa.field("retries", pa.int64(), nullable=False),
        pa.field("bytes_received", pa.int64(), nullable=False),
        pa.field("raw_pages_reused", pa.int64(), nullable=False),
        pa.field("usage_rows", pa.int64(), nullable=False),
        pa.field("cost_rows", pa.int64(), nullable=False),
        pa.field("days_written", pa.int64(), nullable=False),
        pa.field("days_kept", pa.int64(), nullable=False),
        pa.field("alerts_sent", pa.int64(), nullable=False),
        pa.field("alerts_failed", pa.int64(), nullable=False),
        pa.field("days", pa.list_(DAY_RESULT)),
        pa.field("notes", pa.list_(pa.string())),
        pa.field("version", pa.string(), nullable=False),
        # added (issue 8): days not written because the API's buckets stopped short of the day's end
        pa.field("days_incomplete", pa.int64()),
        # added (issue 8): when the record was last written (a running run rewrites it as it goes), the backfill
        # range as first asked (kept by the runs that resume or continue it), and the process that ran it
        pa.field("updated_at", TIMESTAMP),
        pa.field("range_start", pa.string()),
        pa.field("range_end", pa.string()),
        pa.field("host", pa.string()),
        pa.field("pid", pa.int64()),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "usage_messages": USAGE_MESSAGES,
    "cost_report": COST_REPORT,
    "runs": RUNS,
}


def athena_type(arrow_type: pa.DataType) -> str:
    """The Athena (Hive DDL) type that reads this Arrow type from Parquet."""
    if pa.types.is_string(arrow_type):
        return "string"
    if pa.types.is_int64(arrow_type):
        return "bigint"
    if pa.types.is_float64(arrow_type):
        return "double"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_list(arrow_type):
        return f"array<{athena_type(arrow_type.value_type)}>"
    if pa.types.is_struct(arrow_type):
        fields = ",".join(f"{f.name}:{athena_type(f.type)}" for f in arrow_type)
        return f"struct<{fields}>"
    raise TypeError(f"no Athena type for {arrow_type}")


def athena_columns(table: str) -> list[tuple[str, str]]:
    """(name, athena type) for every column of a curated table, in file order."""
    return [(f.name, athena_type(f.type)) for f in TABLES[table]]
