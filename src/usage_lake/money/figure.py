"""The alert figure of a day: the one figure every view shows and every spend alert compares.

A day's *billed* cost once the cost report has it, else its *comparable estimate*: usage x list prices without
Priority Tier (the cost report never bills Priority Tier; it is billed apart and shown beside the figure). So
today's figure is the estimate of what the cost report will bill, and a sum of days does not jump when a day
turns billed. `report daily`, `summary`, the HTML cards, `report alerts`, the daily threshold and the budgets'
`cost` basis all read it from here: `alert_figure` for Python, `alert_figure_sql` for the DuckDB views.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["alert_figure", "alert_figure_sql"]


def alert_figure(billed_usd: Decimal | None, estimated_usd: Decimal | None, priority_estimated_usd: Decimal | None) -> Decimal | None:
    """Billed if billed, else the estimate without its Priority Tier part; None when the day has neither."""
    if billed_usd is not None:
        return billed_usd
    if estimated_usd is None:
        return None
    return estimated_usd - (priority_estimated_usd or Decimal(0))


def alert_figure_sql(billed: str, estimated: str, priority_estimated: str) -> str:
    """`alert_figure` as a SQL expression over three columns (DuckDB and Athena alike)."""
    return f"coalesce({billed}, {estimated} - coalesce({priority_estimated}, 0))"
