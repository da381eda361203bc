"""Estimated cost of usage rows: tokens x list prices, exact to the pico-dollar.

The cost report lags a day and leaves out Priority Tier, so today's spend (and Priority Tier on any day)
can only be estimated from usage. Each row's rates come from the price table by (model, service tier,
context window, inference geo); the arithmetic runs in integer pico-dollars (1e-12 USD: a price in USD per
million tokens times 1e6 is pico-dollars per token) with overflow checks, and lands in a decimal column.
A model the table does not know is priced as null, never as $0.

Each row is priced on its own day (the UTC date of `bucket_start`, or the table's pinned day): a rebuild prices
history at the prices of the time. A model without a list price but with prices learned from the bill is
estimated at those (basis `observed`); `estimate_basis` says which price each row used.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake import words
from usage_lake.errors import PriceTableError
from usage_lake.lake.schema import ESTIMATED_USD
from usage_lake.money.pricing import PriceTable

__all__ = [
    "TOKEN_COLUMNS", "default_prices", "estimate_basis", "estimated_cost", "overflowing_row", "token_prices", "unpriced_models",
    "unpriced_tokens", "web_search_price",
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
    indices, per_token, _ = _rates_per_row(usage, prices)
    total = None
    missing = None  # a counter with tokens but no price (a token type the bill never showed for an observed model)
    for column in _COUNTERS:
        rate = per_token[column].take(indices)
        count = usage.column(column)
        term = pc.multiply_checked(count, pc.fill_null(rate, 0))
        gap = pc.and_(pc.is_null(rate), pc.not_equal(count, 0))
        total = term if total is None else pc.add_checked(total, term)
        missing = gap if missing is None else pc.or_(missing, gap)
    known = pc.is_valid(per_token["web_search_requests"].take(indices))  # null only where nothing prices the model
    total = pc.if_else(pc.and_(known, pc.invert(missing)), total, pa.scalar(None, pa.int64()))
    whole = pc.cast(total, pa.decimal128(38, 0)).combine_chunks()
    return pa.Array.from_buffers(ESTIMATED_USD, len(whole), whole.buffers())


def estimate_basis(usage: pa.Table, prices: PriceTable) -> pa.Array:
    """Per row, the price behind its estimate: `list`, `list-lower-bound` (Haiku 5.5: the band above 100k prompt
    tokens cannot be seen), `observed` (learned from the bill), or null (unpriced)."""
    if usage.num_rows == 0:
        return pa.array([], pa.string())
    indices, _, bases = _rates_per_row(usage, prices)
    return bases.take(indices)


def overflowing_row(usage: pa.Table, prices: PriceTable) -> tuple[int, str] | None:
    """(row, counter column) of the first row whose estimate passes 64-bit pico-dollars, or None.

    Only for the error path of `estimated_cost`: it loops over rows in Python.
    """
    indices, per_token, _ = _rates_per_row(usage, prices)
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
TOKEN_COLUMNS = tuple(_RATE_OF)  # the usage counters that are tokens
_Priced = tuple[dict[str, Decimal | None], str] | None


def _keys(rows: pa.Table, *extra: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    """The distinct (model, tier, context window, geo, day[, extra]) of the rows, dictionary-encoded."""
    day = (pc.strftime(rows.column("bucket_start"), format="%Y-%m-%d") if "bucket_start" in rows.column_names
           else pa.nulls(rows.num_rows, pa.string()))
    keys = pc.binary_join_element_wise(*(rows.column(name) for name in _KEY_COLUMNS), day, *extra, _SEPARATOR,
                                       null_handling="replace", null_replacement=_NULL)
    return pc.dictionary_encode(keys).combine_chunks()


def _rates_per_row(usage: pa.Table, prices: PriceTable) -> tuple[pa.Array, dict[str, pa.Array], pa.Array]:
    """(each row's index into the distinct price keys, {counter column: pico-dollars per unit for each key},
    the basis of each key)."""
    combos = _keys(usage)
    priced = [_priced(prices, key) for key in combos.dictionary.to_pylist()]
    per_token = {
        column: pa.array([_pico_per_token(p[0][field]) if p else None for p in priced], pa.int64())
        for column, field in _RATE_OF.items()
    }
    per_token["web_search_requests"] = pa.array([None if p is None else _pico(prices.web_search_per_request * _PICO_PER_USD)
                                                 for p in priced], pa.int64())
    return combos.indices, per_token, pa.array([p[1] if p else None for p in priced], pa.string())


def token_prices(rows: pa.Table, counters: pa.Array | pa.ChunkedArray, prices: PriceTable) -> pa.Array:
    """Per row, the price of one token of the row's counter (a `usage_messages` counter column name such as
    `output_tokens`) in whole pico-dollars (int64), for the row's model, service tier, context window and geo, on
    the row's day (`bucket_start`) or the table's pinned day: the list price, or for a model without one the price
    learned from the bill. Null where the model is unpriced or the counter is not a token counter (never zero)."""
    if rows.num_rows == 0:
        return pa.array([], pa.int64())
    combos = _keys(rows, counters)
    per_token = []
    for key in combos.dictionary.to_pylist():
        *combo, counter = key.split(_SEPARATOR)
        priced = _priced(prices, _SEPARATOR.join(combo))
        field = _RATE_OF.get(counter)
        per_token.append(None if priced is None or field is None else _pico_per_token(priced[0][field]))
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


def unpriced_tokens(usage: pa.Table) -> dict[str, int]:
    """Tokens of the rows with no estimate, per model (rows without a model are left out)."""
    if usage.num_rows == 0:
        return {}
    missing = usage.filter(pc.is_null(usage.column("estimated_cost_usd")))
    totals: dict[str, int] = {}
    for row in missing.group_by("model", use_threads=False).aggregate([(c, "sum") for c in TOKEN_COLUMNS]).to_pylist():
        tokens = sum(row[f"{c}_sum"] or 0 for c in TOKEN_COLUMNS)
        if tokens and row["model"] is not None:
            totals[row["model"]] = tokens
    return totals


def _priced(prices: PriceTable, key: str) -> _Priced:
    model, tier, window, geo, day = (None if part == _NULL else part for part in key.split(_SEPARATOR))
    if model is None:
        return None
    return prices.priced(model, tier, window, geo, date.fromisoformat(day) if day else None)


def _pico_per_token(usd_per_mtok: Decimal | None) -> int | None:
    return None if usd_per_mtok is None else _pico(usd_per_mtok * _PICO_PER_TOKEN_PER_USD_PER_MTOK)


def _pico(value: Decimal) -> int:
    if value != value.to_integral_value():
        raise PriceTableError(f"a price works out to {value} pico-dollars, not a whole number: the price table is too precise")
    return int(value)
