"""Estimated cost of usage rows: tokens x list prices, exact to the pico-dollar.

The cost report lags a day and leaves out Priority Tier, so today's spend (and Priority Tier on any day)
can only be estimated from usage. Each row's rates come from the price table by (model, service tier,
context window, inference geo); the arithmetic runs in integer pico-dollars (1e-12 USD: a price in USD per
million tokens times 1e6 is pico-dollars per token) with overflow checks, and lands in a decimal column.
A model the table does not know is priced as null, never as $0.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake import words
from usage_lake.errors import PriceTableError
from usage_lake.lake.schema import ESTIMATED_USD
from usage_lake.money.pricing import PriceTable, TokenRates

__all__ = [
    "default_prices", "estimated_cost", "overflowing_row", "token_prices", "unpriced_models", "web_search_price",
]

_INT64_MAX = 2**63 - 1
_PICO_PER_USD = Decimal(10) ** 12
_PICO_PER_TOKEN_PER_USD_PER_MTOK = Decimal(10) ** 6
_KEY_COLUMNS = ("model", "service_tier", "context_window", "inference_geo")
_SEPARATOR, _NULL = "\x1f", "\x00"
# counter column -> TokenRates field
_RATE_OF = {
    "uncached_input_tokens": "uncached_input",
    "cache_creation_5m_input_tokens": "cache_write_5m",
    "cache_creation_1h_input_tokens": "cache_write_1h",
    "cache_read_input_tokens": "cache_read",
    "output_tokens": "output",
}


@cache
def default_prices() -> PriceTable:
    return PriceTable.load_default()


def estimated_cost(usage: pa.Table, prices: PriceTable) -> pa.Array:
    """Per-row estimated USD (decimal, null where the model is unpriced).

    Raises `pa.ArrowInvalid` ("overflow") when a row's pico-dollars pass 64 bits (a count in the tens of billions
    for one bucket and group); `overflowing_row` then says which row and counter.
    """
    if usage.num_rows == 0:
        return pa.array([], ESTIMATED_USD)
    indices, per_token = _rates_per_row(usage, prices)
    total = None
    for column in _COUNTERS:
        term = pc.multiply_checked(usage.column(column), per_token[column].take(indices))
        total = term if total is None else pc.add_checked(total, term)
    whole = pc.cast(total, pa.decimal128(38, 0)).combine_chunks()
    return pa.Array.from_buffers(ESTIMATED_USD, len(whole), whole.buffers())


def overflowing_row(usage: pa.Table, prices: PriceTable) -> tuple[int, str] | None:
    """(row, counter column) of the first row whose estimate passes 64-bit pico-dollars, or None.

    Only for the error path of `estimated_cost`: it loops over rows in Python.
    """
    indices, per_token = _rates_per_row(usage, prices)
    rates = {column: per_token[column].take(indices).to_pylist() for column in _COUNTERS}
    counts = {column: usage.column(column).to_pylist() for column in _COUNTERS}
    for row in range(usage.num_rows):
        total = 0
        for column in _COUNTERS:
            rate, count = rates[column][row], counts[column][row]
            if rate is None or count is None:
                continue
            total += count * rate
            if abs(count * rate) > _INT64_MAX or abs(total) > _INT64_MAX:
                return row, column
    return None


_COUNTERS = (*_RATE_OF, "web_search_requests")


def _rates_per_row(usage: pa.Table, prices: PriceTable) -> tuple[pa.Array, dict[str, pa.Array]]:
    """(each row's index into the distinct price keys, {counter column: pico-dollars per unit for each key})."""
    keys = pc.binary_join_element_wise(
        *(usage.column(name) for name in _KEY_COLUMNS), _SEPARATOR, null_handling="replace", null_replacement=_NULL
    )
    combos = pc.dictionary_encode(keys).combine_chunks()
    rates = [_rates(prices, key) for key in combos.dictionary.to_pylist()]
    per_token = {
        column: pa.array([None if r is None else _pico(getattr(r, field) * _PICO_PER_TOKEN_PER_USD_PER_MTOK) for r in rates], pa.int64())
        for column, field in _RATE_OF.items()
    }
    per_token["web_search_requests"] = pa.array([None if r is None else _pico(r.web_search_per_request * _PICO_PER_USD) for r in rates],
                                                pa.int64())
    return combos.indices, per_token


def token_prices(rows: pa.Table, counters: pa.Array | pa.ChunkedArray, prices: PriceTable) -> pa.Array:
    """Per row, the list price of one token of the row's counter (a `usage_messages` counter column name such as
    `output_tokens`) in whole pico-dollars (int64), for the row's model, service tier, context window and geo.
    Null where the model is unpriced or the counter is not a token counter (never zero)."""
    if rows.num_rows == 0:
        return pa.array([], pa.int64())
    keys = pc.binary_join_element_wise(
        *(rows.column(name) for name in _KEY_COLUMNS), counters, _SEPARATOR, null_handling="replace", null_replacement=_NULL
    )
    combos = pc.dictionary_encode(keys).combine_chunks()
    per_token = []
    for key in combos.dictionary.to_pylist():
        *combo, counter = key.split(_SEPARATOR)
        rates = _rates(prices, _SEPARATOR.join(combo))
        field = _RATE_OF.get(counter)
        per_token.append(None if rates is None or field is None else _pico(getattr(rates, field) * _PICO_PER_TOKEN_PER_USD_PER_MTOK))
    return pa.array(per_token, pa.int64()).take(combos.indices)


def web_search_price(prices: PriceTable) -> int:
    """The list price of one web search request, in whole pico-dollars."""
    return _pico(prices.web_search_per_request * _PICO_PER_USD)


def unpriced_models(usage: pa.Table) -> list[str]:
    """Models whose rows carry no estimate (unknown to the price table)."""
    if usage.num_rows == 0:
        return []
    missing = pc.filter(usage.column("model"), pc.is_null(usage.column("estimated_cost_usd")))
    return sorted(m if m is not None else words.NO_MODEL for m in pc.unique(missing).to_pylist())


def _rates(prices: PriceTable, key: str) -> TokenRates | None:
    model, tier, window, geo = (None if part == _NULL else part for part in key.split(_SEPARATOR))
    return None if model is None else prices.rates(model, tier, window, geo)


def _pico(value: Decimal) -> int:
    if value != value.to_integral_value():
        raise PriceTableError(f"a price works out to {value} pico-dollars, not a whole number: the price table is too precise")
    return int(value)
