"""The Claude Code usage report (`/v1/organizations/usage_report/claude_code`): one query per UTC day."""

from usage_lake.sources.claude_code import report
from usage_lake.sources.claude_code.report import ClaudeCodeReport, endpoint

__all__ = ["ClaudeCodeReport", "endpoint", "report"]
