"""`usage-lake prices`: the list prices in force on a day, the prices the bill shows beside them, and unpriced models.

One table, a `section` column telling its three parts apart:

- `list`: every model's list price in force on the day (USD per 1,000,000 tokens, standard tier, before the batch,
  long-context and geo modifiers), with the row's dates and source; Haiku 5.5's row says it is a lower bound.
- `observed`: the most recent unit price the bill shows per model, token type, tier, context window and geo
  (`observed_prices`, up to the day), the list price of the same combination and their ratio.
- `unpriced`: models in the usage of the 30 days up to the day whose rows carry no estimate, with their tokens.

Prices are exact decimals in CSV and JSON (strings in JSON).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake.focus import read_observed
from usage_lake.focus.observed import DRIFT_MIN_TOKENS, drifts
from usage_lake.lake.curated import partition_days, read_parquet, read_table
from usage_lake.lake.layout import partition_key
from usage_lake.lake.store import Lake
from usage_lake.money.estimate import TOKEN_COLUMNS, unpriced_tokens
from usage_lake.money.pricing import LIST, LOWER_BOUND, RATE_FIELDS, PriceTable
from usage_lake.reporting.views import Column, View

__all__ = ["PRICE_COLUMNS", "UNPRICED_DAYS", "price_lines", "prices_view"]

UNPRICED_DAYS = 30  # how far back `unpriced` looks for usage without an estimate
_TOKEN_TYPES = dict(zip(RATE_FIELDS, ("uncached_input_tokens", "cache_creation.ephemeral_5m_input_tokens",
                                      "cache_creation.ephemeral_1h_input_tokens", "cache_read_input_tokens", "output_tokens"),
                        strict=True))
_PRICE_FIELD = {"uncached_input": "input"}  # TokenRates field -> ModelPrice field where they differ
_STR, _PRICE = pa.string(), pa.decimal128(38, 18)
SCHEMA = pa.schema([
    ("section", _STR), ("model", _STR), ("model_name", _STR), ("token_type", _STR), ("service_tier", _STR),
    ("context_window", _STR), ("inference_geo", _STR), ("list_usd_per_mtok", _PRICE), ("observed_usd_per_mtok", _PRICE),
    ("ratio", _PRICE), ("day", pa.date32()), ("valid_until", pa.date32()), ("tokens", pa.int64()), ("basis", _STR), ("source", _STR),
])
PRICE_COLUMNS = [
    Column("section", "section", "text", total=False), Column("model_name", "model", "text", total=False),
    Column("token_type", "token type", "text", total=False), Column("service_tier", "tier", "text", total=False),
    Column("context_window", "context", "text", total=False), Column("inference_geo", "geo", "text", total=False),
    Column("list_usd_per_mtok", "list $/MTok", "num", total=False), Column("observed_usd_per_mtok", "observed $/MTok", "num", total=False),
    Column("ratio", "ratio", "num", total=False), Column("day", "from / day", "day", total=False),
    Column("valid_until", "until", "day", total=False), Column("tokens", "tokens", "int", total=False),
    Column("basis", "basis", "text", total=False),
]


def prices_view(prices: PriceTable, on: date, lake: Lake | None = None) -> View:
    """The price table in force on `on`, observed vs list, and unpriced models (the last two need a lake)."""
    rows = _listed(prices, on)
    notes = [f"List prices in force on {on} (USD per 1,000,000 tokens, standard tier; batch, long context and US geo "
             "modifiers apply on top). A day is estimated at the row in force that day."]
    lower = [m.display_name for m in prices.models if (e := prices.model(m.id, on)) and e.lower_bound]
    if lower:
        notes.append(f"{', '.join(lower)}: estimates are a lower bound (prompts over 100,000 tokens cost 5x and the usage "
                     "report cannot show them).")
    third = sorted({m.display_name for m in prices.rows if m.third_party})
    if third:
        notes.append(f"Figures only third-party trackers give: {', '.join(third)} (see each row's source).")
    if lake is not None:
        observed = read_observed(lake, until=on)
        rows += _observed(observed, prices)
        off = sorted({d.model for d in drifts(observed)})
        if off:
            notes.append(f"Billed off list by more than 0.5 % on a day of at least {DRIFT_MIN_TOKENS:,} tokens: {', '.join(off)}. "
                         "Update PRICING_OVERRIDES, or set ACCEPT_OBSERVED_PRICES=true to estimate at the bill.")
        missing = _unpriced(lake, on, set(observed.column("model").to_pylist()))
        rows += missing
        if missing:
            notes.append(f"UNPRICED: {', '.join(r['model'] for r in missing)} - no list or observed price: left out of every "
                         "estimate until priced (PRICING_OVERRIDES, or its first billed day).")
    return View("prices", f"Prices in force on {on}", pa.Table.from_pylist(rows, schema=SCHEMA), PRICE_COLUMNS, notes, totals=False)


def _listed(prices: PriceTable, on: date) -> list[dict[str, Any]]:
    rows = []
    for model in prices.models:
        entry = prices.model(model.id, on)
        if entry is None:
            continue
        basis = LOWER_BOUND if entry.lower_bound else LIST
        source = entry.source or ""
        if entry.third_party:
            source += f" (third-party only: {', '.join(entry.third_party)})"
        for rate in RATE_FIELDS:
            rows.append({
                "section": "list", "model": entry.id, "model_name": entry.display_name, "token_type": _TOKEN_TYPES[rate],
                "list_usd_per_mtok": getattr(entry, _PRICE_FIELD.get(rate, rate)), "day": entry.valid_from,
                "valid_until": entry.valid_until, "basis": basis, "source": source or None,
            })
    return rows


def _observed(observed: pa.Table, prices: PriceTable) -> list[dict[str, Any]]:
    latest: dict[tuple, dict[str, Any]] = {}
    for row in observed.to_pylist():  # oldest day first: the last one wins
        latest[(row["model"], row["token_type"], row["service_tier"], row["context_window"], row["inference_geo"])] = row
    rows = []
    for key in sorted(latest, key=lambda k: tuple("" if v is None else v for v in k)):
        row = latest[key]
        entry = prices.model(row["model"]) if row["model"] else None
        rows.append({
            "section": "observed", "model": row["model"], "model_name": entry.display_name if entry else row["model"],
            "token_type": row["token_type"], "service_tier": row["service_tier"], "context_window": row["context_window"],
            "inference_geo": row["inference_geo"], "list_usd_per_mtok": row["list_price_usd_per_mtok"],
            "observed_usd_per_mtok": row["unit_price_usd_per_mtok"], "ratio": row["ratio"], "day": row["day"],
            "tokens": row["tokens"], "basis": "observed" if entry is None else None,
        })
    return rows


def _unpriced(lake: Lake, on: date, observed: set[str]) -> list[dict[str, Any]]:
    days = [d for d in partition_days(lake, "usage_messages") if on - timedelta(days=UNPRICED_DAYS) < d <= on]
    if not days:
        return []
    usage = read_table(lake, "usage_messages", days).select(["model", "estimated_cost_usd", *TOKEN_COLUMNS, "dt"])
    rows = []
    for model, tokens in sorted(unpriced_tokens(usage).items()):
        if model in observed:
            continue
        of_model = usage.filter(pc.and_(pc.equal(usage.column("model"), model), pc.is_null(usage.column("estimated_cost_usd"))))
        first = pc.min(of_model.column("dt")).as_py() if of_model.num_rows else None
        rows.append({"section": "unpriced", "model": model, "model_name": model, "tokens": tokens, "basis": None,
                     "day": date.fromisoformat(first) if first else None, "ratio": None, "list_usd_per_mtok": None,
                     "observed_usd_per_mtok": None})
    return rows


def price_lines(lake: Lake, start: date, end: date) -> list[str]:
    """The visible lines of a report over [start, end): models priced from the bill (no list price), and models with
    no price at all (left out of every estimate), with their tokens."""
    parts = []
    for day in partition_days(lake, "usage_messages"):
        if start <= day < end:
            data = lake.get(partition_key("usage_messages", day))
            parts.append(read_parquet(data, table="usage_messages", columns=["model", "estimated_cost_usd", "estimate_basis", *TOKEN_COLUMNS]))
    if not parts:
        return []
    usage = pa.concat_tables(parts)
    lines = []
    observed = sorted(m for m in pc.unique(pc.filter(usage.column("model"), pc.equal(usage.column("estimate_basis"), "observed"))).to_pylist() if m)
    if observed:
        lines.append(f"Priced from the bill (no list price; estimated at the most recent observed price): {', '.join(observed)}.")
    missing = unpriced_tokens(usage)
    if missing:
        lines.append("UNPRICED - left out of every estimate until priced (PRICING_OVERRIDES, or its first billed day): "
                     + ", ".join(f"{m} ({t:,} tokens)" for m, t in sorted(missing.items())) + ".")
    return lines
