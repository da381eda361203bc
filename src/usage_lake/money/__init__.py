"""Money: list prices (`prices.json`, overridable), the estimate of usage rows, and how dollars are shown.

Every figure is a `Decimal` or an Arrow decimal; nothing here touches a float.
"""

from decimal import Decimal

from usage_lake import words
from usage_lake.money.estimate import default_prices, estimated_cost, unpriced_models
from usage_lake.money.figure import alert_figure, alert_figure_sql
from usage_lake.money.pricing import PriceTable, TokenRates, load_prices

__all__ = ["PriceTable", "TokenRates", "alert_figure", "alert_figure_sql", "default_prices", "estimated_cost", "load_prices", "unpriced_models", "usd"]


def usd(amount: Decimal | None) -> str:
    """Dollars for display, rounded to the cent (the lake keeps every digit); "-" for no figure (`words.money`)."""
    return words.money(amount)
