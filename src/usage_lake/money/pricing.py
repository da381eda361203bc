"""Anthropic list prices as data, resolved to per-token-category rates.

Money is exact in this product, so every figure is a ``Decimal`` parsed from a decimal string
(``prices.json``); nothing here ever touches a float. The table is data-driven: a new model, alias or
modifier is a JSON edit, not a code change. An unknown model resolves to ``None`` - never to a zero
price, which would silently under-report spend.

Prices are dated: a model may have several rows, each with `valid_from` (inclusive) and, where a later row
replaces it, `valid_until` (exclusive). A day is priced by the row in force that day (`on(day)` pins a table to a
day; without a day, the newest row); a day before a model's first row uses that first row. Prices learned from the
bill (`with_observed`) price a model the list does not know (basis `observed`), or every combination they cover when
the user accepts them (`prefer`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from importlib import resources
from typing import Any

from usage_lake.errors import PriceTableError, SettingsError
from usage_lake.lake.store import read_location

__all__ = ["LIST", "LOWER_BOUND", "OBSERVED", "RATE_FIELDS", "ModelPrice", "ObservedKey", "PriceTable", "TokenRates", "load_prices"]

LIST, LOWER_BOUND, OBSERVED = "list", "list-lower-bound", "observed"  # the basis of an estimate
# (model as reported, TokenRates field, service tier, context window, inference geo) of an observed price
ObservedKey = tuple[str, str, str | None, str | None, str | None]

_DATE_SUFFIX = re.compile(r"-\d{8}$")
_ONE = Decimal(1)
_PICO_PER_TOKEN = Decimal("0.000001")  # USD per MTok
_RATE_FIELDS = ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output")
# TokenRates fields, in the order of the prices.json columns
RATE_FIELDS = ("uncached_input", "cache_write_5m", "cache_write_1h", "cache_read", "output")


@dataclass(frozen=True)
class TokenRates:
    """USD per million tokens for one usage combination, after tier/context/geo adjustments."""

    uncached_input: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    output: Decimal
    web_search_per_request: Decimal  # USD per single request ($10 / 1,000 = 0.01)


@dataclass(frozen=True)
class ModelPrice:
    """One model's list prices (USD/MTok, standard tier) and the modifiers that apply to it."""

    id: str
    display_name: str
    aliases: tuple[str, ...]
    input: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    output: Decimal
    long_context: tuple[Decimal, Decimal] | None  # (input-side, output) multipliers, or None
    geo_multipliers: Mapping[str, Decimal]  # inference_geo -> multiplier; empty: geo not supported
    valid_from: date | None = None  # first day this row prices (None: since always)
    valid_until: date | None = None  # first day a later row prices (None: still in force)
    source: str | None = None
    third_party: tuple[str, ...] = ()  # fields only third-party trackers give
    lower_bound: str | None = None  # why an estimate at this row is a lower bound (Haiku 5.5's 100k band)

    def in_force(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_until is None or day < self.valid_until)

    @property
    def supports_inference_geo(self) -> bool:
        """Models with geo pricing are the 4.6+ ones; older models report ``not_available``."""
        return bool(self.geo_multipliers)


def _decimal(value: Any, where: str) -> Decimal:
    """Parse a price; strings only, so a float can never sneak its rounding error in."""
    if not isinstance(value, str):
        raise PriceTableError(f"{where}: prices must be decimal strings, got {value!r}")
    try:
        return Decimal(value)
    except ArithmeticError as exc:
        raise PriceTableError(f"{where}: not a decimal string: {value!r}") from exc


class PriceTable:
    """Resolves model names (ids, aliases, dated snapshots) and computes adjusted rates."""

    def __init__(
        self,
        models: tuple[ModelPrice, ...],
        tier_multipliers: Mapping[str, Decimal],
        web_search_per_request: Decimal,
        long_context_window: str,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self.data = data  # the prices.json structure this table was built from (for overrides)
        self.rows = models  # every dated row
        self._tier_multipliers = dict(tier_multipliers)
        self.web_search_per_request = web_search_per_request  # USD per single request
        self._long_context_window = long_context_window
        self._history: dict[str, list[ModelPrice]] = {}
        for m in models:
            self._history.setdefault(m.id, []).append(m)
        for model_id, rows in self._history.items():
            rows.sort(key=lambda r: r.valid_from or date.min)
            _check_dates(model_id, rows)
        self.models = tuple(rows[-1] for rows in self._history.values())  # one per model: its newest row
        self._by_name: dict[str, str] = {}
        self._by_family: dict[str, str] = {}
        for m in models:
            for name in (m.id, *m.aliases):
                if self._by_name.setdefault(name, m.id) != m.id:
                    raise PriceTableError(f"model name {name!r} is used by two models")
                self._by_family.setdefault(_DATE_SUFFIX.sub("", name), m.id)
        self.day: date | None = None  # the day `model` and `rates` price when given none (None: the newest rows)
        self.observed: dict[ObservedKey, Decimal] = {}
        self._observed_by_model: dict[tuple[str, str], list[tuple[ObservedKey, Decimal]]] = {}
        self.prefer_observed = False

    def on(self, day: date | None) -> PriceTable:
        """This table pinned to the prices in force on `day`."""
        pinned = copy.copy(self)
        pinned.day = day
        return pinned

    def with_observed(self, observed: Mapping[ObservedKey, Decimal], *, prefer: bool = False) -> PriceTable:
        """This table with prices learned from the bill (USD per MTok, the most recent per key).

        They price a model the list does not know; with `prefer` (the user accepts observed prices), they also
        replace the list price of every combination they cover.
        """
        learned = copy.copy(self)
        # whole pico-dollars per token, as the estimate computes (an observed price has up to 18 decimal places)
        learned.observed = {key: price.quantize(_PICO_PER_TOKEN, rounding=ROUND_HALF_EVEN) for key, price in observed.items()}
        learned._observed_by_model = {}
        for key, price in learned.observed.items():
            learned._observed_by_model.setdefault((key[0], key[1]), []).append((key, price))
        learned.prefer_observed = prefer
        return learned

    def history(self, model: str) -> list[ModelPrice]:
        """Every dated row of a model, oldest first (empty for an unknown model)."""
        model_id = self.resolve_model(model)
        return list(self._history[model_id]) if model_id else []

    @classmethod
    def load_default(cls) -> PriceTable:
        """The table packaged with usage_lake (``prices.json``)."""
        text = resources.files("usage_lake.money").joinpath("prices.json").read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PriceTable:
        """Build from the ``prices.json`` structure (lets users override prices with their own file)."""
        try:
            long_context = data["long_context"]
            lc_models = set(long_context["models"])
            lc = (
                _decimal(long_context["input_multiplier"], "long_context.input_multiplier"),
                _decimal(long_context["output_multiplier"], "long_context.output_multiplier"),
            )
            geo_by_model: dict[str, dict[str, Decimal]] = {}
            for geo, spec in data["inference_geo_multipliers"].items():
                mult = _decimal(spec["multiplier"], f"inference_geo_multipliers.{geo}.multiplier")
                for model_id in spec["models"]:
                    geo_by_model.setdefault(model_id, {})[geo] = mult
            models = tuple(
                _model_from_dict(entry, lc if entry["id"] in lc_models else None, geo_by_model)
                for entry in data["models"]
            )
            tiers = {
                tier: _decimal(v, f"service_tier_multipliers.{tier}")
                for tier, v in data["service_tier_multipliers"].items()
            }
            per_1000 = _decimal(data["web_search"]["usd_per_1000_requests"], "web_search")
            window = long_context["context_window"]
        except KeyError as exc:
            raise PriceTableError(f"price table is missing key {exc}") from exc
        known = {m.id for m in models}
        unknown = (lc_models | set(geo_by_model)) - known
        if unknown:
            raise PriceTableError(f"price table modifiers name unknown models: {sorted(unknown)}")
        return cls(models, tiers, per_1000 / 1000, window, data)

    def with_overrides(self, overrides: Mapping[str, Any]) -> PriceTable:
        """This table with a user's file merged over it (`PRICING_OVERRIDES`).

        The override file has the prices.json shape. A `models` entry whose `id` is a known id or alias
        changes only the fields it gives (e.g. a negotiated `input` price) in every row of that model; with a
        `valid_from` (and optionally `valid_until`) it changes them from that day on (until that day) only, the
        rows around it cut to make room. An unknown id adds a model and must give every price. Other sections
        merge key by key; lists (such as `long_context.models`) replace.
        """
        merged = json.loads(json.dumps(self.data or {}))
        for key, value in overrides.items():
            if key == "models":
                continue
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                for inner, inner_value in value.items():
                    if isinstance(inner_value, dict) and isinstance(merged[key].get(inner), dict):
                        merged[key][inner].update(inner_value)
                    else:
                        merged[key][inner] = inner_value
            else:
                merged[key] = value
        for entry in overrides.get("models", []):
            if not isinstance(entry, dict) or "id" not in entry:
                raise PriceTableError(f"every models[] entry of a price override needs an id (got {entry!r})")
            known = self.resolve_model(entry["id"])
            rows = [m for m in merged["models"] if m["id"] == known] if known else []
            if not rows:
                missing = [f for f in ("name", *_RATE_FIELDS) if f not in entry]
                if missing:
                    raise PriceTableError(f"price override adds model {entry['id']!r} without {', '.join(missing)}")
                merged["models"].append(dict(entry))
            elif "valid_from" not in entry:
                for row in rows:
                    row.update({k: v for k, v in entry.items() if k not in ("id", "valid_until")})
            else:
                others = [m for m in merged["models"] if m["id"] != known]
                merged["models"] = others + _overlay(rows, {**entry, "id": known})
        return PriceTable.from_dict(merged)

    def model(self, model: str, day: date | None = None) -> ModelPrice | None:
        """The price row in force on `day` (default: the table's day, else the newest) for any accepted spelling of
        a model, or None. A day before the model's first row gets the first row."""
        model_id = self.resolve_model(model)
        if model_id is None:
            return None
        rows = self._history[model_id]
        day = day or self.day
        if day is None:
            return rows[-1]
        return next((r for r in rows if r.in_force(day)), rows[0] if rows[0].valid_from and day < rows[0].valid_from else rows[-1])

    def resolve_model(self, model: str) -> str | None:
        """Canonical id for an exact id, an alias, or a dated snapshot of a known family.

        The usage report may carry either dated ids or aliases (reference Q5), and new snapshots
        appear before the table is edited, so ``claude-opus-4-6-20260301`` maps to ``claude-opus-4-6``.
        """
        exact = self._by_name.get(model)
        if exact is not None:
            return exact
        family = _DATE_SUFFIX.sub("", model)
        return self._by_family.get(family) if family != model else None

    def rates(
        self,
        model: str,
        service_tier: str | None,
        context_window: str | None,
        inference_geo: str | None,
        day: date | None = None,
    ) -> TokenRates | None:
        """List rates for one usage combination on `day`; None for an unknown model (never zero)."""
        entry = self.model(model, day)
        if entry is None:
            return None
        input_mult = output_mult = self._tier_multipliers.get(service_tier or "", _ONE)
        if entry.long_context is not None and context_window == self._long_context_window:
            input_mult *= entry.long_context[0]
            output_mult *= entry.long_context[1]
        geo_mult = entry.geo_multipliers.get(inference_geo or "", _ONE)
        input_mult *= geo_mult
        output_mult *= geo_mult
        return TokenRates(
            uncached_input=entry.input * input_mult,
            cache_write_5m=entry.cache_write_5m * input_mult,
            cache_write_1h=entry.cache_write_1h * input_mult,
            cache_read=entry.cache_read * input_mult,
            output=entry.output * output_mult,
            web_search_per_request=self.web_search_per_request,
        )

    def priced(
        self, model: str, service_tier: str | None, context_window: str | None, inference_geo: str | None, day: date | None = None,
    ) -> tuple[dict[str, Decimal | None], str] | None:
        """{TokenRates field: USD per MTok} and the basis (`list`, `list-lower-bound`, `observed`) for one combination,
        or None when neither the list nor the bill prices the model. An observed model may lack a field (a token type
        it was never billed for): that field is None."""
        listed = self.rates(model, service_tier, context_window, inference_geo, day)
        observed = self._observed(model, service_tier, context_window, inference_geo, exact=listed is not None)
        if listed is not None and not (self.prefer_observed and observed):
            entry = self.model(model, day)
            return {f: getattr(listed, f) for f in RATE_FIELDS}, LOWER_BOUND if entry and entry.lower_bound else LIST
        if observed:
            if listed is not None:  # accepted observed prices: the list fills the token types the bill did not show
                observed = {f: observed.get(f) or getattr(listed, f) for f in RATE_FIELDS}
            return {f: observed.get(f) for f in RATE_FIELDS}, OBSERVED
        return None

    def _observed(self, model: str, tier: str | None, window: str | None, geo: str | None, *, exact: bool) -> dict[str, Decimal]:
        """Observed prices of a combination; for a model without a list price, a token type seen only at other
        dimensions takes the most recent of those."""
        if not self.observed:
            return {}
        found = {}
        for f in RATE_FIELDS:
            price = self.observed.get((model, f, tier, window, geo))
            if price is None and not exact and (seen := self._observed_by_model.get((model, f))):
                price = max(seen, key=lambda item: _likeness(item[0], tier, window, geo))[1]
            if price is not None:
                found[f] = price
        return found


def _likeness(key: ObservedKey, tier: str | None, window: str | None, geo: str | None) -> int:
    """How close an observed combination is to the one to price: the tier first (Priority Tier, never in the bill,
    is list price: the standard tier's), then the context window, then the geo."""
    _, _, seen_tier, seen_window, seen_geo = key
    same_tier = seen_tier == tier or (seen_tier == "standard" and tier not in ("batch",))
    return 4 * same_tier + 2 * (seen_window == window) + (seen_geo == geo)


def _model_from_dict(
    entry: Mapping[str, Any],
    long_context: tuple[Decimal, Decimal] | None,
    geo_by_model: Mapping[str, Mapping[str, Decimal]],
) -> ModelPrice:
    """One ``models[]`` entry of prices.json."""
    model_id = entry["id"]
    rates = {f: _decimal(entry[f], f"models[{model_id}].{f}") for f in _RATE_FIELDS}
    return ModelPrice(
        id=model_id,
        display_name=entry["name"],
        aliases=tuple(entry.get("aliases", ())),
        long_context=long_context,
        geo_multipliers=dict(geo_by_model.get(model_id, {})),
        valid_from=_day(entry.get("valid_from"), f"models[{model_id}].valid_from"),
        valid_until=_day(entry.get("valid_until"), f"models[{model_id}].valid_until"),
        source=entry.get("source"),
        third_party=tuple(entry.get("third_party", ())),
        lower_bound=entry.get("lower_bound"),
        **rates,
    )


def _overlay(rows: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    """A model's rows (prices.json dicts) with a dated override laid over [valid_from, valid_until): the row in force
    on its first day gives the fields it omits; rows it covers are cut or dropped."""
    start, end = entry["valid_from"], entry.get("valid_until")
    rows = sorted(rows, key=lambda r: r.get("valid_from") or "")

    def covers(row: dict[str, Any], day: str) -> bool:
        return (row.get("valid_from") or "") <= day and (row.get("valid_until") is None or day < row["valid_until"])

    base = next((r for r in rows if covers(r, start)), rows[0])
    added = {**base, **entry}
    added.pop("valid_until", None)
    later = [r["valid_from"] for r in rows if r.get("valid_from") and r["valid_from"] > start]
    if end is None and later:
        end = later[0]
    if end is not None:
        added["valid_until"] = end
    result = []
    for row in rows:
        row_start, row_end = row.get("valid_from") or "", row.get("valid_until")
        if row_start < start:  # the part before the override
            result.append({**row, "valid_until": start if row_end is None or row_end > start else row_end})
        if end is not None and (row_end is None or row_end > end):  # the part after it
            result.append({**row, "valid_from": max(row_start, end)})
    result.append(added)
    return sorted(result, key=lambda r: r.get("valid_from") or "")


def _day(value: Any, where: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise PriceTableError(f"{where}: not a YYYY-MM-DD date: {value!r}") from None


def _check_dates(model_id: str, rows: list[ModelPrice]) -> None:
    """A model's rows follow each other: each but the last ends where the next starts; none is empty."""
    for row in rows:
        if row.valid_from and row.valid_until and row.valid_until <= row.valid_from:
            raise PriceTableError(f"model {model_id!r}: a row ends ({row.valid_until}) before it starts ({row.valid_from})")
    for earlier, later in zip(rows, rows[1:], strict=False):
        if later.valid_from is None or earlier.valid_until != later.valid_from:
            raise PriceTableError(
                f"model {model_id!r}: a row valid from {earlier.valid_from} must end (valid_until) on the day the next "
                f"row starts ({later.valid_from}), got {earlier.valid_until}")


def load_prices(overrides: str | None) -> PriceTable:
    """The packaged price table, with `PRICING_OVERRIDES` (a local path or s3:// URI) merged over it."""
    table = PriceTable.load_default()
    if not overrides:
        return table
    try:
        data = json.loads(read_location(overrides))
        if not isinstance(data, dict):
            raise PriceTableError("the file must hold a JSON object shaped like prices.json")
        return table.with_overrides(data)
    except (OSError, ValueError) as exc:
        raise SettingsError(f"PRICING_OVERRIDES {overrides!r} could not be used: {exc}") from None
    except Exception as exc:  # the store's errors: missing object, no permission
        raise SettingsError(f"PRICING_OVERRIDES {overrides!r} could not be read: {exc}") from None
