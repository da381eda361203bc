"""The Admin API's legacy reports: the Messages Usage Report and the Cost Report."""

from usage_lake.sources.admin import cost, usage

__all__ = ["cost", "usage"]
