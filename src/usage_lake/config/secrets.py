"""The Admin API key: where it comes from, and a wrapper that never prints it.

The key reaches the code from Secrets Manager (Lambda, or `--secret-id` on the CLI) or from
`ANTHROPIC_ADMIN_API_KEY` (local CLI runs). It is only ever revealed to build the `x-api-key` header.
"""

from __future__ import annotations

import json
import logging
import re

from usage_lake.errors import SecretError

__all__ = ["AdminKey", "SecretError", "admin_key_from_secret", "admin_key_from_text", "secret_text"]

logger = logging.getLogger(__name__)

ADMIN_KEY_PREFIX = "sk-ant-admin"
PLACEHOLDER_MARKER = "REPLACE_ME"
SECRET_CACHE_SECONDS = 300
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")


class AdminKey:
    """An Admin API key whose repr and str are redacted, so it cannot leak through logs or errors."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        """`text` with any occurrence of the key replaced, for messages built from API responses."""
        return text.replace(self._value, "[redacted admin key]") if self._value else text

    def __repr__(self) -> str:
        return "AdminKey(<redacted>)"

    __str__ = __repr__


def admin_key_from_text(text: str, *, source: str) -> AdminKey:
    """Accept a bare key or JSON `{"admin_api_key": "..."}`; `source` names where it came from in errors."""
    text = text.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            raise SecretError(f"{source} looks like JSON but does not parse; store the bare key or {{\"admin_api_key\": \"...\"}}") from None
        if not isinstance(document, dict) or not isinstance(document.get("admin_api_key"), str):
            # list field names only when they look like names: a key pasted into the name column must not echo
            fields = ", ".join(sorted(n if _FIELD_NAME.fullmatch(n) else "<redacted>" for n in document)) \
                if isinstance(document, dict) else type(document).__name__
            raise SecretError(f"{source} is JSON without a string field 'admin_api_key' (found: {fields})")
        text = document["admin_api_key"].strip()
    if text.startswith(("[", '"')):
        raise SecretError(f"{source} must hold the bare key or {{\"admin_api_key\": \"...\"}}, not a JSON list or string")
    if not text:
        raise SecretError(f"{source} is empty; put your Admin API key (sk-ant-admin...) in it")
    if PLACEHOLDER_MARKER in text:
        raise SecretError(
            f"{source} still holds the placeholder value; put your Admin API key in it, e.g. "
            "aws secretsmanager put-secret-value --secret-id <id> --secret-string 'sk-ant-admin01-...'"
        )
    if any(c.isspace() for c in text):
        raise SecretError(f"{source} contains whitespace inside the key; store the key alone")
    if not text.startswith(ADMIN_KEY_PREFIX):
        # Newer docs also accept organization-scoped OAuth tokens and keys, so this is a warning, not an error;
        # if the API refuses the key, the client's 401/403 message explains which key is needed.
        logger.warning("%s does not hold an Admin API key (%s...); trying it anyway", source, ADMIN_KEY_PREFIX)
    return AdminKey(text)


def admin_key_from_secret(secret_id: str) -> AdminKey:
    """Read the key from Secrets Manager through Powertools parameters (cached for warm invocations)."""
    return admin_key_from_text(secret_text(secret_id), source=f"secret {secret_id!r}")


def secret_text(secret_id: str) -> str:
    """A secret's string from Secrets Manager (cached for warm invocations); `SecretError` names the secret."""
    from aws_lambda_powertools.utilities import parameters
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

    try:
        value = parameters.get_secret(secret_id, max_age=SECRET_CACHE_SECONDS)
    except parameters.exceptions.GetParameterError as exc:
        raise SecretError(f"could not read secret {secret_id!r} from Secrets Manager: {exc}") from None
    except NoRegionError:
        raise SecretError(f"could not read secret {secret_id!r}: no AWS region; set AWS_REGION (or AWS_DEFAULT_REGION) "
                          "to the secret's region") from None
    except (BotoCoreError, ClientError) as exc:  # no credentials, no endpoint, ...
        raise SecretError(f"could not read secret {secret_id!r} from Secrets Manager: {exc}") from None
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return str(value)
