"""The curated tables' Parquet schemas: the one source of truth for column names and types.

Column names and types are the contract with Athena users (product.md): never rename or retype them; add
columns freely. `athena_type` maps each Arrow type to the Glue/Athena type the template declares, and a
test checks the template against these schemas.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "AMOUNT_CENTS", "AMOUNT_USD", "ANALYTICS_COST", "ANALYTICS_DIMENSIONS", "ANALYTICS_USAGE",
    "API_KEYS", "CLAUDE_CODE_MODELS", "CLAUDE_CODE_TOOLS", "CLAUDE_CODE_USAGE",
    "COST_DIMENSIONS", "COST_REPORT", "ESTIMATED_USD", "FOCUS", "FOCUS_COST", "FOCUS_QUANTITY", "FOCUS_UNIT_PRICE",
    "INVITES", "LABELS", "OBSERVED_PRICES", "OBSERVED_UNIT_PRICE", "ORGANIZATION", "RATE_LIMITS", "RUNS", "SPEND_LIMITS",
    "SNAPSHOT_TABLES", "TABLES", "TAGS", "TIMESTAMP", "TOOL_COUNTS",
    "USAGE_COUNTERS", "USAGE_DIMENSIONS", "USAGE_MESSAGES", "USERS", "WORKSPACES", "WORKSPACE_MEMBERS",
    "athena_columns", "athena_type",
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
        # added (issue 19): the price behind the estimate: 'list', 'list-lower-bound' (Haiku 5.5), 'observed' (learned
        # from the bill), null (unpriced)
        pa.field("estimate_basis", pa.string()),
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

# -- the Usage and Cost Analytics API (beta; issue 18): hourly usage with request counts, hourly billed cost per
# API key, model, token type and service tier (Priority Tier included). Beside the legacy reports, never instead.
ANALYTICS_DIMENSIONS = ("api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo",
                        "actor_type", "actor_id")
ANALYTICS_USAGE = pa.schema(
    [
        pa.field("bucket_start", TIMESTAMP, nullable=False),
        pa.field("bucket_end", TIMESTAMP, nullable=False),
        pa.field("bucket_width", pa.string(), nullable=False),
        *(pa.field(name, pa.string()) for name in ANALYTICS_DIMENSIONS),
        *(pa.field(name, pa.int64(), nullable=False) for name in USAGE_COUNTERS),
        pa.field("total_tokens", pa.int64()),
        pa.field("requests", pa.int64()),  # null when the API gives none
        pa.field("ingested_at", TIMESTAMP, nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)
ANALYTICS_COST = pa.schema(
    [
        pa.field("bucket_start", TIMESTAMP, nullable=False),
        pa.field("bucket_end", TIMESTAMP, nullable=False),
        pa.field("bucket_width", pa.string(), nullable=False),
        *(pa.field(name, pa.string()) for name in ANALYTICS_DIMENSIONS),
        pa.field("cost_type", pa.string()),
        pa.field("token_type", pa.string()),
        pa.field("currency", pa.string()),
        pa.field("amount_cents", AMOUNT_CENTS, nullable=False),  # post-discount, pre-credit
        pa.field("amount_usd", AMOUNT_USD),
        pa.field("list_amount_cents", AMOUNT_CENTS),  # list price, pre-discount
        pa.field("list_amount_usd", AMOUNT_USD),
        pa.field("ingested_at", TIMESTAMP, nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

# -- the organization, as a daily snapshot of its lists (one partition per UTC day of the snapshot) -----------------
# The API's fields flattened with their own names; nested objects become <object>_<field> (created_by_id, scope_type).

_STR = pa.string()


def _snapshot(*fields: pa.Field) -> pa.Schema:
    return pa.schema([*fields, pa.field("snapshot_at", TIMESTAMP, nullable=False), pa.field("run_id", _STR, nullable=False)])


ORGANIZATION = _snapshot(
    pa.field("id", _STR, nullable=False),
    pa.field("type", _STR),
    pa.field("name", _STR),
)

WORKSPACES = _snapshot(
    pa.field("id", _STR, nullable=False),
    pa.field("type", _STR),
    pa.field("name", _STR),
    pa.field("created_at", TIMESTAMP),
    pa.field("archived_at", TIMESTAMP),  # null while the workspace is active
    pa.field("display_color", _STR),
    pa.field("compartment_id", _STR),
    pa.field("external_key_id", _STR),
    pa.field("data_residency_workspace_geo", _STR),
    pa.field("data_residency_default_inference_geo", _STR),
    pa.field("data_residency_allowed_inference_geos", pa.list_(_STR)),
    pa.field("tags", pa.map_(_STR, _STR)),
)

API_KEYS = _snapshot(
    pa.field("id", _STR, nullable=False),
    pa.field("type", _STR),
    pa.field("name", _STR),
    pa.field("status", _STR),
    # the key's workspace: the deprecated top-level field, else scope.workspace_id; null for default-workspace and
    # organization-scoped keys
    pa.field("workspace_id", _STR),
    pa.field("scope_type", _STR),  # workspace | organization (newer API versions; null when the key has no scope)
    pa.field("scope_workspace_id", _STR),
    pa.field("created_at", TIMESTAMP),
    pa.field("expires_at", TIMESTAMP),
    pa.field("created_by_id", _STR),
    pa.field("created_by_type", _STR),
    pa.field("principal_id", _STR),  # principal.id, or principal.user_id / principal.service_account_id
    pa.field("principal_type", _STR),  # user | service_account (the *_actor spellings normalised)
    pa.field("partial_key_hint", _STR),
)

USERS = _snapshot(
    pa.field("id", _STR, nullable=False),
    pa.field("type", _STR),
    pa.field("email", _STR),
    pa.field("name", _STR),
    pa.field("role", _STR),
    pa.field("added_at", TIMESTAMP),
)

INVITES = _snapshot(
    pa.field("id", _STR, nullable=False),
    pa.field("type", _STR),
    pa.field("email", _STR),
    pa.field("role", _STR),
    pa.field("status", _STR),
    pa.field("invited_at", TIMESTAMP),
    pa.field("expires_at", TIMESTAMP),
)

WORKSPACE_MEMBERS = _snapshot(
    pa.field("workspace_id", _STR, nullable=False),
    pa.field("user_id", _STR, nullable=False),
    pa.field("workspace_role", _STR),
    pa.field("type", _STR),
)

# labels in force on the day: API key and workspace ids -> free-form key/value (file, agent map, workspace tags)
LABELS = pa.schema(
    [
        pa.field("entity_type", _STR, nullable=False),  # api_key | workspace
        pa.field("entity_id", _STR, nullable=False),
        pa.field("key", _STR, nullable=False),
        pa.field("value", _STR, nullable=False),
        pa.field("source", _STR, nullable=False),  # file | agent_map | workspace_tags
        pa.field("snapshot_at", TIMESTAMP, nullable=False),
        pa.field("run_id", _STR, nullable=False),
    ]
)

# -- the Claude Code usage report: one row per record (UTC day x actor x terminal x local/remote) ---------------------

CLAUDE_CODE_TOOLS = ("edit_tool", "multi_edit_tool", "notebook_edit_tool", "write_tool")
TOOL_COUNTS = pa.struct([pa.field("accepted", pa.int64()), pa.field("rejected", pa.int64())])
_ACTOR = (
    pa.field("date", pa.date32(), nullable=False),
    pa.field("actor_type", _STR, nullable=False),  # user_actor | api_actor
    pa.field("actor_email_address", _STR),  # user actors
    pa.field("actor_api_key_name", _STR),  # API actors: the key's name, not its id
)

CLAUDE_CODE_USAGE = pa.schema(
    [
        *_ACTOR,
        pa.field("organization_id", _STR),
        pa.field("customer_type", _STR),
        pa.field("subscription_type", _STR),
        pa.field("terminal_type", _STR),
        pa.field("is_remote", pa.bool_()),
        *(pa.field(name, pa.int64(), nullable=False) for name in ("num_sessions", "lines_added", "lines_removed", "commits", "pull_requests")),
        *(pa.field(f"{tool}_{outcome}", pa.int64()) for tool in CLAUDE_CODE_TOOLS for outcome in ("accepted", "rejected")),
        pa.field("other_tool_actions", pa.map_(_STR, TOOL_COUNTS)),  # tools beyond the four above, as the API names them
        pa.field("ingested_at", TIMESTAMP, nullable=False),
        pa.field("run_id", _STR, nullable=False),
    ]
)

CLAUDE_CODE_MODELS = pa.schema(
    [
        *_ACTOR,
        pa.field("terminal_type", _STR),
        pa.field("is_remote", pa.bool_()),
        pa.field("model", _STR, nullable=False),
        *(pa.field(name, pa.int64(), nullable=False) for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")),
        pa.field("estimated_cost_cents", AMOUNT_CENTS, nullable=False),  # the API's number of cents, exact
        pa.field("estimated_cost_usd", AMOUNT_USD),  # null unless the currency is USD
        pa.field("currency", _STR),
        pa.field("ingested_at", TIMESTAMP, nullable=False),
        pa.field("run_id", _STR, nullable=False),
    ]
)


# The cost report in FinOps FOCUS 1.2 columns plus the 1.3 provider columns (`ServiceProviderName`,
# `HostProviderName`), so the table outlives 1.4, which drops `ProviderName`/`PublisherName`. Column ids are the
# spec's (PascalCase); what FOCUS has no column for is an `x_` column, after all FOCUS columns, as the spec asks.
FOCUS_COST = AMOUNT_USD  # every cost column: BilledCost is amount_usd itself, to the last digit
FOCUS_UNIT_PRICE = pa.decimal128(38, 12)  # USD per pricing unit (1,000,000 tokens; 1,000 web searches)
FOCUS_QUANTITY = pa.decimal128(38, 6)  # tokens or requests; per million tokens needs six decimal places
TAGS = pa.map_(pa.string(), pa.string())  # Tags, SkuPriceDetails (JSON objects in CSV)

FOCUS = pa.schema(
    [
        pa.field("BilledCost", FOCUS_COST, nullable=False),
        pa.field("BillingAccountId", pa.string()),  # null only while no `organization` snapshot is in the lake
        pa.field("BillingAccountName", pa.string()),
        pa.field("BillingCurrency", pa.string(), nullable=False),
        pa.field("BillingPeriodEnd", TIMESTAMP, nullable=False),
        pa.field("BillingPeriodStart", TIMESTAMP, nullable=False),
        pa.field("ChargeCategory", pa.string(), nullable=False),
        pa.field("ChargeClass", pa.string()),
        pa.field("ChargeDescription", pa.string()),
        pa.field("ChargeFrequency", pa.string(), nullable=False),
        pa.field("ChargePeriodEnd", TIMESTAMP, nullable=False),
        pa.field("ChargePeriodStart", TIMESTAMP, nullable=False),
        pa.field("ConsumedQuantity", FOCUS_QUANTITY),
        pa.field("ConsumedUnit", pa.string()),
        pa.field("ContractedCost", FOCUS_COST, nullable=False),
        pa.field("EffectiveCost", FOCUS_COST, nullable=False),
        pa.field("HostProviderName", pa.string(), nullable=False),  # FOCUS 1.3
        pa.field("InvoiceId", pa.string()),  # the Admin API exposes no invoices: always null
        pa.field("InvoiceIssuerName", pa.string(), nullable=False),
        pa.field("ListCost", FOCUS_COST, nullable=False),
        pa.field("ListUnitPrice", FOCUS_UNIT_PRICE),
        pa.field("PricingQuantity", FOCUS_QUANTITY),
        pa.field("PricingUnit", pa.string()),
        pa.field("ProviderName", pa.string(), nullable=False),  # deprecated in 1.3, gone in 1.4
        pa.field("PublisherName", pa.string(), nullable=False),  # deprecated in 1.3, gone in 1.4
        pa.field("RegionId", pa.string()),
        pa.field("RegionName", pa.string()),
        pa.field("ServiceCategory", pa.string(), nullable=False),
        pa.field("ServiceName", pa.string(), nullable=False),
        pa.field("ServiceProviderName", pa.string(), nullable=False),  # FOCUS 1.3
        pa.field("ServiceSubcategory", pa.string(), nullable=False),
        pa.field("SkuId", pa.string()),
        pa.field("SkuMeter", pa.string()),
        pa.field("SkuPriceDetails", TAGS),  # x_ properties of the price point (tier, context window, geo)
        pa.field("SkuPriceId", pa.string()),  # the SKU at one price point: model:token type:tier:context window:geo
        pa.field("SubAccountId", pa.string()),
        pa.field("SubAccountName", pa.string()),
        pa.field("Tags", TAGS),
        pa.field("x_ContextWindow", pa.string()),
        pa.field("x_CostBasis", pa.string(), nullable=False),  # 'billed' (the cost report) or 'estimated' (Priority Tier)
        pa.field("x_CostType", pa.string()),
        pa.field("x_InferenceGeo", pa.string()),
        pa.field("x_Model", pa.string()),
        pa.field("x_ServiceTier", pa.string()),
        pa.field("x_Source", pa.string(), nullable=False),
        pa.field("x_TokenType", pa.string()),
    ]
)

# issue 19: the unit prices the bill shows, one row per day, model, token type, tier, context window and geo
OBSERVED_UNIT_PRICE = pa.decimal128(38, 18)  # USD per 1,000,000 tokens: billed x 1e6 / tokens, to 18 places
OBSERVED_PRICES = pa.schema(
    [
        pa.field("day", pa.date32(), nullable=False),
        pa.field("model", pa.string()),
        pa.field("token_type", pa.string()),  # the cost report's token_type
        pa.field("service_tier", pa.string()),
        pa.field("context_window", pa.string()),
        pa.field("inference_geo", pa.string()),
        pa.field("tokens", pa.int64(), nullable=False),
        pa.field("billed_usd", FOCUS_COST, nullable=False),
        pa.field("unit_price_usd_per_mtok", OBSERVED_UNIT_PRICE, nullable=False),
        pa.field("list_price_usd_per_mtok", FOCUS_UNIT_PRICE),  # null: the model has no list price
        pa.field("ratio", OBSERVED_UNIT_PRICE),  # observed / list
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

ENDPOINT_ERROR = pa.struct(
    [
        pa.field("report", pa.string()),
        pa.field("error_type", pa.string()),
        pa.field("error", pa.string()),
    ]
)

ENDPOINT_RESULT = pa.struct(
    [
        pa.field("report", pa.string()),
        pa.field("window_start", TIMESTAMP),
        pa.field("window_end", TIMESTAMP),
        pa.field("bucket_width", pa.string()),
        pa.field("bytes_per_bucket", pa.int64()),
        pa.field("rows", pa.int64()),
        pa.field("status", pa.string()),  # ok | failed | unavailable
    ]
)

UNAVAILABLE = pa.struct([pa.field("report", pa.string()), pa.field("error", pa.string())])

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
        # the largest page average of JSON bytes per bucket this run saw: the next run sizes its pages by it
        # (`ingest.paging`); the cost report has daily buckets only
        pa.field("usage_bucket_width", pa.string()),
        pa.field("usage_bytes_per_bucket", pa.int64()),
        pa.field("cost_bytes_per_bucket", pa.int64()),
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
        # added: endpoints that failed without failing the run (a 403 on one list, a report that kept failing)
        pa.field("errors", pa.list_(ENDPOINT_ERROR)),
        # added (issue 8): days not written because the API's buckets stopped short of the day's end
        pa.field("days_incomplete", pa.int64()),
        # added (issue 8): when the record was last written (a running run rewrites it as it goes), the backfill
        # range as first asked (kept by the runs that resume or continue it), and the process that ran it
        pa.field("updated_at", TIMESTAMP),
        pa.field("range_start", pa.string()),
        pa.field("range_end", pa.string()),
        pa.field("host", pa.string()),
        pa.field("pid", pa.int64()),
        # added (issue 18): one entry per endpoint (window, page size, rows, status), and the optional endpoints
        # this organization or key cannot read (403/404 "not available"), which do not make the run partial
        pa.field("endpoints", pa.list_(ENDPOINT_RESULT)),
        pa.field("unavailable", pa.list_(UNAVAILABLE)),
        # added (issue 19): tokens of usage rows the run stored without an estimate (a model with no price)
        pa.field("unpriced_tokens", pa.int64()),
    ]
)

# -- Anthropic's own limits (issue 18), daily snapshots: the Spend Limits API's caps (amounts in cents strings,
# null = no cap) and the Rate Limits API's configured limits, one row per entry and limiter type
SPEND_LIMITS = _snapshot(
    pa.field("id", _STR),
    pa.field("scope_type", _STR),  # organization | workspace | usage_tier | user | ...
    pa.field("workspace_id", _STR),  # the workspace of a workspace cap
    pa.field("period", _STR),  # monthly | weekly | daily
    pa.field("is_enabled", pa.bool_()),
    pa.field("amount_cents", AMOUNT_CENTS),
    pa.field("amount_usd", AMOUNT_USD),
    pa.field("currency", _STR),
    pa.field("created_at", TIMESTAMP),
    pa.field("updated_at", TIMESTAMP),
)
RATE_LIMITS = _snapshot(
    pa.field("id", _STR),
    pa.field("workspace_id", _STR),  # null: the organization's limit; else a workspace's override
    pa.field("group_id", _STR),
    pa.field("group_type", _STR),  # model_group | batch | files | skills | token_count | web_search
    pa.field("group_name", _STR),
    pa.field("models", pa.list_(_STR)),
    pa.field("limit_type", _STR),  # requests_per_minute | input_tokens_per_minute | output_tokens_per_minute | ...
    pa.field("limit_value", pa.int64()),
)

SNAPSHOT_TABLES: dict[str, pa.Schema] = {
    "organization": ORGANIZATION,
    "workspaces": WORKSPACES,
    "api_keys": API_KEYS,
    "users": USERS,
    "invites": INVITES,
    "workspace_members": WORKSPACE_MEMBERS,
    "labels": LABELS,
    "spend_limits": SPEND_LIMITS,
    "rate_limits": RATE_LIMITS,
}

TABLES: dict[str, pa.Schema] = {
    "usage_messages": USAGE_MESSAGES,
    "cost_report": COST_REPORT,
    "runs": RUNS,
    "claude_code_usage": CLAUDE_CODE_USAGE,
    "claude_code_models": CLAUDE_CODE_MODELS,
    "analytics_usage": ANALYTICS_USAGE,
    "analytics_cost": ANALYTICS_COST,
    **SNAPSHOT_TABLES,
    "focus": FOCUS,
    "observed_prices": OBSERVED_PRICES,
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
    if pa.types.is_date32(arrow_type):
        return "date"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_map(arrow_type):
        return f"map<{athena_type(arrow_type.key_type)},{athena_type(arrow_type.item_type)}>"
    if pa.types.is_list(arrow_type):
        return f"array<{athena_type(arrow_type.value_type)}>"
    if pa.types.is_struct(arrow_type):
        fields = ",".join(f"{f.name}:{athena_type(f.type)}" for f in arrow_type)
        return f"struct<{fields}>"
    raise TypeError(f"no Athena type for {arrow_type}")


def athena_columns(table: str) -> list[tuple[str, str]]:
    """(name, athena type) for every column of a curated table, in file order."""
    return [(f.name, athena_type(f.type)) for f in TABLES[table]]
