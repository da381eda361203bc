"""Anthropic list prices as data, resolved to per-token-category rates.

Money is exact in this product, so every figure is a ``Decimal`` parsed from a decimal string
(``prices.json``); nothing here ever touches a float. The table is data-driven: a new model, alias or
modifier is a JSON edit, not a code change. An unknown model resolves to ``None`` - never to a zero
price, which would silently under-report spend.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from usage_lake.errors import PriceTableError, SettingsError
from usage_lake.lake.store import read_location

__all__ = ["ModelPrice", "PriceTable", "TokenRates", "load_prices"]

_DATE_SUFFIX = re.compile(r"-\d{8}$")
_ONE = Decimal(1)
_RATE_FIELDS = ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output")


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
        self.models = models
        self._tier_multipliers = dict(tier_multipliers)
        self.web_search_per_request = web_search_per_request  # USD per single request
        self._long_context_window = long_context_window
        self._by_id = {m.id: m for m in models}
        self._by_name: dict[str, str] = {}
        self._by_family: dict[str, str] = {}
        for m in models:
            for name in (m.id, *m.aliases):
                if self._by_name.setdefault(name, m.id) != m.id:
                    raise PriceTableError(f"model name {name!r} is used by two models")
                self._by_family.setdefault(_DATE_SUFFIX.sub("", name), m.id)

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
        changes only the fields it gives (e.g. a negotiated `input` price); an unknown id adds a model and
        must give every price. Other sections merge key by key; lists (such as `long_context.models`) replace.
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
            target = next((m for m in merged["models"] if m["id"] == known), None) if known else None
            if target is None:
                missing = [f for f in ("name", *_RATE_FIELDS) if f not in entry]
                if missing:
                    raise PriceTableError(f"price override adds model {entry['id']!r} without {', '.join(missing)}")
                merged["models"].append(dict(entry))
            else:
                target.update({k: v for k, v in entry.items() if k != "id"})
        return PriceTable.from_dict(merged)

    def model(self, model: str) -> ModelPrice | None:
        """The price entry for any accepted spelling of a model, or None."""
        model_id = self.resolve_model(model)
        return None if model_id is None else self._by_id[model_id]

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
    ) -> TokenRates | None:
        """Rates for one usage combination; None for an unknown model (never zero)."""
        entry = self.model(model)
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
        **rates,
    )


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
