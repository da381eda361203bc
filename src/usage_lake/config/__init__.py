"""What a run is told: settings (environment variables), the invocation event, and the Admin API key.

Everything here is validated once, at start, and a bad value fails with one message naming it.
"""

from usage_lake.config.events import EARLIEST_DAY, Mode, RunRequest, parse_event
from usage_lake.config.secrets import AdminKey, admin_key_from_secret, admin_key_from_text
from usage_lake.config.settings import Settings, normalize_prefix
from usage_lake.errors import EventError, SecretError, SettingsError

__all__ = [
    "EARLIEST_DAY", "AdminKey", "EventError", "Mode", "RunRequest", "SecretError", "Settings", "SettingsError",
    "admin_key_from_secret", "admin_key_from_text", "normalize_prefix", "parse_event",
]
