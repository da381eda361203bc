"""The application: jobs wired once (`jobs`), run to completion from a terminal (`runner`), the `usage-lake`
command line (`cli`) and the demo (`demo`). The Lambda handler builds its run through `jobs` too.
"""

from usage_lake.app.jobs import IngestJob, parse_event, rebuild

__all__ = ["IngestJob", "parse_event", "rebuild"]
