"""The weekly digest (`WEEKLY_DIGEST=true`): on Mondays (UTC), one e-mail about the ISO week that just ended.

Last week's spend against the week before (billed, and estimated from usage x list prices), each budget's state,
the top 5 movers by model, workspace, API key and project (the label `project`: the key's, else its workspace's),
the cache hit rate (cache reads / every input token), Claude Code activity (when the lake has its report), and
the days with gaps. It is sent once, like an alert: its key is `digest/<ISO week it covers>`, so the first run
of the Monday sends it and the later ones find it sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from usage_lake import words
from usage_lake.alerts.figures import Figures
from usage_lake.alerts.messages import LEFT_OUT, Alert, Messages, amount_text, bounded, of_text, percent_text
from usage_lake.alerts.periods import Span, span_of
from usage_lake.alerts.scopes import LabelMatch
from usage_lake.config.budgets import Measure, Period
from usage_lake.lake.curated import read_parquet
from usage_lake.lake.layout import partition_key
from usage_lake.money import usd

__all__ = ["DIGEST", "PROJECT_LABEL", "Digest", "weekly_digest"]

DIGEST = "weekly-digest"  # its `budget` attribute: subscriptions filter on it like on a budget
PROJECT_LABEL = "project"
TOP_MOVERS = 5
CLAUDE_CODE_COUNTS = ("num_sessions", "lines_added", "lines_removed", "commits", "pull_requests")


@dataclass(frozen=True)
class Digest:
    """The digest's finding: sent once per week it covers."""

    week: Span

    @property
    def family(self) -> str:
        return f"digest/{self.week.id}"

    @property
    def key(self) -> str:
        return self.family

    @property
    def level(self) -> Decimal:
        return Decimal(0)


def due(now: datetime) -> Digest | None:
    """The digest a run at `now` may send: Mondays (UTC) only, about the week before."""
    if now.weekday() != 0:
        return None
    return Digest(span_of(Period.WEEKLY, now.date() - timedelta(days=7)))


def weekly_digest(figures: Figures, messages: Messages, digest: Digest, rows: list[dict[str, Any]]) -> Alert:
    """The digest's e-mail; `rows` are the budgets' states (`status.budget_rows`)."""
    week = digest.week
    before = span_of(Period.WEEKLY, week.start - timedelta(days=7))
    this, last = _totals(figures, week), _totals(figures, before)
    subject = (f"Anthropic weekly digest {week.id}: {usd(this['billed'])} billed, {usd(this['estimated'])} estimated "
               f"({_change(this['estimated'], last['estimated'])} on the week before)")
    lines = [f"Anthropic API spend for {week.title}, {week.start} to {week.last} (UTC), against the week before "
             f"({before.start} to {before.last}).", "",
             f"{'':<34}{'this week':>16}{'week before':>16}{'change':>10}",
             f"{'billed (cost report)':<34}{usd(this['billed']):>16}{usd(last['billed']):>16}{_change(this['billed'], last['billed']):>10}",
             f"{'  days billed':<34}{this['billed_days']:>16}{last['billed_days']:>16}",
             f"{'estimated (usage x list prices)':<34}{usd(this['estimated']):>16}{usd(last['estimated']):>16}"
             f"{_change(this['estimated'], last['estimated']):>10}",
             f"{'  of which Priority Tier':<34}{usd(this['priority']):>16}{usd(last['priority']):>16}",
             f"{'cache hit rate':<34}{_rate(this):>16}{_rate(last):>16}",
             "", "Budgets:"]
    lines += _budget_lines(rows) or ["  none set (BUDGETS, MONTHLY_BUDGET_USD, DAILY_SPEND_THRESHOLD_USD)"]
    movers = {name: _movers(figures, week, before, name) for name in ("models", "workspaces", "api_keys", "projects")}
    for name, title in (("models", "model"), ("workspaces", "workspace"), ("api_keys", "API key"), ("projects", "project")):
        if movers[name]:
            lines += ["", f"Top movers by {title} (estimated, this week against the week before):"]
            lines += [f"  {bounded(label):<44} {usd(now):>14} {usd(then):>14} {_signed(now - then):>14}" for label, now, then in movers[name]]
    claude_code = _claude_code(figures, week)
    lines += ["", "Claude Code: " + (", ".join(f"{value:,} {name.replace('num_', '').replace('_', ' ')}" for name, value in claude_code.items())
                                    if claude_code else "no Claude Code report in the lake for the week.")]
    gaps = _gaps(figures, week)
    lines += ["", "Days with gaps:" if gaps else "Days with gaps: none - every day has usage and billed cost.", *[f"  {g}" for g in gaps]]
    lines += ["", LEFT_OUT]
    document = {"kind": "digest", "week": week.id, "start": week.start.isoformat(), "end": week.last.isoformat(),
                "this_week": {k: str(v) for k, v in this.items()}, "week_before": {k: str(v) for k, v in last.items()},
                "movers": {name: [[bounded(label), str(now), str(then)] for label, now, then in ranking] for name, ranking in movers.items()},
                "claude_code": claude_code, "gaps": gaps, "budgets": rows}
    return messages.finish(digest, "digest", "summary", week.last, "info", subject, lines, document, DIGEST, "all")


def _days(span: Span) -> list[date]:
    return [span.start + timedelta(days=n) for n in range(span.days)]


def _totals(figures: Figures, span: Span) -> dict[str, Any]:
    billed, estimated, priority = Decimal(0), Decimal(0), Decimal(0)
    billed_days, reads, inputs = 0, 0, 0
    for day in _days(span):
        spend = figures.day(day)
        if spend.billed_usd is not None:
            billed += spend.billed_usd
            billed_days += 1
        estimated += spend.estimated_usd or 0
        priority += spend.priority_estimated_usd
        if spend.usage is not None:
            reads += pc.sum(spend.usage.column("cache_read_input_tokens")).as_py() or 0
            inputs += pc.sum(spend.usage.column("input_tokens")).as_py() or 0
    return {"billed": billed, "billed_days": billed_days, "estimated": estimated, "priority": priority,
            "cache_read_tokens": reads, "input_tokens": inputs}


def _rate(totals: dict[str, Any]) -> str:
    return "-" if not totals["input_tokens"] else f"{Decimal(totals['cache_read_tokens']) * 100 / totals['input_tokens']:.1f}%"


def _change(now: Decimal, then: Decimal) -> str:
    if not then:
        return "-"
    return f"{'+' if now >= then else ''}{(now - then) * 100 / then:.0f}%"


def _signed(value: Decimal) -> str:
    return ("+" if value >= 0 else "-") + usd(abs(value))


def _movers(figures: Figures, week: Span, before: Span, name: str) -> list[tuple[str, Decimal, Decimal]]:
    """The largest changes of the estimate between the two weeks, by one dimension."""
    this, last = _by(figures, week, name), _by(figures, before, name)
    changes = [(label, this.get(key, Decimal(0)), last.get(key, Decimal(0))) for key in this.keys() | last.keys()
               for label in [_label(figures, name, key)]]
    return sorted(changes, key=lambda c: (-abs(c[1] - c[2]), c[0]))[:TOP_MOVERS]


def _label(figures: Figures, name: str, key: str | None) -> str:
    if name == "workspaces":
        return figures.name("workspace", key)
    if name == "api_keys":
        return figures.name("api_key", key)
    if name == "projects":
        return key if key is not None else words.no_label("project")
    return key if key is not None else words.NO_MODEL


def _by(figures: Figures, span: Span, name: str) -> dict[str | None, Decimal]:
    """The week's estimate summed by model, workspace, key or project (groups, not rows, cross into Python)."""
    parts = []
    for day in _days(span):
        usage = figures.day(day).usage
        if usage is None:
            continue
        if name == "projects":
            group = _project(figures, day, usage)
        else:
            group = usage.column({"models": "model", "workspaces": "workspace_id", "api_keys": "api_key_id"}[name])
        parts.append(pa.table({"group": group, "usd": usage.column("estimated_cost_usd")}))
    if not parts:
        return {}
    grouped = pa.concat_tables(parts).group_by("group").aggregate([("usd", "sum")])
    return {key: Decimal(total or 0) for key, total in zip(grouped.column("group").to_pylist(), grouped.column("usd_sum").to_pylist(),
                                                             strict=True)}


def _project(figures: Figures, day: date, usage: pa.Table) -> pa.ChunkedArray:
    """Each row's project: its API key's label, else its workspace's."""
    found = figures.snapshots.labels(PROJECT_LABEL, day)
    empty = (pa.array([], pa.string()), pa.array([], pa.string()))
    keys, workspaces = found.get("api_key", empty), found.get("workspace", empty)
    match = LabelMatch(PROJECT_LABEL, pa.array([], pa.string()), keys[0], keys[1], workspaces[0], workspaces[1])
    return match.usage_values(usage)


def _claude_code(figures: Figures, week: Span) -> dict[str, int]:
    """Sessions, lines, commits and pull requests of the week's Claude Code report (empty: not in the lake)."""
    totals: dict[str, int] = {}
    actors: set[str] = set()
    for day in _days(week):
        key = partition_key("claude_code_usage", day)
        if not figures.lake.exists(key):
            continue
        rows = read_parquet(figures.lake.get(key))
        totals["days"] = totals.get("days", 0) + 1
        for name in CLAUDE_CODE_COUNTS:
            if name in rows.column_names:
                totals[name] = totals.get(name, 0) + (pc.sum(rows.column(name)).as_py() or 0)
        for name in ("actor_email_address", "actor_api_key_name"):
            if name in rows.column_names:
                actors.update(v for v in pc.unique(rows.column(name)).to_pylist() if v is not None)
    if totals:
        totals["users_and_keys"] = len(actors)
    return totals


def _gaps(figures: Figures, week: Span) -> list[str]:
    """Days of the week without usage, or not billed yet."""
    gaps = []
    for day in _days(week):
        spend = figures.day(day)
        missing = [what for what, there in (("no usage", spend.usage is not None), ("not billed", spend.billed_usd is not None))
                   if not there]
        if missing:
            gaps.append(f"{day}: {', '.join(missing)}")
    return gaps


def _budget_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for row in rows:
        if row["error"]:
            lines.append(f"  {row['budget']} ({row['period_id']}): {row['error']}")
            continue
        measure = Measure(row["measure"])
        used = "" if row["percent"] is None else f", {percent_text(Decimal(row['percent']))}"
        forecast = "" if row["forecast"] is None else f", forecast {amount_text(measure, Decimal(row['forecast']))}"
        sent = f"; sent: {', '.join(s['key'].rsplit('/', 2)[-2] for s in row['sent'])}" if row["sent"] else ""
        figure = "-" if row["figure"] is None else of_text(measure, Decimal(row["figure"]), Decimal(row["amount"]))
        lines.append(f"  {row['budget']} ({row['period_id']}{', ended' if row['ended'] else ''}; {row['scope']}): "
                     f"{figure}{used}{forecast}{sent}")
    return lines
