"""Budgets: the `BUDGETS` file (JSON), validated at start, plus the two legacy settings as budgets.

```json
{"budgets": [
  {"name": "org-monthly", "period": "monthly", "amount": "5000", "thresholds": [50, 80, 100], "forecast": true},
  {"name": "growth-daily", "period": "daily", "amount": "120", "scope": {"workspace_id": ["wrkspc_01..."]}},
  {"name": "opus-weekly-output", "period": "weekly", "measure": "output_tokens", "amount": "50000000",
   "scope": {"model": ["claude-opus-4-6"]}},
  {"name": "search-project", "period": "monthly", "amount": "800", "scope": {"label:project": ["search"]}}
]}
```

Every error names the budget (by name, or by position when it has none) and the field. Amounts are exact
decimals: a JSON string or number, parsed without a float. The vocabulary is AWS Budgets': a budget has a
period, a measure, an amount, thresholds in percent (ACTUAL) and an optional forecast (FORECASTED).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from usage_lake.errors import SettingsError

__all__ = [
    "KEY_SCOPES", "LEGACY_DAILY", "LEGACY_MONTHLY", "SCOPE_FIELDS", "Budget", "Measure", "Period", "join_budgets", "legacy_budgets",
    "parse_budgets",
]

LEGACY_DAILY = "daily-threshold"  # DAILY_SPEND_THRESHOLD_USD as a budget
LEGACY_MONTHLY = "monthly-budget"  # MONTHLY_BUDGET_USD as a budget
SCOPE_FIELDS = ("workspace_id", "api_key_id", "model", "service_tier", "inference_geo", "workspace", "api_key")
KEY_SCOPES = ("api_key_id", "api_key")  # the cost report has no API key: a scope on keys is measured on the estimate
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LABEL_KEY = re.compile(r"label:[A-Za-z0-9_.-]{1,64}")
_FIELDS = {"name", "period", "measure", "amount", "thresholds", "forecast", "scope"}
MAX_PERCENT = Decimal(1000)


class Period(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"  # ISO weeks: Monday 00:00 UTC
    MONTHLY = "monthly"


class Measure(StrEnum):
    COST = "cost"  # billed where billed, else the estimate of what the cost report bills (Priority Tier beside)
    BILLED_COST = "billed_cost"
    ESTIMATED_COST = "estimated_cost"
    INPUT_TOKENS = "input_tokens"  # every input kind: uncached, cache writes, cache reads
    OUTPUT_TOKENS = "output_tokens"
    TOTAL_TOKENS = "total_tokens"
    WEB_SEARCH_REQUESTS = "web_search_requests"
    REQUESTS = "requests"  # API requests: the Analytics API's count (`analytics_usage.requests`)

    @property
    def is_money(self) -> bool:
        return self in (Measure.COST, Measure.BILLED_COST, Measure.ESTIMATED_COST)

    @property
    def unit(self) -> str:
        """What the amount counts: USD, tokens or requests."""
        if self.is_money:
            return "USD"
        return "requests" if self in (Measure.WEB_SEARCH_REQUESTS, Measure.REQUESTS) else "tokens"


@dataclass(frozen=True)
class Budget:
    name: str
    period: Period
    amount: Decimal
    measure: Measure = Measure.COST
    thresholds: tuple[Decimal, ...] = (Decimal(100),)
    forecast: bool = False
    scope: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # empty: the whole organization
    legacy: bool = False  # DAILY_SPEND_THRESHOLD_USD / MONTHLY_BUDGET_USD: their own keys and messages, as before budgets

    @property
    def scope_text(self) -> str:
        """`all`, or `workspace_id=a,b; label:project=search` (stable order)."""
        if not self.scope:
            return "all"
        return "; ".join(f"{key}={','.join(values)}" for key, values in sorted(self.scope.items()))


def parse_budgets(text: str | bytes, *, source: str = "BUDGETS") -> list[Budget]:
    """The budgets of a `BUDGETS` file; `SettingsError` names the budget and the field of the first problem."""
    try:
        document = json.loads(text, parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("budgets"), list):
        raise SettingsError(f'{source}: expected a JSON object {{"budgets": [...]}}')
    budgets = [_budget(entry, index, source) for index, entry in enumerate(document["budgets"])]
    seen: set[str] = set()
    for budget in budgets:
        if budget.name in seen:
            raise SettingsError(f"{source}: two budgets are named {budget.name!r}; names must be unique")
        seen.add(budget.name)
    return budgets


def join_budgets(legacy: list[Budget], budgets: list[Budget], *, source: str = "BUDGETS") -> list[Budget]:
    """The legacy settings' budgets, then the file's; a file budget may not take a name a legacy setting uses."""
    for budget in budgets:
        if budget.name in {b.name for b in legacy}:
            setting = "DAILY_SPEND_THRESHOLD_USD" if budget.name == LEGACY_DAILY else "MONTHLY_BUDGET_USD"
            raise SettingsError(f"{source}: budget {budget.name!r}: that name is {setting}'s budget; rename it, or unset {setting}")
    return [*legacy, *budgets]


def legacy_budgets(daily_threshold_usd: Decimal | None, monthly_budget_usd: Decimal | None) -> list[Budget]:
    """`DAILY_SPEND_THRESHOLD_USD` and `MONTHLY_BUDGET_USD` as the budgets `daily-threshold` and `monthly-budget`."""
    budgets = []
    if daily_threshold_usd is not None:
        budgets.append(Budget(LEGACY_DAILY, Period.DAILY, daily_threshold_usd, legacy=True))
    if monthly_budget_usd is not None:
        budgets.append(Budget(LEGACY_MONTHLY, Period.MONTHLY, monthly_budget_usd,
                              thresholds=(Decimal(50), Decimal(80), Decimal(100)), forecast=True, legacy=True))
    return budgets


def _budget(entry: Any, index: int, source: str) -> Budget:
    where = f"{source}: budget #{index + 1}"
    if not isinstance(entry, dict):
        raise SettingsError(f"{where} must be a JSON object")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SettingsError(f"{where}: `name` must be 1-64 letters, digits, '.', '_' or '-' (got {name!r})")
    where = f"{source}: budget {name!r}"
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise SettingsError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS))}")
    period = Period(_choice(entry, "period", Period, where, None))
    measure = Measure(_choice(entry, "measure", Measure, where, Measure.COST))
    amount = _decimal(entry.get("amount"), f"{where}: `amount`")
    if amount <= 0:
        raise SettingsError(f"{where}: `amount` must be above 0 (got {entry.get('amount')!r})")
    if not measure.is_money and amount != amount.to_integral_value():
        raise SettingsError(f"{where}: `amount` counts {measure.value}, so it must be a whole number (got {entry.get('amount')!r})")
    thresholds = _thresholds(entry.get("thresholds", [100]), where)
    forecast = entry.get("forecast", False)
    if not isinstance(forecast, bool):
        raise SettingsError(f"{where}: `forecast` must be true or false (got {forecast!r})")
    if forecast and period == Period.DAILY:
        raise SettingsError(f"{where}: `forecast` is for weekly and monthly budgets (a daily budget has no forecast)")
    scope = _scope(entry.get("scope", {}), where)
    keys = [key for key in KEY_SCOPES if key in scope]
    if measure == Measure.BILLED_COST and keys:
        raise SettingsError(f"{where}: `measure` billed_cost cannot be scoped by `{keys[0]}`: the cost report has no per-key cost "
                            "(use cost, which measures key scopes on the estimate, or estimated_cost)")
    tiers = scope.get("service_tier", ())
    if measure in (Measure.COST, Measure.BILLED_COST) and tiers and set(tiers) <= {"priority"}:
        raise SettingsError(f"{where}: `measure` {measure.value} leaves Priority Tier out (the cost report bills it separately), so "
                            "a priority `scope.service_tier` would always measure 0; use estimated_cost")
    return Budget(name, period, amount, measure, thresholds, forecast, scope)


def _choice(entry: dict[str, Any], key: str, kind: type[StrEnum], where: str, default: StrEnum | None) -> StrEnum:
    value = entry.get(key)
    if value is None and default is not None:
        return default
    allowed = [member.value for member in kind]
    if value not in allowed:
        required = " (required)" if default is None and value is None else ""
        raise SettingsError(f"{where}: `{key}` must be one of {', '.join(allowed)}{required} (got {value!r})")
    return kind(value)


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise SettingsError(f"{what} must be a number or a decimal string like \"5000\" (got {value!r})")
    text = str(value).strip().replace(",", "") if isinstance(value, str) else value
    try:
        number = Decimal(text)
    except ArithmeticError:
        raise SettingsError(f"{what} must be a number or a decimal string like \"5000\" (got {value!r})") from None
    if not number.is_finite():
        raise SettingsError(f"{what} must be a finite number (got {value!r})")
    return number


def _thresholds(value: Any, where: str) -> tuple[Decimal, ...]:
    if not isinstance(value, list) or not value:
        raise SettingsError(f"{where}: `thresholds` must be a non-empty list of percents like [50, 80, 100] (got {value!r})")
    percents = sorted({_decimal(item, f"{where}: `thresholds` item") for item in value})
    if percents[0] <= 0 or percents[-1] > MAX_PERCENT:
        raise SettingsError(f"{where}: `thresholds` are percents of `amount` above 0 and at most {MAX_PERCENT} (got {value!r})")
    return tuple(percents)


def _scope(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    if value in ("all", None):
        return {}
    if not isinstance(value, dict):
        raise SettingsError(f"{where}: `scope` must be an object like {{\"workspace_id\": [\"wrkspc_...\"]}} or \"all\"")
    scope: dict[str, tuple[str, ...]] = {}
    for key, values in value.items():
        if key not in SCOPE_FIELDS and not _LABEL_KEY.fullmatch(key):
            raise SettingsError(f"{where}: `scope` has unknown key {key!r}; allowed: {', '.join(SCOPE_FIELDS)}, label:<key>")
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, Sequence) or not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise SettingsError(f"{where}: `scope.{key}` must be a non-empty list of non-empty strings (got {values!r})")
        scope[key] = tuple(dict.fromkeys(v.strip() for v in values))
    return scope
