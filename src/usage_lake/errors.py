"""Every error usage_lake raises on purpose, in one tree (httpx's `_exceptions.py` is the model).

    UsageLakeError                      anything this package raises on purpose: one line, no traceback in the CLI
    ├── ConfigError (ValueError)        what the user gave is wrong: nothing was fetched or written
    │   ├── SettingsError               an environment variable / setting; names the variable
    │   ├── EventError                  the invocation event; names the field
    │   ├── SecretError                 the secret or variable meant to hold the Admin API key
    │   └── PriceTableError             the price table or PRICING_OVERRIDES file
    ├── AdminApiError                   an Admin API call failed (status, type, API message, request id)
    │   ├── AuthenticationError         401/403: the key was refused; almost always not an Admin API key
    │   ├── ResponseShapeError          a 200 that is not the documented shape; names the field and row
    │   ├── PaginationError             the cursor misbehaved (has_more without next_page, a loop, past its page ceiling)
    │   └── DeadlineError               the run's time ran out between two pages (or before a retry)
    └── LakeError                       the lake cannot be read or written as asked
        └── RebuildError                the raw zone does not hold what its manifest promises

`ConfigError` is a `ValueError` so callers that validate input can treat it as one.
"""

from __future__ import annotations

__all__ = [
    "AdminApiError",
    "AuthenticationError",
    "ConfigError",
    "DeadlineError",
    "EventError",
    "LakeError",
    "PaginationError",
    "PriceTableError",
    "RebuildError",
    "ResponseShapeError",
    "SecretError",
    "SettingsError",
    "UsageLakeError",
]


class UsageLakeError(Exception):
    """Base of every error this package raises on purpose; its message is meant for a person."""


class ConfigError(UsageLakeError, ValueError):
    """Something the user configured or sent is wrong; nothing was fetched or written."""


class SettingsError(ConfigError):
    """A setting is missing or malformed; the message names the variable."""


class EventError(ConfigError):
    """The invocation event is not one we accept; the message names the field."""


class SecretError(ConfigError):
    """The secret or variable meant to hold the Admin API key does not hold a usable key."""


class PriceTableError(ConfigError):
    """The price table (packaged or overridden) is malformed; the message names the entry."""


class AdminApiError(UsageLakeError):
    """The Admin API call failed; the message says what was asked, what came back, and what to do."""

    def __init__(self, message: str, *, status: int | None = None, error_type: str | None = None,
                 api_message: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.api_message = api_message
        self.request_id = request_id


class AuthenticationError(AdminApiError):
    """401/403: the key was refused or lacks permission; almost always not an Admin API key."""


class ResponseShapeError(AdminApiError):
    """A 200 whose JSON is not the documented report shape (a missing or mistyped field)."""


class PaginationError(AdminApiError):
    """The cursor misbehaved: `has_more` without `next_page`, a cursor seen before, or more pages than the query's ceiling."""


class DeadlineError(AdminApiError):
    """The run's time ran out between two pages of a query (or before a retry): the endpoint stops, the run goes on."""


class LakeError(UsageLakeError):
    """The lake cannot be read or written as asked (not there, not writable, a key that escapes it)."""


class RebuildError(LakeError):
    """The raw zone does not hold what its manifest promises."""
