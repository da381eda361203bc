"""AdminClient against respx: headers, pagination guards, retries, errors, and the key never leaking."""

from __future__ import annotations

import email.utils
import json
import logging
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from usage_lake.sources.http import (
    AdminApiError,
    AdminClient,
    AuthenticationError,
    PaginationError,
    ResponseShapeError,
    RetryPolicy,
)
from usage_lake.config.secrets import AdminKey

BASE_URL = "https://api.example.test"
KEY = "sk-ant-admin01-TESTKEY-DO-NOT-LEAK"
PATH = "/v1/organizations/usage_report/messages"
PARAMS = [
    ("starting_at", "2026-10-01T00:00:00Z"),
    ("ending_at", "2026-10-04T00:00:00Z"),
    ("bucket_width", "1h"),
    ("limit", "24"),
    ("group_by[]", "api_key_id"),
    ("group_by[]", "workspace_id"),
    ("group_by[]", "model"),
]
ROW = {
    "uncached_input_tokens": 1500,
    "cache_creation": {"ephemeral_1h_input_tokens": 1000, "ephemeral_5m_input_tokens": 500},
    "cache_read_input_tokens": 200,
    "output_tokens": 500,
    "server_tool_use": {"web_search_requests": 10},
    "api_key_id": "apikey_01Rj2N8SVvo6BePZj99NhmiT",
    "workspace_id": None,
    "model": "claude-sonnet-4-20250514",
}


def body(day: int = 1, *, has_more: bool = False, next_page: str | None = None, rows: int = 1, **extra: object) -> dict:
    return {
        "data": [{
            "starting_at": f"2026-10-0{day}T00:00:00Z",
            "ending_at": f"2026-10-0{day}T01:00:00Z",
            "results": [ROW] * rows,
        }],
        "has_more": has_more,
        "next_page": next_page,
        **extra,
    }


def ok(day: int = 1, **kwargs: object) -> httpx.Response:
    return httpx.Response(200, json=body(day, **kwargs), headers={"request-id": f"req_ok_{day}"})


def api_error(status: int, error_type: str, message: str, *, request_id: str | None = "req_011CSHoEeqs5C35K2UUqR7Fy",
              headers: dict[str, str] | None = None) -> httpx.Response:
    all_headers = {"request-id": request_id} if request_id else {}
    all_headers |= headers or {}
    return httpx.Response(status, json={"type": "error", "error": {"type": error_type, "message": message}},
                          headers=all_headers)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
def make_client(sleeps: list[float]) -> Iterator[Callable[..., AdminClient]]:
    clients: list[AdminClient] = []

    def make(retry: RetryPolicy | None = None) -> AdminClient:
        client = AdminClient(AdminKey(KEY), BASE_URL, retry=retry, sleep=sleeps.append, rng=random.Random(0))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def fetch_all(client: AdminClient) -> list:
    return list(client.iter_pages(PATH, PARAMS))


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert KEY not in text
        assert "TESTKEY-DO-NOT-LEAK" not in text


# --- headers and a plain page -------------------------------------------------------------------------------------

def test_headers_sent(api: respx.MockRouter, make_client) -> None:
    route = api.get(PATH).mock(return_value=ok())
    fetch_all(make_client())
    request = route.calls.last.request
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["user-agent"].startswith("anthropic-usage-lake/")
    assert request.url.host == "api.example.test"
    assert request.url.path == PATH


def test_single_page_is_returned_as_received(api: respx.MockRouter, make_client) -> None:
    raw = json.dumps(body(1, rows=2)).encode()
    api.get(PATH).mock(return_value=httpx.Response(200, content=raw, headers={"request-id": "req_single"}))
    client = make_client()
    [page] = fetch_all(client)
    assert page.body == raw
    assert page.number == 1
    assert page.row_count == 2
    assert page.has_more is False and page.next_page is None
    assert page.request_id == "req_single"
    assert page.params == tuple(PARAMS)
    assert page.buckets[0].starting_at == datetime(2026, 10, 1, tzinfo=UTC)
    assert json.loads(bytes(page.buckets[0].results[0])) == ROW
    assert (client.stats.requests, client.stats.retries, client.stats.bytes_received) == (1, 0, len(raw))


def test_unknown_envelope_fields_are_ignored(api: respx.MockRouter, make_client) -> None:
    api.get(PATH).mock(return_value=httpx.Response(200, json=body(1, object="list", first_id="x", meta={"a": [1]})))
    [page] = fetch_all(make_client())
    assert page.row_count == 1


# --- pagination -----------------------------------------------------------------------------------------------

def test_pages_are_followed_by_next_page_resending_the_same_query(api: respx.MockRouter, make_client) -> None:
    route = api.get(PATH).mock(side_effect=[
        ok(1, has_more=True, next_page="page_MjAyNi0xMC0wMlQwMDowMDowMFo="),
        ok(2, has_more=True, next_page="page_MjAyNi0xMC0wM1QwMDowMDowMFo="),
        ok(3, has_more=False, next_page=None),
    ])
    client = make_client()
    pages = fetch_all(client)
    assert [p.number for p in pages] == [1, 2, 3]
    assert [p.buckets[0].starting_at.day for p in pages] == [1, 2, 3]
    assert [p.request_id for p in pages] == ["req_ok_1", "req_ok_2", "req_ok_3"]
    assert route.call_count == 3
    sent = [call.request.url.params.multi_items() for call in route.calls]
    assert sent == [
        PARAMS,
        PARAMS + [("page", "page_MjAyNi0xMC0wMlQwMDowMDowMFo=")],
        PARAMS + [("page", "page_MjAyNi0xMC0wM1QwMDowMDowMFo=")],
    ]
    assert client.stats.requests == 3


def test_has_more_without_next_page_is_a_pagination_error(api: respx.MockRouter, make_client) -> None:
    route = api.get(PATH).mock(return_value=ok(1, has_more=True, next_page=None))
    with pytest.raises(PaginationError, match="has_more but gives no next_page"):
        fetch_all(make_client())
    assert route.call_count == 1


def bounded(responses: Callable[[], httpx.Response], limit: int = 10) -> Callable[[httpx.Request], httpx.Response]:
    """A side effect that fails the test, rather than hanging it, if the client keeps asking."""
    calls = 0

    def respond(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls > limit:
            pytest.fail(f"the client sent more than {limit} requests: the pagination guard did not stop it")
        return responses()

    return respond


def test_a_repeated_cursor_is_a_pagination_error_not_an_endless_loop(api: respx.MockRouter, make_client) -> None:
    route = api.get(PATH).mock(side_effect=bounded(lambda: ok(1, has_more=True, next_page="page_SAME")))
    with pytest.raises(PaginationError, match="page_SAME"):
        fetch_all(make_client())
    assert route.call_count == 2


def test_a_cursor_cycle_is_a_pagination_error(api: respx.MockRouter, make_client) -> None:
    cursors = iter(["page_A", "page_B", "page_A", "page_B", "page_A"])
    route = api.get(PATH).mock(side_effect=bounded(lambda: ok(1, has_more=True, next_page=next(cursors, "page_A"))))
    with pytest.raises(PaginationError, match="page_A"):
        fetch_all(make_client())
    assert route.call_count == 3


# --- retries --------------------------------------------------------------------------------------------------

def test_429_honours_retry_after_seconds(api: respx.MockRouter, make_client, sleeps: list[float]) -> None:
    route = api.get(PATH).mock(side_effect=[
        api_error(429, "rate_limit_error", "Number of requests has exceeded your rate limit", headers={"retry-after": "2"}),
        ok(),
    ])
    client = make_client()
    [page] = fetch_all(client)
    assert page.row_count == 1
    assert route.call_count == 2
    assert len(sleeps) == 1 and 2.0 <= sleeps[0] <= 2.2
    assert client.stats.retries == 1
    assert client.stats.retry_reasons["429"] == 1
    assert client.stats.requests == 2


def test_429_honours_retry_after_as_an_http_date(api: respx.MockRouter, make_client, sleeps: list[float]) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    api.get(PATH).mock(side_effect=[
        api_error(429, "rate_limit_error", "slow down", headers={"retry-after": when}),
        ok(),
    ])
    fetch_all(make_client())
    assert len(sleeps) == 1
    assert 28.0 <= sleeps[0] <= 33.0  # 30 s (less the sub-second the date format drops) plus up to 10% jitter


@pytest.mark.parametrize("status,error_type", [
    (500, "api_error"), (502, "api_error"), (503, "api_error"), (504, "timeout_error"), (529, "overloaded_error"),
])
def test_server_errors_are_retried(api: respx.MockRouter, make_client, sleeps: list[float], status: int, error_type: str) -> None:
    route = api.get(PATH).mock(side_effect=[api_error(status, error_type, "try again"), ok()])
    client = make_client()
    [page] = fetch_all(client)
    assert page.row_count == 1
    assert route.call_count == 2
    assert len(sleeps) == 1
    assert client.stats.retries == 1
    assert client.stats.retry_reasons == {str(status): 1}


@pytest.mark.parametrize("exc", [
    httpx.ConnectError("connection refused"),
    httpx.ReadTimeout("read timed out"),
    httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
], ids=lambda e: type(e).__name__)
def test_transport_errors_are_retried(api: respx.MockRouter, make_client, sleeps: list[float], exc: Exception) -> None:
    route = api.get(PATH).mock(side_effect=[exc, ok()])
    client = make_client()
    [page] = fetch_all(client)
    assert page.row_count == 1
    assert route.call_count == 2
    assert len(sleeps) == 1
    assert client.stats.retry_reasons == {type(exc).__name__: 1}


@pytest.mark.parametrize("content", [
    json.dumps(body(1)).encode()[:40],
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    b"",
], ids=["truncated-json", "html", "empty"])
def test_a_200_with_a_broken_body_is_retried(api: respx.MockRouter, make_client, sleeps: list[float], content: bytes) -> None:
    route = api.get(PATH).mock(side_effect=[httpx.Response(200, content=content), ok()])
    client = make_client()
    [page] = fetch_all(client)
    assert page.row_count == 1
    assert route.call_count == 2
    assert client.stats.retry_reasons == {"invalid_body": 1}


def test_gives_up_after_max_attempts_with_the_last_status_and_message(api: respx.MockRouter, make_client,
                                                                       sleeps: list[float]) -> None:
    route = api.get(PATH).mock(side_effect=lambda request: api_error(503, "overloaded_error", "Overloaded right now"))
    client = make_client(RetryPolicy(max_attempts=3))
    with pytest.raises(AdminApiError) as info:
        fetch_all(client)
    assert type(info.value) is AdminApiError
    message = str(info.value)
    assert "503" in message and "Overloaded right now" in message and "3 attempt(s)" in message
    assert route.call_count == 3
    assert len(sleeps) == 2
    assert client.stats.retries == 2


def test_429_without_retry_after_mentions_a_spend_limit_when_giving_up(api: respx.MockRouter, make_client) -> None:
    api.get(PATH).mock(side_effect=lambda request: api_error(429, "rate_limit_error", "spend cap reached"))
    with pytest.raises(AdminApiError, match="spend limit"):
        fetch_all(make_client(RetryPolicy(max_attempts=2)))


def test_retry_after_beyond_the_total_budget_gives_up_at_once(api: respx.MockRouter, make_client, sleeps: list[float]) -> None:
    route = api.get(PATH).mock(return_value=api_error(429, "rate_limit_error", "wait", headers={"retry-after": "1000"}))
    with pytest.raises(AdminApiError) as info:
        fetch_all(make_client(RetryPolicy(max_total=60)))
    assert "429" in str(info.value)
    assert route.call_count == 1
    assert sleeps == []


def test_total_budget_counts_every_wait(api: respx.MockRouter, make_client, sleeps: list[float]) -> None:
    # 25 s waits against a 60 s budget: two waits fit (50-55 s), a third would not
    route = api.get(PATH).mock(return_value=api_error(429, "rate_limit_error", "wait", headers={"retry-after": "25"}))
    with pytest.raises(AdminApiError):
        fetch_all(make_client(RetryPolicy(max_attempts=10, max_total=60)))
    assert route.call_count == 3
    assert len(sleeps) == 2 and sum(sleeps) <= 60


def test_backoff_without_retry_after_grows_exponentially(api: respx.MockRouter, make_client, sleeps: list[float]) -> None:
    route = api.get(PATH).mock(side_effect=[api_error(500, "api_error", "boom")] * 5 + [ok()])
    client = make_client(RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=60.0, max_total=300.0))
    fetch_all(client)
    assert route.call_count == 6
    assert len(sleeps) == 5
    for n, slept in enumerate(sleeps, start=1):
        ceiling = 0.5 * 2 ** (n - 1)
        assert ceiling / 2 <= slept <= ceiling, (n, slept)
    assert client.stats.retries == 5 and client.stats.retry_reasons == {"500": 5}


def test_backoff_is_capped_at_max_delay(api: respx.MockRouter, make_client, sleeps: list[float]) -> None:
    api.get(PATH).mock(side_effect=[api_error(500, "api_error", "boom")] * 4 + [ok()])
    fetch_all(make_client(RetryPolicy(max_attempts=5, base_delay=10.0, max_delay=15.0, max_total=300.0)))
    assert 5.0 <= sleeps[0] <= 10.0
    for slept in sleeps[1:]:
        assert 7.5 <= slept <= 15.0


# --- errors that are not retried ------------------------------------------------------------------------------------

@pytest.mark.parametrize("status,error_type", [(401, "authentication_error"), (403, "permission_error")])
def test_refused_key_is_an_authentication_error_that_never_shows_the_key(
    api: respx.MockRouter, make_client, caplog: pytest.LogCaptureFixture, status: int, error_type: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    route = api.get(PATH).mock(return_value=api_error(status, error_type, "invalid x-api-key"))
    with pytest.raises(AuthenticationError) as info:
        fetch_all(make_client())
    exc = info.value
    assert "sk-ant-admin" in str(exc)
    assert exc.status == status and exc.error_type == error_type
    assert route.call_count == 1
    assert_no_key(str(exc), repr(exc), caplog.text)


@pytest.mark.parametrize("status", [401, 403])
def test_key_echoed_back_by_the_api_is_redacted(api: respx.MockRouter, make_client, caplog: pytest.LogCaptureFixture,
                                                status: int) -> None:
    caplog.set_level(logging.DEBUG)
    api.get(PATH).mock(return_value=api_error(status, "authentication_error", f"invalid x-api-key: {KEY}"))
    with pytest.raises(AuthenticationError) as info:
        fetch_all(make_client())
    exc = info.value
    assert "invalid x-api-key" in str(exc)
    assert_no_key(str(exc), repr(exc), str(exc.api_message), str(exc.args), caplog.text)


def test_key_echoed_in_a_retried_error_or_transport_error_never_reaches_logs_or_the_final_error(
    api: respx.MockRouter, make_client, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    api.get(PATH).mock(side_effect=[
        api_error(500, "api_error", f"internal error for key {KEY}"),
        httpx.ConnectError(f"proxy refused x-api-key {KEY}"),
        api_error(529, "overloaded_error", f"overloaded ({KEY})"),
    ])
    with pytest.raises(AdminApiError) as info:
        fetch_all(make_client(RetryPolicy(max_attempts=3)))
    assert "overloaded" in str(info.value)
    assert caplog.text.count("retrying") == 2
    assert_no_key(str(info.value), repr(info.value), caplog.text)


@pytest.mark.parametrize("status,error_type,message", [
    (400, "invalid_request_error", "starting_at: must be before ending_at"),
    (404, "not_found_error", "The requested resource could not be found."),
])
def test_client_errors_carry_the_api_message_and_request_id_and_are_not_retried(
    api: respx.MockRouter, make_client, sleeps: list[float], status: int, error_type: str, message: str,
) -> None:
    route = api.get(PATH).mock(return_value=api_error(status, error_type, message, request_id="req_011CSHoEeqs5C35K2UUqR7Fy"))
    with pytest.raises(AdminApiError) as info:
        fetch_all(make_client())
    exc = info.value
    assert type(exc) is AdminApiError
    assert (exc.status, exc.error_type, exc.api_message, exc.request_id) == (
        status, error_type, message, "req_011CSHoEeqs5C35K2UUqR7Fy")
    assert message in str(exc) and "req_011CSHoEeqs5C35K2UUqR7Fy" in str(exc) and str(status) in str(exc)
    assert route.call_count == 1
    assert sleeps == []


def test_request_id_is_taken_from_the_error_body_when_the_header_is_missing(api: respx.MockRouter, make_client) -> None:
    api.get(PATH).mock(return_value=httpx.Response(404, json={
        "type": "error",
        "error": {"type": "not_found_error", "message": "The requested resource could not be found."},
        "request_id": "req_from_body",
    }))
    with pytest.raises(AdminApiError) as info:
        fetch_all(make_client())
    assert info.value.request_id == "req_from_body"


def test_non_json_error_body_still_gives_a_clear_error(api: respx.MockRouter, make_client) -> None:
    api.get(PATH).mock(return_value=httpx.Response(400, content=b"Bad request from proxy", headers={"request-id": "req_p"}))
    with pytest.raises(AdminApiError) as info:
        fetch_all(make_client())
    assert info.value.status == 400
    assert "Bad request from proxy" in str(info.value)


def test_error_body_with_a_non_string_message_still_gives_an_admin_api_error(api: respx.MockRouter, make_client) -> None:
    # _error_fields promises to tolerate any body; a proxy or a future API version may nest the message
    api.get(PATH).mock(return_value=httpx.Response(
        400, json={"type": "error", "error": {"type": "invalid_request_error", "message": {"detail": "bad range"}}}))
    with pytest.raises(AdminApiError) as info:
        fetch_all(make_client())
    assert info.value.status == 400
    assert "bad range" in str(info.value)


@pytest.mark.parametrize("payload,field", [
    ({"has_more": False, "next_page": None}, "data"),
    ({"data": [], "has_more": "no", "next_page": None}, "has_more"),
    ({"data": []}, "has_more"),
    ({"data": [{"starting_at": "2026-10-01T00:00:00Z", "ending_at": "2026-10-01T01:00:00Z"}], "has_more": False}, "results"),
    ({"data": [{"starting_at": "yesterday", "ending_at": "2026-10-01T01:00:00Z", "results": []}], "has_more": False},
     "starting_at"),
], ids=["no-data", "has-more-string", "no-has-more", "bucket-without-results", "bad-bucket-time"])
def test_a_200_that_is_not_a_report_page_is_a_shape_error_naming_the_field(
    api: respx.MockRouter, make_client, sleeps: list[float], payload: dict, field: str,
) -> None:
    route = api.get(PATH).mock(return_value=httpx.Response(200, json=payload, headers={"request-id": "req_shape"}))
    with pytest.raises(ResponseShapeError) as info:
        fetch_all(make_client())
    assert field in str(info.value)
    assert info.value.request_id == "req_shape"
    assert route.call_count == 1
    assert sleeps == []


# --- the key wrapper ------------------------------------------------------------------------------------------

def test_admin_key_repr_and_str_hide_the_key() -> None:
    key = AdminKey(KEY)
    assert_no_key(repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"key": key}))
    assert key.reveal() == KEY


def test_admin_key_redacts_itself_from_text() -> None:
    assert AdminKey(KEY).redact(f"bad key {KEY}!") == "bad key [redacted admin key]!"
