"""The source-agnostic HTTP client for the Anthropic Admin API (every endpoint under `sources/` uses it).

It does three things: send a query with the right headers, follow the cursor (re-sending the same query with
it), and retry what is worth retrying (429, 5xx, 529, timeouts, dropped
connections, a truncated or non-JSON 200 body) with exponential backoff, jitter and `retry-after`, bounded in
attempts and in total waiting time. Everything else becomes an `AdminApiError` carrying the API's own message.

Each page keeps the body exactly as received (for the raw zone of the lake) next to its decoded envelope;
result rows stay undecoded (`msgspec.Raw`) so the transform can parse them in bulk.

The Admin API pages in two ways, and a `Paging` says which one a query uses and how its body decodes:

- `REPORT_PAGES` (the default): the report endpoints' `{data: [bucket...], has_more, next_page}`, continued
  with `page=<next_page>`; an endpoint whose `data` are records rather than time buckets (the Claude Code
  report) gives its own decoder and keeps the same cursor;
- `LIST_PAGES`: the organization lists' `{data: [record...], has_more, first_id, last_id}`, continued with
  `after_id=<last_id>`;
- `OBJECT`: a single object (`/v1/organizations/me`): one page, its body the one record.

Fetching is bounded, so a cursor that never ends (a misbehaving API or proxy handing out a fresh `next_page`
every page) costs one endpoint, never the run: every query has a page ceiling (`page_ceiling`: a report's is
derived from its window, `REPORT_PAGE_HEADROOM` times (the pages its buckets fill, plus one); a list's
or a record report's is `RECORD_PAGE_CEILING`), past which it stops with a `PaginationError` naming the
endpoint; and a client given a deadline (`stop_when`) checks it before every page and every retry, raising
`DeadlineError` while the run still has `reserve` seconds to write what it has, send its alerts and return.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

import httpx
import msgspec

from usage_lake import __version__
from usage_lake.config.secrets import AdminKey
from usage_lake.errors import AdminApiError, AuthenticationError, DeadlineError, PaginationError, ResponseShapeError

__all__ = [
    "LIST_PAGES", "OBJECT", "RECORD_PAGE_CEILING", "REPORT_PAGES", "REPORT_PAGE_HEADROOM", "AdminApiError", "AdminClient",
    "AuthenticationError", "Bucket", "ClientStats", "DeadlineError", "Decoded", "Headers", "Page", "PaginationError", "Paging", "Params",
    "ResponseShapeError", "RetryPolicy", "decode_page", "page_ceiling",
]

logger = logging.getLogger(__name__)

ANTHROPIC_VERSION = "2023-06-01"
USER_AGENT = f"anthropic-usage-lake/{__version__} (+https://github.com/anthropic-usage-lake/anthropic-usage-lake)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)

Params = Sequence[tuple[str, str]]
Headers = Sequence[tuple[str, str]]  # an endpoint's own request headers (`anthropic-beta`)

# Page ceilings of one query. A report query of B buckets at `limit` L fills ceil(B / L) pages when no bucket is
# split across pages; the API may split a large bucket, so a report may take REPORT_PAGE_HEADROOM times that, plus
# REPORT_PAGE_HEADROOM (a one-day query of a large organization: 100 pages). Lists and the Claude Code report (one day a
# query) hold up to 1,000 records a page: RECORD_PAGE_CEILING pages is 200,000 users, keys or Claude Code users.
REPORT_PAGE_HEADROOM = 50
RECORD_PAGE_CEILING = 200
_WIDTH_SECONDS = {"1m": 60, "1h": 3600, "1d": 86400}


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 1.0  # seconds; attempt n waits up to base * 2**(n-1), capped at max_delay
    max_delay: float = 60.0
    max_total: float = 300.0  # seconds of waiting for one request, retry-after included


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    bytes_received: int = 0
    retry_reasons: Counter[str] = field(default_factory=Counter)


UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]


class Bucket(msgspec.Struct, gc=False):
    starting_at: UtcTimestamp
    ending_at: UtcTimestamp
    results: list[msgspec.Raw]


class _Envelope(msgspec.Struct, gc=False):
    data: list[Bucket]
    has_more: bool
    next_page: str | None = None


_decode_envelope = msgspec.json.Decoder(_Envelope).decode


def decode_page(body: bytes | bytearray) -> list[Bucket]:
    """The buckets of a stored raw page (used to rebuild curated days without calling the API)."""
    return _decode_envelope(body).data


@dataclass(frozen=True)
class Decoded:
    """A page body, decoded: its time buckets or its records (rows still raw JSON), and where the next page starts."""

    buckets: list[Bucket] = field(default_factory=list)
    records: list[msgspec.Raw] = field(default_factory=list)
    has_more: bool = False
    cursor: str | None = None


@dataclass(frozen=True)
class Paging:
    """How a query's pages decode and chain: `decode` raises `msgspec.ValidationError` for a body of the wrong
    shape and `msgspec.DecodeError` for one that is not JSON (retried, like a cut connection); the next page
    re-sends the query with `cursor_param=<cursor>`."""

    cursor_param: str  # "page", "after_id"; unused when a page never has more
    cursor_field: str  # what the body calls the cursor, for error messages
    decode: Callable[[bytes | bytearray], Decoded]


class _RecordEnvelope(msgspec.Struct, gc=False):
    data: list[msgspec.Raw]
    has_more: bool
    next_page: str | None = None


class _ListEnvelope(msgspec.Struct, gc=False):
    data: list[msgspec.Raw]
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None


class _AnObject(msgspec.Struct):
    """Only checks the body is a JSON object; the record itself stays raw."""


_decode_records = msgspec.json.Decoder(_RecordEnvelope).decode
_decode_list = msgspec.json.Decoder(_ListEnvelope).decode
_check_object = msgspec.json.Decoder(_AnObject).decode


def _report_page(body: bytes | bytearray) -> Decoded:
    envelope = _decode_envelope(body)
    return Decoded(buckets=envelope.data, has_more=envelope.has_more, cursor=envelope.next_page)


def record_page(body: bytes | bytearray) -> Decoded:
    """`{data: [record...], has_more, next_page}`: a report whose data are records, not time buckets."""
    envelope = _decode_records(body)
    return Decoded(records=envelope.data, has_more=envelope.has_more, cursor=envelope.next_page)


def _list_page(body: bytes | bytearray) -> Decoded:
    envelope = _decode_list(body)
    return Decoded(records=envelope.data, has_more=envelope.has_more, cursor=envelope.last_id)


def _object_page(body: bytes | bytearray) -> Decoded:
    _check_object(body)
    return Decoded(records=[msgspec.Raw(bytes(body))])


REPORT_PAGES = Paging("page", "next_page", _report_page)
LIST_PAGES = Paging("after_id", "last_id", _list_page)
OBJECT = Paging("", "", _object_page)


@dataclass(frozen=True)
class Page:
    """One page: the body as received, and its buckets (reports) or records (lists), rows still undecoded."""

    path: str
    params: tuple[tuple[str, str], ...]
    number: int  # 1-based, within one query
    body: bytes | bytearray  # exactly as received
    buckets: list[Bucket]
    has_more: bool
    next_page: str | None
    fetched_at: datetime
    request_id: str | None
    records: list[msgspec.Raw] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return sum(len(b.results) for b in self.buckets) + len(self.records)


class AdminClient:
    def __init__(
        self,
        api_key: AdminKey,
        base_url: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._key = api_key
        self._retry = retry or RetryPolicy()
        self._timeouts = timeout
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._remaining: Callable[[], float] | None = None  # seconds the run has left (`stop_when`)
        self._reserve = 0.0
        self.stats = ClientStats()
        self._http = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            headers={
                "x-api-key": api_key.reveal(),
                "anthropic-version": ANTHROPIC_VERSION,
                "user-agent": USER_AGENT,
                "accept": "application/json",
            },
        )

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def stop_when(self, remaining: Callable[[], float], reserve: float) -> None:
        """Check `remaining()` (seconds) before every page and every retry: below `reserve`, raise `DeadlineError`."""
        self._remaining, self._reserve = remaining, reserve

    def _check_deadline(self, path: str, what: str, needs: float = 0.0) -> None:
        if self._remaining is None:
            return
        left = self._remaining()
        if left - needs < self._reserve:
            raise DeadlineError(f"GET {path}: stopped before {what} with {left:.0f} s left (the run keeps {self._reserve:.0f} s "
                                "to store what it has and send alerts); the next run fetches it again")

    def _timeout(self) -> httpx.Timeout | httpx._client.UseClientDefault:
        """The client's timeouts, shortened to the time the run has before its reserve (a slow answer is not waited for
        past the deadline)."""
        if self._remaining is None:
            return httpx.USE_CLIENT_DEFAULT
        budget = max(1.0, self._remaining() - self._reserve)
        return httpx.Timeout(min(self._timeouts.read or budget, budget), connect=min(self._timeouts.connect or budget, budget))

    def iter_pages(self, path: str, params: Params, paging: Paging = REPORT_PAGES, headers: Headers = (), *,
                   max_pages: int | None = None) -> Generator[Page, None, None]:
        """Every page of one query, in order. The same query is re-sent with the cursor (`page=<next_page>` for
        reports, `after_id=<last_id>` for lists), at most `max_pages` pages (default: `page_ceiling`). `headers` are
        the endpoint's own request headers (a beta header), sent with every page beside the client's."""
        ceiling = max_pages or page_ceiling(params, paging)
        seen: set[bytes] = set()
        cursor: str | None = None
        number = 0
        while True:
            if number >= ceiling:
                raise PaginationError(f"GET {path} still has more after {number:,} pages, the ceiling for this query; stopping "
                                      "(a cursor that never ends?): this endpoint is not written this run")
            self._check_deadline(path, f"page {number + 1}")
            query = tuple(params) + (((paging.cursor_param, cursor),) if cursor else ())
            body, received, decoded = self._get(path, query, paging.decode, headers)
            number += 1
            yield Page(
                path=path,
                params=query,
                number=number,
                body=body,
                buckets=decoded.buckets,
                has_more=decoded.has_more,
                next_page=decoded.cursor,
                fetched_at=datetime.now(UTC),
                request_id=received.get("request-id"),
                records=decoded.records,
            )
            has_more, cursor = decoded.has_more, decoded.cursor
            del body, decoded  # the consumer holds the page; keep no second reference while the next one downloads
            if not has_more:
                return
            if not cursor:
                raise PaginationError(f"GET {path} page {number} says has_more but gives no {paging.cursor_field}; "
                                      "stopping rather than guessing")
            digest = hashlib.blake2b(cursor.encode(), digest_size=16).digest()  # a hostile cursor may be huge
            if digest in seen:
                raise PaginationError(f"GET {path} page {number} repeats the cursor {_shorten(repr(cursor))}; stopping rather than looping")
            seen.add(digest)

    def _get(self, path: str, query: Params, decode: Callable[[bytes | bytearray], Decoded],
             headers: Headers = ()) -> tuple[bytes | bytearray, httpx.Headers, Decoded]:
        waited = 0.0
        for attempt in range(1, self._retry.max_attempts + 1):
            retry_after: float | None = None
            self.stats.requests += 1
            try:
                with self._http.stream("GET", path, params=list(query), headers=dict(headers), timeout=self._timeout()) as response:
                    body = _read_page_body(response) if response.status_code == 200 else response.read()
            except httpx.TransportError as exc:  # timeouts, refused or dropped connections, cut bodies
                reason, problem = type(exc).__name__, f"{type(exc).__name__}: {self._key.redact(str(exc)) or 'no detail'}"
            else:
                self.stats.bytes_received += len(body)
                if response.status_code == 200:
                    try:
                        return body, response.headers, decode(body)
                    except msgspec.ValidationError as exc:
                        raise ResponseShapeError(
                            f"GET {path} returned JSON that is not a {'report' if decode is _report_page else 'documented'} page: {exc}",
                            status=200, request_id=response.headers.get("request-id"),
                        ) from None
                    except msgspec.DecodeError as exc:
                        reason, problem = "invalid_body", f"a 200 whose body is not complete JSON ({exc}; {len(body)} bytes)"
                elif response.status_code in RETRY_STATUSES:
                    reason, problem = str(response.status_code), self._describe(response)
                    retry_after = _retry_after_seconds(response.headers.get("retry-after"))
                else:
                    raise self._error(path, response)
            delay = self._delay(attempt, retry_after)
            if attempt == self._retry.max_attempts or waited + delay > self._retry.max_total:
                hint = " A 429 without retry-after can mean the organization hit a spend limit." if reason == "429" and retry_after is None else ""
                if attempt > 1:  # the retries were quiet (INFO); the one that gives up is not
                    logger.warning("GET %s: gave up after %d attempt(s) in %.1f s; last: %s", path, attempt, waited, problem)
                raise AdminApiError(f"GET {path} failed after {attempt} attempt(s) and {waited:.1f} s of retrying; last: {problem}.{hint}")
            self._check_deadline(path, f"retrying ({problem})", needs=delay)
            self.stats.retries += 1
            self.stats.retry_reasons[reason] += 1
            # a retry that works is counted (the run's closing note), not shown: INFO, seen with -v
            logger.info("GET %s: %s; retrying in %.2f s (attempt %d of %d)", path, problem, delay, attempt + 1, self._retry.max_attempts)
            self._sleep(delay)
            waited += delay
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """`retry-after` when the API gives one (plus up to 10% jitter); else full-jitter exponential backoff."""
        if retry_after is not None:
            return retry_after + self._rng.uniform(0, 0.1 * retry_after)
        ceiling = min(self._retry.max_delay, self._retry.base_delay * 2 ** (attempt - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    def _describe(self, response: httpx.Response) -> str:
        error_type, message, request_id = _error_fields(response)
        message = _shorten(self._key.redact(message or response.reason_phrase))  # redact first, then cut
        text = f"{response.status_code} {error_type or 'error'}: {message}"
        if request_id:
            text += f" (request-id {request_id})"
        return self._key.redact(text)

    def _error(self, path: str, response: httpx.Response) -> AdminApiError:
        error_type, message, request_id = _error_fields(response)
        kind = AuthenticationError if response.status_code in (401, 403) else AdminApiError
        details = {"status": response.status_code, "error_type": error_type,
                   "api_message": self._key.redact(message or ""), "request_id": request_id}
        if kind is AuthenticationError:
            refused = (f"The Admin API refused the key on GET {path} ({self._describe(response)})." if response.status_code == 401 else
                       f"The Admin API key may not read GET {path} ({self._describe(response)}); an Admin API key can also be "
                       "refused an endpoint its organization has no access to.")
            return AuthenticationError(
                f"{refused} The usage and cost reports "
                "need an Admin API key (sk-ant-admin...), created by an organization admin in Claude Console > "
                "Settings > Admin keys; standard sk-ant-api... keys and workspace-scoped keys do not work.",
                **details,  # type: ignore[arg-type]
            )
        return AdminApiError(f"GET {path} failed: {self._describe(response)}", **details)  # type: ignore[arg-type]


def page_ceiling(params: Params, paging: Paging) -> int:
    """The most pages one query may take: a report's from its window and `limit`, a list's or record report's fixed."""
    if paging is OBJECT:
        return 1
    values = dict(params)
    try:
        start, end = (datetime.fromisoformat(values[name].replace("Z", "+00:00")) for name in ("starting_at", "ending_at"))
        width, limit = _WIDTH_SECONDS[values["bucket_width"]], int(values["limit"])
    except (KeyError, ValueError):
        return RECORD_PAGE_CEILING
    buckets = max(1, -(-int((end - start).total_seconds()) // width))
    return REPORT_PAGE_HEADROOM * (-(-buckets // max(1, limit)) + 1)


def _error_fields(response: httpx.Response) -> tuple[str | None, str | None, str | None]:
    """(error.type, error.message, request id) from the documented error body, tolerating any body."""
    request_id = response.headers.get("request-id")
    try:
        body = response.json()
    except ValueError:
        return None, response.text.strip() or None, request_id
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, json.dumps(body), request_id
    message = error.get("message")
    return _text(error.get("type")), message if isinstance(message, str) or message is None else json.dumps(message), \
        _text(request_id or body.get("request_id"))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) or value is None else json.dumps(value)


def _read_page_body(response: httpx.Response) -> bytes | bytearray:
    """The body in one buffer of exactly Content-Length bytes, filled as it streams in.

    Reading a 100+ MB page the default way collects thousands of small chunks and then joins them, which
    doubles the peak and fragments the heap run after run; one pre-sized buffer avoids both.
    """
    length = response.headers.get("content-length", "")
    if not length.isdigit() or "content-encoding" in response.headers:
        return response.read()
    buffer = bytearray(int(length))
    view, filled = memoryview(buffer), 0
    for chunk in response.iter_raw():
        view[filled:filled + len(chunk)] = chunk
        filled += len(chunk)
    if filled != len(buffer):
        raise httpx.RemoteProtocolError(f"body ended after {filled} of {len(buffer)} bytes")
    return buffer


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _retry_after_seconds(value: str | None) -> float | None:
    """`retry-after` as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
