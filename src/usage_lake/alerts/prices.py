"""Price notices (issue 19): a model nobody prices, and a bill that is not the list price. Each is sent once.

- `unpriced`: a model in the run's usage days whose rows carry no estimate (no list price, no observed price):
  one notice per model, ever (`prices/unpriced/<model>`), naming it, its tokens so far and what is left out.
- `drift`: an observed unit price (`observed_prices`) more than 0.5 % off the list price on a day with at least
  1M tokens of that model: one notice per model and percentage (`prices/drift/<model>/<percent>`), naming
  the model, both prices and the day. A later, different percentage is a new notice.

They go through the same exactly-once delivery as spend alerts (`delivery.py`); the run log lists each one sent.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow.compute as pc

from usage_lake.alerts.messages import Alert
from usage_lake.focus import OBSERVED_TABLE, Drift, drifts, read_observed
from usage_lake.lake.curated import read_table
from usage_lake.lake.store import Lake
from usage_lake.money.estimate import TOKEN_COLUMNS, unpriced_tokens

__all__ = ["LEFT_OUT", "PRICES_BUDGET", "drift_notices", "price_notices", "unpriced_notices"]

PRICES_BUDGET = "prices"  # the `budget` attribute of price notices (subscriptions can filter on it)
LEFT_OUT = ("the estimated daily spend (today's figure and Priority Tier), the spike alert, and every budget measured on "
            "the estimate (API key, label and workspace budgets); billed figures include it once the cost report bills it")


def price_notices(lake: Lake, days: list[date], *, run_id: str) -> list[Alert]:
    """The notices the lake's days call for (before de-duplication: delivery sends each key once)."""
    return unpriced_notices(lake, days, run_id=run_id) + drift_notices(lake, days, run_id=run_id)


def unpriced_notices(lake: Lake, days: list[date], *, run_id: str) -> list[Alert]:
    usage = read_table(lake, "usage_messages", days).select(["model", "estimated_cost_usd", *TOKEN_COLUMNS, "dt"])
    usage = usage.filter(pc.is_valid(usage.column("model")))
    unpriced = unpriced_tokens(usage)
    billed = set(read_observed(lake).column("model").to_pylist()) if unpriced else set()  # priced from the bill since: no notice
    notices = []
    for model, tokens in sorted(unpriced.items()):
        if model in billed:
            continue
        rows = usage.filter(pc.and_(pc.equal(usage.column("model"), model), pc.is_null(usage.column("estimated_cost_usd"))))
        first = date.fromisoformat(pc.min(rows.column("dt")).as_py())
        shown = _shown(model)
        subject = f"New model {shown} has no price: {tokens:,} tokens left out of the estimate"
        text = "\n".join([
            f"Model {shown} appears in the usage report (first on {first}, {tokens:,} tokens so far in the days this run "
            "read) and has no price: it is not in the price table and no billed day shows its price yet.",
            f"Left out until it is priced: {LEFT_OUT}.",
            "It is priced automatically from its first billed day (observed price), or now with PRICING_OVERRIDES; "
            "`usage-lake prices` lists it. This notice is sent once.",
            f"(run {run_id})",
        ])
        notices.append(_notice(f"prices/unpriced/{_key(model)}", first, "warning", subject, text, {
            "notice": "unpriced_model", "model": model, "tokens": tokens, "first_day": first.isoformat(), "left_out": LEFT_OUT,
        }))
    return notices


def drift_notices(lake: Lake, days: list[date], *, run_id: str) -> list[Alert]:
    found: dict[str, list[Drift]] = {}
    for drift in drifts(read_table(lake, OBSERVED_TABLE, days)):
        found.setdefault(drift.model, []).append(drift)
    notices = []
    for model, items in sorted(found.items()):
        biggest = max(items, key=lambda d: (d.tokens, d.day))
        shown = _shown(model)
        subject = (f"{shown} billed {biggest.percent:+}% against list on {biggest.day}: "
                   f"${biggest.observed.normalize():f} vs ${biggest.listed.normalize():f}/MTok")
        lines = [f"The bill prices {shown} differently from the list price table (more than 0.5 % on a day it billed at "
                 "least 1M tokens):"]
        for d in sorted(items, key=lambda d: (d.day, d.token_type, d.service_tier or "", d.context_window or "", d.inference_geo or "")):
            lines.append(f"  {d.day} {d.token_type} ({d.service_tier}, {d.context_window}, {d.inference_geo}): "
                         f"${d.observed.normalize():f} billed vs ${d.listed.normalize():f} list per MTok ({d.percent:+}%), "
                         f"{d.tokens:,} tokens")
        lines += ["Estimates use the list price: update PRICING_OVERRIDES, or set ACCEPT_OBSERVED_PRICES=true to estimate "
                  "at the billed price. `usage-lake prices` shows list vs observed per model. This notice is sent once "
                  "per model and percentage.", f"(run {run_id})"]
        notices.append(_notice(f"prices/drift/{_key(model)}/{biggest.percent}", biggest.day, "info", subject, "\n".join(lines), {
            "notice": "price_drift", "model": model, "day": biggest.day.isoformat(), "token_type": biggest.token_type,
            "observed_usd_per_mtok": str(biggest.observed), "list_usd_per_mtok": str(biggest.listed),
            "percent": str(biggest.percent), "tokens": biggest.tokens,
        }))
    return notices


def _notice(key: str, day: date, severity: str, subject: str, text: str, document: dict[str, Any]) -> Alert:
    return Alert(key=key, kind="price", basis="observed" if "drift" in key else "list", day=day, severity=severity,
                 subject=subject, text=text, document={"kind": "price", **document}, family=key, level=Decimal(0),
                 budget=PRICES_BUDGET, scope="all")


def _key(model: str) -> str:
    """A model name as one safe key segment (model names come from the API: hostile)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", model)[:120] or "_"


def _shown(model: str) -> str:
    """A model name fit for a subject line: printable, at most 80 characters."""
    text = re.sub(r"[^\x20-\x7e]", "?", model)
    return text if len(text) <= 80 else text[:77] + "..."
