"""The `focus` table from hand-written cost and usage pages: every FOCUS value of every kind of row, worked by hand;
names, tags and their fallbacks; Priority Tier estimates behind the setting; the CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from support.focus_rules import violations
from usage_lake.config.settings import Settings, SettingsError
from usage_lake.focus import Names, csv_columns, focus_rows, names_on, write_csv
from usage_lake.lake import LocalLake, parquet_bytes
from usage_lake.lake.layout import partition_key
from usage_lake.lake.schema import FOCUS
from usage_lake.money import default_prices
from usage_lake.sources.admin.cost import cost_table
from usage_lake.sources.admin.usage import usage_table
from usage_lake.sources.http import decode_page

DAY = date(2026, 11, 20)
START, END = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
AT = datetime(2026, 11, 23, 14, 37, tzinfo=UTC)
OPUS, SONNET, HAIKU = "claude-opus-4-6", "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"
A, B = "wrkspc_A", "wrkspc_B"


def page(results: list[dict]) -> bytes:
    return json.dumps({"data": [{"starting_at": "2026-11-20T00:00:00Z", "ending_at": "2026-11-21T00:00:00Z",
                                 "results": results}], "has_more": False, "next_page": None}).encode()


def charge(amount: str, workspace: str | None, description: str, cost_type: str | None, model: str | None = None,
           token_type: str | None = None, tier: str | None = None, window: str | None = None, geo: str | None = None) -> dict:
    return {"currency": "USD", "amount": amount, "workspace_id": workspace, "description": description, "cost_type": cost_type,
            "model": model, "token_type": token_type, "service_tier": tier, "context_window": window, "inference_geo": geo}


def used(key: str, workspace: str | None, model: str, tier: str, window: str, geo: str, *, uncached: int = 0, w5m: int = 0,
         w1h: int = 0, read: int = 0, output: int = 0, searches: int = 0) -> dict:
    return {"uncached_input_tokens": uncached, "cache_creation": {"ephemeral_5m_input_tokens": w5m, "ephemeral_1h_input_tokens": w1h},
            "cache_read_input_tokens": read, "output_tokens": output, "server_tool_use": {"web_search_requests": searches},
            "api_key_id": key, "workspace_id": workspace, "model": model, "service_tier": tier, "context_window": window,
            "inference_geo": geo}


COST = [
    # 0: Opus 4.6 output, US inference (1.1x): list 27.5 USD/MTok; billed below list (a discount)
    charge("25", None, "Claude Opus 4.6 Usage - Output Tokens (US Inference)", "tokens", OPUS, "output_tokens", "standard", "0-200k", "us"),
    # 1: Sonnet 4.5 5m cache writes, batch (0.5x) and long context (2x input-side): 3.75 USD/MTok, two keys' tokens
    charge("1.875", A, "Claude Sonnet 4.5 Usage - 5m Cache Write Tokens (Batch, Long Context)", "tokens", SONNET,
           "cache_creation.ephemeral_5m_input_tokens", "batch", "200k-1M", "not_available"),
    # 2: web search: 5 requests outside Priority Tier (the 2 Priority Tier ones are not in the cost report)
    charge("5", A, "Web Search Usage", "web_search"),
    # 3: code execution: money only, the API says nothing of hours
    charge("150.5", A, "Code Execution Usage", "code_execution"),
    # 4: a token row with no usage row behind it
    charge("12", B, "Claude Haiku 4.5 Usage - Input Tokens", "tokens", HAIKU, "uncached_input_tokens", "standard", "0-200k", "not_available"),
    # 5: a credit
    charge("-100", B, "Promotional credit", None),
    # 6: a charge of a kind the API may add
    charge("300", None, "Priority Support", "support_plan"),
    # 7: a model the price table does not know
    charge("3", B, "Claude Future 9 Usage - Output Tokens", "tokens", "claude-future-9", "output_tokens", "standard", "0-200k", "global"),
]
USAGE = [
    used("key_1", None, OPUS, "standard", "0-200k", "us", output=10_000, uncached=777),
    used("key_2", A, SONNET, "batch", "200k-1M", "not_available", w5m=3_000, searches=5),
    used("key_3", A, SONNET, "batch", "200k-1M", "not_available", w5m=2_000),
    used("key_3", A, OPUS, "priority", "0-200k", "global", uncached=1_000, output=400, searches=2),
    used("key_4", B, "claude-future-9", "standard", "0-200k", "global", output=1_000),
    used("key_5", B, "claude-future-9", "priority", "0-200k", "global", output=50),
]


def tables(cost: list[dict] = COST, usage: list[dict] = USAGE) -> tuple[pa.Table, pa.Table]:
    prices = default_prices()
    return (cost_table(decode_page(page(cost)), run_id="r1", ingested_at=AT, where="test"),
            usage_table(decode_page(page(usage)), bucket_width="1d", run_id="r1", ingested_at=AT, where="test", prices=prices))


def build(names: Names | None = None, include: bool = False, cost: list[dict] = COST, usage: list[dict] = USAGE) -> tuple[list[dict], list[str]]:
    cost_rows, usage_rows = tables(cost, usage)
    table, notes = focus_rows(cost_rows, usage_rows, day=DAY, names=names or Names(), prices=default_prices(),
                              include_estimated_priority=include)
    assert table.schema == FOCUS
    return table.to_pylist(), notes


def usd(text: str) -> Decimal:
    return Decimal(text)


def test_one_row_per_cost_row_in_order_with_the_billed_amount_to_the_digit():
    rows, _ = build()
    assert len(rows) == len(COST)
    assert [r["ChargeDescription"] for r in rows] == [c["description"] for c in COST]
    assert [r["BilledCost"] for r in rows] == [usd("0.25"), usd("0.01875"), usd("0.05"), usd("1.505"), usd("0.12"), usd("-1"),
                                              usd("3"), usd("0.03")]
    for r in rows:
        assert r["EffectiveCost"] == r["ContractedCost"] == r["BilledCost"]
        assert (r["BillingCurrency"], r["ChargeClass"], r["ChargeFrequency"]) == ("USD", None, "Usage-Based")
        assert (r["ChargePeriodStart"], r["ChargePeriodEnd"]) == (START, END)
        assert (r["BillingPeriodStart"], r["BillingPeriodEnd"]) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
        assert (r["ServiceCategory"], r["ServiceSubcategory"], r["ServiceName"]) == ("AI and Machine Learning", "Generative AI", "Claude API")
        assert {r[c] for c in ("ProviderName", "PublisherName", "InvoiceIssuerName", "ServiceProviderName", "HostProviderName")} == {"Anthropic"}
        assert r["InvoiceId"] is None
        assert (r["x_CostBasis"], r["x_Source"]) == ("billed", "anthropic-admin-cost-report")


def test_token_row_takes_its_tokens_from_usage_and_its_list_price_from_the_price_table():
    rows, _ = build()
    opus, sonnet = rows[0], rows[1]
    assert (opus["ConsumedQuantity"], opus["ConsumedUnit"]) == (Decimal(10_000), "Tokens")
    assert (opus["PricingQuantity"], opus["PricingUnit"]) == (Decimal("0.01"), "1000000 Tokens")
    assert opus["ListUnitPrice"] == Decimal("27.5")  # $25/MTok x 1.1 for US inference
    assert opus["ListCost"] == Decimal("0.275")  # list, above the billed $0.25
    assert (opus["SkuId"], opus["SkuMeter"]) == ("claude-opus-4-6:output_tokens", "Output Tokens")
    assert opus["SkuPriceId"] == "claude-opus-4-6:output_tokens:standard:0-200k:us"
    assert dict(opus["SkuPriceDetails"]) == {"x_ServiceTier": "standard", "x_ContextWindow": "0-200k", "x_InferenceGeo": "us"}
    assert (opus["RegionId"], opus["RegionName"]) == ("us", "United States")
    assert (opus["x_Model"], opus["x_TokenType"], opus["x_ServiceTier"], opus["x_ContextWindow"], opus["x_InferenceGeo"], opus["x_CostType"]) \
        == (OPUS, "output_tokens", "standard", "0-200k", "us", "tokens")
    # two API keys' rows of the same workspace, model, tier, window and geo: 3,000 + 2,000 tokens
    assert sonnet["ConsumedQuantity"] == Decimal(5_000) and sonnet["PricingQuantity"] == Decimal("0.005")
    assert sonnet["ListUnitPrice"] == Decimal("3.75")  # $3.75 x 0.5 batch x 2 long context
    assert sonnet["ListCost"] == Decimal("0.01875") == sonnet["BilledCost"]
    assert (sonnet["SkuMeter"], sonnet["RegionId"], sonnet["RegionName"]) == ("5m Cache Write Tokens", None, None)


def test_web_search_counts_requests_outside_priority_tier():
    rows, _ = build()
    web = rows[2]
    assert (web["ConsumedQuantity"], web["ConsumedUnit"]) == (Decimal(5), "Requests")
    assert (web["PricingQuantity"], web["PricingUnit"], web["ListUnitPrice"]) == (Decimal("0.005"), "1000 Requests", Decimal(10))
    assert web["ListCost"] == Decimal("0.05")
    assert (web["SkuId"], web["SkuPriceId"], web["SkuMeter"], web["SkuPriceDetails"]) == ("web_search", "web_search", "Web Search Requests", None)


def test_rows_without_a_quantity_or_price_keep_list_cost_equal_to_billed():
    rows, notes = build()
    code, unmatched, credit, support, unpriced = rows[3], rows[4], rows[5], rows[6], rows[7]
    for r in (code, unmatched, credit, support):
        assert r["ConsumedQuantity"] is r["PricingQuantity"] is r["ListUnitPrice"] is r["PricingUnit"] is r["ConsumedUnit"] is None
        assert r["ListCost"] == r["BilledCost"]
    assert (code["ChargeCategory"], code["SkuId"], code["SkuMeter"]) == ("Usage", "code_execution", "Code Execution")
    assert (credit["ChargeCategory"], credit["SkuId"], credit["SubAccountId"]) == ("Credit", None, B)
    assert (support["ChargeCategory"], support["SkuId"], support["SkuMeter"]) == ("Adjustment", "support_plan", "support_plan")
    assert unpriced["ConsumedQuantity"] == Decimal(1_000) and unpriced["ListUnitPrice"] is None
    assert unpriced["ListCost"] == unpriced["BilledCost"] == Decimal("0.03")
    assert (unpriced["RegionId"], unpriced["x_InferenceGeo"]) == (None, "global")  # served anywhere: no distinct region
    assert notes == ["focus: 1 token row(s) of the cost report (2026-11-20) match no usage (workspace / model / tier / context "
                     "window / geo / token type): no ConsumedQuantity/PricingQuantity for them: "
                     "wrkspc_B / claude-haiku-4-5-20251001 / standard / 0-200k / not_available / uncached_input_tokens"]


def test_the_spec_rules_hold_except_where_the_admin_api_has_no_quantity():
    cost_rows, usage_rows = tables()
    table, _ = focus_rows(cost_rows, usage_rows, day=DAY, names=Names("org-1", "Acme"), prices=default_prices())
    assert violations(table) == {
        "ConsumedQuantity: MUST NOT be null for Usage": 2,  # code execution; the token row with no usage row
        "PricingQuantity: MUST NOT be null for Usage": 2,
        "ListUnitPrice: MUST NOT be null for Usage": 3,  # those two, and the model the price table does not know
    }
    without_org, _ = focus_rows(cost_rows, usage_rows, day=DAY, names=Names(), prices=default_prices())
    assert violations(without_org)["BillingAccountId: MUST NOT be null"] == len(COST)  # until an organization snapshot exists


def test_names_and_tags_fall_back_without_snapshots():
    rows, _ = build()
    assert (rows[0]["BillingAccountId"], rows[0]["BillingAccountName"]) == (None, None)
    assert [(r["SubAccountId"], r["SubAccountName"]) for r in rows[:2]] == [("default", "Default Workspace"), (A, A)]
    assert all(r["Tags"] == [] for r in rows)


def test_names_and_tags_come_from_the_snapshot_in_force_the_latest_on_or_before_the_day_else_the_earliest(tmp_path):
    lake = LocalLake(tmp_path)
    tags = pa.map_(pa.string(), pa.string())

    def snapshot(table: str, day: date, columns: dict) -> None:
        lake.put(partition_key(table, day), parquet_bytes(pa.table(columns)))

    snapshot("organization", date(2026, 11, 1), {"id": ["org-old"], "name": ["Old name"]})
    snapshot("organization", date(2026, 11, 19), {"id": ["org-1"], "name": ["Acme"]})
    snapshot("organization", date(2026, 11, 21), {"id": ["org-1"], "name": ["Acme renamed later"]})
    snapshot("workspaces", date(2026, 11, 19), {"id": [A, B], "name": ["Search", "Support"], "display_color": ["#fff", "#000"],
                                                 "tags": pa.array([[("team", "search"), ("env", "prod")], []], tags)})
    snapshot("labels", date(2026, 11, 20), {"entity_type": ["workspace", "workspace", "api_key", "workspace"],
                                            "entity_id": [A, "default", "key_1", B], "key": ["env", "team", "team", "cost_center"],
                                            "value": ["staging", "platform", "ignored", "cc-7"], "source": ["labels_file"] * 4})
    names = names_on(lake, DAY)
    assert names.sources == ("organization 2026-11-19", "workspaces 2026-11-19", "labels 2026-11-20")
    rows, _ = build(names)
    assert {(r["BillingAccountId"], r["BillingAccountName"]) for r in rows} == {("org-1", "Acme")}
    by_workspace = {r["SubAccountId"]: (r["SubAccountName"], dict(r["Tags"])) for r in rows}
    assert by_workspace == {
        "default": ("Default Workspace", {"team": "platform"}),
        A: ("Search", {"team": "search", "env": "staging"}),  # a label refines the workspace's own tag
        B: ("Support", {"cost_center": "cc-7"}),
    }
    assert names_on(LocalLake(tmp_path / "empty"), DAY) == Names()  # no snapshot at all: the fallbacks
    before = names_on(lake, date(2026, 10, 31))  # a back-filled day before every snapshot: the earliest ones stand in
    assert (before.organization_id, before.organization_name, before.workspaces) == ("org-old", "Old name", {A: "Search", B: "Support"})
    assert before.sources == ("organization 2026-11-01 (the earliest, later than the day)",
                              "workspaces 2026-11-19 (the earliest, later than the day)", "labels 2026-11-20 (the earliest, later than the day)")


def test_priority_tier_is_added_only_behind_the_setting_and_marked_estimated():
    rows, _ = build()
    assert {r["x_CostBasis"] for r in rows} == {"billed"}
    rows, notes = build(include=True)
    estimated = [r for r in rows if r["x_CostBasis"] == "estimated"]
    assert len(rows) == len(COST) + len(estimated)
    assert [(r["SubAccountId"], r["SkuId"], r["ConsumedQuantity"], r["ListUnitPrice"], r["BilledCost"]) for r in estimated] == [
        (A, "claude-opus-4-6:uncached_input_tokens", Decimal(1_000), Decimal(5), Decimal("0.005")),
        (A, "claude-opus-4-6:output_tokens", Decimal(400), Decimal(25), Decimal("0.01")),
        (A, "web_search", Decimal(2), Decimal(10), Decimal("0.02")),
    ]
    for r in estimated:
        assert r["x_Source"] == "anthropic-admin-usage-report" and r["x_ServiceTier"] == "priority"
        assert r["ListCost"] == r["EffectiveCost"] == r["ContractedCost"] == r["BilledCost"]
        assert r["ChargeDescription"].endswith("(Priority Tier, estimated at list price)")
        assert (r["ChargePeriodStart"], r["ChargePeriodEnd"]) == (START, END)
    assert estimated[1]["ChargeDescription"] == "Claude Opus 4.6 Usage - Output Tokens (Priority Tier, estimated at list price)"
    assert notes[-1] == "focus 2026-11-20: Priority Tier usage of unpriced model(s) claude-future-9 has no estimate"


def test_a_day_without_usage_still_has_every_cost_row():
    rows, notes = build(usage=[])
    assert len(rows) == len(COST) and all(r["ConsumedQuantity"] is None for r in rows)
    assert sum(r["BilledCost"] for r in rows) == sum(Decimal(c["amount"]) for c in COST) / 100
    assert "focus: 4 token row(s) of the cost report (2026-11-20) match no usage" in notes[0]


def test_setting_reads_true_and_false_and_refuses_anything_else():
    assert Settings.from_env({}).focus_include_estimated_priority is False
    assert Settings.from_env({"FOCUS_INCLUDE_ESTIMATED_PRIORITY": "true"}).focus_include_estimated_priority is True
    assert Settings.from_env({"FOCUS_INCLUDE_ESTIMATED_PRIORITY": "FALSE"}).focus_include_estimated_priority is False
    with pytest.raises(SettingsError, match="FOCUS_INCLUDE_ESTIMATED_PRIORITY must be true or false"):
        Settings.from_env({"FOCUS_INCLUDE_ESTIMATED_PRIORITY": "sometimes"})


def test_csv_export_keeps_every_digit_utc_times_and_json_tags():
    cost_rows, usage_rows = tables()
    names = Names("org-1", "Acme, Inc.", {A: 'Search "prod"'}, {A: {"team": "search", "ünïcode": "välue"}})
    table, _ = focus_rows(cost_rows, usage_rows, day=DAY, names=names, prices=default_prices())
    sink = io.BytesIO()
    write_csv(table, sink)
    rows = list(csv.DictReader(io.StringIO(sink.getvalue().decode())))
    assert list(rows[0]) == FOCUS.names
    assert [r["BilledCost"] for r in rows] == ["0.25", "0.01875", "0.05", "1.505", "0.12", "-1.0", "3.0", "0.03"]
    assert [r["ListUnitPrice"] for r in rows[:3]] == ["27.5", "3.75", "10.0"]
    assert (rows[1]["ConsumedQuantity"], rows[1]["PricingQuantity"]) == ("5000.0", "0.005")
    assert rows[0]["ChargePeriodStart"] == "2026-11-20T00:00:00Z" and rows[0]["BillingPeriodEnd"] == "2026-12-01T00:00:00Z"
    assert rows[0]["Tags"] == "{}" and json.loads(rows[1]["Tags"]) == {"team": "search", "ünïcode": "välue"}
    assert rows[1]["SubAccountName"] == 'Search "prod"' and rows[0]["BillingAccountName"] == "Acme, Inc."
    assert json.loads(rows[0]["SkuPriceDetails"]) == {"x_ServiceTier": "standard", "x_ContextWindow": "0-200k", "x_InferenceGeo": "us"}
    assert rows[3]["SkuPriceDetails"] == "" and rows[3]["ConsumedQuantity"] == ""  # nulls are empty cells
    for row, original in zip(rows, table.to_pylist(), strict=True):  # decimals round-trip exactly
        for name in ("BilledCost", "ListCost", "ListUnitPrice", "PricingQuantity", "ConsumedQuantity"):
            assert (Decimal(row[name]) if row[name] else None) == original[name]
    assert csv_columns(table.slice(0, 0)).num_rows == 0


def test_null_geo_in_the_cost_report_means_usage_summed_over_geo_outside_priority_tier():
    """Issue 16 item 3: a 2025-shaped token row (no inference_geo) takes the tokens of every geo, not of a null geo; its
    list cost prices each part at its own price (US 1.1x) and its unit price is their average."""
    cost = [charge("77.5", None, "Claude Opus 4.6 Usage - Output Tokens", "tokens", OPUS, "output_tokens", "standard", "0-200k", None),
            charge("1.875", A, "Claude Sonnet 4.5 Usage - 5m Cache Write Tokens (Batch, Long Context)", "tokens", SONNET,
                   "cache_creation.ephemeral_5m_input_tokens", None, "200k-1M", None)]
    usage = [used("key_1", None, OPUS, "standard", "0-200k", "us", output=10_000),
             used("key_6", None, OPUS, "standard", "0-200k", "global", output=20_000),
             used("key_7", None, OPUS, "priority", "0-200k", "global", output=5_000),  # not in the cost report
             used("key_2", A, SONNET, "batch", "200k-1M", "not_available", w5m=3_000),
             used("key_3", A, SONNET, "batch", "200k-1M", "not_available", w5m=2_000)]
    rows, notes = build(cost=cost, usage=usage)
    opus, sonnet = rows
    assert notes == []
    assert (opus["ConsumedQuantity"], opus["PricingQuantity"]) == (Decimal(30_000), Decimal("0.03"))
    assert opus["ListCost"] == Decimal("0.775")  # 10,000 x $27.5/MTok + 20,000 x $25/MTok, exactly
    assert opus["ListUnitPrice"] == Decimal("25.833333333333")  # their average, to 12 decimal places
    assert abs(opus["ListUnitPrice"] * opus["PricingQuantity"] - opus["ListCost"]) < Decimal("1e-12")
    assert (opus["BilledCost"], opus["x_InferenceGeo"], opus["RegionId"]) == (Decimal("0.775"), None, None)
    # a null service tier too: the batch rows of that workspace, model, window and token type
    assert (sonnet["ConsumedQuantity"], sonnet["ListUnitPrice"], sonnet["ListCost"]) == (Decimal(5_000), Decimal("3.75"), Decimal("0.01875"))
    assert violations(pa.Table.from_pylist([sonnet], schema=FOCUS)) == {"BillingAccountId: MUST NOT be null": 1}


def test_a_token_row_matching_nothing_is_named_by_its_key():
    cost = [charge("1", B, "Claude Haiku 4.5 Usage - Input Tokens", "tokens", HAIKU, "uncached_input_tokens", "standard", "0-200k", None)]
    rows, notes = build(cost=cost, usage=USAGE)
    assert rows[0]["ConsumedQuantity"] is None and rows[0]["ListCost"] == rows[0]["BilledCost"]
    assert notes == ["focus: 1 token row(s) of the cost report (2026-11-20) match no usage (workspace / model / tier / context "
                     "window / geo / token type): no ConsumedQuantity/PricingQuantity for them: "
                     "wrkspc_B / claude-haiku-4-5-20251001 / standard / 0-200k / * / uncached_input_tokens"]
