"""Write the generated parts of infra/template.yaml from their sources of truth.

    python infra/sync_template.py           # rewrite them (also: make template)
    python infra/sync_template.py --check   # exit 1 if the template is out of date (tests/test_template.py runs it)

Two parts are generated, each between `# BEGIN ...` and `# END ...` marker comments:
- the Glue columns of each table, from `usage_lake.lake.schema.athena_columns(table)` (the Parquet writer's schema);
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
    return _replace(template, QUERIES_BEGIN, QUERIES_END, render_queries())


def main(argv: list[str]) -> int:
    current = TEMPLATE.read_text()
    wanted = synced(current)
    if "--check" in argv:
        if current != wanted:
            print(f"{TEMPLATE.relative_to(ROOT)} is out of date with usage_lake.lake.schema or infra/queries/*.sql: "
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
