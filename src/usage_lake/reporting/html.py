"""`usage-lake report html`: one self-contained HTML file with charts and the tables of every view.

The charts are Altair (Vega-Lite) specs rendered to static SVG by vl-convert when the report is built: the
file has no script, no font, no stylesheet or image from anywhere else, so it opens offline, prints, and
stays small (a page of charts is about 100 KB). Every chart is drawn from the very view tables the report
prints beside it, so the numbers in a chart are the views' numbers (as floats for drawing only: the tables
keep exact decimals, rounded to the cent for reading).

Charts: daily spend (billed beside estimated, stacked by model); month to date against the monthly budget
with the straight-line forecast; cache hit rate by day; top workspaces, API keys and projects; Claude Code
per user (when the lake has the Claude Code report).
"""

from __future__ import annotations

import calendar
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from usage_lake import __version__, words
from usage_lake.lake.store import Lake
from usage_lake.reporting import analytics_views, views
from usage_lake.reporting.formats import show, show_cell, totals_row
from usage_lake.reporting.prices import price_lines
from usage_lake.reporting.query import LakeDB, missing_extra
from usage_lake.reporting.views import NO_MODEL, Column, View, Window
from usage_lake.sanitize import DISPLAY_LENGTH, display, is_clean
from usage_lake.words import UNKNOWN_USER

__all__ = ["Chart", "Report", "build_report", "charts_for", "render_html"]

TOP = 10
TOP_MODELS = 8
TABLE_ROWS = 50
WIDTH = 760


@dataclass
class Chart:
    key: str  # data-chart attribute: what the browser test counts
    title: str
    spec: dict[str, Any]  # the Vega-Lite spec (its data inline): what the SVG was drawn from
    caption: str = ""


@dataclass
class Report:
    window: Window
    views: list[View]
    charts: list[Chart]
    notes: list[str]
    budget: Decimal | None


def build_report(lake: Lake, *, today: date, days: int = 30, budget: Decimal | None = None, prices=None,  # noqa: ANN001
                 label: str = "project", extra: Sequence[View] = (), people: bool = True) -> Report:
    """Read the lake once per question and gather the views and charts of the report; without `people`
    (`--no-people`, REPORT_NO_PEOPLE) the per-person sections (Claude Code per user) are left out."""
    window = Window.last(days, today)
    month_start = today.replace(day=1)
    needed = {table for view in ("workspaces", "keys", "projects", "claude-code") for table in views.TABLES_OF[view]}
    needed |= {*analytics_views.RECONCILE_TABLES, *analytics_views.HEADROOM_TABLES}
    # the summary has "all time": every partition is read once, summed per day, key, workspace, model and tier,
    # and every view of the report reads that
    with LakeDB(lake, tables=needed) as db:
        db.aggregate_usage((window.start, window.end))
        summary = views.summary(db, today)
        month = views.daily(db, Window(month_start, window.end, today))
        daily = views.daily(db, window)
        by_model = views.models(db, window, prices)
        by_day_model = _daily_by_model(db, window, by_model)
        found = [daily, by_model, views.workspaces(db, window), views.keys(db, window),
                 views.projects(db, window, label), *([views.claude_code(db, window)] if people else [])]
        if db.has("analytics_cost"):  # issue 18: the two billed sources side by side, and rate-limit headroom
            found.append(analytics_views.reconcile(db, window))
        found.append(analytics_views.headroom(db, Window(max(window.start, today - timedelta(days=6)), window.end, today)))
    report_views = [summary, *found, *extra]
    charts = charts_for(report_views, by_day_model, month, today, budget)
    notes = []
    if not any(v.name == "daily" and any(s != "no data" for s in v.table.column("status").to_pylist()) for v in report_views):
        notes.append(f"The lake holds no usage or cost for {window}.")
    notes += price_lines(lake, window.start, window.end)  # issue 19: observed-priced and unpriced models, visible
    if not people:
        notes.append("Per-person sections (Claude Code per user) are left out of this report.")
    return Report(window, report_views, charts, notes, budget)


def _daily_by_model(db: LakeDB, window: Window, by_model: View) -> list[dict[str, Any]]:
    sql = f"""
        SELECT dt, model, 'billed' AS basis, sum(amount_usd) AS usd FROM cost_report WHERE dt >= $start AND dt < $end GROUP BY dt, model
        UNION ALL
        SELECT dt, model, 'estimated' AS basis, sum(estimated_cost_usd) AS usd FROM {db.usage}
        WHERE dt >= $start AND dt < $end GROUP BY dt, model"""
    rows = db.arrow(sql, {"start": window.start.isoformat(), "end": window.end.isoformat()}).to_pylist()
    names = dict(zip(by_model.table.column("model").to_pylist(), by_model.table.column("model_name").to_pylist(), strict=True))
    ranked = [m for m in by_model.table.column("model").to_pylist()]
    keep = set(ranked[:TOP_MODELS])
    out = []
    for row in rows:
        if row["usd"] is None:
            continue
        model = row["model"]
        name = names.get(model, model or NO_MODEL) if model in keep else "other models"
        out.append({"day": row["dt"], "basis": row["basis"], "model": name, "usd": row["usd"]})
    return out


# -- charts --------------------------------------------------------------------------------------------------

def _altair() -> Any:
    try:
        import altair as alt
    except ImportError as exc:  # pragma: no cover
        raise missing_extra(exc) from None
    return alt


def _f(value: Decimal | int | float | None) -> float | None:
    return None if value is None else float(value)


MAX_DAY_BARS = 92  # up to a quarter a bar per day; then a bar per week (up to two years), then per month


def chart_period(days: Sequence[str]) -> tuple[str, Callable[[str], str]]:
    """How a chart over these YYYY-MM-DD days groups them: ("day" | "week" | "month", day -> its period's label).
    A week is labelled by its Monday, a month as YYYY-MM."""
    if len(days) <= MAX_DAY_BARS:
        return "day", lambda day: day
    if len(days) <= 7 * 104:
        def monday(day: str) -> str:
            d = date.fromisoformat(day)
            return (d - timedelta(days=d.weekday())).isoformat()
        return "week", monday
    return "month", lambda day: day[:7]


def charts_for(report_views: Sequence[View], by_day_model: list[dict[str, Any]], month: View, today: date,
               budget: Decimal | None) -> list[Chart]:
    alt = _altair()
    by_name = {v.name: v for v in report_views}
    charts: list[Chart] = []
    daily_days = [d for d in by_name["daily"].table.column("day").to_pylist()]
    unit, period = chart_period(daily_days)  # a long range is drawn by week or month: a bar per day would not render
    days = list(dict.fromkeys(period(d) for d in daily_days))
    ticks = days[::-(-len(days) // 31)]  # at most about a month of day labels, however long the range

    # daily spend: billed beside estimated, stacked by model
    values = [{**r, "day": period(r["day"]), "usd": _f(r["usd"])} for r in by_day_model]
    spend = alt.Chart(alt.Data(values=values)).mark_bar().encode(
        x=alt.X("day:O", title=f"UTC {unit}", sort=days, scale=alt.Scale(domain=days), axis=alt.Axis(labelAngle=-60, values=ticks)),
        xOffset=alt.XOffset("basis:N", sort=["billed", "estimated"]),
        y=alt.Y("sum(usd):Q", title="USD", stack="zero"),
        color=alt.Color("model:N", title="model", legend=alt.Legend(orient="bottom", columns=3)),
        opacity=alt.Opacity("basis:N", scale=alt.Scale(domain=["billed", "estimated"], range=[1.0, 0.55]), title="basis"),
    ).properties(width=WIDTH, height=260)
    charts.append(Chart("daily-spend", f"Spend per {unit}: billed (solid) beside estimated (light), by model", spend.to_dict(),
                        "Left bar of each day: billed (cost report; none for today). Right bar: estimated from usage x list prices."))

    # month to date against the budget, with the straight-line forecast
    rows = month.table.to_pylist()
    running = Decimal(0)
    cumulative = []
    for row in rows:
        if row["day"] > today.isoformat():
            break
        running += row["alert_usd"] or 0
        cumulative.append({"day": row["day"], "usd": _f(running), "series": "month to date"})
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    month_end = today.replace(day=days_in_month).isoformat()
    forecast = running / today.day * days_in_month if cumulative else None
    lines = list(cumulative)
    if forecast is not None:
        lines += [{"day": today.isoformat(), "usd": _f(running), "series": "forecast"},
                  {"day": month_end, "usd": _f(forecast), "series": "forecast"}]
    series = ["month to date", "forecast"] + (["budget"] if budget is not None else [])
    month_days = [(today.replace(day=1) + timedelta(days=i)).isoformat() for i in range(days_in_month)]
    layers = [alt.Chart(alt.Data(values=lines)).mark_line(point=True).encode(
        x=alt.X("day:O", title="UTC day", sort=month_days, scale=alt.Scale(domain=month_days), axis=alt.Axis(labelAngle=-60)),
        y=alt.Y("usd:Q", title="USD"),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=series, range=["#1f77b4", "#ff7f0e", "#d62728"][:len(series)])),
        strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(domain=["month to date", "forecast"], range=[[1, 0], [6, 4]]), legend=None),
    )]
    if budget is not None:
        layers.append(alt.Chart(alt.Data(values=[{"usd": _f(budget), "series": "budget"}])).mark_rule(strokeWidth=2).encode(
            y="usd:Q", color=alt.Color("series:N")))
    mtd = alt.layer(*layers).properties(width=WIDTH, height=240)
    shown = f"budget {show(budget, 'usd')}" if budget is not None else "no MONTHLY_BUDGET_USD set"
    charts.append(Chart("month-to-date", f"Month to date against the monthly budget ({shown})", mtd.to_dict(),
                        f"Alert figure per day, accumulated; forecast {show(forecast, 'usd')} for {today:%B %Y} "
                        f"(month to date / {today.day} day(s) x {days_in_month})."))

    # cache hit rate by day
    hits = [{"day": period(d), "rate": _f(r)} for d, r in zip(daily_days, by_name["daily"].table.column("cache_hit_rate").to_pylist(),
                                                               strict=True) if r is not None]
    cache = alt.Chart(alt.Data(values=hits)).mark_line(point=True).encode(
        x=alt.X("day:O", title=f"UTC {unit}", sort=days, scale=alt.Scale(domain=days), axis=alt.Axis(labelAngle=-60, values=ticks)),
        y=alt.Y("mean(rate):Q", title="cache reads / input tokens", axis=alt.Axis(format="%")),
    ).properties(width=WIDTH, height=200)
    charts.append(Chart("cache-hit-rate", f"Cache hit rate by {unit}" + (" (mean of its days)" if unit != "day" else ""), cache.to_dict()))

    # top workspaces, keys, projects
    label = next((c.name for c in by_name["projects"].columns[:1]), "project_shown")
    keys_billed = by_name["keys"].table.column("billed_usd").null_count < by_name["keys"].table.num_rows  # the Analytics API's (issue 18)
    for key, view_name, id_col, label_col, amount, title in (
        ("top-workspaces", "workspaces", "workspace_id", "workspace", "billed_usd", "Top workspaces (billed)"),
        ("top-keys", "keys", "api_key_id", "api_key", "billed_usd", "Top API keys (billed (analytics))") if keys_billed else
        ("top-keys", "keys", "api_key_id", "api_key", "estimated_usd", "Top API keys (estimated: no per-key billed cost)"),
        ("top-projects", "projects", label, label, "estimated_usd", f"Top {label.removesuffix('_shown')} labels (estimated)"),
    ):
        table = by_name[view_name].table
        if amount == "billed_usd" and all(u is None for u in table.column(amount).to_pylist()):
            amount = "estimated_usd"  # nothing billed in the range yet: the estimate
        bars = _ranked(table, id_col, label_col, amount)
        chart = alt.Chart(alt.Data(values=bars)).mark_bar().encode(
            y=alt.Y("name:N", sort="-x", title=None, axis=alt.Axis(labelLimit=320)),
            x=alt.X("usd:Q", title="USD"),
        ).properties(width=WIDTH - 300, height=max(40, 22 * len(bars)))
        charts.append(Chart(key, title, chart.to_dict()))

    # Claude Code per user
    code = by_name["claude-code"].table if "claude-code" in by_name else None
    if code is not None and code.num_rows and "estimated_usd" in code.column_names:
        users = [{"user": u or UNKNOWN_USER, "usd": _f(c), "sessions": s} for u, c, s in
                 zip(code.column("actor").to_pylist(), code.column("estimated_usd").to_pylist(), code.column("sessions").to_pylist(), strict=True)]
        measure = "usd" if any(u["usd"] is not None for u in users) else "sessions"
        users = sorted(users, key=lambda u: -(u[measure] or 0))[:TOP]
        chart = alt.Chart(alt.Data(values=users)).mark_bar().encode(
            y=alt.Y("user:N", sort="-x", title=None, axis=alt.Axis(labelLimit=320)),
            x=alt.X(f"{measure}:Q", title="estimated USD" if measure == "usd" else "sessions"),
        ).properties(width=WIDTH - 300, height=max(40, 22 * len(users)))
        charts.append(Chart("claude-code", "Claude Code per user (estimated cost)" if measure == "usd" else "Claude Code sessions per user",
                            chart.to_dict()))
    return charts


def _ranked(table: Any, id_col: str, label_col: str, amount: str) -> list[dict[str, Any]]:
    """The top bars of a ranking: summed per id (two keys that share a name are two bars), labelled with the
    disambiguated name the view's table shows, largest first."""
    sums: dict[Any, Decimal] = {}
    labels: dict[Any, str] = {}
    for entity, name, value in zip(table.column(id_col).to_pylist(), table.column(label_col).to_pylist(),
                                   table.column(amount).to_pylist(), strict=True):
        if value is None:
            continue
        sums[entity] = sums.get(entity, Decimal(0)) + value
        labels.setdefault(entity, name)
    top = sorted(sums, key=lambda e: (-sums[e], labels[e] or ""))[:TOP]
    seen: dict[str, int] = {}
    bars = []
    for entity in top:
        name = display(labels[entity] if labels[entity] is not None else words.NOTHING)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:  # two labels cut to the same text: still two bars
            name = f"{name} #{seen[name]}"
        bars.append({"name": name, "usd": _f(sums[entity])})
    return bars


def safe_spec(node: Any, data: bool = False) -> Any:
    """A chart spec with every string made safe for the renderer (which aborts the process on a control
    character): escaped everywhere, and names in the data (`values`) cut as in the tables."""
    if isinstance(node, str):
        if is_clean(node) and (not data or len(node) <= DISPLAY_LENGTH):
            return node
        return display(node, DISPLAY_LENGTH if data else None)
    if isinstance(node, dict):
        return {k: safe_spec(v, data or k in ("values", "datasets")) for k, v in node.items()}
    if isinstance(node, list):
        return [safe_spec(v, data) for v in node]
    return node


def _svg(spec: dict[str, Any]) -> str:
    try:
        import vl_convert
    except ImportError as exc:  # pragma: no cover
        raise missing_extra(exc) from None
    svg: str = vl_convert.vegalite_to_svg(safe_spec(spec))
    return svg  # its width and viewBox: drawn at its size, shrunk to fit a narrower page (CSS max-width)


# -- the page ------------------------------------------------------------------------------------------------

CSS = """
:root { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1d2329; }
body { margin: 0 auto; max-width: 1100px; padding: 24px; line-height: 1.4; }
h1 { font-size: 1.6em; margin: 0 0 4px; } h2 { font-size: 1.2em; margin: 32px 0 8px; border-bottom: 1px solid #d0d7de; }
.meta, .note, figcaption { color: #57606a; font-size: 0.9em; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin: 16px 0; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 12px; }
.card .figure { font-size: 1.4em; font-weight: 600; } .card .label { color: #57606a; font-size: 0.85em; }
figure { margin: 16px 0; break-inside: avoid; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; display: block; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85em; margin: 8px 0; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eaeef2; white-space: nowrap; }
th { text-align: left; background: #f6f8fa; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; border-top: 2px solid #d0d7de; }
nav a { margin-right: 12px; }
@media print { body { max-width: none; padding: 0; font-size: 10pt; } nav { display: none; } .table-wrap { overflow: visible; }
  h2 { break-after: avoid; } section { break-inside: auto; } }
"""


def render_html(report: Report, *, generated: datetime | None = None, lake_uri: str = "") -> str:
    generated = generated or datetime.now(UTC)
    esc = html.escape
    summary = next(v for v in report.views if v.name == "summary")
    cards = []
    for row in summary.table.to_pylist():
        if row["period"] in ("today", "last 7 days", "last 30 days", "month to date"):
            cards.append(f'<div class="card"><div class="label">{esc(row["period"])} (alert figure)</div>'
                         f'<div class="figure">{esc(show(row["alert_usd"], "usd"))}</div>'
                         f'<div class="label">billed {esc(show(row["billed_usd"], "usd"))} · estimated {esc(show(row["estimated_usd"], "usd"))}</div></div>')
    if report.budget is not None:
        mtd = next(r for r in summary.table.to_pylist() if r["period"] == "month to date")["alert_usd"] or Decimal(0)
        cards.append(f'<div class="card"><div class="label">monthly budget</div><div class="figure">{esc(show(report.budget, "usd"))}</div>'
                     f'<div class="label">{100 * mtd / report.budget:.0f}% used</div></div>')
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # nothing may load from anywhere: the page is one file
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        f"<title>Anthropic usage and spend, {esc(str(report.window))}</title>", f"<style>{CSS}</style></head><body>",
        "<h1>Anthropic usage and spend</h1>",
        f'<p class="meta">{esc(str(report.window))} · generated {generated:%Y-%m-%d %H:%M} UTC by anthropic-usage-lake {esc(__version__)}'
        + (f" from {esc(lake_uri)}" if lake_uri else "") + "</p>",
        '<nav><a href="#charts">Charts</a>' + "".join(f'<a href="#view-{esc(v.name)}">{esc(v.name)}</a>' for v in report.views) + "</nav>",
        f'<div class="cards">{"".join(cards)}</div>',
        *(f'<p class="note">{esc(n)}</p>' for n in report.notes),
        '<section id="charts"><h2>Charts</h2>',
    ]
    for chart in report.charts:
        caption = f"<figcaption>{esc(chart.caption)}</figcaption>" if chart.caption else ""
        parts.append(f'<figure class="chart" data-chart="{esc(chart.key)}"><h3>{esc(chart.title)}</h3>{_svg(chart.spec)}{caption}</figure>')
    parts.append("</section>")
    for view in report.views:
        parts.append(_table(view))
    parts.append("</body></html>")
    return "\n".join(parts)


def _table(view: View) -> str:
    esc = html.escape
    rows = view.table.to_pylist()
    shown = rows[:TABLE_ROWS]
    head = "".join(f"<th>{esc(c.header)}</th>" for c in view.columns)
    body = []
    for row in shown:
        body.append("<tr>" + "".join(_td(row, c) for c in view.columns) + "</tr>")
    if view.totals and rows:
        totals = totals_row(view)
        body.append('<tr class="total">' + "".join(
            "<td>total</td>" if i == 0 else _td(totals, c) if c.name in totals else "<td></td>"
            for i, c in enumerate(view.columns)) + "</tr>")
    notes = list(view.notes)
    if len(rows) > len(shown):
        notes.insert(0, f"The first {len(shown)} of {len(rows):,} rows (totals cover all of them); "
                        f"`usage-lake report {view.name} --format csv` has every row.")
    if not rows:
        body.append(f'<tr><td colspan="{len(view.columns)}">no rows</td></tr>')
    return (f'<section id="view-{esc(view.name)}"><h2>{esc(view.title)}</h2><div class="table-wrap">'
            f'<table class="view" data-view="{esc(view.name)}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
            + "".join(f'<p class="note">{esc(n)}</p>' for n in notes) + "</section>")


def _td(row: dict[str, Any], column: Column) -> str:
    """A cell as the terminal table shows it (`--wide`): money to the cent, counts with separators, names made safe."""
    cls = ' class="n"' if column.kind in ("usd", "int", "rate", "percent", "measure", "num") else ""
    return f"<td{cls}>{html.escape(show_cell(row, column, False, DISPLAY_LENGTH))}</td>"
