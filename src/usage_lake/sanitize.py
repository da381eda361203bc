"""Every string from the API is hostile: one place makes it safe to show, the way each writer needs.

Anyone in an organization names workspaces, API keys, tags; those strings reach terminals, e-mails, charts
and spreadsheets. The lake (Parquet) and JSON keep them exactly; writers for people go through here:

- `display(text)` for terminal tables, e-mail text and chart labels: C0/C1 controls (ESC, BEL, NUL, newline,
  tab, DEL ...), bidi overrides and isolates (U+202A-202E, U+2066-2069), other invisible format characters,
  lone surrogates, private-use and unassigned code points and non-characters (U+FFFE, U+FFFF, U+FDD0..) are
  shown visibly escaped as `\\x1b`, `\\u202e`, so an ESC sequence cannot drive a terminal, a newline cannot forge
  a table row, `invoice\\u202egnp.exe` does not read as `invoiceexe.png`, and the chart renderer (which
  aborts the process on a non-XML character) never sees one. `limit` cuts to a display length with `…`
  (the id stays available in CSV/JSON).
- `csv_cell(value)` for every CSV writer: a text cell beginning with `=`, `+`, `-`, `@`, tab or CR gets a
  leading `'` (OWASP's advice against formula injection); numbers are never touched (-5 stays a number).
  `raw=True` (the CLI's `--raw-csv`) keeps the bytes.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

__all__ = ["CSV_TRIGGERS", "DISPLAY_LENGTH", "ELLIPSIS", "csv_cell", "display", "is_clean"]

DISPLAY_LENGTH = 60  # a name longer than this is cut in tables, e-mails and charts
ELLIPSIS = "…"
CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# everything that is not safe to print: controls (Cc), format chars (Cf: bidi, zero-width), surrogates (Cs),
# private use (Co), unassigned (Cn, non-characters included), line/paragraph separators (Zl, Zp)
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_FAST_SAFE = re.compile(r"[\x20-\x7e]*")


def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def is_clean(text: str) -> bool:
    """True when `text` has nothing `display` would escape."""
    return bool(_FAST_SAFE.fullmatch(text)) or not any(_unsafe(ch) for ch in text)


def display(value: Any, limit: int | None = DISPLAY_LENGTH) -> str:
    """`value` as text safe to print: unsafe characters escaped visibly, cut to `limit` characters with `…`.
    Only the first `limit` characters are looked at, so a 1,000,000-character name costs no more than a short one."""
    text = value if isinstance(value, str) else str(value)
    cut = limit is not None and len(text) > limit
    if cut:
        text = text[: limit]
    if not (_FAST_SAFE.fullmatch(text) or not any(_unsafe(ch) for ch in text)):
        text = "".join(_escape(ch) if _unsafe(ch) else ch for ch in text)
    if limit is not None and len(text) > limit:
        cut = True
        text = text[: limit]
    if cut:
        text = text[: max(0, (limit or 1) - 1)] + ELLIPSIS
    return text


def csv_cell(value: Any, *, raw: bool = False) -> Any:
    """A CSV cell: text that a spreadsheet would read as a formula gets a leading `'`; anything else as it is."""
    if raw or not isinstance(value, str) or not value or not value.startswith(CSV_TRIGGERS):
        return value
    return "'" + value
