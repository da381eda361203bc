"""Estimated cost per usage row: every price-table row against hand-worked figures, modifiers, unknown models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import boto3
import pytest

from usage_lake import words
from usage_lake.sources.http import decode_page
from usage_lake.money.estimate import unpriced_models
from usage_lake.money.pricing import PriceTable, load_prices
from usage_lake.config.settings import SettingsError
from usage_lake.sources.admin.usage import usage_table

D = Decimal
MTOK = 1_000_000


def row(model, tier="standard", window="0-200k", geo="not_available", **counts):
    """One usage result: by default a million tokens of every kind and 1,000 web searches."""
    return {
        "uncached_input_tokens": counts.get("uncached", MTOK),
        "cache_creation": {"ephemeral_5m_input_tokens": counts.get("write_5m", MTOK), "ephemeral_1h_input_tokens": counts.get("write_1h", MTOK)},
        "cache_read_input_tokens": counts.get("read", MTOK),
        "output_tokens": counts.get("output", MTOK),
        "server_tool_use": {"web_search_requests": counts.get("searches", 1000)},
        "model": model, "service_tier": tier, "context_window": window, "inference_geo": geo,
    }


def estimates(*rows, prices=None):
    page = {"data": [{"starting_at": "2026-11-20T00:00:00Z", "ending_at": "2026-11-20T01:00:00Z", "results": list(rows)}],
            "has_more": False}
    table = usage_table(decode_page(json.dumps(page).encode()), bucket_width="1h", run_id="r", ingested_at=datetime.now(UTC),
                        where="test", prices=prices)
    return table.column("estimated_cost_usd").to_pylist(), table


# One million tokens of each kind at list price, worked by hand from the reference's section 7.2 table:
# input + 5-minute write + 1-hour write + cache read + output, plus 1,000 web searches at $10 per 1,000.
HAND_WORKED = {
    "claude-opus-4-8": D("5") + D("6.25") + D("10") + D("0.50") + D("25") + 10,  # 56.75
    "claude-opus-4-7": D("56.75"),
    "claude-opus-4-6": D("56.75"),
    "claude-opus-4-5-20251101": D("56.75"),
    "claude-opus-4-1-20250805": D("15") + D("18.75") + D("30") + D("1.50") + D("75") + 10,  # 150.25
    "claude-opus-4-20250514": D("150.25"),
    "claude-sonnet-4-6": D("3") + D("3.75") + D("6") + D("0.30") + D("15") + 10,  # 38.05
    "claude-sonnet-4-5-20250929": D("38.05"),
    "claude-sonnet-4-20250514": D("38.05"),
    "claude-3-7-sonnet-20250219": D("38.05"),
    "claude-haiku-4-5-20251001": D("1") + D("1.25") + D("2") + D("0.10") + D("5") + 10,  # 19.35
    "claude-3-5-haiku-20241022": D("0.80") + D("1") + D("1.60") + D("0.08") + D("4") + 10,  # 17.48
    "claude-3-opus-20240229": D("150.25"),
    "claude-3-haiku-20240307": D("0.25") + D("0.30") + D("0.50") + D("0.03") + D("1.25") + 10,  # 12.33 (cache prices not multiples)
    "claude-sonnet-5": D("2") + D("2.50") + D("4") + D("0.20") + D("10") + 10,  # 28.70
    "claude-opus-5": D("56.75"),
    # issue 19 (updates-2026-12 A6): the rows in force on 2026-11-20
    "claude-opus-5-5": D("4") + D("5") + D("8") + D("0.20") + D("20") + 10,  # 47.20 (cache read 0.05x)
    "claude-sonnet-5-5": D("2") + D("2.50") + D("4") + D("0.10") + D("10") + 10,  # 28.60 (cache read cut on 2026-10-07)
    "claude-haiku-5-5": D("0.10") + D("0.125") + D("0.20") + D("0.01") + D("0.50") + 10,  # 10.935 (the <=100k band)
    "claude-fable-5-1": D("10") + D("12.50") + D("20") + D("0.25") + D("50") + 10,  # 102.75 (cache read 0.025x)
    "claude-mythos-5-1": D("102.75"),
    "claude-fable-5-2": D("8") + D("10") + D("16") + D("0.20") + D("40") + 10,  # 84.20
}


def test_the_hand_worked_table_covers_every_model_in_the_price_file():
    assert set(HAND_WORKED) == {m.id for m in PriceTable.load_default().models}


@pytest.mark.parametrize(("model", "expected"), sorted(HAND_WORKED.items()))
def test_every_price_row_matches_the_hand_worked_figure(model, expected):
    (estimate,), _ = estimates(row(model))
    assert estimate == expected


@pytest.mark.parametrize(("usage", "expected"), [
    # batch halves every token category; web search stays $10 per 1,000
    (row("claude-opus-4-6", tier="batch", geo="global"), D("46.75") / 2 + 10),  # 33.375
    # Sonnet 4.5 over 200k input tokens: input-side x2 ($6, 7.50, 12, 0.60), output x1.5 ($22.50)
    (row("claude-sonnet-4-5-20250929", window="200k-1M"), D("6") + D("7.5") + D("12") + D("0.6") + D("22.5") + 10),  # 58.6
    (row("claude-sonnet-4-20250514", tier="batch", window="200k-1M"), D("48.6") / 2 + 10),  # 34.3
    # 4.6+ models: 1M context at standard price, but US inference costs 1.1x on every token category
    (row("claude-opus-4-6", window="200k-1M", geo="us"), D("46.75") * D("1.1") + 10),  # 61.425
    (row("claude-sonnet-5", tier="batch", geo="us"), D("18.7") * D("1.1") / 2 + 10),  # 20.285
    # priority and other tiers are estimated at list price (the cost report leaves priority out)
    (row("claude-haiku-4-5-20251001", tier="priority"), D("19.35")),
    # aliases and dated snapshots of a known family
    (row("claude-sonnet-4-5"), D("38.05")),
    (row("claude-opus-4-6-20270101", geo="global"), D("56.75")),
    # small counts stay exact to the pico-dollar: 7 Haiku 3 cache reads at $0.03/MTok
    (row("claude-3-haiku-20240307", uncached=0, write_5m=0, write_1h=0, read=7, output=0, searches=0), D("0.00000021")),
])
def test_modifiers_and_names(usage, expected):
    (estimate,), _ = estimates(usage)
    assert estimate == expected


def test_an_unknown_model_is_priced_null_never_zero():
    values, table = estimates(row("claude-mystery-9"), row("claude-haiku-4-5"), row(None))
    assert values == [None, D("19.35"), None]
    assert unpriced_models(table) == sorted([words.NO_MODEL, "claude-mystery-9"])


def test_overrides_change_only_what_they_give_and_can_add_models(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": [
        {"id": "claude-sonnet-4-5", "input": "2.40"},  # a negotiated input price, found by alias
        {"id": "claude-mystery-9", "name": "Claude Mystery 9", "input": "1", "cache_write_5m": "1.25", "cache_write_1h": "2",
         "cache_read": "0.10", "output": "4"},
    ]}))
    prices = load_prices(str(path))
    values, _ = estimates(row("claude-sonnet-4-5-20250929"), row("claude-mystery-9"), prices=prices)
    assert values == [D("37.45"), D("1") + D("1.25") + D("2") + D("0.10") + D("4") + 10]


def test_overrides_from_s3(aws):
    boto3.client("s3").create_bucket(Bucket="price-bucket")
    boto3.client("s3").put_object(Bucket="price-bucket", Key="prices.json",
                                  Body=json.dumps({"service_tier_multipliers": {"flex": "0.5"}}).encode())
    prices = load_prices("s3://price-bucket/prices.json")
    (estimate,), _ = estimates(row("claude-haiku-4-5", tier="flex"), prices=prices)
    assert estimate == D("9.35") / 2 + 10


@pytest.mark.parametrize(("content", "problem"), [
    ("{not json", "could not be used"),
    ('{"models": [{"id": "claude-new-1", "input": "1"}]}', "without name"),
    ('{"models": [{"id": "claude-haiku-4-5", "input": 1.5}]}', "decimal strings"),
    ("[1, 2]", "JSON object"),
])
def test_bad_override_files_fail_at_start_naming_the_setting(tmp_path, content, problem):
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(SettingsError, match="PRICING_OVERRIDES") as failure:
        load_prices(str(path))
    assert problem in str(failure.value)


def test_a_missing_override_file_names_the_setting(tmp_path):
    with pytest.raises(SettingsError, match="PRICING_OVERRIDES"):
        load_prices(str(tmp_path / "nope.json"))


def test_each_row_is_priced_on_its_own_day_and_says_its_basis():
    page = {"data": [{"starting_at": f"2026-10-0{d}T00:00:00Z", "ending_at": f"2026-10-0{d + 1}T00:00:00Z",
                      "results": [row("claude-sonnet-5-5", geo="global"), row("claude-haiku-5-5", geo="global"), row("claude-saga-7")]}
                     for d in (6, 7)], "has_more": False}
    table = usage_table(decode_page(json.dumps(page).encode()), bucket_width="1d", run_id="r", ingested_at=datetime.now(UTC), where="test")
    assert table.column("estimated_cost_usd").to_pylist() == [
        D("28.70"), D("10.935"), None,  # 2026-10-06: Sonnet 5.5 cache reads still $0.20
        D("28.60"), D("10.935"), None,  # 2026-10-07: $0.10
    ]
    assert table.column("estimate_basis").to_pylist() == ["list", "list-lower-bound", None] * 2


def test_a_model_with_only_observed_prices_is_estimated_at_them_and_a_token_type_never_billed_leaves_it_unpriced():
    learned = PriceTable.load_default().with_observed({
        ("claude-saga-7", field, "standard", "0-200k", "not_available"): D(price)
        for field, price in (("uncached_input", "1"), ("cache_write_5m", "1.25"), ("cache_write_1h", "2"), ("output", "5"))})
    values, table = estimates(row("claude-saga-7", read=0), row("claude-saga-7", geo="us"), prices=learned)
    assert values == [D("1") + D("1.25") + D("2") + D("5") + 10, None]  # the second has cache reads, never billed
    assert table.column("estimate_basis").to_pylist() == ["observed", "observed"]
