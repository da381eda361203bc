"""Where the Admin API key comes from: text (bare or JSON) and Secrets Manager (moto)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from usage_lake.config.secrets import AdminKey, SecretError, admin_key_from_secret, admin_key_from_text

KEY = "sk-ant-admin01-TESTKEY-DO-NOT-LEAK"
SOURCE = "secret 'anthropic/admin-key'"


def secret_error(text: str) -> str:
    with pytest.raises(SecretError) as info:
        admin_key_from_text(text, source=SOURCE)
    message = str(info.value)
    assert "TESTKEY-DO-NOT-LEAK" not in message and "TESTKEY-DO-NOT-LEAK" not in repr(info.value)
    return message


# --- admin_key_from_text --------------------------------------------------------------------------------------

def test_bare_key() -> None:
    key = admin_key_from_text(KEY, source=SOURCE)
    assert isinstance(key, AdminKey)
    assert key.reveal() == KEY


def test_bare_key_with_surrounding_whitespace_is_trimmed() -> None:
    assert admin_key_from_text(f"  {KEY}\n", source=SOURCE).reveal() == KEY


def test_json_secret_with_whitespace_trimmed() -> None:
    text = f'\n  {{ "admin_api_key" : "  {KEY}\\n" , "note": "rotated 2026-11" }}  \n'
    assert admin_key_from_text(text, source=SOURCE).reveal() == KEY


def test_json_without_the_field_lists_the_fields_found_but_no_values() -> None:
    text = json.dumps({"api_key": KEY, "owner": "finops-secret-owner"})
    message = secret_error(text)
    assert SOURCE in message and "admin_api_key" in message
    assert "found: api_key, owner" in message
    assert "finops-secret-owner" not in message


def test_key_pasted_as_a_json_field_name_is_not_listed_back() -> None:
    # the Secrets Manager console's key/value editor makes it easy to paste the key into the *key* column
    message = secret_error(json.dumps({KEY: ""}))  # secret_error asserts the key text is absent
    assert "admin_api_key" in message


def test_json_with_a_non_string_field_is_refused() -> None:
    message = secret_error(json.dumps({"admin_api_key": 12345}))
    assert "admin_api_key" in message and "12345" not in message


@pytest.mark.parametrize("text", ["", "   \n\t", '{"admin_api_key": "   "}'], ids=["empty", "whitespace", "json-blank"])
def test_empty_secret_is_refused(text: str) -> None:
    message = secret_error(text)
    assert SOURCE in message and "empty" in message


@pytest.mark.parametrize("text", ["REPLACE_ME", "sk-ant-admin01-REPLACE_ME", '{"admin_api_key": "REPLACE_ME"}'])
def test_placeholder_is_refused(text: str) -> None:
    message = secret_error(text)
    assert SOURCE in message and "placeholder" in message


@pytest.mark.parametrize("text", [
    '{"admin_api_key": "sk-ant-admin01-TESTKEY-DO-NOT-LEAK"',
    "{admin_api_key: sk-ant-admin01-TESTKEY-DO-NOT-LEAK}",
    '{"admin_api_key": "sk-ant-admin01-TESTKEY-DO-NOT-LEAK",}',
], ids=["unclosed", "unquoted", "trailing-comma"])
def test_malformed_json_is_refused_without_echoing_it(text: str) -> None:
    message = secret_error(text)
    assert SOURCE in message and "JSON" in message


def test_whitespace_inside_the_key_is_refused() -> None:
    message = secret_error("sk-ant-admin01-TESTKEY DO-NOT-LEAK")
    assert "whitespace" in message


def test_non_admin_key_is_accepted_with_a_warning_that_does_not_show_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    standard = "sk-ant-api03-TESTKEY-DO-NOT-LEAK"
    assert admin_key_from_text(standard, source=SOURCE).reveal() == standard
    assert "does not hold an Admin API key" in caplog.text
    assert "TESTKEY-DO-NOT-LEAK" not in caplog.text


# --- admin_key_from_secret through moto -----------------------------------------------------------------------

@pytest.fixture
def secretsmanager(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    parameters.clear_caches()  # Powertools caches secrets (and its client) across calls
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")
    parameters.clear_caches()


def test_reads_a_bare_key_secret(secretsmanager) -> None:
    secretsmanager.create_secret(Name="anthropic/admin-key", SecretString=KEY)
    assert admin_key_from_secret("anthropic/admin-key").reveal() == KEY


def test_reads_a_json_secret_by_arn(secretsmanager) -> None:
    arn = secretsmanager.create_secret(Name="anthropic/admin-json", SecretString=json.dumps({"admin_api_key": KEY}))["ARN"]
    assert admin_key_from_secret(arn).reveal() == KEY


def test_placeholder_secret_names_the_secret(secretsmanager) -> None:
    secretsmanager.create_secret(Name="anthropic/admin-new", SecretString="REPLACE_ME")
    with pytest.raises(SecretError) as info:
        admin_key_from_secret("anthropic/admin-new")
    assert "anthropic/admin-new" in str(info.value) and "placeholder" in str(info.value)


def test_missing_secret_is_a_secret_error_naming_the_secret(secretsmanager) -> None:
    with pytest.raises(SecretError) as info:
        admin_key_from_secret("anthropic/does-not-exist")
    assert "anthropic/does-not-exist" in str(info.value)
    assert "Secrets Manager" in str(info.value)
