"""The lake's SQL views, in Athena (Trino) SQL: the one registry Athena and the CLI's DuckDB share.

`usage-lake sql` and the reports create each view here in DuckDB (transpiled from this text with sqlglot) over
the lake's tables, so a view means the same thing on a laptop and in Athena. A view over a table the lake does
not hold is left out. Name -> `SELECT ...` (no trailing semicolon).
"""

from __future__ import annotations

__all__ = ["VIEWS"]

VIEWS: dict[str, str] = {}
