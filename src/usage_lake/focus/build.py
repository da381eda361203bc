"""One day of the `focus` table from that day's `cost_report` and `usage_messages` rows.

One FOCUS row per cost report row, in the cost report's order, with the cost report's amount as `BilledCost`
(= `EffectiveCost` = `ContractedCost`: Anthropic publishes no amortised commitments and we see no negotiated
rates), to the last digit. The cost report carries no quantities, so a token row takes its tokens from the
usage rows of the same day, workspace, model, service tier, context window, inference geo and token type
(summed over API keys), matched exactly. Null means "not split", never a value: a token row that leaves model,
tier, context window or geo null (a 2025-shaped cost report has no `inference_geo`) takes the usage outside
Priority Tier summed over that dimension, so the day's token rows add up to its non-Priority tokens on every
shape of the report. Token rows that match no usage are gathered (`Unmatched`) and told once per run. A web
search row takes the web search requests of its workspace's usage rows outside Priority Tier (which the cost
report leaves out). A row with tokens and a known list price gets `ListUnitPrice` (USD per 1,000,000 tokens)
and `ListCost` = `ListUnitPrice` x `PricingQuantity` exactly; a row summed over usage at several list prices
(US and global inference under one null geo) has `ListCost` = each part at its own price, exactly, and their
average as `ListUnitPrice` (to 12 decimal places: the product is within 1e-12 per unit, well inside
focus-validator's tolerance). Any other row has `ListCost` = `BilledCost`, as FOCUS asks when there is no unit price.

Priority Tier is billed apart and is absent from the cost report. With `include_estimated_priority`, its usage
becomes extra rows priced at list price, marked `x_CostBasis` = 'estimated' and `x_Source` =
'anthropic-admin-usage-report', so they can always be told apart from billed rows.

All of it is vectorised: per-row work is Arrow compute; Python runs once per distinct workspace, model or
price combination.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake import words
from usage_lake.focus.names import Names
from usage_lake.lake.schema import FOCUS, FOCUS_COST, FOCUS_QUANTITY, FOCUS_UNIT_PRICE, TAGS, TIMESTAMP
from usage_lake.money.estimate import token_prices, web_search_price
from usage_lake.money.pricing import PriceTable
from usage_lake.times import DAY, midnight

__all__ = [
    "BILLED", "COST_SOURCE", "ESTIMATED", "PRIORITY_TIER", "TOKEN_COUNTERS", "USAGE_SOURCE", "Unmatched", "focus_rows",
]

BILLED, ESTIMATED = "billed", "estimated"  # x_CostBasis
COST_SOURCE = "anthropic-admin-cost-report"  # x_Source of billed rows
USAGE_SOURCE = "anthropic-admin-usage-report"  # x_Source of estimated Priority Tier rows
PRIORITY_TIER = "priority"
PROVIDER = "Anthropic"
SERVICE_NAME = "Claude API"
SERVICE_CATEGORY = "AI and Machine Learning"
SERVICE_SUBCATEGORY = "Generative AI"
USAGE_BASED = "Usage-Based"
TOKENS, MILLION_TOKENS, THOUSAND_REQUESTS, REQUESTS = "Tokens", "1000000 Tokens", "1000 Requests", "Requests"

# the cost report's token_type -> the usage_messages counter with the same tokens
TOKEN_COUNTERS = {
    "uncached_input_tokens": "uncached_input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_input_tokens": "cache_read_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens": "cache_creation_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens": "cache_creation_1h_input_tokens",
}
TOKEN_METERS = {
    "uncached_input_tokens": "Input Tokens",
    "output_tokens": "Output Tokens",
    "cache_read_input_tokens": "Cache Read Tokens",
    "cache_creation.ephemeral_5m_input_tokens": "5m Cache Write Tokens",
    "cache_creation.ephemeral_1h_input_tokens": "1h Cache Write Tokens",
}
WEB_SEARCH = "web_search"
OTHER_METERS = {WEB_SEARCH: "Web Search Requests", "code_execution": "Code Execution", "session_usage": "Session Usage"}
USAGE_COST_TYPES = ("tokens", WEB_SEARCH, "code_execution", "session_usage")  # ChargeCategory 'Usage'
REGION_NAMES = {"us": "United States", "eu": "European Union"}
NOT_A_REGION = ("global", "not_available")  # served from anywhere, or not reported: no distinct region (RegionId null)

_SEP, _NULL, _ANY = "\x1f", "\x00", "\x01"  # _ANY in a key: a dimension the cost row does not split
_USAGE_KEY = ("workspace_id", "model", "service_tier", "context_window", "inference_geo")
# dimensions of a token row a cost report may leave null while usage carries them (parsed from the description;
# a 2025-shaped cost report has no inference_geo): null there means "summed over it". workspace_id is not one:
# null is the default workspace in both reports.
_UNSPLIT = ("model", "service_tier", "context_window", "inference_geo")
MAX_NAMED = 10  # keys named in the unmatched note
_STR = pa.string()
_PICO = pa.decimal128(38, 12)  # an integer number of pico-dollars, read as USD
_LIST_PICO = pa.decimal128(38, 0)  # a list cost in whole pico-dollars
_UNIT_STEP = Decimal(1).scaleb(-FOCUS_UNIT_PRICE.scale)


@dataclass
class Unmatched:
    """Token rows of the cost report whose key matches no usage, gathered over a run and told once in its log:
    how many rows, over how many days, and each key (workspace / model / tier / context window / geo / token type;
    `*` where the cost report does not split a dimension)."""

    rows: int = 0
    days: set[date] = field(default_factory=set)
    keys: dict[str, int] = field(default_factory=dict)  # key -> rows
    no_usage: set[date] = field(default_factory=set)  # cost days joined without a usage partition

    def add(self, day: date, keys: list[str]) -> None:
        if keys:
            self.rows += len(keys)
            self.days.add(day)
            for key in keys:
                self.keys[key] = self.keys.get(key, 0) + 1

    def notes(self) -> list[str]:
        notes = []
        if self.no_usage:
            notes.append(f"focus: no usage_messages partition for {len(self.no_usage)} day(s) ({_span(self.no_usage)}): "
                         "their token rows have no quantities")
        if not self.rows:
            return notes
        named = "; ".join(f"{key} ({rows}x)" if rows > 1 else key for key, rows in sorted(self.keys.items())[:MAX_NAMED])
        more = f"; and {len(self.keys) - MAX_NAMED} more key(s)" if len(self.keys) > MAX_NAMED else ""
        span = _span(self.days) if len(self.days) == 1 else f"{len(self.days)} days, {_span(self.days)}"
        return [*notes, f"focus: {self.rows} token row(s) of the cost report ({span}) match no usage (workspace / model / tier / "
                f"context window / geo / token type): no ConsumedQuantity/PricingQuantity for them: {named}{more}"]


def _span(days: set[date]) -> str:
    first, last = min(days), max(days)
    return f"{first}" if first == last else f"{first}..{last}"


def focus_rows(cost: pa.Table, usage: pa.Table, *, day: date, names: Names, prices: PriceTable,
               include_estimated_priority: bool = False, unmatched: Unmatched | None = None) -> tuple[pa.Table, list[str]]:
    """The day's `focus` rows, and notes on what could not be filled (for the run log). Token rows whose key matches
    no usage go to `unmatched` (a run's collector, told once per run); without one, the day's notes tell them."""
    notes: list[str] = []
    totals = _usage_totals(usage)
    charges = _billed(cost, totals, prices)
    missing = pc.and_(pc.is_valid(charges.column("counter")), pc.is_null(charges.column("quantity")))
    collector = unmatched if unmatched is not None else Unmatched()
    collector.add(day, _key_names(charges.filter(missing)))
    if unmatched is None:
        notes += collector.notes()
    parts = [_to_focus(charges, names, prices, basis=BILLED, source=COST_SOURCE)]
    if include_estimated_priority:
        estimated, unpriced = _priority(totals, day, prices)
        if unpriced:
            notes.append(f"focus {day}: Priority Tier usage of unpriced model(s) {', '.join(unpriced)} has no estimate")
        if estimated.num_rows:
            parts.append(_to_focus(estimated, names, prices, basis=ESTIMATED, source=USAGE_SOURCE))
    return pa.concat_tables(parts), notes


# -- quantities ---------------------------------------------------------------------------------------

def _key_names(charges: pa.Table) -> list[str]:
    """The key of each charge as people read it: workspace / model / tier / context window / geo / token type."""
    parts = [pc.fill_null(charges.column(name), words.DEFAULT_WORKSPACE if name == "workspace_id" else "*")
             for name in (*_USAGE_KEY, "token_type")]
    return pc.binary_join_element_wise(*parts, " / ").to_pylist() if charges.num_rows else []


def _usage_totals(usage: pa.Table) -> pa.Table:
    """The day's usage summed per (workspace, model, tier, context window, geo): the grain of the cost report."""
    counters = [*TOKEN_COUNTERS.values(), "web_search_requests"]
    summed = usage.select([*_USAGE_KEY, *counters]).group_by(list(_USAGE_KEY), use_threads=False).aggregate(
        [(c, "sum") for c in counters])
    return summed.rename_columns([name.removesuffix("_sum") for name in summed.column_names])


def _join(table: pa.Table, names: tuple[str, ...], *extra: pa.Array | pa.ChunkedArray | str) -> pa.ChunkedArray | pa.Array:
    return pc.binary_join_element_wise(*(table.column(n) for n in names), *extra, _SEP,
                                       null_handling="replace", null_replacement=_NULL)


def _quantity_lookup(totals: pa.Table, patterns: list[tuple[str, ...]], prices: PriceTable) -> pa.Table:
    """Per key: the quantity of every token counter (and of each workspace's web searches outside Priority Tier), its
    list cost in pico-dollars (each usage row at its own list price; null if any of it is unpriced), the list price
    per token when every usage row behind it has one price, and whether they have several (`mixed`).

    Each pattern is a set of dimensions some cost rows leave null (not split): for it, the usage outside Priority
    Tier summed over those dimensions, keyed with `_ANY` in their place (a control character, like the key's separator)."""
    billed = totals.filter(pc.invert(_is_priority(totals.column("service_tier"))))
    parts = []
    for pattern in patterns:
        rows = billed if pattern else totals
        keyed = rows
        for name in pattern:
            keyed = keyed.set_column(keyed.schema.get_field_index(name), name, pa.repeat(pa.scalar(_ANY, _STR), rows.num_rows))
        for token_type, counter in TOKEN_COUNTERS.items():
            quantity = rows.column(counter)
            pico = token_prices(rows, pa.repeat(pa.scalar(counter, _STR), rows.num_rows), prices)
            used = pc.greater(quantity, 0)
            parts.append(pa.table({
                "key": _join(keyed, _USAGE_KEY, token_type), "quantity": quantity,
                "list_pico": _times(quantity, pico),
                "pico": pc.if_else(used, pico, pa.scalar(None, pa.int64())),  # the prices of the usage that is there
                "unpriced": pc.cast(pc.and_(used, pc.is_null(pico)), pa.int64()),
            }))
    n = billed.num_rows
    parts.append(pa.table({"key": _join(billed, ("workspace_id",), WEB_SEARCH), "quantity": billed.column("web_search_requests"),
                           "list_pico": pa.nulls(n, _LIST_PICO), "pico": pa.nulls(n, pa.int64()), "unpriced": pa.repeat(0, n)}))
    grouped = pa.concat_tables(parts).group_by("key", use_threads=False).aggregate(
        [("quantity", "sum"), ("list_pico", "sum"), ("pico", "min"), ("pico", "max"), ("unpriced", "sum")])
    low, high = grouped.column("pico_min"), grouped.column("pico_max")
    priced = pc.equal(grouped.column("unpriced_sum"), 0)
    mixed = pc.and_(priced, pc.fill_null(pc.not_equal(low, high), False))
    return pa.table({
        "key": grouped.column("key"), "quantity": grouped.column("quantity_sum"),
        "list_pico": pc.if_else(priced, grouped.column("list_pico_sum"), pa.scalar(None, _LIST_PICO)),
        "pico": pc.if_else(pc.and_(priced, pc.invert(mixed)), low, pa.scalar(None, pa.int64())), "mixed": mixed,
    }).combine_chunks()


def _times(quantity: pa.Array | pa.ChunkedArray, pico: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """quantity x pico-dollars each, exactly (decimal128(38, 0))."""
    return pc.multiply_checked(pc.cast(quantity, pa.decimal128(19, 0)), pc.cast(pc.cast(pico, pa.decimal128(19, 0)), pa.decimal128(18, 0)))


def _is_priority(tier: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return pc.fill_null(pc.equal(tier, PRIORITY_TIER), False)


def _billed(cost: pa.Table, totals: pa.Table, prices: PriceTable) -> pa.Table:
    """The cost rows as charges: amount in the billing currency, and the usage quantity behind each, if any."""
    token_type = cost.column("token_type")
    cost_type = cost.column("cost_type")
    is_tokens = pc.and_(pc.is_in(token_type, pa.array(list(TOKEN_COUNTERS))), pc.fill_null(pc.equal(cost_type, "tokens"), True))
    counter = pc.if_else(is_tokens, _map(token_type, TOKEN_COUNTERS), pa.scalar(None, _STR))
    is_web = pc.fill_null(pc.equal(cost_type, WEB_SEARCH), False)
    # null means "not split": a token row that leaves a dimension null matches usage summed over that dimension
    keyed = cost
    unsplit = []
    for name in _UNSPLIT:
        column = cost.column(name)
        unsplit.append(pc.and_(is_tokens, pc.is_null(column)))
        keyed = keyed.set_column(keyed.schema.get_field_index(name), name, pc.if_else(unsplit[-1], pa.scalar(_ANY, _STR), column))
    token_key = _join(keyed, _USAGE_KEY, token_type)
    web_key = _join(cost, ("workspace_id",), WEB_SEARCH)
    key = pc.if_else(is_tokens, token_key, pc.if_else(is_web, web_key, pa.scalar(None, _STR)))
    lookup = _quantity_lookup(totals, _patterns(unsplit), prices)
    found = pc.index_in(key, value_set=lookup.column("key"))
    quantity, list_pico, pico, mixed = (lookup.column(name).take(found) for name in ("quantity", "list_pico", "pico", "mixed"))
    cents = cost.column("amount_cents").combine_chunks()
    amount = pa.Array.from_buffers(FOCUS_COST, len(cents), cents.buffers())  # cents -> the currency's units, exactly
    return pa.table({
        "start": cost.column("bucket_start"), "end": cost.column("bucket_end"),
        **{name: cost.column(name) for name in ("workspace_id", "description", "cost_type", "model", "token_type",
                                                 "service_tier", "context_window", "inference_geo", "currency")},
        "amount": amount, "counter": counter, "is_web": is_web, "quantity": quantity,
        "list_pico": list_pico, "pico": pico, "mixed": pc.fill_null(mixed, False),
    })


def _patterns(unsplit: list[pa.ChunkedArray | pa.Array]) -> list[tuple[str, ...]]:
    """The distinct sets of `_UNSPLIT` dimensions the token rows leave null; the exact key `()` always."""
    if not unsplit or not len(unsplit[0]):
        return [()]
    bits = pc.cast(unsplit[0], pa.int8())
    for i, mask in enumerate(unsplit[1:], start=1):
        bits = pc.add(bits, pc.multiply(pc.cast(mask, pa.int8()), pa.scalar(1 << i, pa.int8())))
    found = {int(b) for b in pc.unique(bits).to_pylist() if b is not None} | {0}
    return [tuple(name for i, name in enumerate(_UNSPLIT) if b & (1 << i)) for b in sorted(found)]


def _priority(totals: pa.Table, day: date, prices: PriceTable) -> tuple[pa.Table, list[str]]:
    """Priority Tier usage as charges at list price: one per token type (and per workspace's web searches)."""
    priority = totals.filter(_is_priority(totals.column("service_tier")))
    parts = []
    for token_type, counter in TOKEN_COUNTERS.items():
        used = priority.filter(pc.greater(priority.column(counter), 0))
        n = used.num_rows
        parts.append(pa.table({
            **{name: used.column(name) for name in _USAGE_KEY},
            "token_type": pa.repeat(token_type, n).cast(_STR), "cost_type": pa.repeat("tokens", n).cast(_STR),
            "counter": pa.repeat(counter, n).cast(_STR), "is_web": pa.repeat(False, n).cast(pa.bool_()),
            "quantity": used.column(counter),
        }))
    searches = priority.filter(pc.greater(priority.column("web_search_requests"), 0))
    if searches.num_rows:
        by_workspace = searches.group_by("workspace_id", use_threads=False).aggregate([("web_search_requests", "sum")])
        n = by_workspace.num_rows
        nulls = pa.nulls(n, _STR)
        parts.append(pa.table({
            "workspace_id": by_workspace.column("workspace_id"), "model": nulls,
            "service_tier": pa.repeat(PRIORITY_TIER, n).cast(_STR), "context_window": nulls, "inference_geo": nulls,
            "token_type": nulls, "cost_type": pa.repeat(WEB_SEARCH, n).cast(_STR), "counter": nulls,
            "is_web": pa.repeat(True, n).cast(pa.bool_()), "quantity": by_workspace.column("web_search_requests_sum"),
        }))
    charges = pa.concat_tables(parts)
    n = charges.num_rows
    models = charges.column("model")
    display = _per_value(models, lambda m: (entry.display_name if (entry := prices.model(m)) else m))
    meter = _map(charges.column("token_type"), TOKEN_METERS)
    token_text = pc.binary_join_element_wise(display, meter, " Usage - ")
    description = pc.if_else(charges.column("is_web"), pa.scalar("Web Search Usage", _STR), token_text)
    charges = charges.append_column("description", pc.binary_join_element_wise(description, " (Priority Tier, estimated at list price)", ""))
    start = midnight(day)
    charges = charges.append_column("start", pa.repeat(pa.scalar(start, TIMESTAMP), n))
    charges = charges.append_column("end", pa.repeat(pa.scalar(start + DAY, TIMESTAMP), n))
    charges = charges.append_column("currency", pa.repeat("USD", n).cast(_STR))
    priced = _prices(charges, prices)
    charges = charges.append_column("amount", priced["ListCost"])
    unpriced = sorted(set(pc.unique(pc.filter(models, pc.is_null(priced["ListUnitPrice"]))).to_pylist()) - {None})
    return charges.filter(pc.is_valid(priced["ListUnitPrice"])), unpriced


# -- FOCUS columns --------------------------------------------------------------------------------------

def _prices(charges: pa.Table, prices: PriceTable) -> dict[str, pa.Array]:
    """Quantities, units, list unit prices and list costs of the charges that have a quantity (null elsewhere)."""
    n = charges.num_rows
    quantity = charges.column("quantity").combine_chunks()
    is_web = charges.column("is_web").combine_chunks()
    counter = charges.column("counter")
    pico = token_prices(charges, counter, prices) if n else pa.array([], pa.int64())
    mixed = pa.repeat(False, n)
    if "list_pico" in charges.column_names:  # billed rows: priced from the usage behind them (see _quantity_lookup)
        mixed = charges.column("mixed").combine_chunks()
        pico = pc.if_else(mixed, pa.scalar(None, pa.int64()), pc.coalesce(charges.column("pico"), pico))
    pico = pc.if_else(is_web, pa.scalar(web_search_price(prices), pa.int64()), pico)
    has_quantity = pc.is_valid(quantity)
    quantity_19 = pc.cast(quantity, pa.decimal128(19, 0))
    list_pico = _times(quantity, pico)
    if "list_pico" in charges.column_names:
        list_pico = pc.if_else(is_web, list_pico, pc.coalesce(charges.column("list_pico"), list_pico))
    list_cost = pc.cast(_scaled(list_pico, _PICO), FOCUS_COST)
    # per 1,000,000 tokens: quantity / 1e6 and price x 1e6; per 1,000 requests: quantity / 1e3 and price x 1e3
    # PricingQuantity in FOCUS_QUANTITY (six decimal places): tokens / 1e6 is the tokens read at scale 6, and
    # requests / 1e3 is the requests x 1000 read at scale 6
    per_unit = pc.if_else(is_web, pc.cast(pc.multiply_checked(quantity_19, pa.scalar(1000, pa.decimal128(4, 0))), pa.decimal128(38, 0)),
                          pc.cast(quantity_19, pa.decimal128(38, 0)))
    pricing_quantity = _scaled(per_unit, FOCUS_QUANTITY)
    # ListUnitPrice: pico-dollars per 1,000,000 tokens (or per 1,000 requests), read at scale 12
    unit_pico = pc.multiply_checked(pico, pc.if_else(is_web, pa.scalar(1000, pa.int64()), pa.scalar(1_000_000, pa.int64())))
    list_unit_price = _scaled(pc.cast(unit_pico, pa.decimal128(38, 0)), FOCUS_UNIT_PRICE)
    list_unit_price = _averaged(list_unit_price, mixed, list_pico, quantity)
    unit = pc.if_else(is_web, pa.scalar(THOUSAND_REQUESTS, _STR), pa.scalar(MILLION_TOKENS, _STR))
    consumed_unit = pc.if_else(is_web, pa.scalar(REQUESTS, _STR), pa.scalar(TOKENS, _STR))
    null_str = pa.scalar(None, _STR)
    return {
        "ConsumedQuantity": pc.cast(quantity_19, FOCUS_QUANTITY),
        "ConsumedUnit": pc.if_else(has_quantity, consumed_unit, null_str),
        "PricingQuantity": pricing_quantity,
        "PricingUnit": pc.if_else(has_quantity, unit, null_str),
        "ListUnitPrice": pc.if_else(pc.and_(has_quantity, pc.is_valid(list_unit_price)), list_unit_price, pa.scalar(None, FOCUS_UNIT_PRICE)),
        "ListCost": list_cost,
    }


def _to_focus(charges: pa.Table, names: Names, prices: PriceTable, *, basis: str, source: str) -> pa.Table:
    n = charges.num_rows
    amount = charges.column("amount").combine_chunks()
    cost_type = charges.column("cost_type")
    negative = pc.less(amount, pa.scalar(0, FOCUS_COST))
    is_usage = pc.or_kleene(pc.is_null(cost_type), pc.is_in(cost_type, pa.array(USAGE_COST_TYPES)))
    category = pc.if_else(negative, pa.scalar("Credit", _STR),
                          pc.if_else(pc.fill_null(is_usage, True), pa.scalar("Usage", _STR), pa.scalar("Adjustment", _STR)))
    priced = _prices(charges, prices)
    usage_row = pc.equal(category, "Usage")  # FOCUS: no quantity on a row that is not Usage
    for name in ("ConsumedQuantity", "ConsumedUnit", "PricingQuantity", "PricingUnit", "ListUnitPrice"):
        priced[name] = pc.if_else(usage_row, priced[name], pa.scalar(None, priced[name].type))
    list_cost = pc.if_else(pc.is_valid(priced["ListUnitPrice"]), priced["ListCost"], amount)
    starts = charges.column("start")
    month = pc.floor_temporal(starts, unit="month")
    token_type = charges.column("token_type")
    is_token = pc.is_valid(charges.column("counter"))
    sku = pc.if_else(is_token, pc.binary_join_element_wise(charges.column("model"), token_type, ":"), cost_type)
    price_point = [charges.column(name) for name in ("service_tier", "context_window", "inference_geo")]
    sku_price = pc.if_else(is_token, pc.binary_join_element_wise(sku, *price_point, ":", null_handling="replace",
                                                                 null_replacement=""), cost_type)
    meter = pc.if_else(is_token, _map(token_type, TOKEN_METERS), _map(cost_type, OTHER_METERS, keep=True))
    geo = charges.column("inference_geo")
    region = pc.if_else(pc.fill_null(pc.is_in(geo, pa.array(NOT_A_REGION)), True), pa.scalar(None, _STR), geo)
    description = pc.coalesce(charges.column("description"),
                              pc.binary_join_element_wise(charges.column("model"), _map(token_type, TOKEN_METERS), " Usage - "))
    workspaces = charges.column("workspace_id")
    constant = lambda value: pa.repeat(value, n).cast(_STR)  # noqa: E731
    columns = {
        "BilledCost": amount,
        "BillingAccountId": pa.repeat(pa.scalar(names.organization_id, _STR), n),
        "BillingAccountName": pa.repeat(pa.scalar(names.organization_name or names.organization_id, _STR), n),
        "BillingCurrency": charges.column("currency"),
        "BillingPeriodEnd": _next_month(month),
        "BillingPeriodStart": month,
        "ChargeCategory": category,
        "ChargeClass": pa.nulls(n, _STR),
        "ChargeDescription": description,
        "ChargeFrequency": constant(USAGE_BASED),
        "ChargePeriodEnd": charges.column("end"),
        "ChargePeriodStart": starts,
        "ConsumedQuantity": priced["ConsumedQuantity"],
        "ConsumedUnit": priced["ConsumedUnit"],
        "ContractedCost": amount,
        "EffectiveCost": amount,
        "HostProviderName": constant(PROVIDER),
        "InvoiceId": pa.nulls(n, _STR),
        "InvoiceIssuerName": constant(PROVIDER),
        "ListCost": list_cost,
        "ListUnitPrice": priced["ListUnitPrice"],
        "PricingQuantity": priced["PricingQuantity"],
        "PricingUnit": priced["PricingUnit"],
        "ProviderName": constant(PROVIDER),
        "PublisherName": constant(PROVIDER),
        "RegionId": region,
        "RegionName": _map(region, REGION_NAMES, keep=True),
        "ServiceCategory": constant(SERVICE_CATEGORY),
        "ServiceName": constant(SERVICE_NAME),
        "ServiceProviderName": constant(PROVIDER),
        "ServiceSubcategory": constant(SERVICE_SUBCATEGORY),
        "SkuId": sku,
        "SkuMeter": meter,
        "SkuPriceDetails": _price_details(charges, is_token),
        "SkuPriceId": sku_price,
        "SubAccountId": _per_value(workspaces, lambda w: names.sub_account(w)[0], nulls=True),
        "SubAccountName": _per_value(workspaces, lambda w: names.sub_account(w)[1], nulls=True),
        "Tags": _tags(workspaces, names),
        "x_ContextWindow": charges.column("context_window"),
        "x_CostBasis": constant(basis),
        "x_CostType": cost_type,
        "x_InferenceGeo": geo,
        "x_Model": charges.column("model"),
        "x_ServiceTier": charges.column("service_tier"),
        "x_Source": constant(source),
        "x_TokenType": token_type,
    }
    return pa.table(columns, schema=FOCUS)


# -- helpers ------------------------------------------------------------------------------------------------

def _averaged(unit_price: pa.Array, mixed: pa.Array, list_pico: pa.Array | pa.ChunkedArray,
              quantity: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A token row summed over usage at several list prices (a dimension the cost report does not split, such as
    geo) has their average: ListCost / PricingQuantity to the 12th decimal place (half-even). ListCost stays the
    exact sum of each part at its own price; the product differs from it by less than 1e-12 per unit."""
    if not pc.any(mixed).as_py():
        return unit_price
    values = unit_price.to_pylist()
    lists, counts = list_pico.to_pylist(), quantity.to_pylist()
    with localcontext() as context:
        context.prec = 60
        for i in pc.indices_nonzero(mixed).to_pylist():
            if lists[i] is not None and counts[i]:
                values[i] = (Decimal(lists[i]) * 1_000_000 / Decimal(counts[i])).scaleb(-12).quantize(_UNIT_STEP, ROUND_HALF_EVEN)
    return pa.array(values, FOCUS_UNIT_PRICE)


def _scaled(unscaled: pa.Array | pa.ChunkedArray, kind: pa.Decimal128Type) -> pa.Array:
    """Integers held in a decimal128(38, 0) array, read at `kind`'s scale (the same bits: exact)."""
    whole = unscaled.combine_chunks() if isinstance(unscaled, pa.ChunkedArray) else unscaled
    return pa.Array.from_buffers(kind, len(whole), whole.buffers())


def _next_month(month: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The first instant of the month after each value (itself the first instant of a month)."""
    return pc.floor_temporal(pc.add(month, pa.scalar(32 * 86_400_000, pa.duration("ms"))), unit="month")


def _map(values: pa.Array | pa.ChunkedArray, mapping: dict[str, str], *, keep: bool = False) -> pa.Array:
    """Each value through `mapping`; values it lacks become null (or stay as they are, with `keep`)."""
    return _per_value(values, lambda v: mapping.get(v, v if keep else None))


def _per_value(values: pa.Array | pa.ChunkedArray, function, *, nulls: bool = False) -> pa.Array:
    """`function` applied once per distinct value (and to None if `nulls`), spread back over the rows."""
    encoded = pc.dictionary_encode(values, null_encoding="encode" if nulls else "mask")
    encoded = encoded.combine_chunks() if isinstance(encoded, pa.ChunkedArray) else encoded
    mapped = pa.array([function(v) for v in encoded.dictionary.to_pylist()], _STR)
    return mapped.take(encoded.indices)


def _price_details(charges: pa.Table, is_token: pa.Array) -> pa.Array:
    """The price point of a token row as SKU price properties (provider-defined, so `x_`); null for other rows."""
    names = {"x_ServiceTier": "service_tier", "x_ContextWindow": "context_window", "x_InferenceGeo": "inference_geo"}
    encoded = pc.dictionary_encode(_join(charges, tuple(names.values()))).combine_chunks()
    details = []
    for key in encoded.dictionary.to_pylist():
        details.append([(name, value) for name, value in zip(names, key.split(_SEP), strict=True) if value != _NULL])
    return pc.if_else(is_token, pa.array(details, TAGS).take(encoded.indices), pa.scalar(None, TAGS))


def _tags(workspaces: pa.Array | pa.ChunkedArray, names: Names) -> pa.Array:
    encoded = pc.dictionary_encode(workspaces, null_encoding="encode")
    encoded = encoded.combine_chunks() if isinstance(encoded, pa.ChunkedArray) else encoded
    maps = pa.array([sorted(names.workspace_tags(w).items()) for w in encoded.dictionary.to_pylist()], TAGS)
    return maps.take(encoded.indices)
