"""Running a job to the end from a terminal: continue a long backfill in-process, and show progress.

The progress bar counts UTC days (a day is done when every report has finished it) and is drawn with rich,
which fits it to the terminal's width and prints log lines (retries, kept days) above it instead of onto it.
rich is a CLI-only dependency (the `cli` extra), imported only here and only when a terminal shows the bar;
without a terminal (CI logs, files) nothing is drawn, and `-v` logs one line per day instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from types import TracebackType
from typing import Any, TextIO

from usage_lake.alerts import Publisher
from usage_lake.app.jobs import IngestJob, parse_event
from usage_lake.config.events import RunRequest
from usage_lake.config.secrets import AdminKey
from usage_lake.config.settings import Settings
from usage_lake.ingest import DayResult, RunRecord
from usage_lake.lake.store import Lake
from usage_lake.money.pricing import load_prices
from usage_lake.sources.http import RetryPolicy

__all__ = ["LOG_FORMAT", "Progress", "configure_logging", "flush_repeated_warnings", "run_to_completion"]

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"

_EPSILON = timedelta(microseconds=1)


def run_to_completion(request: RunRequest, *, settings: Settings, key: AdminKey, lake: Lake, progress: Progress | None = None,
                      publisher: Publisher | None = None, on_start: Callable[[RunRecord], None] | None = None,
                      retry: RetryPolicy | None = None) -> list[RunRecord]:
    """Run, and keep going while a run hands back the rest of its range (locally there is no time limit).
    `on_start` sees each run's record as it starts (so a caller still has it if the run is interrupted)."""
    records = []
    prices = load_prices(settings.pricing_overrides)
    origin = request.origin or request.start
    while True:
        job = IngestJob(settings=settings, key=key, lake=lake, publisher=publisher, prices=prices,
                        on_day=progress.day if progress else None, retry=retry)
        if progress:
            progress.follow(job.record)
        if on_start:
            on_start(job.record)
        record = job.run(request)
        records.append(record)
        if not record.next_event:
            return records
        request = replace(parse_event(record.next_event), origin=origin)


class _CliLog(logging.StreamHandler):
    """The command line's own log handler (so it can be replaced, and routed through the progress bar)."""


class _Repeats(logging.Filter):
    """Without -v, a warning that repeats (the same logger and message template, e.g. one per day) is shown the first
    time and then counted; `flush_repeated_warnings` prints one closing line per kind with the count. Errors are held
    until then, so that an error the command ends with is printed once (by the command), not also as a log line."""

    def __init__(self) -> None:
        super().__init__()
        self.active = False
        self.seen: dict[tuple[str, str], int] = {}
        self.held: list[tuple[logging.Handler | None, logging.LogRecord]] = []
        self.stream: TextIO | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and self.stream is not None and not getattr(record, "_released", False):
            self.held.append((None, record))
            return False
        if not self.active or record.levelno != logging.WARNING:
            return True
        kind = (record.name, str(record.msg))
        self.seen[kind] = self.seen.get(kind, 0) + 1
        return self.seen[kind] == 1

    def flush(self, final_error: str | None = None) -> None:
        held, self.held = self.held, []
        for _, record in held:  # an error the command ends with is printed by the command itself: once
            if final_error and final_error in record.getMessage():
                continue
            record._released = True
            logging.getLogger(record.name).handle(record)
        repeated = [(name, count) for (name, _), count in self.seen.items() if count > 1]
        self.seen = {}
        if not repeated or self.stream is None:
            return
        for name, count in repeated:
            self.stream.write(f"note: {count - 1} more warning(s) like the one above from {name} (-v shows each)\n")
        self.stream.flush()


_REPEATS = _Repeats()


def configure_logging(*, verbose: bool, stream: TextIO, quiet: bool = False) -> None:
    """The CLI's logging to `stream`, one line each: warnings, each kind once (its repeats counted into a closing
    line); with `verbose` every day, page and retry too, each shown; with `quiet` errors only."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _CliLog)]:
        root.removeHandler(handler)
    handler = _CliLog(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(_REPEATS)
    _REPEATS.active, _REPEATS.stream, _REPEATS.seen, _REPEATS.held = not verbose, stream, {}, []
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its parse fallbacks are not the user's business


def flush_repeated_warnings(final_error: str | None = None) -> None:
    """The errors held back, except the one the command ends with (`final_error`, printed by the command), and the
    closing line(s) for warnings that repeated (see `configure_logging`)."""
    _REPEATS.flush(final_error)


class Progress:
    """A progress bar of days on a terminal (`out`, usually stderr); nothing elsewhere.

    Use as a context manager around the run: while it is open, log records go through the bar's console, so a
    retry warning is printed on its own line above the bar.
    """

    def __init__(self, out: TextIO, *, console: Any = None) -> None:
        self.records: list[RunRecord] = []
        self.processed: dict[tuple[str, date], str] = {}  # (report, day) -> what happened to it
        self.console = console if console is not None else _terminal_console(out)
        self._bar: Any = None
        self._task: Any = None
        self._handler: logging.Handler | None = None
        self._replaced: list[logging.Handler] = []

    @property
    def drawn(self) -> bool:
        return self.console is not None

    def follow(self, record: RunRecord) -> None:
        """Count this run's days too (a backfill that continues is one bar)."""
        self.records.append(record)

    def expected(self) -> dict[date, set[str]]:
        """Each day of the runs' windows, and the reports that cover it."""
        days: dict[date, set[str]] = {}
        for record in self.records:
            for report, (start, end) in record.windows.items():
                day = start.date()
                while day <= (end - _EPSILON).date():
                    days.setdefault(day, set()).add(report)
                    day = date.fromordinal(day.toordinal() + 1)
        return days

    def days_done(self) -> tuple[int, int]:
        """(days every report is done with, days in all)."""
        expected = self.expected()
        done = sum(1 for day, reports in expected.items() if all((r, day) in self.processed for r in reports))
        return done, len(expected)

    def day(self, result: DayResult) -> None:
        self.processed[(result.report, result.day)] = result.action
        if self._bar is not None:
            done, total = self.days_done()
            self._bar.update(self._task, completed=done, total=max(total, 1),
                             latest=f"{result.report} {result.day} {result.action}")
            self._bar.refresh()

    def __enter__(self) -> Progress:
        if self.console is None:
            return self
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self._bar = Bar(TextColumn("{task.description}"), BarColumn(bar_width=None), MofNCompleteColumn(), TextColumn("days"),
                        TimeElapsedColumn(), TextColumn("{task.fields[latest]}", style="dim"),
                        console=self.console, auto_refresh=False, transient=False, expand=True)
        self._task = self._bar.add_task("fetching", total=None, latest="")
        self._bar.start()
        self._route_logging()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.refresh()
            self._bar.stop()
            self._bar = None
        self._restore_logging()

    def _route_logging(self) -> None:
        """Print log lines through the bar's console (above the bar, never glued to it) while the bar is up."""
        root = logging.getLogger()
        self._replaced = [h for h in root.handlers if isinstance(h, _CliLog)]
        self._handler = _ConsoleHandler(self.console)
        self._handler.setFormatter(logging.Formatter(LOG_FORMAT))
        self._handler.addFilter(_REPEATS)
        for handler in self._replaced:
            root.removeHandler(handler)
        root.addHandler(self._handler)

    def _restore_logging(self) -> None:
        root = logging.getLogger()
        if self._handler is not None:
            root.removeHandler(self._handler)
            self._handler = None
        for handler in self._replaced:
            root.addHandler(handler)
        self._replaced = []


class _ConsoleHandler(logging.Handler):
    def __init__(self, console: Any) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.print(self.format(record), markup=False, highlight=False, soft_wrap=True)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def _terminal_console(out: TextIO) -> Any:
    """A rich console on `out` when it is a terminal and rich is installed (the `cli` extra); else None."""
    if not out.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:  # installed without the cli extra: no bar
        return None
    return Console(file=out, stderr=True)
