"""Ingestion: plan the windows, fetch page by page, keep pages raw, write each UTC day whole, log the run.

    plan.py      which windows and slices a run fetches
    paging.py    how many buckets each page asks for (bucket sizes seen, the previous run's, a memory budget)
    days.py      day assembly: a day is written only when no later page can add to it
    raw.py       raw pages and manifests (written and read here)
    run.py       the loop (`Ingestion`) and its record
    deadline.py  how long a run may go on
    runlog.py    the run record and the `runs` table
    rebuild.py   curated days again from raw, without the API
"""

from usage_lake.ingest.deadline import Deadline, LambdaDeadline, NoDeadline
from usage_lake.ingest.rebuild import rebuild_days
from usage_lake.ingest.run import Ingestion
from usage_lake.ingest.runlog import DayResult, Outcome, RunRecord, write_record

__all__ = ["DayResult", "Deadline", "Ingestion", "LambdaDeadline", "NoDeadline", "Outcome", "RunRecord", "rebuild_days", "write_record"]
