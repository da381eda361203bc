"""What people read from a lake: terminal views of spend, tokens and runs (later CSV, JSON and HTML)."""

from usage_lake.reporting.text import DayData, day_data, recent_runs, spend_and_tokens, token_totals

__all__ = ["DayData", "day_data", "recent_runs", "spend_and_tokens", "token_totals"]
