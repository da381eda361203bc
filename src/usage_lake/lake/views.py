"""The lake's SQL views, in Athena (Trino) SQL: the one registry Athena and the CLI's DuckDB share.

Each view is a file `athena_views/<name>.sql` beside this module: a `-- description: ...` line, then the SELECT.
`make template` deploys them as Glue views; `usage-lake sql` and the reports create them in DuckDB (transpiled
with sqlglot) over the lake's tables, so a view means the same thing on a laptop and in Athena. A view over a
table the lake does not hold is left out. The files are read on first use (the Lambda package leaves them out).

A view shows the vocabulary's placeholders (`usage_lake.words`) where the API leaves a workspace or key null: the
files write `{{DEFAULT_WORKSPACE}}` / `{{NO_API_KEY}}` and `fill` puts the words' SQL literals there, for Athena
(`make template`) and DuckDB alike.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from usage_lake import words

__all__ = ["fill", "views"]


@cache
def views() -> dict[str, str]:
    """Name -> `SELECT ...` (no description line, no trailing semicolon), in name order."""
    folder = resources.files("usage_lake.lake").joinpath("athena_views")
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            _, _, sql = entry.read_text(encoding="utf-8").partition("\n")
            found[entry.name.removesuffix(".sql")] = fill(sql.strip().rstrip(";"))
    return found


def fill(sql: str) -> str:
    """A view's `{{NAME}}` placeholders replaced by the SQL string literals of the vocabulary's words."""
    return re.sub(r"\{\{(DEFAULT_WORKSPACE|NO_API_KEY)\}\}", lambda m: "'" + getattr(words, m.group(1)).replace("'", "''") + "'", sql)
