"""Price table: hand-worked figures from the reference's section 7 tables."""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources

import pytest

from usage_lake.money.pricing import PriceTable, TokenRates

D = Decimal


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.load_default()


def test_every_reference_model_is_present_with_string_prices() -> None:
    raw = json.loads(resources.files("usage_lake.money").joinpath("prices.json").read_text())
    names = {m["name"] for m in raw["models"]}
    assert names == {
        "Claude Opus 4.8", "Claude Opus 4.7", "Claude Opus 4.6", "Claude Opus 4.5", "Claude Opus 4.1",
        "Claude Opus 4", "Claude Sonnet 4.6", "Claude Sonnet 4.5", "Claude Sonnet 4", "Claude Sonnet 3.7",
        "Claude Haiku 4.5", "Claude Haiku 3.5", "Claude Opus 3", "Claude Haiku 3", "Claude Sonnet 5",
        "Claude Opus 5", "Claude Opus 5.5", "Claude Sonnet 5.5", "Claude Haiku 5.5", "Claude Fable 5.1",
        "Claude Mythos 5.1", "Claude Fable 5.2",
    }
    for model in raw["models"]:
        for field in ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output"):
            assert isinstance(model[field], str), (model["id"], field)


def test_standard_list_price(prices: PriceTable) -> None:
    assert prices.rates("claude-sonnet-4-5-20250929", "standard", "0-200k", "not_available") == TokenRates(
        uncached_input=D("3"), cache_write_5m=D("3.75"), cache_write_1h=D("6"), cache_read=D("0.30"),
        output=D("15"), web_search_per_request=D("0.01"),
    )


def test_haiku_3_cache_prices_are_the_table_values_not_multiples(prices: PriceTable) -> None:
    rates = prices.rates("claude-3-haiku-20240307", "standard", None, None)
    assert rates is not None
    assert (rates.cache_write_5m, rates.cache_write_1h, rates.cache_read) == (D("0.30"), D("0.50"), D("0.03"))
    assert rates.cache_read != rates.uncached_input * D("0.1")


def test_batch_halves_every_token_category_but_not_web_search(prices: PriceTable) -> None:
    rates = prices.rates("claude-opus-4-1-20250805", "batch", "0-200k", "not_available")
    assert rates is not None
    assert (rates.uncached_input, rates.output) == (D("7.5"), D("37.5"))
    assert (rates.cache_write_5m, rates.cache_write_1h, rates.cache_read) == (D("9.375"), D("15"), D("0.75"))
    assert rates.web_search_per_request == D("0.01")


@pytest.mark.parametrize("tier", ["standard", "priority", "flex", "priority_on_demand", None])
def test_non_batch_tiers_are_list_price(prices: PriceTable, tier: str | None) -> None:
    rates = prices.rates("claude-haiku-4-5", tier, "0-200k", "not_available")
    assert rates is not None
    assert (rates.uncached_input, rates.output) == (D("1"), D("5"))


def test_long_context_premium_sonnet_4_5(prices: PriceTable) -> None:
    rates = prices.rates("claude-sonnet-4-5-20250929", "standard", "200k-1M", "not_available")
    assert rates is not None
    assert (rates.uncached_input, rates.output) == (D("6"), D("22.50"))
    assert (rates.cache_write_5m, rates.cache_write_1h, rates.cache_read) == (D("7.5"), D("12"), D("0.6"))


def test_sonnet_4_5_batch_long_context_output(prices: PriceTable) -> None:
    rates = prices.rates("claude-sonnet-4-5", "batch", "200k-1M", None)
    assert rates is not None
    assert rates.output == D("11.25")  # 22.50 x 0.5
    assert rates.uncached_input == D("3")  # 6 x 0.5


def test_long_context_premium_only_for_sonnet_4_5_and_4(prices: PriceTable) -> None:
    sonnet4 = prices.rates("claude-sonnet-4-0", "standard", "200k-1M", None)
    opus46 = prices.rates("claude-opus-4-6", "standard", "200k-1M", "global")
    sonnet46 = prices.rates("claude-sonnet-4-6", "standard", "200k-1M", "global")
    assert sonnet4 is not None and opus46 is not None and sonnet46 is not None
    assert (sonnet4.uncached_input, sonnet4.output) == (D("6"), D("22.5"))
    assert (opus46.uncached_input, opus46.output) == (D("5"), D("25"))
    assert (sonnet46.uncached_input, sonnet46.output) == (D("3"), D("15"))


def test_us_geo_multiplier_for_4_6_and_later(prices: PriceTable) -> None:
    rates = prices.rates("claude-opus-4-6", "standard", "0-200k", "us")
    assert rates is not None
    assert rates.uncached_input == D("5.5")
    assert (rates.cache_write_5m, rates.cache_write_1h, rates.cache_read, rates.output) == (
        D("6.875"), D("11"), D("0.55"), D("27.5"),
    )
    batch_us = prices.rates("claude-sonnet-5", "batch", None, "us")
    assert batch_us is not None and batch_us.output == D("5.5")  # 10 x 0.5 x 1.1


def test_us_geo_does_not_apply_before_4_6(prices: PriceTable) -> None:
    rates = prices.rates("claude-opus-4-5", "standard", "0-200k", "us")
    assert rates is not None and rates.uncached_input == D("5")


def test_global_geo_is_list_price(prices: PriceTable) -> None:
    rates = prices.rates("claude-opus-5", "standard", "0-200k", "global")
    assert rates is not None and rates.uncached_input == D("5")


def test_resolve_exact_alias_and_dated_family(prices: PriceTable) -> None:
    assert prices.resolve_model("claude-opus-4-5-20251101") == "claude-opus-4-5-20251101"
    assert prices.resolve_model("claude-opus-4-5") == "claude-opus-4-5-20251101"
    assert prices.resolve_model("claude-sonnet-4-0") == "claude-sonnet-4-20250514"
    assert prices.resolve_model("claude-opus-4-6-20260301") == "claude-opus-4-6"
    assert prices.resolve_model("claude-sonnet-4-5-20991231") == "claude-sonnet-4-5-20250929"
    assert prices.resolve_model("claude-sonnet-4-20260101") == "claude-sonnet-4-20250514"


def test_unknown_model_is_none_never_zero(prices: PriceTable) -> None:
    assert prices.resolve_model("claude-saga-7") is None
    assert prices.resolve_model("gpt-4o-20240513") is None
    assert prices.rates("claude-saga-7", "standard", None, None) is None
    assert prices.model("nope") is None


def test_model_metadata(prices: PriceTable) -> None:
    sonnet45 = prices.model("claude-sonnet-4-5")
    opus46 = prices.model("claude-opus-4-6")
    assert sonnet45 is not None and opus46 is not None
    assert sonnet45.display_name == "Claude Sonnet 4.5"
    assert not sonnet45.supports_inference_geo and opus46.supports_inference_geo


def test_from_dict_rejects_float_prices_and_unknown_modifier_models() -> None:
    raw = json.loads(resources.files("usage_lake.money").joinpath("prices.json").read_text())
    raw["models"][0]["input"] = 5.0
    with pytest.raises(ValueError, match="decimal strings"):
        PriceTable.from_dict(raw)
    raw = json.loads(resources.files("usage_lake.money").joinpath("prices.json").read_text())
    raw["long_context"]["models"].append("claude-imaginary-9")
    with pytest.raises(ValueError, match="unknown models"):
        PriceTable.from_dict(raw)


def test_new_model_is_a_json_edit() -> None:
    raw = json.loads(resources.files("usage_lake.money").joinpath("prices.json").read_text())
    raw["models"].append({
        "id": "claude-haiku-6", "name": "Claude Haiku 6", "aliases": [],
        "input": "1.5", "cache_write_5m": "1.875", "cache_write_1h": "3", "cache_read": "0.15", "output": "7.5",
    })
    raw["inference_geo_multipliers"]["us"]["models"].append("claude-haiku-6")
    rates = PriceTable.from_dict(raw).rates("claude-haiku-6", "batch", None, "us")
    assert rates is not None and rates.output == D("4.125")  # 7.5 x 0.5 x 1.1


# -- issue 19: dated rows, overrides with dates, observed prices ------------------------------------------

from datetime import date  # noqa: E402

from usage_lake.errors import PriceTableError  # noqa: E402


def test_every_packaged_row_is_dated_and_sourced_and_the_file_names_the_pricing_page() -> None:
    raw = json.loads(resources.files("usage_lake.money").joinpath("prices.json").read_text())
    assert raw["source"] == "https://platform.claude.com/docs/en/about-claude/pricing"
    for model in raw["models"]:
        assert date.fromisoformat(model["valid_from"]) and model["source"], model["id"]


def test_sonnet_5_5_cache_read_is_priced_on_the_day(prices: PriceTable) -> None:
    def cache_read(day: date | None) -> Decimal:
        rates = prices.rates("claude-sonnet-5-5", "standard", "0-200k", "global", day)
        assert rates is not None
        return rates.cache_read

    assert cache_read(date(2026, 10, 6)) == D("0.20")
    assert cache_read(date(2026, 10, 7)) == D("0.10")
    assert cache_read(None) == D("0.10")  # no day: the newest row
    assert cache_read(date(2026, 1, 1)) == D("0.20")  # before the first row: the first row, never nothing
    assert prices.on(date(2026, 10, 6)).rates("claude-sonnet-5-5", "batch", None, "us").cache_read == D("0.110")  # 0.20 x 0.5 x 1.1
    assert [(r.valid_from, r.valid_until) for r in prices.history("claude-sonnet-5-5")] == [
        (date(2026, 9, 23), date(2026, 10, 7)), (date(2026, 10, 7), None)]


def test_new_models_of_updates_2026_12(prices: PriceTable) -> None:
    def five(model: str) -> tuple[Decimal, ...]:
        r = prices.rates(model, "standard", "0-200k", "global")
        assert r is not None
        return (r.uncached_input, r.cache_write_5m, r.cache_write_1h, r.cache_read, r.output)

    assert five("claude-opus-5-5") == (D("4"), D("5"), D("8"), D("0.20"), D("20"))
    assert five("claude-haiku-5-5") == (D("0.10"), D("0.125"), D("0.20"), D("0.01"), D("0.50"))
    assert five("claude-fable-5-1") == five("claude-mythos-5-1") == (D("10"), D("12.50"), D("20"), D("0.25"), D("50"))
    assert five("claude-fable-5-2") == (D("8"), D("10"), D("16"), D("0.20"), D("40"))
    assert prices.priced("claude-haiku-5-5", "standard", "200k-1M", "global")[1] == "list-lower-bound"
    assert prices.priced("claude-opus-5-5", "standard", "0-200k", "global")[1] == "list"
    assert "cache_read" in prices.model("claude-sonnet-5-5").third_party


def test_rows_of_a_model_must_follow_each_other() -> None:
    raw = json.loads(resources.files("usage_lake.money").joinpath("prices.json").read_text())
    first = next(m for m in raw["models"] if m["id"] == "claude-sonnet-5-5")
    del first["valid_until"]
    with pytest.raises(PriceTableError, match="must end"):
        PriceTable.from_dict(raw)
    first["valid_until"] = "2026-10-09"
    with pytest.raises(PriceTableError, match="must end"):
        PriceTable.from_dict(raw)
    first["valid_until"] = "10/07/2026"
    with pytest.raises(PriceTableError, match="YYYY-MM-DD"):
        PriceTable.from_dict(raw)


def test_a_dated_override_cuts_the_rows_around_it(prices: PriceTable) -> None:
    table = prices.with_overrides({"models": [{"id": "claude-sonnet-5-5", "valid_from": "2026-11-01", "valid_until": "2026-11-10",
                                               "input": "1.5"}]})
    assert [(r.valid_from, r.valid_until, r.input, r.cache_read) for r in table.history("claude-sonnet-5-5")] == [
        (date(2026, 9, 23), date(2026, 10, 7), D("2"), D("0.20")),
        (date(2026, 10, 7), date(2026, 11, 1), D("2"), D("0.10")),
        (date(2026, 11, 1), date(2026, 11, 10), D("1.5"), D("0.10")),
        (date(2026, 11, 10), None, D("2"), D("0.10")),
    ]
    # an undated override (a negotiated price) changes every row; the dates stay
    table = prices.with_overrides({"models": [{"id": "claude-sonnet-5-5", "output": "9"}]})
    assert [(r.valid_from, r.output) for r in table.history("claude-sonnet-5-5")] == [
        (date(2026, 9, 23), D("9")), (date(2026, 10, 7), D("9"))]


def test_observed_prices_price_an_unknown_model_and_only_replace_list_prices_when_accepted(prices: PriceTable) -> None:
    seen = {("claude-saga-7", "uncached_input", "standard", "0-200k", "global"): D("1.2"),
            ("claude-saga-7", "output", "standard", "0-200k", "global"): D("6"),
            ("claude-saga-7", "output", "batch", "0-200k", "global"): D("3"),
            ("claude-opus-5-5", "output", "standard", "0-200k", "global"): D("18")}
    learned = prices.with_observed(seen)
    rates, basis = learned.priced("claude-saga-7", "standard", "0-200k", "global")
    assert basis == "observed" and rates["uncached_input"] == D("1.2") and rates["output"] == D("6")
    assert rates["cache_read"] is None  # never billed: no price, not zero
    assert learned.priced("claude-saga-7", "priority", "0-200k", "global")[0]["output"] == D("6")  # priority: the standard price
    assert learned.priced("claude-saga-7", "batch", "0-200k", "global")[0]["output"] == D("3")
    assert learned.priced("claude-opus-5-5", "standard", "0-200k", "global")[0]["output"] == D("20")  # the list wins
    accepted = prices.with_observed(seen, prefer=True).priced("claude-opus-5-5", "standard", "0-200k", "global")
    assert accepted[1] == "observed" and accepted[0]["output"] == D("18") and accepted[0]["uncached_input"] == D("4")
    assert prices.priced("claude-saga-7", "standard", "0-200k", "global") is None
