"""What people read from a lake: terminal views of spend, tokens and runs (later CSV, JSON and HTML)."""

from usage_lake.reporting.text import recent_runs, spend_and_tokens, token_totals

__all__ = ["recent_runs", "spend_and_tokens", "token_totals"]
