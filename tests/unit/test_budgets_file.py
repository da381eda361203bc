"""The BUDGETS file: every field parsed exactly, every mistake named by budget and field."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from usage_lake.config.budgets import (
    LEGACY_DAILY,
    LEGACY_MONTHLY,
    Budget,
    Measure,
    Period,
    join_budgets,
    legacy_budgets,
    parse_budgets,
)
from usage_lake.errors import SettingsError

EXAMPLE = {"budgets": [
    {"name": "org-monthly", "period": "monthly", "amount": "5000", "thresholds": [50, 80, 100], "forecast": True},
    {"name": "growth-daily", "period": "daily", "amount": "120", "scope": {"workspace_id": ["wrkspc_01"]}},
    {"name": "opus-weekly-output", "period": "weekly", "measure": "output_tokens", "amount": "50000000",
     "scope": {"model": ["claude-opus-4-6"]}},
    {"name": "search-project", "period": "monthly", "amount": 800.25, "scope": {"label:project": ["search"]}},
]}


def test_the_documented_example_parses_field_by_field() -> None:
    budgets = parse_budgets(json.dumps(EXAMPLE))
    assert budgets == [
        Budget("org-monthly", Period.MONTHLY, Decimal(5000), Measure.COST, (Decimal(50), Decimal(80), Decimal(100)), True, {}),
        Budget("growth-daily", Period.DAILY, Decimal(120), scope={"workspace_id": ("wrkspc_01",)}),
        Budget("opus-weekly-output", Period.WEEKLY, Decimal(50000000), Measure.OUTPUT_TOKENS, scope={"model": ("claude-opus-4-6",)}),
        Budget("search-project", Period.MONTHLY, Decimal("800.25"), scope={"label:project": ("search",)}),
    ]
    assert budgets[0].scope_text == "all"
    assert budgets[3].scope_text == "label:project=search"


def test_a_json_number_amount_is_exact_not_a_float() -> None:
    text = '{"budgets": [{"name": "b", "period": "daily", "amount": 0.1}]}'
    assert parse_budgets(text)[0].amount == Decimal("0.1")


@pytest.mark.parametrize(("entry", "message"), [
    ({"period": "daily", "amount": "1"}, "budget #1: `name`"),
    ({"name": "b", "amount": "1"}, "budget 'b': `period` must be one of daily, weekly, monthly (required)"),
    ({"name": "b", "period": "yearly", "amount": "1"}, "budget 'b': `period` must be one of"),
    ({"name": "b", "period": "daily", "amount": "-5"}, "budget 'b': `amount` must be above 0"),
    ({"name": "b", "period": "daily", "amount": "ten"}, "budget 'b': `amount` must be a number"),
    ({"name": "b", "period": "daily", "amount": True}, "budget 'b': `amount` must be a number"),
    ({"name": "b", "period": "daily", "amount": "1", "measure": "dollars"}, "budget 'b': `measure` must be one of cost, billed_cost"),
    ({"name": "b", "period": "daily", "amount": "1.5", "measure": "output_tokens"}, "must be a whole number"),
    ({"name": "b", "period": "daily", "amount": "1", "thresholds": []}, "`thresholds` must be a non-empty list"),
    ({"name": "b", "period": "daily", "amount": "1", "thresholds": [0, 50]}, "`thresholds` are percents"),
    ({"name": "b", "period": "daily", "amount": "1", "forecast": True}, "`forecast` is for weekly and monthly budgets"),
    ({"name": "b", "period": "weekly", "amount": "1", "forecast": "yes"}, "`forecast` must be true or false"),
    ({"name": "b", "period": "daily", "amount": "1", "scope": {"team": ["x"]}}, "`scope` has unknown key 'team'"),
    ({"name": "b", "period": "daily", "amount": "1", "scope": {"model": []}}, "`scope.model` must be a non-empty list"),
    ({"name": "b", "period": "daily", "amount": "1", "owner": "me"}, "budget 'b': unknown field(s) owner"),
    ({"name": "b", "period": "daily", "amount": "1", "measure": "billed_cost", "scope": {"api_key": ["prod"]}},
     "budget 'b': `measure` billed_cost cannot be scoped by `api_key`: the cost report has no per-key cost"),
    ({"name": "b", "period": "daily", "amount": "1", "scope": {"service_tier": ["priority"]}},
     "budget 'b': `measure` cost leaves Priority Tier out"),
])
def test_each_mistake_names_the_budget_and_the_field(entry: dict, message: str) -> None:
    with pytest.raises(SettingsError) as failure:
        parse_budgets(json.dumps({"budgets": [entry]}), source="BUDGETS budgets.json")
    assert message in str(failure.value)
    assert str(failure.value).startswith("BUDGETS budgets.json: ")


def test_duplicate_names_and_bad_documents_are_refused() -> None:
    with pytest.raises(SettingsError, match="two budgets are named 'b'"):
        parse_budgets(json.dumps({"budgets": [{"name": "b", "period": "daily", "amount": "1"}] * 2}))
    with pytest.raises(SettingsError, match="not valid JSON"):
        parse_budgets("{budgets")
    with pytest.raises(SettingsError, match='expected a JSON object {"budgets": \\[...\\]}'):
        parse_budgets("[]")


def test_the_legacy_settings_become_named_budgets() -> None:
    daily, monthly = legacy_budgets(Decimal(70), Decimal(1000))
    assert (daily.name, daily.period, daily.amount, daily.thresholds) == (LEGACY_DAILY, Period.DAILY, Decimal(70), (Decimal(100),))
    assert (monthly.name, monthly.period, monthly.amount, monthly.forecast) == (LEGACY_MONTHLY, Period.MONTHLY, Decimal(1000), True)
    assert monthly.thresholds == (Decimal(50), Decimal(80), Decimal(100))
    assert legacy_budgets(None, None) == []


def test_a_file_budget_may_not_take_a_legacy_settings_name() -> None:
    legacy = legacy_budgets(None, Decimal(1000))
    mine = parse_budgets(json.dumps({"budgets": [{"name": "monthly-budget", "period": "monthly", "amount": "5"}]}))
    with pytest.raises(SettingsError, match="budget 'monthly-budget': that name is MONTHLY_BUDGET_USD's budget"):
        join_budgets(legacy, mine)
    assert [b.name for b in join_budgets(legacy_budgets(Decimal(70), None), mine)] == ["daily-threshold", "monthly-budget"]


def test_estimated_cost_may_scope_priority_and_keys() -> None:
    text = json.dumps({"budgets": [{"name": "p", "period": "weekly", "amount": "9", "measure": "estimated_cost",
                                    "scope": {"service_tier": "priority", "api_key_id": ["apikey_01x"]}}]})
    (budget,) = parse_budgets(text)
    assert budget.scope == {"service_tier": ("priority",), "api_key_id": ("apikey_01x",)} and budget.measure.unit == "USD"
    assert budget.scope_text == "api_key_id=apikey_01x; service_tier=priority"
    assert Measure.WEB_SEARCH_REQUESTS.unit == "requests" and Measure.TOTAL_TOKENS.unit == "tokens"
