"""Write the generated parts of infra/template.yaml from their sources of truth.

    python infra/sync_template.py           # rewrite them (also: make template)
    python infra/sync_template.py --check   # exit 1 if the template is out of date (tests/test_template.py runs it)

Three parts are generated, each between `# BEGIN ...` and `# END ...` marker comments:
- the Glue columns of each table, from `usage_lake.lake.schema.athena_columns(table)` (the Parquet writer's schema);
- the Athena views, from src/usage_lake/lake/athena_views/<view name>.sql (a `-- description: ...` line, then one Trino SELECT). Each
  becomes a Glue table of type VIRTUAL_VIEW holding the view as Athena stores one it created itself: the SQL and
  its output columns in a "Presto View" definition (base64 JSON; the database name is filled in at deploy time).
  The columns are derived from the SQL with sqlglot against the tables' Glue columns, so a column added to a
  table shows up in a view that selects `t.*` on the next `make template`; every computed column must be a
  CAST(... AS type), so its type is certain (Athena refuses a view whose stored types differ from the query's);
- the Athena named queries, from infra/queries/*.sql. Each file starts with `-- name: ...` and
  `-- description: ...` lines; the whole file, comments included, becomes the query's QueryString. A file that
  mentions a template parameter as `${Name}` (only `${MonthlyBudgetUsd}` today) is wrapped in `!Sub`, so
  CloudFormation fills it in at deploy time.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

INFRA = Path(__file__).resolve().parent
ROOT = INFRA.parent
TEMPLATE = INFRA / "template.yaml"
QUERIES = INFRA / "queries"
VIEWS = ROOT / "src" / "usage_lake" / "lake" / "athena_views"  # shared with `usage-lake sql` (usage_lake.lake.views)
VIEWS_BEGIN = "  # BEGIN views: generated from src/usage_lake/lake/athena_views/*.sql by `python infra/sync_template.py`; edit the .sql files\n"
VIEWS_END = "  # END views\n"
QUERIES_BEGIN = "  # BEGIN named queries: generated from infra/queries/*.sql by `python infra/sync_template.py`; edit the .sql files\n"
QUERIES_END = "  # END named queries\n"
COLUMNS_INDENT = " " * 12
_HEADER = re.compile(r"-- (name|description): (.+)")


# -- Glue columns -----------------------------------------------------------------------------------

def columns_begin(table: str) -> str:
    return f"{COLUMNS_INDENT}# BEGIN columns of {table}: generated from usage_lake.lake.schema by `python infra/sync_template.py`\n"


def columns_end(table: str) -> str:
    return f"{COLUMNS_INDENT}# END columns of {table}\n"


def render_columns(table: str) -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from usage_lake.lake.schema import athena_columns

    lines = [columns_begin(table)]
    for name, kind in athena_columns(table):
        shown = kind if re.fullmatch(r"[a-z]+", kind) else json.dumps(kind)
        lines.append(f"{COLUMNS_INDENT}- {{Name: {name}, Type: {shown}}}\n")
    lines.append(columns_end(table))
    return "".join(lines)


# -- views ------------------------------------------------------------------------------------------

def view_files() -> list[Path]:
    return sorted(VIEWS.glob("*.sql"))


def view_parts(path: Path) -> tuple[str, str]:
    """(description, SQL) of a view file: its first line is `-- description: ...`, the rest the SELECT."""
    first, _, sql = path.read_text().partition("\n")
    match = re.fullmatch(r"-- description: (.+)", first.strip())
    if not match:
        raise SystemExit(f"{path.name} must start with a '-- description: ...' line")
    if "${" in sql or "\t" in sql:
        raise SystemExit(f"{path.name}: no ${{...}} (CloudFormation would substitute it) and no tabs")
    sys.path.insert(0, str(ROOT / "src"))
    from usage_lake.lake.views import fill  # the vocabulary's placeholders, as `usage-lake sql` fills them

    return match.group(1).strip(), fill(sql.strip()) + "\n"


def glue_schema() -> dict[str, dict[str, str]]:
    """Every table's columns as Athena (Trino) sees them, the dt partition included."""
    sys.path.insert(0, str(ROOT / "src"))
    from sqlglot import exp

    from usage_lake.lake.schema import TABLES, athena_columns

    return {table: {**{name: exp.DataType.build(kind, dialect="hive").sql("trino") for name, kind in athena_columns(table)},
                    "dt": "VARCHAR"} for table in TABLES}


def view_columns(name: str, sql: str) -> list[tuple[str, str, str]]:
    """(column, Trino type as the view definition stores it, Hive type as Glue lists it) for each output column."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify

    schema = glue_schema()
    tree = annotate_types(qualify(sqlglot.parse_one(sql, read="trino"), schema=schema, dialect="trino",
                                  validate_qualify_columns=True), schema=schema, dialect="trino")
    columns = []
    for select in tree.selects:
        kind = select.type
        if kind is None or kind.this in (exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL):
            raise SystemExit(f"view {name}: the type of column {select.alias_or_name!r} is not certain; write it as CAST(... AS type)")
        trino = kind.sql("trino").lower().replace(" ", "")
        trino = "timestamp(3)" if trino == "timestamp" else trino  # what Athena's Hive connector reads Parquet timestamps as
        columns.append((select.alias_or_name, trino, kind.sql("hive").lower().replace(" ", "")))
    names = [c[0] for c in columns]
    if len(set(names)) != len(names):
        raise SystemExit(f"view {name}: two output columns share a name")
    return columns


def view_definition(name: str, sql: str) -> dict:
    """The "Presto View" document Athena keeps for a view it created (`schema` is filled in at deploy time)."""
    return {"originalSql": sql, "catalog": "awsdatacatalog", "schema": "${GlueDatabase}",
            "columns": [{"name": column, "type": trino} for column, trino, _ in view_columns(name, sql)]}


def render_views() -> str:
    blocks = [VIEWS_BEGIN]
    for path in view_files():
        description, sql = view_parts(path)
        definition = json.dumps(json.dumps(view_definition(path.stem, sql), separators=(",", ":")))
        columns = "".join(f"            - {{Name: {column}, Type: {json.dumps(hive) if not re.fullmatch(r'[a-z]+', hive) else hive}}}\n"
                          for column, _, hive in view_columns(path.stem, sql))
        blocks.append(
            f"  {logical_id(path).removesuffix('Query')}View:\n"
            f"    Type: AWS::Glue::Table\n"
            f"    Properties:\n"
            f"      CatalogId: !Ref AWS::AccountId\n"
            f"      DatabaseName: !Ref GlueDatabase\n"
            f"      TableInput:\n"
            f"        Name: {path.stem}\n"
            f"        Description: {json.dumps(description[:2048])}\n"
            f"        TableType: VIRTUAL_VIEW\n"
            f"        Parameters: {{presto_view: \"true\", comment: Presto View}}\n"
            f"        ViewExpandedText: /* Presto View */\n"
            f"        ViewOriginalText: !Join\n"
            f"          - \"\"\n"
            f"          - - \"/* Presto View: \"\n"
            f"            - !Base64\n"
            f"                Fn::Sub: {definition}\n"
            f"            - \" */\"\n"
            f"        StorageDescriptor:\n"
            f"          SerdeInfo: {{}}\n"
            f"          Columns:\n"
            f"{columns}"
            "\n"
        )
    blocks.append(VIEWS_END)
    return "".join(blocks)


# -- named queries ----------------------------------------------------------------------------------

def query_files() -> list[Path]:
    return sorted(QUERIES.glob("*.sql"))


def logical_id(path: Path) -> str:
    return "".join(part.capitalize() for part in path.stem.split("_")) + "Query"


def header(path: Path) -> dict[str, str]:
    fields = {}
    for line in path.read_text().splitlines()[:2]:
        match = _HEADER.fullmatch(line.strip())
        if match:
            fields[match.group(1)] = match.group(2).strip()
    if set(fields) != {"name", "description"}:
        raise SystemExit(f"{path.name} must start with '-- name: ...' and '-- description: ...' lines")
    return fields


def render_queries() -> str:
    blocks = [QUERIES_BEGIN]
    for path in query_files():
        sql = path.read_text()
        if "\t" in sql or not sql.endswith("\n"):
            raise SystemExit(f"{path.name}: use spaces, not tabs, and end with a newline")
        meta = header(path)
        if len(meta["description"]) > 1024:
            raise SystemExit(f"{path.name}: the description is over Athena's 1,024 characters")
        tag = "!Sub |" if "${" in sql else "|"
        body = "".join(f"        {line}".rstrip() + "\n" for line in sql.splitlines())
        blocks.append(
            f"  {logical_id(path)}:\n"
            f"    Type: AWS::Athena::NamedQuery\n"
            f"    Properties:\n"
            f"      Name: {json.dumps(meta['name'])}\n"
            f"      Description: {json.dumps(meta['description'])}\n"
            f"      Database: !Ref GlueDatabase\n"
            f"      WorkGroup: !Ref AthenaWorkGroup\n"
            f"      QueryString: {tag}\n"
            f"{body}"
            "\n"
        )
    blocks.append(QUERIES_END)
    return "".join(blocks)


# -- the template -----------------------------------------------------------------------------------

def _replace(text: str, begin: str, end: str, block: str) -> str:
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise SystemExit(f"{TEMPLATE.name} has lost its marker comment {begin.strip()!r} or {end.strip()!r}")
    return text[:start] + block + text[stop + len(end):]


def synced(template: str) -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from usage_lake.lake.schema import TABLES

    for table in TABLES:
        template = _replace(template, columns_begin(table), columns_end(table), render_columns(table))
    template = _replace(template, VIEWS_BEGIN, VIEWS_END, render_views())
    return _replace(template, QUERIES_BEGIN, QUERIES_END, render_queries())


def main(argv: list[str]) -> int:
    current = TEMPLATE.read_text()
    wanted = synced(current)
    if "--check" in argv:
        if current != wanted:
            print(f"{TEMPLATE.relative_to(ROOT)} is out of date with usage_lake.lake.schema, src/usage_lake/lake/athena_views/*.sql or infra/queries/*.sql: "
                  "run `python infra/sync_template.py`", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        TEMPLATE.write_text(wanted)
        print(f"updated the generated parts of {TEMPLATE.relative_to(ROOT)}")
    else:
        print(f"{TEMPLATE.relative_to(ROOT)} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
