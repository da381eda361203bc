"""DuckDB over a lake, with Athena's table names and columns: what every report, `export` and `sql` read.

`LakeDB` registers one view per curated table (every table of `lake.schema.TABLES`, plus the organization,
label and Claude Code tables when the lake holds them) over the table's `dt=` partitions, and then the SQL
views of `lake.views.views()`, the one registry Athena and DuckDB share. The views look like the Glue tables:
the schema's columns in its order (a column added since an old partition was written reads as NULL, as in
Athena), timestamps as UTC wall-clock `TIMESTAMP`, and the partition `dt` as a string.

Only the partitions a question needs are read: a fact table is limited to a `dt` range, a snapshot table
(names, labels) to its latest partition; DuckDB then decodes only the columns a query names. A local lake
is read in place. An `s3://` lake's needed objects are fetched with the lake's own boto3 client into a
temporary folder first: DuckDB's S3 extension downloads itself at run time, which cannot be relied on.

DuckDB and sqlglot come with the `cli` extra and are imported here only, never by the Lambda.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

import usage_lake.lake.views as shared_views
from usage_lake.errors import ConfigError, LakeError
from usage_lake.lake.schema import TABLES, USAGE_COUNTERS
from usage_lake.lake.store import Lake, LocalLake

__all__ = [
    "FACT_TABLES", "SNAPSHOT_TABLES", "LakeDB", "Partitions", "athena_to_duckdb", "dt_bounds", "fill_parameters",
    "SqlResult", "SqlStream", "check_read_only", "missing_extra", "referenced_tables", "require_data", "run_sql", "sql_batches",
]

# Tables other issues add (organization snapshots, labels, Claude Code, FOCUS). Registered when the lake holds
# them, from their own Parquet schema until `lake.schema.TABLES` declares them.
SNAPSHOT_TABLES = ("organization", "workspaces", "api_keys", "users", "invites", "workspace_members", "labels")
FACT_TABLES = ("usage_messages", "cost_report", "runs", "claude_code_usage", "claude_code_models", "focus")
_DT = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")
FETCH_THREADS = 8


def require_data(lake: Lake) -> None:
    """A reading command never shows $0 for a lake that is not there: no usage and no cost partition is an error."""
    try:
        found = any(k.endswith(".parquet") for table in ("usage_messages", "cost_report") for k in lake.list(f"{table}/dt="))
    except Exception as exc:  # noqa: BLE001 - a missing bucket, no credentials: one line for the user
        raise LakeError(f"cannot read the lake at {lake.uri()}: {exc}") from None
    if not found:
        raise LakeError(f"no usage or cost data in the lake at {lake.uri()}: check --lake, or fill it with `usage-lake run`")


def missing_extra(exc: ImportError) -> ConfigError:
    return ConfigError(f"this command needs the CLI extra ({exc.name} is not installed): pip install 'anthropic-usage-lake[cli]'")


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - the cli extra is installed wherever tests run
        raise missing_extra(exc) from None
    return duckdb


@dataclass(frozen=True)
class Partitions:
    """Which partitions of a table to read: a `dt` range [start, end) (None: unbounded), or the latest only."""

    start: date | None = None
    end: date | None = None
    latest: bool = False

    def admits(self, day: str) -> bool:
        return (self.start is None or day >= self.start.isoformat()) and (self.end is None or day < self.end.isoformat())


class LakeDB:
    """A DuckDB connection whose views are the lake's tables. Use as a context manager (it cleans its fetch folder).

    `partitions` picks the partitions per table; tables not named get `default` (fact tables) or their latest
    partition (snapshot tables). `tables` limits which tables are registered at all (None: every one).
    """

    def __init__(self, lake: Lake, *, default: Partitions = Partitions(), partitions: Mapping[str, Partitions] | None = None,
                 tables: Iterable[str] | None = None, threads: int | None = None) -> None:
        duckdb = _duckdb()
        self.lake = lake
        self.wanted = None if tables is None else set(tables)
        self._partitions = dict(partitions or {})
        self._default = default
        self._tmp: Path | None = None
        self.fetched_objects = 0
        self.fetched_bytes = 0
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(f"SET threads = {threads or os.cpu_count() or 1}")
        self.present: dict[str, list[str]] = {}  # table -> the dt days registered (empty: no partitions)
        self._usage = "(SELECT *, 1 AS row_count, CAST(estimated_cost_usd IS NULL AS INTEGER) AS unpriced_rows FROM usage_messages)"
        try:
            self._register_tables()
            self._register_views()
        except BaseException:
            self.close()
            raise

    # -- context ----------------------------------------------------------------------------------

    def __enter__(self) -> LakeDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- what is there ----------------------------------------------------------------------------

    @property
    def usage(self) -> str:
        """The usage rows the report views read: `usage_messages` with a row count per row, or, after
        `aggregate_usage`, the same figures summed per day, key, workspace, model and tier (far fewer rows)."""
        return self._usage

    def aggregate_usage(self, detail: tuple[date, date] | None = None) -> None:
        """Sum `usage_messages` once into a temporary table, so that several views of one report scan the Parquet once:
        per (dt, model, service_tier), and within the `detail` days [start, end) also per API key and workspace (a large
        org's 240,000 rows a day become 10,000 there and 30 elsewhere). Views of key or workspace then read only `detail`."""
        counters = ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in USAGE_COUNTERS)
        inside = f"dt >= '{detail[0].isoformat()}' AND dt < '{detail[1].isoformat()}'" if detail else "true"
        self.con.execute(f"""CREATE OR REPLACE TEMP TABLE usage_by_day AS
            SELECT dt, CASE WHEN {inside} THEN api_key_id END AS api_key_id, CASE WHEN {inside} THEN workspace_id END AS workspace_id,
                   model, service_tier, {counters}, sum(estimated_cost_usd) AS estimated_cost_usd,
                   count(*) AS row_count, count_if(estimated_cost_usd IS NULL) AS unpriced_rows
            FROM usage_messages GROUP BY ALL""")
        self._usage = "usage_by_day"

    def has(self, table: str) -> bool:
        """The lake holds at least one registered partition of `table`."""
        return bool(self.present.get(table))

    def columns(self, table: str) -> list[str]:
        if table not in self.present:
            return []
        return [row[0] for row in self.con.execute(f'DESCRIBE "{table}"').fetchall()]

    def arrow(self, sql: str, params: Mapping[str, Any] | list[Any] | None = None) -> pa.Table:
        """Run a DuckDB query and return Arrow (decimals stay decimals)."""
        relation = self.con.sql(sql, params=params) if params else self.con.sql(sql)
        return relation.to_arrow_table()

    def confine(self, also: Iterable[str] = ()) -> None:
        """From now on this connection reads the lake's files only (and the files or folders `also` names): no other
        file, no extension, no setting (DuckDB's `allowed_directories`, external access off, configuration locked).
        Call it after registering."""
        roots = [Path(r) for r in (self.lake.root if isinstance(self.lake, LocalLake) else None, self._tmp) if r is not None]
        roots += [Path(p).expanduser() for p in also if Path(p).expanduser().is_dir()]
        files = [Path(p).expanduser() for p in also if not Path(p).expanduser().is_dir()]

        def quoted(paths: Iterable[Path], suffix: str) -> str:
            found = dict.fromkeys(str(p) for r in paths for p in (r.absolute(), r.resolve()))
            return ", ".join("'" + f.rstrip("/").replace("'", "''") + suffix + "'" for f in found)

        self.con.execute(f"SET allowed_directories = [{quoted(roots, '/')}]")
        self.con.execute(f"SET allowed_paths = [{quoted(files, '')}]")
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET autoinstall_known_extensions = false")
        self.con.execute("SET autoload_known_extensions = false")
        self.con.execute("SET lock_configuration = true")

    # -- registration -----------------------------------------------------------------------------

    def _candidates(self) -> list[str]:
        names = list(dict.fromkeys([*TABLES, *FACT_TABLES, *SNAPSHOT_TABLES]))
        return [n for n in names if self.wanted is None or n in self.wanted]

    def _choice(self, table: str) -> Partitions:
        if table in self._partitions:
            return self._partitions[table]
        return Partitions(latest=True) if table in SNAPSHOT_TABLES else self._default

    def _register_tables(self) -> None:
        for table in self._candidates():
            try:
                keys = [k for k in self.lake.list(f"{table}/dt=") if k.endswith(".parquet")]
            except Exception as exc:  # noqa: BLE001 - a missing bucket, no credentials: one line for the user
                raise LakeError(f"cannot read the lake at {self.lake.uri()}: {exc}") from None
            days = {k: m.group(1) for k in keys if (m := _DT.search("/" + k))}
            choice = self._choice(table)
            if choice.latest and days:
                last = max(days.values())
                days = {k: d for k, d in days.items() if d == last}
            chosen = {k: d for k, d in days.items() if choice.latest or choice.admits(d)}
            if not chosen and table not in TABLES:
                continue  # a table this lake does not have (yet): not registered, `has` says so
            self.present[table] = sorted(set(chosen.values()))
            self._create_view(table, self._paths(sorted(chosen)))

    def _paths(self, keys: list[str]) -> list[str]:
        if isinstance(self.lake, LocalLake):
            return [str(self.lake.root / key) for key in keys]
        if not keys:
            return []
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="usage-lake-"))
        tmp = self._tmp

        def fetch(key: str) -> tuple[str, int]:
            data = self.lake.get(key)
            path = tmp / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return str(path), len(data)

        with ThreadPoolExecutor(FETCH_THREADS) as pool:
            fetched = list(pool.map(fetch, keys))
        self.fetched_objects += len(fetched)
        self.fetched_bytes += sum(size for _, size in fetched)
        return [path for path, _ in fetched]

    def _create_view(self, table: str, paths: list[str]) -> None:
        schema = TABLES.get(table)
        # a view cannot take parameters: the file list is inlined as a list literal
        files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
        source = f"read_parquet({files}, hive_partitioning = true, hive_types = {{'dt': VARCHAR}}, union_by_name = true)"
        found: dict[str, str] = {}
        if paths:
            found = {row[0]: row[1] for row in self.con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        if schema is None:  # not declared yet: the files' own columns
            wanted = {name: kind for name, kind in found.items() if name != "dt"}
        else:
            self.con.register("__schema", schema.empty_table())
            wanted = {row[0]: row[1] for row in self.con.execute("DESCRIBE __schema").fetchall()}
            self.con.unregister("__schema")
        select = []
        for name, kind in wanted.items():
            kind = "TIMESTAMP" if kind == "TIMESTAMP WITH TIME ZONE" else kind  # Athena: UTC wall clock
            select.append(f'CAST("{name}" AS {kind}) AS "{name}"' if name in found else f'CAST(NULL AS {kind}) AS "{name}"')
        if paths:
            body = f"SELECT {', '.join(select)}, dt FROM {source}"
        else:
            body = f"SELECT {', '.join(select)}, CAST(NULL AS VARCHAR) AS dt WHERE false"
        self.con.execute(f'CREATE OR REPLACE VIEW "{table}" AS {body}')

    def _register_views(self) -> None:
        for name, sql in shared_views.views().items():
            if any(t not in self.present for t in referenced_tables(sql)):
                continue  # a view over a table this lake lacks
            self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {athena_to_duckdb(sql)}')


# -- Athena SQL in DuckDB ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SqlResult:
    table: pa.Table
    fetched_objects: int  # partition objects downloaded from an s3:// lake (0: local)
    fetched_bytes: int


def run_sql(lake: Lake, sql: str, *, params: Mapping[str, str] | None = None, now: datetime | None = None,
            start: date | None = None, end: date | None = None, aws_focus: str | None = None) -> SqlResult:
    """`usage-lake sql`: one reading Athena statement over the lake. `${Name}` placeholders are filled from `params`;
    `now` pins the clock. The statement is checked first (`check_read_only`: nothing runs or is fetched otherwise);
    it then runs on a connection that can read the lake's files only. Only the tables it names are registered;
    from an s3:// lake only the partitions [start, end), or when not given, those a top-level AND of its `dt`
    predicates admits, are fetched (a local lake is pruned by DuckDB itself). Every date is a UTC date.
    `aws_focus`: a local copy of the AWS FOCUS export, readable too (focus_all and claude_spend_all, as in Athena).
    The whole result in memory: for big results, `sql_batches`."""
    with sql_batches(lake, sql, params=params, now=now, start=start, end=end, aws_focus=aws_focus) as stream:
        try:
            table = stream.reader.read_all()
        except Exception as exc:  # noqa: BLE001 - DuckDB's own message names the problem
            raise ConfigError(f"the query failed: {_first_line(exc)}") from None
        return SqlResult(table, stream.fetched_objects, stream.fetched_bytes)


@dataclass
class SqlStream:
    reader: pa.RecordBatchReader  # the result, batch by batch (read it inside the `with`)
    fetched_objects: int
    fetched_bytes: int


BATCH_ROWS = 65_536  # rows per record batch a streamed result holds in memory


@contextmanager
def sql_batches(lake: Lake, sql: str, *, params: Mapping[str, str] | None = None, now: datetime | None = None,
                start: date | None = None, end: date | None = None, aws_focus: str | None = None,
                batch_rows: int = BATCH_ROWS) -> Iterator[SqlStream]:
    """As `run_sql`, the result as a `pyarrow.RecordBatchReader` of `batch_rows` rows a batch: memory stays bounded
    by a batch (and DuckDB's own working set), however many rows the statement returns."""
    statement = fill_parameters(sql, params or {}).strip().rstrip(";").strip()
    check_read_only(statement, athena=True)
    today = now.date() if now else datetime.now(UTC).date()  # one UTC "today" for the fetch and the query
    explain = _EXPLAIN.match(statement)  # EXPLAIN [ANALYZE] <statement>: the statement is translated and read
    prefix = statement[:explain.end()] + " " if explain else ""
    statement = statement[explain.end():].strip() if explain else statement
    duck = prefix + athena_to_duckdb(statement, today=today, now=now)
    check_read_only(duck)  # what DuckDB will run, after translation
    default = Partitions(start, end)
    if start is None and end is None and not isinstance(lake, LocalLake) and not aws_focus:  # focus_all reads `focus` whole
        con = _duckdb().connect()
        try:
            default = Partitions(*dt_bounds(statement, con, today=today))
        finally:
            con.close()
    # as in Athena, a snapshot table holds every day (the named views take the name at the time from them)
    every_day = {table: Partitions() for table in SNAPSHOT_TABLES}
    tables = referenced_tables(statement) | ({"focus"} if aws_focus else set())
    with LakeDB(lake, default=default, partitions=every_day, tables=tables) as db:
        db.con.execute("SET preserve_insertion_order = false")  # lets DuckDB stream a plain scan without buffering it
        if aws_focus:  # the AWS FOCUS export beside the lake: focus_all and claude_spend_all, as Athena has them
            from usage_lake.reporting.aws_focus import register_aws_focus

            register_aws_focus(db.con, aws_focus, params or {}, to_duckdb=athena_to_duckdb, fill=fill_parameters)
        db.confine(also=[aws_focus] if aws_focus else [])
        try:
            reader = db.con.sql(duck).to_arrow_reader(batch_rows)
        except Exception as exc:  # noqa: BLE001 - DuckDB's own message names the problem
            raise ConfigError(f"the query failed: {_first_line(exc)}") from None
        yield SqlStream(reader, db.fetched_objects, db.fetched_bytes)


# statement types that only read (DESCRIBE, SHOW, SUMMARIZE, VALUES and WITH parse as SELECT); EXPLAIN is checked
# on the statement it explains (EXPLAIN ANALYZE runs it)
_READING = ("SELECT", "EXPLAIN")
_EXPLAIN = re.compile(r"^\s*EXPLAIN(\s+ANALY[SZ]E)?\b", re.IGNORECASE)


def check_read_only(sql: str, *, athena: bool = False) -> None:
    """Refuse, before anything runs, a statement that is not exactly one reading statement, by DuckDB's own parser:
    COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA, CREATE, INSERT, CALL ... and several statements are a `ConfigError`."""
    duckdb = _duckdb()
    try:
        statements = duckdb.extract_statements(sql)
    except Exception as exc:  # noqa: BLE001 - DuckDB's parser names the problem
        if athena:
            return  # Athena syntax DuckDB does not parse: checked again once translated (`athena`: the user's text)
        raise ConfigError(f"not valid SQL: {_first_line(exc)}") from None
    if not statements:
        raise ConfigError("no SQL statement given")
    if len(statements) > 1:
        raise ConfigError(f"one statement at a time: this text holds {len(statements)} (run them one by one)")
    kind = statements[0].type.name
    if kind not in _READING:
        raise ConfigError(f"usage-lake sql only reads: {kind} statements are refused (SELECT, WITH, VALUES, DESCRIBE, "
                          "SHOW and EXPLAIN run; nothing that writes, copies, attaches, installs, loads, sets or calls)")
    if kind == "EXPLAIN":
        inner = _EXPLAIN.sub("", statements[0].query, count=1)
        if inner == statements[0].query:
            raise ConfigError("usage-lake sql only reads: this EXPLAIN form is refused")
        check_read_only(inner)


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _sqlglot() -> Any:
    try:
        import sqlglot
    except ImportError as exc:  # pragma: no cover
        raise missing_extra(exc) from None
    return sqlglot


def fill_parameters(sql: str, values: Mapping[str, str]) -> str:
    """The template's `${Name}` placeholders (named queries are `!Sub` strings), filled as CloudFormation does."""
    def value(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ConfigError(f"the query uses ${{{match.group(1)}}}: give it with --param {match.group(1)}=VALUE")
        return values[match.group(1)]

    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", value, sql)


def _parse(sql: str) -> Any:
    sqlglot = _sqlglot()
    try:
        return sqlglot.parse_one(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.ParseError as exc:
        raise ConfigError(f"not valid Athena SQL: {str(exc).splitlines()[0]}") from None


def athena_to_duckdb(sql: str, *, today: date | None = None, now: datetime | None = None) -> str:
    """Athena (Trino) SQL as DuckDB SQL. Database qualifiers are dropped (`"anthropic_usage".cost_report` reads the
    lake's `cost_report`); with `today`/`now`, `current_date`/`current_timestamp` are pinned (replays, tests)."""
    exp = _sqlglot().exp
    tree = _parse(sql)

    def rewrite(node: Any) -> Any:
        if isinstance(node, exp.Table) and node.args.get("db") is not None:
            node = node.copy()
            node.set("db", None)
            node.set("catalog", None)
            return node
        if today is not None and isinstance(node, exp.CurrentDate):
            return exp.cast(exp.Literal.string(today.isoformat()), exp.DataType.build("date"))
        if now is not None and isinstance(node, exp.CurrentTimestamp):
            return exp.cast(exp.Literal.string(now.strftime("%Y-%m-%d %H:%M:%S")), exp.DataType.build("timestamp"))
        return node

    return tree.transform(rewrite).sql(dialect="duckdb")


def referenced_tables(sql: str) -> set[str]:
    """The tables (and shared views) a statement reads, CTE names left out, view names expanded to their tables."""
    exp = _sqlglot().exp
    tree = _parse(sql)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    names = {t.name for t in tree.find_all(exp.Table) if t.name not in ctes}
    for view in names & set(shared_views.views()):
        names |= referenced_tables(shared_views.views()[view])
    return names


def dt_bounds(sql: str, con: Any, *, today: date | None = None) -> tuple[date | None, date | None]:
    """The `dt` range [start, end) a statement can read, to fetch only those partitions of an S3 lake. Correct first:
    a bound is taken only from the top-level AND of a SELECT's own WHERE (never from an OR or NOT branch, nor from a
    subquery), only in a SELECT that reads exactly one lake table or named view, and it holds only if every SELECT
    reading the lake has one; otherwise it is None (every day). Dates are UTC dates (`today` pins current_date)."""
    exp = _sqlglot().exp
    con.execute("SET TimeZone = 'UTC'")  # current_date and friends as the query itself sees them
    con.execute("SET enable_external_access = false")  # the constants evaluated here are the user's expressions
    tree = _parse(athena_to_duckdb(sql, today=today or datetime.now(UTC).date()))
    lake_tables = set(FACT_TABLES) | set(TABLES) | set(shared_views.views())
    lows: list[str] = []
    highs: list[str] = []
    all_low = all_high = True
    for select in tree.find_all(exp.Select):
        reads = [t for t in _own_tables(select, exp) if t.name in lake_tables]
        if not reads:
            continue
        low, high = _select_bounds(select, reads, con, exp) if len(reads) == 1 else (None, None)
        all_low &= low is not None
        all_high &= high is not None
        if low is not None:
            lows.append(low)
        if high is not None:
            highs.append(high)
    start = date.fromisoformat(min(lows)[:10]) if all_low and lows else None
    end = None
    if all_high and highs:
        last, inclusive = max(highs)[:10], max(highs).endswith("=")
        end = date.fromordinal(date.fromisoformat(last).toordinal() + (1 if inclusive else 0))
    return start, end


def _own_tables(select: Any, exp: Any) -> list[Any]:
    """Tables in this SELECT's own FROM and JOINs (not in nested subqueries)."""
    found = []
    for part in [select.args.get("from_") or select.args.get("from"), *(select.args.get("joins") or [])]:  # sqlglot 30: from_
        if part is not None and isinstance(part.this, exp.Table):
            found.append(part.this)
    return found


def _conjuncts(node: Any, exp: Any) -> list[Any]:
    """The terms of a top-level AND (parentheses unwrapped); an OR or NOT is one opaque term."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.this, exp) + _conjuncts(node.expression, exp)
    return [node]


def _select_bounds(select: Any, reads: list[Any], con: Any, exp: Any) -> tuple[str | None, str | None]:
    where = select.args.get("where")
    if where is None:
        return None, None
    names = {reads[0].name, reads[0].alias_or_name}
    lows, highs = [], []
    for node in _conjuncts(where.this, exp):
        if not isinstance(node, (exp.GTE, exp.GT, exp.EQ, exp.LT, exp.LTE, exp.Between, exp.In)):
            continue  # OR, NOT, IS NULL, a function ...: no bound from it
        if any(True for _ in node.find_all(exp.Select)):
            continue  # a subquery's dt is not this SELECT's
        if isinstance(node, (exp.Between, exp.In)):
            if not _is_dt(node.this, exp, names):
                continue
            values = [node.args["low"], node.args["high"]] if isinstance(node, exp.Between) else list(node.expressions)
            found = [_constant(v, con, exp) for v in values]
            if values and all(found):
                lows.append(min(v for v in found if v))
                highs.append(max(v for v in found if v) + "=")
            continue
        left, right = node.this, node.expression
        flipped = _is_dt(right, exp, names) and not _is_dt(left, exp, names)
        column, other = (right, left) if flipped else (left, right)
        if not _is_dt(column, exp, names):
            continue
        value = _constant(other, con, exp)
        if value is None:
            continue
        kind = type(node)
        if flipped:
            kind = {exp.GTE: exp.LTE, exp.GT: exp.LT, exp.LT: exp.GT, exp.LTE: exp.GTE}.get(kind, kind)
        if kind in (exp.GTE, exp.GT, exp.EQ):
            lows.append(value)
        if kind in (exp.LTE, exp.EQ):
            highs.append(value + "=")
        if kind is exp.LT:
            highs.append(value)
    # every term holds at once: the tightest of them
    return (max(lows) if lows else None), (min(highs) if highs else None)


def _is_dt(node: Any, exp: Any, names: set[str] | None = None) -> bool:
    """The `dt` column of this SELECT's lake table (unqualified, or qualified by its name or alias)."""
    if not (isinstance(node, exp.Column) and node.name == "dt"):
        return False
    return names is None or not node.table or node.table in names


def _constant(node: Any, con: Any, exp: Any) -> str | None:
    """The value of an expression with no column in it, as a YYYY-MM-DD string (None: not a constant day)."""
    if any(True for _ in node.find_all(exp.Column)) or any(True for _ in node.find_all(exp.Select)):
        return None
    try:
        value = con.execute(f"SELECT CAST(({node.sql(dialect='duckdb')}) AS VARCHAR)").fetchone()[0]
    except Exception:  # noqa: BLE001 - not evaluable alone: no bound from it
        return None
    return value if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value[:10] or "") else None
