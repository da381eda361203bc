"""Where data comes from: the HTTP client, the `Endpoint` protocol, and one folder per API family.

    http.py      the source-agnostic Admin API client (headers, paging, retries, error family)
    rows.py      bulk JSON rows -> Arrow, shared by every endpoint
    base.py      the `Endpoint` protocol and the bucketed-report base
    registry.py  name -> endpoint factory: the one line a new source adds
    admin/       the usage and cost reports
"""

from usage_lake.sources.base import Endpoint, Kind
from usage_lake.sources.http import AdminClient, Page, RetryPolicy
from usage_lake.sources.registry import endpoint, endpoints, names

__all__ = ["AdminClient", "Endpoint", "Kind", "Page", "RetryPolicy", "endpoint", "endpoints", "names"]
