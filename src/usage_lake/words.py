"""The words and number formats every view, export, e-mail, chart and Athena view uses: one spelling each.

Placeholders stand where the Admin API reports no value: a null `workspace_id` is the default workspace, a
null `api_key_id` is usage from the Console or Workbench, a null `model` is a server tool (web search, code
execution), a key without the label a report groups by has no label. Column words name the figures the same
way in every table: "input tokens" is every kind of input token (uncached + cache writes + cache reads), and
the part that is neither written to nor read from the cache is "uncached input".

Formats for people: money `$1,234.56` (compact tables `$1,234`), counts `1,234,567`, percents `119.9%`. For
scripts (JSON): money and percents as exact decimal strings (`"1234.5"`, `"119.93"`), counts as integers.

This module is the bottom layer (like `times` and `errors`): every package may import it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

__all__ = [
    "ALERT_FIGURE", "API_KEY", "BILLED", "CACHE_HIT", "CACHE_READ", "CACHE_WRITE_1H", "CACHE_WRITE_5M", "DEFAULT_WORKSPACE",
    "ESTIMATED", "INPUT_TOKENS", "MODEL", "NO_API_KEY", "NO_MODEL", "NOTHING", "OTHERS", "OUTPUT_TOKENS", "PRIORITY_ESTIMATED",
    "UNCACHED_INPUT", "UNKNOWN_USER", "WEB_SEARCHES", "WORKSPACE", "count", "decimal_text", "money", "no_label", "percent",
    "percent_text", "with_id",
]

# -- placeholders -------------------------------------------------------------------------------------------
DEFAULT_WORKSPACE = "Default Workspace"  # the Console's own name for it; the reports give workspace_id null
NO_API_KEY = "Console / Workbench (no API key)"
NO_MODEL = "(no model: web search, code execution)"
UNKNOWN_USER = "(unknown user)"
OTHERS = "(others)"  # what a chart's bars beyond its top N add up to
NOTHING = "-"  # no figure (never shown as 0)


def with_id(name: str, entity_id: str) -> str:
    """A name that several ids share, told apart: `batch-worker (apikey_01...)` (tables, charts, rankings, e-mails)."""
    return f"{name} ({entity_id})"


def no_label(key: str) -> str:
    """A key (or workspace) without label `key`: `(no project label)`."""
    return f"(no {key} label)"


# -- column words ----------------------------------------------------------------------------------------
INPUT_TOKENS = "input tokens"  # every input kind: uncached + cache writes + cache reads
UNCACHED_INPUT = "uncached input"
CACHE_WRITE_5M = "cache write 5m"
CACHE_WRITE_1H = "cache write 1h"
CACHE_READ = "cache read"
OUTPUT_TOKENS = "output"
WEB_SEARCHES = "web searches"
CACHE_HIT = "cache hit"
BILLED = "billed"
ESTIMATED = "estimated"
PRIORITY_ESTIMATED = "priority est."
ALERT_FIGURE = "alert figure"
MODEL = "model"
WORKSPACE = "workspace"
API_KEY = "API key"


# -- numbers for people ----------------------------------------------------------------------------------
_CENT = Decimal("0.01")


def money(amount: Decimal | int | None, *, compact: bool = False) -> str:
    """`$1,234.56` (rounded half-even to the cent; the lake keeps every digit), `$1,235` compact, `-` for none."""
    if amount is None:
        return NOTHING
    value = Decimal(amount)
    if compact:
        return f"${value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN):,}".replace("$-", "-$")
    return f"${value.quantize(_CENT, rounding=ROUND_HALF_EVEN):,}".replace("$-", "-$")


def count(value: int | Decimal | None) -> str:
    """`1,234,567`; `-` for none."""
    return NOTHING if value is None else f"{int(value):,}"


def percent(fraction: float | Decimal | None) -> str:
    """A fraction as people read it: 1.1993 -> `119.9%`; `-` for none."""
    if fraction is None:
        return NOTHING
    return percent_text(Decimal(str(fraction)) * 100)


def percent_text(value: Decimal | None) -> str:
    """A percent (already x100) with one decimal: `119.9%`."""
    return NOTHING if value is None else f"{Decimal(value).quantize(Decimal('0.1'), rounding=ROUND_HALF_EVEN):,}%"


# -- numbers for scripts ---------------------------------------------------------------------------------

def decimal_text(value: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros (JSON and CSV money and percents): 12.5, 0.000625, 100."""
    return format(value.normalize(), "f") if value else "0"
