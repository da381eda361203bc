"""The report views: summary, daily, models, workspaces, keys, projects, claude-code.

Each view is one DuckDB query over a `LakeDB` and comes back as a `View`: an Arrow table with ids beside
names and money as exact decimals (for CSV and JSON), plus how a person reads it (the columns the terminal
table shows, with names instead of ids and a totals row). The lake is never loaded into Python rows: DuckDB
reads the `dt` partitions of the range and the columns a query names.

Bases, as everywhere in the project: *billed* is the cost report (whole UTC days, about a day late, no
Priority Tier, no per-key split); *estimated* is usage x list prices (`usage_messages.estimated_cost_usd`,
today included, Priority Tier included); the *alert figure* of a day is what the alerts compare against a
budget on the `cost` basis: a day's billed cost once billed, until then its estimate without Priority Tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import pyarrow as pa

from usage_lake import words
from usage_lake.lake.schema import USAGE_COUNTERS
from usage_lake.lake.store import Lake
from usage_lake.money import PriceTable, alert_figure_sql, default_prices
from usage_lake.reporting.query import LakeDB, Partitions

__all__ = [
    "DEFAULT_WORKSPACE", "NO_API_KEY", "NO_MODEL", "TABLES_OF", "Column", "View", "Window", "claude_code", "daily",
    "disambiguated", "keys", "models", "open_for", "projects", "summary", "workspaces",
]

# num: any number shown exactly (SQL results); percent: a value already x100; measure: a budget figure, money or count
Kind = Literal["text", "day", "int", "usd", "rate", "num", "percent", "measure"]
INPUTS = USAGE_COUNTERS[:4]  # uncached, cache write 5m and 1h, cache read: every input token
DEFAULT_WORKSPACE = words.DEFAULT_WORKSPACE
NO_API_KEY = words.NO_API_KEY
NO_MODEL = words.NO_MODEL

_TOKENS = ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in USAGE_COUNTERS)
_TOKEN_COLUMNS = ", ".join(USAGE_COUNTERS)
_INPUT_SUM = " + ".join(INPUTS)
_HIT_RATE = f"round(CAST(sum(cache_read_input_tokens) AS DOUBLE) / nullif(sum({_INPUT_SUM}), 0), 6) AS cache_hit_rate"


@dataclass(frozen=True)
class Window:
    """A range of whole UTC days [start, end), and today (the day the alert figure estimates)."""

    start: date
    end: date
    today: date

    @classmethod
    def last(cls, days: int, today: date) -> Window:
        return cls(today - timedelta(days=days - 1), today + timedelta(days=1), today)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def params(self) -> list[str]:
        return [self.start.isoformat(), self.end.isoformat()]

    def __str__(self) -> str:
        last = self.end - timedelta(days=1)
        return f"{self.start} .. {last} (UTC, {self.days} day{'s' if self.days != 1 else ''})"


@dataclass(frozen=True)
class Column:
    """A column of the terminal table: which field, its header, how it is shown, whether it is totalled.
    A `rate` column's total is recomputed from the totals of `rate_of` (numerator, denominator columns)."""

    name: str
    header: str
    kind: Kind = "int"
    total: bool = True
    rate_of: tuple[str, tuple[str, ...]] | None = None


@dataclass
class View:
    name: str
    title: str
    table: pa.Table  # every column: ids beside names, exact decimals
    columns: list[Column]  # what a person reads in the terminal
    notes: list[str] = field(default_factory=list)
    totals: bool = True
    compact: tuple[str, ...] | None = None  # the columns a compact (default) table shows; None: all of them


def open_for(lake: Lake, window: Window | None, *, tables: Sequence[str] | None = None) -> LakeDB:
    """A LakeDB reading the partitions of `window` (None: all of them)."""
    default = Partitions(window.start, window.end) if window else Partitions()
    return LakeDB(lake, default=default, tables=tables)


def _token_columns(*, web: bool = True) -> list[Column]:
    cols = [Column("uncached_input_tokens", words.UNCACHED_INPUT), Column("cache_creation_5m_input_tokens", words.CACHE_WRITE_5M),
            Column("cache_creation_1h_input_tokens", words.CACHE_WRITE_1H), Column("cache_read_input_tokens", words.CACHE_READ),
            Column("output_tokens", words.OUTPUT_TOKENS)]
    return cols + ([Column("web_search_requests", words.WEB_SEARCHES)] if web else [])


_HIT = Column("cache_hit_rate", words.CACHE_HIT, "rate", rate_of=("cache_read_input_tokens", INPUTS))


# -- daily figures: the building block of daily and summary ----------------------------------------------

def _per_day_sql(usage: str, where: str) -> str:
    """Per `dt`: billed (cost report), estimated, Priority Tier estimate, tokens, and the alert figure."""
    return f"""
        u AS (SELECT dt, sum(estimated_cost_usd) AS estimated_usd,
                     coalesce(sum(estimated_cost_usd) FILTER (WHERE service_tier = 'priority'), 0) AS priority_estimated_usd,
                     {_TOKENS}, CAST(sum(row_count) AS BIGINT) AS usage_rows, CAST(sum(unpriced_rows) AS BIGINT) AS unpriced_rows
              FROM {usage} WHERE {where} GROUP BY dt),
        c AS (SELECT dt, sum(amount_cents) AS billed_cents, sum(amount_usd) AS billed_usd
              FROM cost_report WHERE {where} GROUP BY dt),
        per_day AS (
            SELECT coalesce(u.dt, c.dt) AS dt, c.billed_usd, c.billed_cents, u.estimated_usd,
                   CASE WHEN u.dt IS NOT NULL THEN u.priority_estimated_usd END AS priority_estimated_usd,
                   -- the budgets' `cost` basis: billed once billed, else the estimate of what the cost report bills
                   -- (Priority Tier left out), so a sum of days does not jump when a day turns billed
                   {alert_figure_sql("c.billed_usd", "u.estimated_usd", "u.priority_estimated_usd")} AS alert_usd,
                   CASE WHEN c.billed_usd IS NOT NULL THEN 'billed'
                        WHEN u.estimated_usd IS NOT NULL AND coalesce(u.dt, c.dt) >= $today THEN 'estimated, so far'
                        WHEN u.estimated_usd IS NOT NULL THEN 'estimated' END AS alert_basis,
                   {", ".join(f"u.{c}" for c in USAGE_COUNTERS)}, u.usage_rows, u.unpriced_rows,
                   u.dt IS NOT NULL AS has_usage, c.dt IS NOT NULL AS has_cost
            FROM u FULL OUTER JOIN c ON u.dt = c.dt)"""


def daily(db: LakeDB, window: Window) -> View:
    """One row per UTC day of the window, days without data included (status "no data")."""
    sql = f"""
        WITH {_per_day_sql(db.usage, "dt >= $start AND dt < $end")},
        days AS (SELECT strftime(d, '%Y-%m-%d') AS dt
                 FROM generate_series(CAST($start AS DATE), CAST($end AS DATE) - INTERVAL 1 DAY, INTERVAL 1 DAY) AS t(d))
        SELECT days.dt AS day,
               CASE WHEN p.has_cost THEN 'billed' WHEN p.has_usage THEN 'usage only, not billed yet' ELSE 'no data' END AS status,
               p.billed_usd, p.billed_cents, p.estimated_usd, p.priority_estimated_usd, p.alert_usd, p.alert_basis,
               {", ".join(f"p.{c}" for c in USAGE_COUNTERS)},
               round(CAST(p.cache_read_input_tokens AS DOUBLE) / nullif({" + ".join(f"p.{c}" for c in INPUTS)}, 0), 6) AS cache_hit_rate,
               p.usage_rows, p.unpriced_rows
        FROM days LEFT JOIN per_day p ON p.dt = days.dt
        ORDER BY day"""
    table = db.arrow(sql, {"start": window.start.isoformat(), "end": window.end.isoformat(), "today": window.today.isoformat()})
    columns = [Column("day", "day (UTC)", "day", total=False), Column("status", "status", "text", total=False),
               Column("billed_usd", words.BILLED, "usd"), Column("estimated_usd", words.ESTIMATED, "usd"),
               Column("priority_estimated_usd", words.PRIORITY_ESTIMATED, "usd"), Column("alert_usd", words.ALERT_FIGURE, "usd"),
               *_token_columns(), _HIT]
    notes = ["billed: the cost report (whole UTC days, about a day late, no Priority Tier); estimated: usage x list prices; "
             "alert figure: the budgets' `cost` basis - billed once billed, else estimated without Priority Tier."]
    unpriced = sum(v or 0 for v in table.column("unpriced_rows").to_pylist())
    if unpriced:
        notes.append(f"{unpriced:,} usage row(s) use models missing from the price table: not in the estimate.")
    return View("daily", f"Daily spend and tokens, {window}", table, columns, notes,
                compact=("day", "billed_usd", "estimated_usd", "alert_usd", "output_tokens", "cache_hit_rate"))


def summary(db: LakeDB, today: date, extra_days: int | None = None) -> View:
    """All time, today, the last 7 and 30 days and month to date (and the last `extra_days`); days tracked and since when."""
    periods: list[tuple[str, date | None, date | None]] = [
        ("all time", None, None), ("today", today, today), ("last 7 days", today - timedelta(days=6), today),
        ("last 30 days", today - timedelta(days=29), today), ("month to date", today.replace(day=1), today)]
    if extra_days is not None and extra_days not in (1, 7, 30):
        periods.insert(4, (f"last {extra_days} days", today - timedelta(days=extra_days - 1), today))
    values = ", ".join(f"({i}, '{name}', {_day_literal(first)}, {_day_literal(last)})" for i, (name, first, last) in enumerate(periods))
    sql = f"""
        WITH {_per_day_sql(db.usage, "true")},
        periods(i, period, first_day, last_day) AS (VALUES {values})
        SELECT period, min(p.dt) AS first_day, max(p.dt) AS last_day, count(p.dt) AS days_with_data,
               sum(p.billed_usd) AS billed_usd, sum(p.billed_cents) AS billed_cents, sum(p.estimated_usd) AS estimated_usd,
               sum(p.priority_estimated_usd) AS priority_estimated_usd, sum(p.alert_usd) AS alert_usd,
               {", ".join(f"CAST(sum(p.{c}) AS BIGINT) AS {c}" for c in USAGE_COUNTERS)},
               round(CAST(sum(p.cache_read_input_tokens) AS DOUBLE) / nullif({" + ".join(f"sum(p.{c})" for c in INPUTS)}, 0), 6)
                   AS cache_hit_rate
        FROM periods LEFT JOIN per_day p
          ON (periods.first_day IS NULL OR p.dt >= periods.first_day) AND (periods.last_day IS NULL OR p.dt <= periods.last_day)
        GROUP BY periods.i, period ORDER BY periods.i"""
    table = db.arrow(sql, {"today": today.isoformat()})
    columns = [Column("period", "period", "text", total=False), Column("first_day", "since", "day", total=False),
               Column("days_with_data", "days", total=False), Column("billed_usd", words.BILLED, "usd", total=False),
               Column("estimated_usd", words.ESTIMATED, "usd", total=False),
               Column("alert_usd", words.ALERT_FIGURE, "usd", total=False),
               *(Column(c.name, c.header, c.kind, total=False) for c in _token_columns()),
               Column("cache_hit_rate", "cache hit", "rate", total=False)]
    first = table.column("first_day")[0].as_py()
    tracked = table.column("days_with_data")[0].as_py()
    notes = [f"Days tracked: {tracked:,} since {first} (today is {today}, UTC)." if first else "The lake holds no usage or cost days.",
             "billed: the cost report (no Priority Tier; today is not billed yet); estimated: usage x list prices; "
             "alert figure: what the monthly budget compares, the `cost` basis (billed days, else estimated without Priority Tier)."]
    return View("summary", f"Summary as of {today} (UTC)", table, columns, notes, totals=False,
                compact=("period", "days_with_data", "billed_usd", "estimated_usd", "alert_usd", "output_tokens"))


def _day_literal(day: date | None) -> str:
    return "NULL" if day is None else f"'{day.isoformat()}'"


# -- by model, workspace, key, project ------------------------------------------------------------------

def models(db: LakeDB, window: Window, prices: PriceTable | None = None) -> View:
    sql = f"""
        WITH u AS (SELECT model, {_TOKENS}, sum(estimated_cost_usd) AS estimated_usd, CAST(sum(unpriced_rows) AS BIGINT) AS unpriced_rows
                   FROM {db.usage} WHERE dt >= $start AND dt < $end GROUP BY model),
             c AS (SELECT model, sum(amount_cents) AS billed_cents, sum(amount_usd) AS billed_usd
                   FROM cost_report WHERE dt >= $start AND dt < $end GROUP BY model)
        SELECT coalesce(u.model, c.model) AS model, c.billed_usd, c.billed_cents, u.estimated_usd,
               {", ".join(f"u.{c}" for c in USAGE_COUNTERS)},
               round(CAST(u.cache_read_input_tokens AS DOUBLE) / nullif({" + ".join(f"u.{c}" for c in INPUTS)}, 0), 6) AS cache_hit_rate,
               u.unpriced_rows
        FROM u FULL OUTER JOIN c ON u.model IS NOT DISTINCT FROM c.model
        ORDER BY coalesce(c.billed_usd, u.estimated_usd) DESC NULLS LAST, model NULLS LAST"""
    table = db.arrow(sql, {"start": window.start.isoformat(), "end": window.end.isoformat()})
    prices = prices or default_prices()
    names = []
    for model in table.column("model").to_pylist():
        entry = prices.model(model) if model else None
        names.append(NO_MODEL if model is None else (entry.display_name if entry else model))
    table = table.add_column(1, "model_name", pa.array(names, pa.string()))
    columns = [Column("model_name", words.MODEL, "text", total=False), Column("billed_usd", words.BILLED, "usd"),
               Column("estimated_usd", words.ESTIMATED, "usd"), *_token_columns(), _HIT]
    return View("models", f"Spend and tokens by model, {window}", table, columns,
                [f"{words.CACHE_HIT}: cache reads over all {words.INPUT_TOKENS} ({words.UNCACHED_INPUT}, cache writes and reads). "
                 "Web search and code execution are billed on the no-model row."],
                compact=("model_name", "billed_usd", "estimated_usd", "output_tokens", "cache_hit_rate"))


def _names(db: LakeDB, table: str) -> str | None:
    """A (id, name) subquery over the latest snapshot of an organization table, or None when the lake lacks it."""
    if not db.has(table) or not {"id", "name"} <= set(db.columns(table)):
        return None
    return f"(SELECT id, any_value(name) AS name FROM {table} GROUP BY id)"


def workspaces(db: LakeDB, window: Window) -> View:
    names = _names(db, "workspaces")
    join = f"LEFT JOIN {names} w ON w.id = t.workspace_id" if names else ""
    name = "w.name" if names else "CAST(NULL AS VARCHAR)"
    sql = f"""
        WITH u AS (SELECT workspace_id, {_TOKENS}, sum(estimated_cost_usd) AS estimated_usd
                   FROM {db.usage} WHERE dt >= $start AND dt < $end GROUP BY workspace_id),
             c AS (SELECT workspace_id, sum(amount_cents) AS billed_cents, sum(amount_usd) AS billed_usd
                   FROM cost_report WHERE dt >= $start AND dt < $end GROUP BY workspace_id),
             t AS (SELECT coalesce(u.workspace_id, c.workspace_id) AS workspace_id, c.billed_usd, c.billed_cents, u.estimated_usd,
                          {", ".join(f"u.{c}" for c in USAGE_COUNTERS)}
                   FROM u FULL OUTER JOIN c ON u.workspace_id IS NOT DISTINCT FROM c.workspace_id)
        SELECT t.workspace_id,
               CASE WHEN t.workspace_id IS NULL THEN '{DEFAULT_WORKSPACE}' ELSE {name} END AS workspace_name,
               t.* EXCLUDE (workspace_id)
        FROM t {join}
        ORDER BY coalesce(t.billed_usd, t.estimated_usd) DESC NULLS LAST, t.workspace_id NULLS FIRST"""
    table = db.arrow(sql, {"start": window.start.isoformat(), "end": window.end.isoformat()})
    table = _label_column(table, "workspace_name", "workspace_id", "workspace")
    notes = [] if names else ["No `workspaces` table in the lake yet: workspaces are shown by id."]
    columns = [Column("workspace", words.WORKSPACE, "text", total=False), Column("billed_usd", words.BILLED, "usd"),
               Column("estimated_usd", words.ESTIMATED, "usd"), *_token_columns()]
    return View("workspaces", f"Spend and tokens by workspace, {window}", table, columns, notes,
                compact=("workspace", "billed_usd", "estimated_usd", "output_tokens"))


def keys(db: LakeDB, window: Window) -> View:
    key_names, ws_names = _names(db, "api_keys"), _names(db, "workspaces")
    joins = (f"LEFT JOIN {key_names} k ON k.id = t.api_key_id " if key_names else "") + \
            (f"LEFT JOIN {ws_names} w ON w.id = t.workspace_id" if ws_names else "")
    billed = db.has("analytics_cost")  # issue 18: the Analytics API bills per key (Priority Tier included)
    billed_cte = """, b AS (SELECT api_key_id, workspace_id, sum(amount_usd) AS billed_usd FROM analytics_cost
                         WHERE dt >= $start AND dt < $end GROUP BY api_key_id, workspace_id)""" if billed else ""
    billed_join = "LEFT JOIN b ON b.api_key_id IS NOT DISTINCT FROM t.api_key_id AND b.workspace_id IS NOT DISTINCT FROM t.workspace_id" \
        if billed else ""
    sql = f"""
        WITH t AS (SELECT api_key_id, workspace_id, {_TOKENS}, sum(estimated_cost_usd) AS estimated_usd,
                          CAST(sum(unpriced_rows) AS BIGINT) AS unpriced_rows
                   FROM {db.usage} WHERE dt >= $start AND dt < $end GROUP BY api_key_id, workspace_id){billed_cte}
        SELECT t.api_key_id,
               CASE WHEN t.api_key_id IS NULL THEN '{NO_API_KEY}' ELSE {"k.name" if key_names else "CAST(NULL AS VARCHAR)"} END AS api_key_name,
               t.workspace_id,
               CASE WHEN t.workspace_id IS NULL THEN '{DEFAULT_WORKSPACE}' ELSE {"w.name" if ws_names else "CAST(NULL AS VARCHAR)"} END
                   AS workspace_name,
               {"b.billed_usd" if billed else "CAST(NULL AS DECIMAL(38, 14))"} AS billed_usd,
               {"CASE WHEN b.billed_usd IS NOT NULL THEN 'billed (analytics)' ELSE 'estimated' END" if billed else "'estimated'"} AS basis,
               t.estimated_usd, {", ".join(f"t.{c}" for c in USAGE_COUNTERS)}, t.unpriced_rows
        FROM t {joins} {billed_join}
        ORDER BY coalesce({"b.billed_usd, " if billed else ""}t.estimated_usd) DESC NULLS LAST, t.api_key_id NULLS FIRST,
                 t.workspace_id NULLS FIRST"""
    table = db.arrow(sql, {"start": window.start.isoformat(), "end": window.end.isoformat()})
    table = _label_column(table, "api_key_name", "api_key_id", "api_key")
    table = _label_column(table, "workspace_name", "workspace_id", "workspace")
    notes = (["billed (analytics): the Usage and Cost Analytics API's per-key billed cost (beta), Priority Tier included; "
              "estimated: usage x list prices, where the lake has no billed figure for the key."] if billed else
             ["estimated only: the cost report has no per-key cost (ANALYTICS_API=auto adds it)."])
    if not key_names:
        notes.append("No `api_keys` table in the lake yet: keys are shown by id.")
    columns = [Column("api_key", words.API_KEY, "text", total=False), Column("workspace", words.WORKSPACE, "text", total=False),
               *([Column("billed_usd", words.BILLED, "usd"), Column("basis", "basis", "text", total=False)] if billed else []),
               Column("estimated_usd", words.ESTIMATED, "usd"), *_token_columns()]
    title = "Billed and estimated spend" if billed else "Estimated spend"
    return View("keys", f"{title} and tokens by API key, {window}", table, columns, notes,
                compact=("api_key", "workspace", *(("billed_usd",) if billed else ()), "estimated_usd", "output_tokens"))


def projects(db: LakeDB, window: Window, by: str = "project") -> View:
    """Usage attributed to the value of label `by`: the key's own label, else its workspace's."""
    has_labels = db.has("labels") and {"entity_type", "entity_id", "key", "value"} <= set(db.columns("labels"))
    if has_labels:
        labels = """,
             kl AS (SELECT entity_id, any_value(value) AS value FROM labels WHERE entity_type = 'api_key' AND key = $by GROUP BY entity_id),
             wl AS (SELECT entity_id, any_value(value) AS value FROM labels WHERE entity_type = 'workspace' AND key = $by GROUP BY entity_id)"""
        value = "coalesce(kl.value, wl.value)"
        source = "CASE WHEN kl.value IS NOT NULL THEN 'api_key' WHEN wl.value IS NOT NULL THEN 'workspace' END"
        joins = "LEFT JOIN kl ON kl.entity_id = u.api_key_id LEFT JOIN wl ON wl.entity_id = u.workspace_id"
    else:
        labels, value, source, joins = "", "CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)", ""
    sql = f"""
        WITH u AS (SELECT api_key_id, workspace_id, {_TOKENS}, sum(estimated_cost_usd) AS estimated_usd
                   FROM {db.usage} WHERE dt >= $start AND dt < $end GROUP BY api_key_id, workspace_id){labels}
        SELECT {value} AS value, string_agg(DISTINCT {source}, ', ') AS labelled_by,
               count(DISTINCT u.api_key_id) AS api_keys, count(DISTINCT coalesce(u.workspace_id, '')) AS workspaces,
               sum(u.estimated_usd) AS estimated_usd, {", ".join(f"CAST(sum(u.{c}) AS BIGINT) AS {c}" for c in USAGE_COUNTERS)}
        FROM u {joins}
        GROUP BY 1 ORDER BY estimated_usd DESC NULLS LAST, value NULLS LAST"""
    params = {"start": window.start.isoformat(), "end": window.end.isoformat()} | ({"by": by} if has_labels else {})
    table = db.arrow(sql, params)
    table = table.rename_columns([by if n == "value" else n for n in table.column_names])
    shown = [v if v is not None else words.no_label(by) for v in table.column(by).to_pylist()]
    table = table.append_column(f"{by}_shown", pa.array(shown, pa.string()))
    notes = ["estimated only (usage x list prices): the cost report has no per-key cost. A key's own label wins over its workspace's."]
    if not has_labels:
        notes.append("No `labels` table in the lake yet: every key is unlabelled.")
    columns = [Column(f"{by}_shown", by, "text", total=False), Column("api_keys", "keys"),
               Column("estimated_usd", words.ESTIMATED, "usd"), *_token_columns()]
    return View("projects", f"Estimated spend and tokens by {by} label, {window}", table, columns, notes,
                compact=(f"{by}_shown", "api_keys", "estimated_usd", "output_tokens"))


def claude_code(db: LakeDB, window: Window) -> View:
    """Per user (or API key): sessions, lines, commits, PRs, tool accept rate, estimated cost."""
    columns = [Column("actor", "user", "text", total=False), Column("actor_type", "kind", "text", total=False),
               Column("sessions", "sessions"), Column("lines_added", "lines +"), Column("lines_removed", "lines -"),
               Column("commits", "commits"), Column("pull_requests", "PRs"),
               Column("tool_accept_rate", "tool accept", "rate", rate_of=("tools_accepted", ("tools_accepted", "tools_rejected"))),
               Column("estimated_usd", words.ESTIMATED, "usd")]
    title = f"Claude Code by user, {window}"
    if not db.has("claude_code_usage"):
        empty = pa.table({c: pa.array([], pa.string()) for c in ("actor_type", "actor")})
        return View("claude-code", title, empty, columns[:2], ["no data: the lake has no `claude_code_usage` table yet."], totals=False)
    have = set(db.columns("claude_code_usage"))
    accepted = [c for c in sorted(have) if c.endswith("_accepted")]
    rejected = [c for c in sorted(have) if c.endswith("_rejected")]
    total = lambda cs: " + ".join(f"coalesce({c}, 0)" for c in cs) or "0"  # noqa: E731
    metric = lambda c, alias: f"CAST(sum({c}) AS BIGINT) AS {alias}" if c in have else f"CAST(NULL AS BIGINT) AS {alias}"  # noqa: E731
    actor = "coalesce(actor_email_address, actor_api_key_name)"
    cost_join, cost_cols = "", "CAST(NULL AS DECIMAL(38, 14)) AS estimated_usd, CAST(NULL AS DECIMAL(38, 12)) AS estimated_cents"
    models_have = set(db.columns("claude_code_models")) if db.has("claude_code_models") else set()
    if {"actor_type", "estimated_cost_usd"} <= models_have and ({"actor_email_address", "actor_api_key_name"} & models_have):
        m_actor = " , ".join(c for c in ("actor_email_address", "actor_api_key_name") if c in models_have)
        m_actor = f"coalesce({m_actor})" if "," in m_actor else m_actor
        cents = "sum(estimated_cost_cents)" if "estimated_cost_cents" in models_have else "NULL"
        cost_join = f"""LEFT JOIN (SELECT actor_type, {m_actor} AS actor, sum(estimated_cost_usd) AS estimated_usd, {cents} AS estimated_cents
                                   FROM claude_code_models WHERE dt >= $start AND dt < $end GROUP BY 1, 2) m
                        ON m.actor_type IS NOT DISTINCT FROM u.actor_type AND m.actor IS NOT DISTINCT FROM u.actor"""
        cost_cols = "m.estimated_usd, m.estimated_cents"
    sql = f"""
        WITH u AS (SELECT actor_type, {actor} AS actor, {metric("num_sessions", "sessions")}, {metric("lines_added", "lines_added")},
                          {metric("lines_removed", "lines_removed")}, {metric("commits", "commits")},
                          {metric("pull_requests", "pull_requests")},
                          CAST(sum({total(accepted)}) AS BIGINT) AS tools_accepted, CAST(sum({total(rejected)}) AS BIGINT) AS tools_rejected
                   FROM claude_code_usage WHERE dt >= $start AND dt < $end GROUP BY 1, 2)
        SELECT u.*, round(CAST(u.tools_accepted AS DOUBLE) / nullif(u.tools_accepted + u.tools_rejected, 0), 6) AS tool_accept_rate,
               {cost_cols}
        FROM u {cost_join}
        ORDER BY estimated_usd DESC NULLS LAST, sessions DESC NULLS LAST, actor"""
    table = db.arrow(sql, {"start": window.start.isoformat(), "end": window.end.isoformat()})
    notes = [] if cost_join else ["no per-user cost: the lake has no `claude_code_models` table with actors yet."]
    if table.num_rows == 0:
        notes.append("no data: no Claude Code records in this range.")
    return View("claude-code", title, table, columns, notes,
                compact=("actor", "sessions", "lines_added", "commits", "tool_accept_rate", "estimated_usd"))


def _label_column(table: pa.Table, name_col: str, id_col: str, out: str) -> pa.Table:
    """A display column: the name, else the id (names come with the organization tables); a name that two ids
    share is told apart by its id, `batch-worker (apikey_01...)`, in tables, charts and rankings alike (`words.with_id`)."""
    return table.append_column(out, pa.array(disambiguated(table.column(name_col).to_pylist(), table.column(id_col).to_pylist()),
                                             pa.string()))


def disambiguated(names: Sequence[str | None], ids: Sequence[str | None]) -> list[str]:
    """Each id's label: its name (else the id), with the end of the id where several ids share the name."""
    ids_of: dict[str, set[str | None]] = {}
    for name, entity in zip(names, ids, strict=True):
        if name is not None:
            ids_of.setdefault(name, set()).add(entity)
    shown = []
    for name, entity in zip(names, ids, strict=True):
        if name is None:
            shown.append(entity if entity is not None else words.NOTHING)
        elif len(ids_of[name]) > 1 and entity is not None:
            shown.append(words.with_id(name, entity))
        else:
            shown.append(name)
    return shown


_FACTS = ("usage_messages", "cost_report")
# what each view reads (an s3:// lake fetches only these)
TABLES_OF: dict[str, tuple[str, ...]] = {
    "summary": _FACTS, "daily": _FACTS, "models": _FACTS, "workspaces": (*_FACTS, "workspaces"),
    "keys": (*_FACTS, "api_keys", "workspaces", "analytics_cost"), "projects": (*_FACTS, "labels"),
    "claude-code": ("claude_code_usage", "claude_code_models"),
}
