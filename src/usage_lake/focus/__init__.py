"""FOCUS: the cost report in the FinOps Open Cost and Usage Specification's columns (1.2, plus the 1.3 provider
columns), derived from the lake's cost and usage days, for one Athena query beside the AWS FOCUS export.

    names.py   the organization, workspace names and tags in force on a day (snapshot tables; fallbacks)
    build.py   one day's `focus` rows from its cost and usage rows (vectorised)
    table.py   the `focus` table: a day is written with the cost day; read a range back
    export.py  FOCUS CSV with exact decimals, UTC date/times and JSON tags
    observed.py the `observed_prices` table (unit prices the bill shows) and the prices learned from it
"""

from usage_lake.focus.build import BILLED, COST_SOURCE, ESTIMATED, USAGE_SOURCE, Unmatched, focus_rows
from usage_lake.focus.export import csv_columns, write_csv
from usage_lake.focus.names import Names, names_on
from usage_lake.focus.observed import OBSERVED_TABLE, Drift, drifts, learned_prices, observe_day, read_observed, reprice_usage_days
from usage_lake.focus.table import FOCUS_TABLE, FocusDay, focus_table, write_focus_day

__all__ = [
    "BILLED", "COST_SOURCE", "ESTIMATED", "FOCUS_TABLE", "USAGE_SOURCE", "FocusDay", "Names", "Unmatched", "csv_columns",
    "OBSERVED_TABLE", "Drift", "drifts", "focus_rows", "focus_table", "learned_prices", "names_on", "observe_day",
    "read_observed", "reprice_usage_days", "write_csv", "write_focus_day",
]
