"""Report pages -> curated Arrow tables, fed by the documented example responses (reference 2.6 and 3.3)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from usage_lake.sources.http import ResponseShapeError, decode_page
from usage_lake.lake.schema import COST_REPORT, USAGE_MESSAGES
from usage_lake.sources.admin.cost import cost_table
from usage_lake.sources.admin.usage import usage_table

INGESTED_AT = datetime(2026, 11, 23, 14, 37, 12, tzinfo=UTC)
RUN_ID = "run-test-0001"

# --- reference 2.6, verbatim -------------------------------------------------------------------------------------

USAGE_EXAMPLE_2025 = b"""{
  "data": [
    {
      "starting_at": "2025-08-01T00:00:00Z",
      "ending_at": "2025-08-02T00:00:00Z",
      "results": [
        {
          "uncached_input_tokens": 1500,
          "cache_creation": {
            "ephemeral_1h_input_tokens": 1000,
            "ephemeral_5m_input_tokens": 500
          },
          "cache_read_input_tokens": 200,
          "output_tokens": 500,
          "server_tool_use": { "web_search_requests": 10 },
          "api_key_id": "apikey_01Rj2N8SVvo6BePZj99NhmiT",
          "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
          "model": "claude-sonnet-4-20250514",
          "service_tier": "standard",
          "context_window": "0-200k"
        }
      ]
    }
  ],
  "has_more": true,
  "next_page": "page_MjAyNS0wNS0xNFQwMDowMDowMFo="
}"""

USAGE_EXAMPLE_2026 = b"""{
  "data": [
    {
      "ending_at": "2025-08-02T00:00:00Z",
      "results": [
        {
          "account_id": "user_01WCz1FkmYMm4gnmykNKUu3Q",
          "api_key_id": "apikey_01Rj2N8SVvo6BePZj99NhmiT",
          "cache_creation": {
            "ephemeral_1h_input_tokens": 1000,
            "ephemeral_5m_input_tokens": 500
          },
          "cache_read_input_tokens": 200,
          "context_window": "0-200k",
          "inference_geo": "global",
          "model": "claude-opus-5",
          "output_tokens": 500,
          "server_tool_use": { "web_search_requests": 10 },
          "service_account_id": "svac_01Hk3R9TWxq7CfQak00OiVw4",
          "service_tier": "standard",
          "uncached_input_tokens": 1500,
          "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"
        }
      ],
      "starting_at": "2025-08-01T00:00:00Z"
    }
  ],
  "has_more": true,
  "next_page": "page_MjAyNS0wNS0xNFQwMDowMDowMFo="
}"""

USAGE_EXAMPLE_UNGROUPED = b"""{
  "data": [
    { "starting_at": "2026-10-01T00:00:00Z", "ending_at": "2026-10-01T01:00:00Z", "results": [] },
    { "starting_at": "2026-10-01T01:00:00Z", "ending_at": "2026-10-01T02:00:00Z", "results": [
      { "uncached_input_tokens": 1200, "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 3400},
        "cache_read_input_tokens": 52000, "output_tokens": 900, "server_tool_use": {"web_search_requests": 0},
        "api_key_id": null, "workspace_id": null, "model": null, "service_tier": null, "context_window": null,
        "inference_geo": null, "account_id": null, "service_account_id": null } ] }
  ],
  "has_more": false,
  "next_page": null
}"""

# --- reference 3.3, verbatim -------------------------------------------------------------------------------------

COST_EXAMPLE = b"""{
  "data": [
    {
      "starting_at": "2025-08-01T00:00:00Z",
      "ending_at": "2025-08-02T00:00:00Z",
      "results": [
        {
          "currency": "USD",
          "amount": "123.78912",
          "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
          "description": "Claude Sonnet 4 Usage - Input Tokens",
          "cost_type": "tokens",
          "context_window": "0-200k",
          "model": "claude-sonnet-4-20250514",
          "service_tier": "standard",
          "token_type": "uncached_input_tokens"
        }
      ]
    }
  ],
  "has_more": true,
  "next_page": "page_MjAyNS0wNS0xNFQwMDowMDowMFo="
}"""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def usage(body: bytes, width: str = "1d") -> pa.Table:
    return usage_table(decode_page(body), bucket_width=width, run_id=RUN_ID, ingested_at=INGESTED_AT, where="test page")


def cost(body: bytes) -> pa.Table:
    return cost_table(decode_page(body), run_id=RUN_ID, ingested_at=INGESTED_AT, where="test page")


def page(*buckets: tuple[str, str, list[dict]], indent: int | None = None) -> bytes:
    return json.dumps({
        "data": [{"starting_at": s, "ending_at": e, "results": rows} for s, e, rows in buckets],
        "has_more": False,
        "next_page": None,
    }, indent=indent).encode()


def usage_row(**overrides: object) -> dict:
    row = json.loads(USAGE_EXAMPLE_2026)["data"][0]["results"][0]
    row.update(overrides)
    return row


def cost_row(**overrides: object) -> dict:
    row = json.loads(COST_EXAMPLE)["data"][0]["results"][0]
    row.update(overrides)
    return row


DAY_1 = ("2025-08-01T00:00:00Z", "2025-08-02T00:00:00Z")


# --- usage: every contract column -----------------------------------------------------------------------------

def test_usage_example_2025_gives_every_contract_column() -> None:
    table = usage(USAGE_EXAMPLE_2025)
    assert table.to_pylist() == [{
        "bucket_start": utc(2025, 8, 1),
        "bucket_end": utc(2025, 8, 2),
        "bucket_width": "1d",
        "api_key_id": "apikey_01Rj2N8SVvo6BePZj99NhmiT",
        "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
        "model": "claude-sonnet-4-20250514",
        "service_tier": "standard",
        "context_window": "0-200k",
        "inference_geo": None,  # absent in the 2025 shape: null
        "account_id": None,
        "service_account_id": None,
        "uncached_input_tokens": 1500,
        "cache_creation_5m_input_tokens": 500,
        "cache_creation_1h_input_tokens": 1000,
        "cache_read_input_tokens": 200,
        "output_tokens": 500,
        "web_search_requests": 10,
        "ingested_at": INGESTED_AT,
        "run_id": RUN_ID,
        # Sonnet 4 list prices: (1500 x 3 + 500 x 3.75 + 1000 x 6 + 200 x 0.30 + 500 x 15) / 1e6 + 10 x $0.01
        "estimated_cost_usd": Decimal("0.119935"),
        "estimate_basis": "list",
    }]


def test_usage_example_2026_gives_every_contract_column() -> None:
    table = usage(USAGE_EXAMPLE_2026, width="1h")
    assert table.to_pylist() == [{
        "bucket_start": utc(2025, 8, 1),
        "bucket_end": utc(2025, 8, 2),
        "bucket_width": "1h",
        "api_key_id": "apikey_01Rj2N8SVvo6BePZj99NhmiT",
        "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
        "model": "claude-opus-5",
        "service_tier": "standard",
        "context_window": "0-200k",
        "inference_geo": "global",
        "account_id": "user_01WCz1FkmYMm4gnmykNKUu3Q",
        "service_account_id": "svac_01Hk3R9TWxq7CfQak00OiVw4",
        "uncached_input_tokens": 1500,
        "cache_creation_5m_input_tokens": 500,
        "cache_creation_1h_input_tokens": 1000,
        "cache_read_input_tokens": 200,
        "output_tokens": 500,
        "web_search_requests": 10,
        "ingested_at": INGESTED_AT,
        "run_id": RUN_ID,
        # Opus 5 list prices: (1500 x 5 + 500 x 6.25 + 1000 x 10 + 200 x 0.50 + 500 x 25) / 1e6 + 10 x $0.01
        "estimated_cost_usd": Decimal("0.133225"),
        "estimate_basis": "list",
    }]


def test_ungrouped_example_keeps_null_dimensions_and_skips_the_empty_bucket() -> None:
    table = usage(USAGE_EXAMPLE_UNGROUPED, width="1h")
    assert table.num_rows == 1
    row = table.to_pylist()[0]
    assert (row["bucket_start"], row["bucket_end"]) == (utc(2026, 10, 1, 1), utc(2026, 10, 1, 2))
    for name in ("api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo",
                 "account_id", "service_account_id"):
        assert row[name] is None, name
    assert [row[c] for c in ("uncached_input_tokens", "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens",
                             "cache_read_input_tokens", "output_tokens", "web_search_requests")] == [1200, 3400, 0, 52000, 900, 0]


def test_usage_bucket_times_are_utc_timestamps_even_from_an_offset() -> None:
    body = page(("2025-08-01T02:00:00+02:00", "2025-08-02T02:00:00+02:00", [usage_row()]))
    table = usage(body)
    assert table.schema.field("bucket_start").type == pa.timestamp("ms", tz="UTC")
    assert table.column("bucket_start").to_pylist() == [utc(2025, 8, 1)]
    assert table.column("bucket_end").to_pylist() == [utc(2025, 8, 2)]


def test_usage_schema_is_exactly_the_contract_schema() -> None:
    assert usage(USAGE_EXAMPLE_2026).schema.equals(USAGE_MESSAGES, check_metadata=True)


def test_rows_keep_their_own_bucket_across_several_buckets() -> None:
    body = page(
        ("2026-10-01T00:00:00Z", "2026-10-01T01:00:00Z", [usage_row(output_tokens=1), usage_row(output_tokens=2, api_key_id="apikey_2")]),
        ("2026-10-01T01:00:00Z", "2026-10-01T02:00:00Z", []),
        ("2026-10-01T02:00:00Z", "2026-10-01T03:00:00Z", [usage_row(output_tokens=3)]),
    )
    table = usage(body, width="1h")
    assert list(zip(table.column("bucket_start").to_pylist(), table.column("output_tokens").to_pylist())) == [
        (utc(2026, 10, 1, 0), 1), (utc(2026, 10, 1, 0), 2), (utc(2026, 10, 1, 2), 3),
    ]


def test_page_of_only_empty_buckets_gives_no_rows_with_the_contract_schema() -> None:
    body = page(*[(f"2026-10-01T0{h}:00:00Z", f"2026-10-01T0{h + 1}:00:00Z", []) for h in range(3)])
    table = usage(body, width="1h")
    assert table.num_rows == 0
    assert table.schema.equals(USAGE_MESSAGES, check_metadata=True)


def test_page_with_no_buckets_gives_no_rows_with_the_contract_schema() -> None:
    table = usage(b'{"data": [], "has_more": false, "next_page": null}')
    assert table.num_rows == 0
    assert table.schema.equals(USAGE_MESSAGES, check_metadata=True)
    empty_cost = cost(b'{"data": [], "has_more": false, "next_page": null}')
    assert empty_cost.num_rows == 0
    assert empty_cost.schema.equals(COST_REPORT, check_metadata=True)


def test_pretty_printed_page_gives_the_same_table_as_a_compact_one() -> None:
    buckets = [
        ("2026-10-01T00:00:00Z", "2026-10-01T01:00:00Z", [usage_row(), usage_row(model=None, output_tokens=7)]),
        ("2026-10-01T01:00:00Z", "2026-10-01T02:00:00Z", [usage_row(uncached_input_tokens=3)]),
    ]
    compact = usage(page(*buckets), width="1h")
    pretty = usage(page(*buckets, indent=2), width="1h")
    assert compact.num_rows == 3
    assert pretty.equals(compact, check_metadata=True)


def test_unknown_fields_top_level_and_nested_are_ignored() -> None:
    row = usage_row(speed="fast", future_field={"nested": [1, 2, {"x": None}]})
    row["cache_creation"]["ephemeral_24h_input_tokens"] = 999
    row["server_tool_use"]["code_execution_requests"] = 4
    body = json.loads(page(("2025-08-01T00:00:00Z", "2025-08-02T00:00:00Z", [row])))
    body["unknown_envelope_field"] = True
    body["data"][0]["unknown_bucket_field"] = "x"
    table = usage(json.dumps(body).encode())
    assert table.equals(usage(USAGE_EXAMPLE_2026), check_metadata=True)
    assert table.schema.equals(USAGE_MESSAGES, check_metadata=True)


@pytest.mark.parametrize(
    "path,named",
    [
        (("output_tokens",), "output_tokens"),
        (("uncached_input_tokens",), "uncached_input_tokens"),
        (("cache_read_input_tokens",), "cache_read_input_tokens"),
        (("cache_creation", "ephemeral_1h_input_tokens"), "cache_creation.ephemeral_1h_input_tokens"),
        (("cache_creation", "ephemeral_5m_input_tokens"), "cache_creation.ephemeral_5m_input_tokens"),
        (("server_tool_use", "web_search_requests"), "server_tool_use.web_search_requests"),
    ],
)
def test_missing_required_usage_field_names_the_field(path: tuple[str, ...], named: str) -> None:
    broken = usage_row()
    parent = broken
    for name in path[:-1]:
        parent = parent[name]
    del parent[path[-1]]
    body = page(DAY_1 + ([usage_row(), broken],))
    with pytest.raises(ResponseShapeError) as info:
        usage(body)
    message = str(info.value)
    assert named in message
    assert message.startswith("test page:")
    assert "result 1 of bucket 2025-08-01" in message


# --- guards: what a page must not do (issue 8, items 9, 10, 13, 15) ------------------------------------------------

@pytest.mark.parametrize(("overrides", "named"), [
    ({"output_tokens": -5}, "`output_tokens` = -5"),
    ({"cache_creation": {"ephemeral_5m_input_tokens": 1, "ephemeral_1h_input_tokens": -1}}, "`cache_creation.ephemeral_1h_input_tokens` = -1"),
    ({"server_tool_use": {"web_search_requests": -2}}, "`server_tool_use.web_search_requests` = -2"),
])
def test_item09_a_negative_count_refuses_the_page_naming_field_row_and_day(overrides: dict, named: str) -> None:
    body = page(("2026-10-01T05:00:00Z", "2026-10-01T06:00:00Z", [usage_row(), usage_row(api_key_id="apikey_2", **overrides)]))
    with pytest.raises(ResponseShapeError) as info:
        usage(body, width="1h")
    message = str(info.value)
    assert message.startswith("test page: result 1 of bucket 2026-10-01T05:00:00Z (day 2026-10-01)")
    assert named in message and "negative" in message


def test_item10_a_repeated_group_refuses_the_page_naming_it() -> None:
    body = page(
        ("2026-10-01T05:00:00Z", "2026-10-01T06:00:00Z", [usage_row(), usage_row(api_key_id="apikey_2"), usage_row(output_tokens=7)]),
        ("2026-10-01T06:00:00Z", "2026-10-01T07:00:00Z", [usage_row()]),  # the same group in another bucket is fine
    )
    with pytest.raises(ResponseShapeError) as info:
        usage(body, width="1h")
    message = str(info.value)
    assert "result 2 of bucket 2026-10-01T05:00:00Z (day 2026-10-01) repeats the group of result 0 of bucket 2026-10-01T05:00:00Z" in message
    assert "api_key_id='apikey_01Rj2N8SVvo6BePZj99NhmiT'" in message and "model='claude-opus-5'" in message


def test_item10_distinct_groups_that_differ_only_by_a_null_dimension_are_kept() -> None:
    body = page(DAY_1 + ([usage_row(), usage_row(inference_geo=None), usage_row(account_id=None, inference_geo=None)],))
    assert usage(body).num_rows == 3
    with pytest.raises(ResponseShapeError, match="repeats the group"):
        usage(page(DAY_1 + ([usage_row(inference_geo=None), usage_row(inference_geo=None)],)))


def test_item10_repeats_are_found_however_many_distinct_keys_there_are() -> None:
    from usage_lake.sources.rows import first_repeat

    # seven columns of 1,000 distinct values: the combined codes pass 64 bits and are re-encoded on the way
    columns = {f"k{i}": pa.array([None if n % 97 == i else f"{i}-{(n * (i + 1)) % 1000}" for n in range(1000)]) for i in range(7)}
    table = pa.table(columns)
    assert first_repeat(table, list(columns)) is None
    repeated = pa.concat_tables([table, table.slice(500, 1)])
    assert first_repeat(repeated, list(columns)) == (500, 1000)


def test_item10_a_repeated_cost_row_refuses_the_page() -> None:
    body = page(DAY_1 + ([cost_row(), cost_row(amount="1.5")],))
    with pytest.raises(ResponseShapeError, match="result 1 of bucket 2025-08-01T00:00:00Z .* repeats the group of result 0"):
        cost(body)
    assert cost(page(DAY_1 + ([cost_row(), cost_row(workspace_id=None)],))).num_rows == 2


def test_item13_an_absurd_count_is_a_shape_error_naming_field_row_and_day() -> None:
    priced = {"model": "claude-sonnet-4-20250514", "inference_geo": "not_available"}
    body = page(("2026-10-01T05:00:00Z", "2026-10-01T06:00:00Z",
                 [usage_row(**priced), usage_row(**priced, api_key_id="apikey_2", output_tokens=2**63 - 1)]))
    with pytest.raises(ResponseShapeError) as info:
        usage(body, width="1h")
    message = str(info.value)
    assert message.startswith("test page: result 1 of bucket 2026-10-01T05:00:00Z (day 2026-10-01) has `output_tokens` = 9,223,372,036,854,775,807")
    assert "too large" in message and "overflow" not in message.split("has")[0]


def test_item13_a_large_but_possible_count_is_priced_exactly() -> None:
    priced = {"model": "claude-sonnet-4-20250514", "inference_geo": "not_available", "cache_read_input_tokens": 0,
              "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}, "output_tokens": 0,
              "server_tool_use": {"web_search_requests": 0}}
    table = usage(page(DAY_1 + ([usage_row(**priced, uncached_input_tokens=10_000_000_000)],)))
    assert table.column("estimated_cost_usd").to_pylist() == [Decimal("30000")]  # 10 billion tokens at $3/MTok


@pytest.mark.parametrize(("missing", "zeroed"), [
    ("server_tool_use", ["web_search_requests"]),
    ("cache_creation", ["cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens"]),
])
def test_item15_a_missing_optional_object_counts_as_zero_and_is_recorded(missing: str, zeroed: list[str]) -> None:
    from usage_lake.sources.rows import take_defaulted

    old = usage_row(api_key_id="apikey_2")
    del old[missing]
    table = usage(page(DAY_1 + ([usage_row(), old, usage_row(api_key_id="apikey_3", **{missing: None})],)))
    assert table.num_rows == 3
    for column in zeroed:
        present = table.column(column)[0].as_py()
        assert present > 0 and table.column(column).to_pylist() == [present, 0, 0]
    assert table.column("output_tokens").to_pylist() == [500, 500, 500]  # the rest of the row is kept
    plain, defaulted = take_defaulted(table)
    assert defaulted == {missing: 2}
    assert plain.schema.equals(USAGE_MESSAGES, check_metadata=True)
    assert take_defaulted(usage(page(DAY_1 + ([usage_row()],)))) [1] == {}


def test_null_counter_is_refused_like_a_missing_one() -> None:
    with pytest.raises(ResponseShapeError, match="`output_tokens`"):
        usage(page(DAY_1 + ([usage_row(output_tokens=None)],)))


@pytest.mark.parametrize("value", ["500", True], ids=["string", "bool"])
def test_mistyped_counter_is_a_shape_error_naming_the_field(value: object) -> None:
    with pytest.raises(ResponseShapeError) as info:
        usage(page(DAY_1 + ([usage_row(), usage_row(output_tokens=value)],)))
    assert "output_tokens" in str(info.value)


@pytest.mark.parametrize("value", [5.5, 2**63], ids=["float", "beyond-int64"])
def test_non_int64_counter_is_a_shape_error_quoting_the_value(value: object) -> None:
    # Arrow's conversion error quotes the value but not the field name
    with pytest.raises(ResponseShapeError) as info:
        usage(page(DAY_1 + ([usage_row(), usage_row(output_tokens=value)],)))
    assert str(value) in str(info.value)


def test_column_sums_equal_the_page_counters() -> None:
    buckets = []
    expected = dict.fromkeys(("uncached_input_tokens", "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens",
                              "cache_read_input_tokens", "output_tokens", "web_search_requests"), 0)
    for hour in range(3):
        rows = []
        for i in range(50):
            n = hour * 50 + i
            counters = {
                "uncached_input_tokens": 1_000_003 * n + 7,
                "cache_creation_5m_input_tokens": 11 * n,
                "cache_creation_1h_input_tokens": 13 * n + 1,
                "cache_read_input_tokens": 2_000_000_000 + n,  # large values stay exact in int64
                "output_tokens": 17 * n + 5,
                "web_search_requests": n % 4,
            }
            for name, value in counters.items():
                expected[name] += value
            rows.append(usage_row(
                uncached_input_tokens=counters["uncached_input_tokens"],
                cache_creation={"ephemeral_5m_input_tokens": counters["cache_creation_5m_input_tokens"],
                                "ephemeral_1h_input_tokens": counters["cache_creation_1h_input_tokens"]},
                cache_read_input_tokens=counters["cache_read_input_tokens"],
                output_tokens=counters["output_tokens"],
                server_tool_use={"web_search_requests": counters["web_search_requests"]},
                model=f"model-{i % 5}",
                api_key_id=f"apikey_{i}",  # one row per group, as the API sends them
            ))
        buckets.append((f"2026-10-01T0{hour}:00:00Z", f"2026-10-01T0{hour + 1}:00:00Z", rows))
    table = usage(page(*buckets), width="1h")
    assert table.num_rows == 150
    sums = {name: pc.sum(table.column(name)).as_py() for name in expected}
    assert sums == expected
    # and the hand-computed totals, so the test does not only compare the loop with itself
    assert expected["uncached_input_tokens"] == 1_000_003 * (149 * 150 // 2) + 7 * 150
    assert expected["cache_read_input_tokens"] == 2_000_000_000 * 150 + 149 * 150 // 2
    assert expected["web_search_requests"] == (0 + 1 + 2 + 3) * 37 + (0 + 1)  # n % 4 over 0..149
    starts = table.column("bucket_start").to_pylist()
    assert [starts.count(utc(2026, 10, 1, h)) for h in range(3)] == [50, 50, 50]


# --- cost ------------------------------------------------------------------------------------------------------

def test_cost_example_gives_every_contract_column_with_exact_money() -> None:
    table = cost(COST_EXAMPLE)
    assert table.to_pylist() == [{
        "bucket_start": utc(2025, 8, 1),
        "bucket_end": utc(2025, 8, 2),
        "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
        "description": "Claude Sonnet 4 Usage - Input Tokens",
        "cost_type": "tokens",
        "model": "claude-sonnet-4-20250514",
        "token_type": "uncached_input_tokens",
        "service_tier": "standard",
        "context_window": "0-200k",
        "inference_geo": None,
        "currency": "USD",
        "amount_cents": Decimal("123.78912"),
        "amount_usd": Decimal("1.2378912"),
        "ingested_at": INGESTED_AT,
        "run_id": RUN_ID,
    }]


def test_cost_schema_is_exactly_the_contract_schema() -> None:
    assert cost(COST_EXAMPLE).schema.equals(COST_REPORT, check_metadata=True)


@pytest.mark.parametrize(
    "amount,cents,usd",
    [
        ("123.78912", "123.78912", "1.2378912"),
        ("0", "0", "0"),
        ("-15.5", "-15.5", "-0.155"),
        ("0.000001", "0.000001", "0.00000001"),
        ("99999999999.999999999999", "99999999999.999999999999", "999999999.99999999999999"),
        ("1e2", "100", "1"),
        ("0.000000000001", "0.000000000001", "0.00000000000001"),
    ],
)
def test_amounts_are_exact(amount: str, cents: str, usd: str) -> None:
    table = cost(page(DAY_1 + ([cost_row(amount=amount)],)))
    assert table.column("amount_cents").to_pylist() == [Decimal(cents)]
    assert table.column("amount_usd").to_pylist() == [Decimal(usd)]


def test_many_amounts_sum_exactly() -> None:
    amounts = ["0.1", "0.2", "123.78912", "-0.3", "7", "0.000000000001"]
    table = cost(page(DAY_1 + ([cost_row(amount=a, description=f"d{i}") for i, a in enumerate(amounts)],)))
    total_cents = sum(table.column("amount_cents").to_pylist(), Decimal(0))
    total_usd = sum(table.column("amount_usd").to_pylist(), Decimal(0))
    assert total_cents == Decimal("130.789120000001")
    assert total_usd == Decimal("1.30789120000001")


def test_non_usd_currency_keeps_cents_and_leaves_usd_null() -> None:
    table = cost(page(DAY_1 + ([cost_row(currency="EUR", amount="250.5"), cost_row(amount="250.5")],)))
    assert table.column("currency").to_pylist() == ["EUR", "USD"]
    assert table.column("amount_cents").to_pylist() == [Decimal("250.5"), Decimal("250.5")]
    assert table.column("amount_usd").to_pylist() == [None, Decimal("2.505")]


@pytest.mark.parametrize(
    "amount",
    ["1.0000000000001", "0.1234567890123", "abc", "", "1,000", "0x10", "NaN", "Infinity", "1e40"],
    ids=["13-decimals", "13-decimals-b", "word", "empty", "thousands-separator", "hex", "nan", "infinity", "too-large"],
)
def test_bad_amount_string_is_a_shape_error_naming_amount(amount: str) -> None:
    body = page(DAY_1 + ([cost_row(amount="1.5"), cost_row(amount=amount)],))
    with pytest.raises(ResponseShapeError) as info:
        cost(body)
    assert "amount" in str(info.value)


@pytest.mark.parametrize("raw_amount", ["123.45", "12", "1e2"])
def test_amount_as_a_json_number_is_a_shape_error_naming_amount(raw_amount: str) -> None:
    body = page(DAY_1 + ([cost_row(amount="PLACEHOLDER")],)).replace(b'"PLACEHOLDER"', raw_amount.encode())
    assert f'"amount": {raw_amount}'.encode() in body
    with pytest.raises(ResponseShapeError) as info:
        cost(body)
    assert "amount" in str(info.value)


@pytest.mark.parametrize("field", ["amount", "currency"])
def test_missing_amount_or_currency_is_a_shape_error_naming_it(field: str) -> None:
    broken = cost_row()
    del broken[field]
    with pytest.raises(ResponseShapeError) as info:
        cost(page(DAY_1 + ([cost_row(), broken],)))
    assert f"`{field}`" in str(info.value)


def test_cost_ignores_unknown_fields_and_tolerates_missing_dimensions() -> None:
    row = {"amount": "10", "currency": "USD", "speed": "fast", "breakdown": {"a": 1}}
    table = cost(page(DAY_1 + ([row],)))
    record = table.to_pylist()[0]
    assert record["amount_cents"] == Decimal("10") and record["amount_usd"] == Decimal("0.1")
    for name in ("workspace_id", "description", "cost_type", "model", "token_type", "service_tier", "context_window",
                 "inference_geo"):
        assert record[name] is None, name


def test_pretty_printed_cost_page_gives_the_same_table() -> None:
    rows = [cost_row(), cost_row(amount="0.5", workspace_id=None)]
    assert cost(page(DAY_1 + (rows,), indent=2)).equals(cost(page(DAY_1 + (copy.deepcopy(rows),))), check_metadata=True)
