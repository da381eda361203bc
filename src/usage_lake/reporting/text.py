"""Plain-text views of a lake for the terminal: totals by day, model, workspace and API key, and the run log.

Workspaces and API keys show by name (the latest organization snapshot), with the id where two share a name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake import words
from usage_lake.lake.curated import partition_days, read_parquet, read_table
from usage_lake.lake.layout import RUNS_TABLE
from usage_lake.lake.names import Names
from usage_lake.lake.schema import USAGE_COUNTERS
from usage_lake.lake.store import Lake
from usage_lake.money import default_prices, usd
from usage_lake.sanitize import display

__all__ = ["DayData", "day_data", "recent_runs", "spend_and_tokens", "token_totals"]

INPUT_COUNTERS = ("uncached_input_tokens", "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens", "cache_read_input_tokens")


def token_totals(usage: pa.Table) -> dict[str, int]:
    return {name: pc.sum(usage.column(name)).as_py() or 0 for name in USAGE_COUNTERS}


class DayData(StrEnum):
    """What the lake holds for one day of a report's range (never shown as zero when it holds nothing)."""

    COMPLETE = "complete"  # usage and billed cost
    NOT_BILLED = "not billed yet"  # usage; the cost report bills a day after it ends, about a day late: today, yesterday
    NO_COST = "no cost data"  # usage; no cost for a day the cost report has billed by now: fetch cost for it
    NO_USAGE = "no usage data"  # billed cost, but no usage rows
    NO_DATA = "no data"  # nothing at all: not fetched (or nothing happened)


def day_data(days: Sequence[date], usage_days: set[date], cost_days: set[date], *, billed_through: date | None,
             today: date) -> dict[date, DayData]:
    """Each day's `DayData`, given the days with usage rows, with cost rows, and the last day the lake has cost for.
    Today is never billed yet; yesterday is not billed yet unless the lake has cost for it or a later day."""
    status = {}
    for day in days:
        if day in usage_days and day in cost_days:
            status[day] = DayData.COMPLETE
        elif day in cost_days:
            status[day] = DayData.NO_USAGE
        elif day not in usage_days:
            status[day] = DayData.NO_DATA
        elif day >= today or (day == today - timedelta(days=1) and (billed_through is None or billed_through < day)):
            status[day] = DayData.NOT_BILLED
        else:
            status[day] = DayData.NO_COST
    return status


def spend_and_tokens(lake: Lake, days: Sequence[date], *, today: date | None = None, width: int | None = None) -> str:
    """Every day of `days`, each marked by what the lake holds for it; totals say how many days they cover."""
    usage = read_table(lake, "usage_messages", days)
    cost = read_table(lake, "cost_report", days)
    billed = partition_days(lake, "cost_report")
    status = day_data(days, _days_of(usage), _days_of(cost), billed_through=billed[-1] if billed else None,
                      today=today or datetime.now(UTC).date())
    lines = [f"Usage and billed spend, {days[0]} .. {days[-1]} (UTC days)", ""]
    lines += _by_day(usage, cost, status, width)
    lines += [""] + _by_model(usage, cost, width)
    names = Names.load(lake)
    lines += [""] + _by_workspace(usage, cost, names, width)
    lines += [""] + _by_api_key(usage, names, width=width)
    totals = token_totals(usage)
    with_usage = sum(1 for s in status.values() if s not in (DayData.NO_USAGE, DayData.NO_DATA))
    with_cost = sum(1 for s in status.values() if s in (DayData.COMPLETE, DayData.NO_USAGE))
    total_input = sum(totals[c] for c in INPUT_COUNTERS)
    lines += ["", f"Totals ({with_usage} of {len(days)} days have usage): {words.INPUT_TOKENS} {total_input:,} "
              f"({words.UNCACHED_INPUT} {totals['uncached_input_tokens']:,}, {words.CACHE_WRITE_5M} {totals['cache_creation_5m_input_tokens']:,}, "
              f"{words.CACHE_WRITE_1H} {totals['cache_creation_1h_input_tokens']:,}, {words.CACHE_READ} {totals['cache_read_input_tokens']:,}), "
              f"{words.OUTPUT_TOKENS} tokens {totals['output_tokens']:,}, {words.WEB_SEARCHES} {totals['web_search_requests']:,}"]
    lines.append(f"Billed cost (cost report, {with_cost} of {len(days)} days billed): {usd(_sum_usd(cost))}  "
                 "(Priority Tier usage is not in the cost report)")
    missing = [f"{n} day(s) {kind}" for kind in (DayData.NOT_BILLED, DayData.NO_COST, DayData.NO_USAGE, DayData.NO_DATA)
               if (n := sum(1 for s in status.values() if s == kind))]
    if missing:
        lines.append("Not in these totals: " + "; ".join(missing) + _advice(status))
    if width is not None:  # the sentences wrap at the terminal's width (the tables fit it already)
        import textwrap

        lines = [part for line in lines for part in (textwrap.wrap(line, width, subsequent_indent="  ") if len(line) > width else [line])]
    return "\n".join(lines)


def _advice(status: dict[date, DayData]) -> str:
    gaps = [d for d, s in status.items() if s in (DayData.NO_COST, DayData.NO_USAGE, DayData.NO_DATA)]
    if not gaps:
        return ""
    return f" (to fill them: usage-lake run --start {min(gaps)} --end {max(gaps) + timedelta(days=1)})"


def _days_of(table: pa.Table) -> set[date]:
    return {date.fromisoformat(dt) for dt in pc.unique(table.column("dt")).to_pylist()} if table.num_rows else set()


def _group(table: pa.Table, keys: list[str], columns: list[str]) -> dict[tuple, dict[str, Any]]:
    if table.num_rows == 0:
        return {}
    grouped = table.group_by(keys).aggregate([(c, "sum") for c in columns]).to_pylist()
    return {tuple(row[k] for k in keys): {c: row[f"{c}_sum"] for c in columns} for row in grouped}


def _with_input(usage: pa.Table) -> pa.Table:
    total_input = usage.column(INPUT_COUNTERS[0])
    for name in INPUT_COUNTERS[1:]:
        total_input = pc.add(total_input, usage.column(name))
    return usage.append_column("input_tokens", total_input)


def _lines(columns: list[tuple[str, str, str]], body: list[list[str]], width: int | None) -> list[str]:
    from usage_lake.reporting.formats import table_lines
    from usage_lake.reporting.views import Column

    return table_lines([Column(name, header, kind) for name, header, kind in columns], body, width=width)  # type: ignore[arg-type]


def _by_day(usage: pa.Table, cost: pa.Table, status: dict[date, DayData], width: int | None = None) -> list[str]:
    tokens = _group(_with_input(usage), ["dt"], ["input_tokens", "output_tokens", "web_search_requests"])
    spend = _group(cost, ["dt"], ["amount_usd"])
    body = []
    for day, state in status.items():
        t = tokens.get((day.isoformat(),))
        counts = [words.count(t[c]) for c in ("input_tokens", "output_tokens", "web_search_requests")] if t else [words.NOTHING] * 3
        billed = usd(spend.get((day.isoformat(),), {}).get("amount_usd")) if state in (DayData.COMPLETE, DayData.NO_USAGE) else str(state)
        body.append([day.isoformat(), *counts, billed + (" (no usage data)" if state == DayData.NO_USAGE else "")])
    return _lines([("day", "day", "day"), ("i", words.INPUT_TOKENS, "int"), ("o", f"{words.OUTPUT_TOKENS} tokens", "int"),
                   ("w", words.WEB_SEARCHES, "int"), ("b", words.BILLED, "usd")], body, width)


def _by_model(usage: pa.Table, cost: pa.Table, width: int | None = None) -> list[str]:
    tokens = _group(_with_input(usage), ["model"], ["input_tokens", "output_tokens", "cache_read_input_tokens"])
    spend = _group(cost, ["model"], ["amount_usd"])
    prices = default_prices()
    body = []
    for (model,) in sorted(set(tokens) | set(spend), key=lambda k: (k[0] is None, k[0] or "")):
        t = tokens.get((model,), {})
        hit = words.percent(Decimal(t["cache_read_input_tokens"]) / t["input_tokens"]) if t.get("input_tokens") else words.NOTHING
        entry = prices.model(model) if model else None
        label = words.NO_MODEL if model is None else entry.display_name if entry else model
        body.append([display(label), words.count(t.get("input_tokens", 0)), words.count(t.get("output_tokens", 0)), hit,
                     usd(spend.get((model,), {}).get("amount_usd"))])
    return _lines([("m", words.MODEL, "text"), ("i", words.INPUT_TOKENS, "int"), ("o", f"{words.OUTPUT_TOKENS} tokens", "int"),
                   ("h", words.CACHE_HIT, "rate"), ("b", words.BILLED, "usd")], body, width)


def _by_workspace(usage: pa.Table, cost: pa.Table, names: Names, width: int | None = None) -> list[str]:
    estimated = _group(usage, ["workspace_id"], ["output_tokens", "estimated_cost_usd"])
    billed = _group(cost, ["workspace_id"], ["amount_usd"])
    order = sorted(set(estimated) | set(billed), key=lambda k: (-(estimated.get(k, {}).get("estimated_cost_usd") or 0), names.workspace(k[0])))
    body = []
    for (workspace,) in order:
        e = estimated.get((workspace,), {})
        body.append([display(names.workspace(workspace)), words.count(e.get("output_tokens", 0)), usd(e.get("estimated_cost_usd")),
                     usd(billed.get((workspace,), {}).get("amount_usd"))])
    return _lines([("w", words.WORKSPACE, "text"), ("o", f"{words.OUTPUT_TOKENS} tokens", "int"), ("e", words.ESTIMATED, "usd"),
                   ("b", words.BILLED, "usd")], body, width)


def _by_api_key(usage: pa.Table, names: Names, top: int = 10, width: int | None = None) -> list[str]:
    estimated = _group(usage, ["api_key_id", "workspace_id"], ["output_tokens", "estimated_cost_usd"])
    order = sorted(estimated, key=lambda k: (-(estimated[k]["estimated_cost_usd"] or 0), names.api_key(k[0])))
    body = []
    for key, workspace in order[:top]:
        e = estimated[(key, workspace)]
        body.append([display(names.api_key(key)), display(names.workspace(workspace)), words.count(e["output_tokens"]),
                     usd(e["estimated_cost_usd"])])
    return _lines([("k", f"{words.API_KEY} (top {top} by estimated spend)", "text"), ("w", words.WORKSPACE, "text"),
                   ("o", f"{words.OUTPUT_TOKENS} tokens", "int"), ("e", words.ESTIMATED, "usd")], body, width)


def _sum_usd(cost: pa.Table) -> Decimal:
    total = pc.sum(cost.column("amount_usd")).as_py() if cost.num_rows else None
    return total if total is not None else Decimal(0)


def recent_runs(lake: Lake, *, limit: int = 10, outcome: Callable[[dict[str, Any]], str] | None = None, width: int | None = None,
                wide: bool = False) -> str:
    """The latest runs, newest first. `outcome` gives a row's outcome as it stands (a `running` record whose
    process is gone shows as `abandoned`); by default the stored one."""
    keys = sorted(lake.list(f"{RUNS_TABLE}/"), key=lambda k: k.rsplit("/", 1)[-1])[-limit:]
    if not keys:
        return f"no runs recorded under {lake.uri(RUNS_TABLE + '/')}"
    body = []
    for key in reversed(keys):
        run = read_parquet(lake.get(key), table=RUNS_TABLE).to_pylist()[0]
        shown = outcome(run) if outcome else run["outcome"]
        failed = "; ".join(f"{e['report']} failed: {e['error_type']}" for e in run.get("errors") or [])
        error = run["error"] or failed
        unavailable = ", ".join(u["report"] for u in run.get("unavailable") or [])
        if unavailable:  # not a failure: this organization or key cannot read them
            error += f"{'; ' if error else ''}unavailable: {unavailable}"
        if shown != run["outcome"]:
            error = f"its process is gone (last heard of {run['updated_at'] or run['started_at']:%Y-%m-%d %H:%M:%S} UTC)"
        if run["resume_from"] and shown not in ("succeeded", "running") and "resume from" not in error:
            error += f"{'; ' if error else ''}resume from {run['resume_from']}"
        body.append([display(run["run_id"]), display(run["mode"]), display(shown), words.count(run["requests"]), words.count(run["pages"]),
                     words.count(run["retries"]), words.count(run["usage_rows"]), words.count(run["cost_rows"]), display(error or "", 200)])
    columns = [("run_id", "run id", "day"), ("mode", "mode", "day"), ("outcome", "outcome", "day"), ("requests", "reqs", "int"),
               ("pages", "pages", "int"), ("retries", "retries", "int"), ("usage_rows", "usage rows", "int"),
               ("cost_rows", "cost rows", "int"), ("error", "error", "text")]
    keep = range(len(columns)) if wide else (0, 1, 2, 6, 8)  # compact: what ran, how it ended, what it wrote, why not
    return "\n".join(_lines([columns[i] for i in keep], [[row[i] for i in keep] for row in body], width))
