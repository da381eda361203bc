"""What people read from a lake: report views, exports, local SQL and the HTML report.

    query.py    DuckDB over a lake with Athena's table names (`LakeDB`); Athena SQL -> DuckDB; the dt range a query needs
    views.py    summary, daily, models, workspaces, keys, projects, claude-code: Arrow tables with exact decimals
    formats.py  a view as an aligned table (people), CSV (spreadsheets) or JSON (scripts)
    export.py   one lake table over a dt range to CSV, JSON or Parquet, names and labels joined in
    prices.py   `usage-lake prices`: list prices in force on a day, observed vs list, unpriced models
    html.py     the self-contained HTML report: static SVG charts (Altair + vl-convert) and the views' tables
    text.py     the demo's plain-text totals and the run log

DuckDB, sqlglot, Altair and vl-convert come with the `cli` extra and are imported only when a report runs.
"""

from usage_lake.reporting.text import DayData, day_data, recent_runs, spend_and_tokens, token_totals

__all__ = ["DayData", "day_data", "recent_runs", "spend_and_tokens", "token_totals"]
