"""One table layout for every terminal table (report views, summary, runs, alerts): rich lays out the columns.

`table_lines(columns, body, width=...)`: cells already shown as text (safe: `sanitize.display`), `columns` as
(header, kind) with kind `text` (a name: left, gives way), `day` (left, never cut) or anything else (a number:
right, never cut). At most `width` characters a line (None: as wide as the cells); names are cut with `…` so
numbers keep their width; three spaces between columns, so no two ever touch. rich is imported on first use
(the CLI extra; the Lambda never renders a table).

This module is the bottom layer (like `words` and `sanitize`), so the alerts' status and the reports share it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

__all__ = ["GAP", "MIN_TEXT", "table_lines", "text_widths"]

GAP = 3  # characters between two columns (padding, rule, padding)
MIN_TEXT = 8  # a name column is never cut narrower than this


def text_widths(kinds: Sequence[str], natural: list[int], width: int | None) -> dict[int, int]:
    """The widest each text column may be so the row fits `width`: what numbers leave, shared in proportion to the
    names' own widths (never under `MIN_TEXT`); nothing when it all fits or there is no width."""
    if width is None or sum(natural) + GAP * (len(natural) - 1) <= width:
        return {}
    text = [i for i, kind in enumerate(kinds) if kind == "text"]
    if not text:
        return {}
    room = width - GAP * (len(natural) - 1) - sum(n for i, n in enumerate(natural) if i not in text)
    wanted = sum(natural[i] for i in text)
    limits = {i: max(MIN_TEXT, min(natural[i], room * natural[i] // wanted)) for i in text}
    spare = room - sum(limits.values())
    for i in sorted(text, key=lambda i: natural[i] - limits[i], reverse=True):  # what rounding left, to the most cut
        grow = max(0, min(spare, natural[i] - limits[i]))
        limits[i] += grow
        spare -= grow
    return limits


def table_lines(columns: Sequence[tuple[str, str]], body: list[list[str]], *, width: int | None, total: bool = False) -> list[str]:
    """The table's lines: a header, a rule, a line per row (`total`: the last row is a totals row, set apart)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), show_footer=False, collapse_padding=False)
    natural = [max([len(header), *(len(r[i]) for r in body)]) for i, (header, _) in enumerate(columns)]
    limits = text_widths([kind for _, kind in columns], natural, width)
    for i, (header, kind) in enumerate(columns):
        table.add_column(Text(header), justify="left" if kind in ("text", "day") else "right", no_wrap=True, overflow="ellipsis",
                         min_width=None if kind == "text" else natural[i], max_width=limits.get(i))
    for n, cells in enumerate(body):
        if total and n == len(body) - 1:
            table.add_section()
        table.add_row(*(Text(cell) for cell in cells))
    out = io.StringIO()
    console = Console(file=out, width=width or 100_000, color_system=None, force_terminal=False, force_jupyter=False,
                      highlight=False, emoji=False, markup=False, soft_wrap=False, legacy_windows=False)
    console.print(table)
    return [line.rstrip() for line in out.getvalue().splitlines()]
