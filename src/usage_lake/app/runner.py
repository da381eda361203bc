"""Running a job to the end from a terminal: continue a long backfill in-process, and show progress."""

from __future__ import annotations

from datetime import timedelta
from typing import TextIO

from usage_lake.alerts import Publisher
from usage_lake.app.jobs import IngestJob, parse_event
from usage_lake.config.events import RunRequest
from usage_lake.config.secrets import AdminKey
from usage_lake.config.settings import Settings
from usage_lake.ingest import DayResult, RunRecord
from usage_lake.lake.store import Lake
from usage_lake.money.pricing import load_prices

__all__ = ["Progress", "run_to_completion"]


def run_to_completion(request: RunRequest, *, settings: Settings, key: AdminKey, lake: Lake, out: TextIO,
                      publisher: Publisher | None = None) -> list[RunRecord]:
    """Run, and keep going while a run hands back the rest of its range (locally there is no time limit)."""
    records = []
    prices = load_prices(settings.pricing_overrides)
    while True:
        progress = Progress(out)
        job = IngestJob(settings=settings, key=key, lake=lake, publisher=publisher, prices=prices, on_day=progress.day)
        progress.record = job.record
        try:
            record = job.run(request)
        finally:
            progress.close()
        records.append(record)
        if not record.next_event:
            return records
        request = parse_event(record.next_event)


class Progress:
    """A one-line progress bar in a terminal; plain lines otherwise (CI logs, files)."""

    WIDTH = 30

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.record: RunRecord | None = None
        self.done = 0
        self.drawn = False

    def _total(self) -> int:
        if not self.record:
            return 0
        return sum(((end - timedelta(microseconds=1)).date() - start.date()).days + 1 for start, end in self.record.windows.values())

    def day(self, result: DayResult) -> None:
        self.done += 1
        line = f"{result.report} {result.day}: {result.action} {result.rows:,} rows"
        if not self.tty:
            print(line, file=self.out, flush=True)
            return
        total = max(self._total(), self.done)
        filled = round(self.WIDTH * self.done / total)
        print(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{total} days  {line:<50}", end="", file=self.out, flush=True)
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            print(file=self.out)


