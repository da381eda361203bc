"""A real HTTP/1.1 fake of the Admin API: the usage, cost and Claude Code reports and the organization endpoints.

Serves a ``SimulatedOrg`` on 127.0.0.1 with the documented parameters, pagination, errors and auth
(reference sections 2 to 6), so the client under test runs its real HTTP stack (keep-alive,
retries, timeouts) against exact, known numbers. It never prints, and never stores the key a client
sent - only whether one was sent.

The organization lists (``/me``, ``/workspaces``, ``/api_keys``, ``/users``, ``/invites``,
``/workspaces/{id}/members``) page by ``after_id``/``before_id`` with ``limit`` (default 20, at most 1000) and
honour their filters (``include_archived``, ``status``, ...); the Claude Code report serves one UTC day
(``starting_at=YYYY-MM-DD``) paged by ``page``. ``page_record_cap`` serves at most that many records per page
whatever ``limit`` asks, so a test sees several pages. Fault rules apply to every path.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec

import usage_lake.simulator.analytics as analytics
import usage_lake.simulator.limits as limits_api
from usage_lake.simulator.analytics import ANALYTICS_COST_PATH, ANALYTICS_USAGE_PATH
from usage_lake.simulator.claude_code import encode
from usage_lake.simulator.faults import ERROR_TYPES, Fault, FaultPlan
from usage_lake.simulator.org import (
    BUCKET_SECONDS,
    STREAM_DIMS,
    USAGE_FIELDS,
    USAGE_GROUP_BY,
    Rendered,
    SimulatedOrg,
    UsageQuery,
    epoch_seconds,
    from_epoch,
    render_time,
    utc,
)

USAGE_PATH = "/v1/organizations/usage_report/messages"
COST_PATH = "/v1/organizations/cost_report"
CLAUDE_CODE_PATH = "/v1/organizations/usage_report/claude_code"
ORG = "/v1/organizations"
ME_PATH = f"{ORG}/me"
ANALYTICS_PATHS = (ANALYTICS_USAGE_PATH, ANALYTICS_COST_PATH)
_MEMBERS_PATH = re.compile(r"^/v1/organizations/workspaces/([A-Za-z0-9_-]+)/members$")
_LIST_PARAMS = {"limit", "after_id", "before_id"}
_LISTS = {  # path -> (directory attribute, extra query parameters)
    f"{ORG}/workspaces": ("workspaces", {"include_archived"}),
    f"{ORG}/api_keys": ("api_keys", {"status", "workspace_id", "created_by_user_id"}),
    f"{ORG}/users": ("users", {"email"}),
    f"{ORG}/invites": ("invites", set()),
}
_KEY_STATUSES = {"active", "archived", "expired", "inactive"}
DEFAULT_ADMIN_KEY = "sk-ant-admin01-simulator-0000"

_LIMITS = {"1d": (7, 31), "1h": (24, 168), "1m": (60, 1440)}  # bucket_width -> (default, max)
_USAGE_FILTERS = {  # query parameter -> (stream dim, accepted values or None for any)
    "api_key_ids[]": ("api_key_id", None),
    "workspace_ids[]": ("workspace_id", None),
    "models[]": ("model", None),
    "service_tiers[]": (
        "service_tier",
        {"batch", "flex", "flex_discount", "priority", "priority_on_demand", "standard"},
    ),
    "context_window[]": ("context_window", {"0-200k", "200k-1M"}),
    "inference_geos[]": ("inference_geo", {"global", "us", "not_available"}),
}
_COMMON_PARAMS = {"starting_at", "ending_at", "bucket_width", "limit", "page", "group_by[]"}
_USAGE_PARAMS = _COMMON_PARAMS | set(_USAGE_FILTERS)
_COST_GROUP_BY = ("workspace_id", "description")
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)
_HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
TOO_RECENT = "Invalid date range: ending date must be after starting date"


class ApiError(Exception):
    """An error answer in the documented body shape."""

    def __init__(self, status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = tuple(headers)

    @property
    def error_type(self) -> str:
        return ERROR_TYPES.get(self.status, "api_error")


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator saw it (never the key itself)."""

    request_id: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    status: int | None  # None: the connection was dropped without a response
    fault: str | None
    anthropic_version: str | None
    user_agent: str | None
    api_key_sent: bool


class ServedTotals:
    """What complete 200 responses carried, so tests can compare the lake with the wire.

    Responses mangled by a fault (truncate, short_read, missing_field, ...) are not counted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.usage: dict[str, int] = dict.fromkeys(USAGE_FIELDS, 0)
            self.usage_rows = 0
            self.usage_pages = 0
            self.cost_cents = Decimal(0)
            self.cost_rows = 0
            self.cost_pages = 0

    def add(self, path: str, rendered: Rendered) -> None:
        with self._lock:
            if path == USAGE_PATH:
                for name, value in zip(USAGE_FIELDS, rendered.usage, strict=False):
                    self.usage[name] += value
                self.usage_rows += rendered.rows
                self.usage_pages += 1
            else:
                self.cost_cents += rendered.cost_cents
                self.cost_rows += rendered.rows
                self.cost_pages += 1


@dataclass
class _Response:
    status: int
    chunks: list[bytes]
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"
    rendered: Rendered | None = None  # set on complete report pages only (counted in ``served``)
    declared_length: int | None = None  # Content-Length when it deliberately differs from the body
    close: bool = False  # close the connection after sending


class _Params:
    """Query parameters of one report request, validated against the endpoint's known names."""

    def __init__(self, pairs: Sequence[tuple[str, str]], allowed: set[str]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            if name not in allowed:
                hint = f" (array parameters take a [] suffix: {name}[])" if f"{name}[]" in allowed else ""
                raise _bad(f"{name}: unknown query parameter{hint}")
            self._values.setdefault(name, []).append(value)
        for name, values in self._values.items():
            if not name.endswith("[]") and len(values) > 1:
                raise _bad(f"{name}: given more than once")

    def one(self, name: str) -> str | None:
        values = self._values.get(name)
        return values[0] if values else None

    def many(self, name: str, accepted: Sequence[str] | set[str] | None = None) -> tuple[str, ...]:
        values = tuple(dict.fromkeys(self._values.get(name, ())))
        if accepted is not None:
            for value in values:
                if value not in accepted:
                    raise _bad(f"{name}: invalid value {value!r}; expected one of {', '.join(sorted(accepted))}")
        return values

    def count(self, name: str, default: int, maximum: int) -> int:
        value = self.one(name)
        if value is None:
            return default
        if not re.fullmatch(r"[0-9]{1,6}", value) or not 1 <= int(value) <= maximum:
            raise _bad(f"{name}: must be an integer between 1 and {maximum}, got {value!r}")
        return int(value)

    def time(self, name: str) -> datetime | None:
        value = self.one(name)
        return None if value is None else _parse_rfc3339(name, value)

    def limit(self, width: str) -> int:
        default, maximum = _LIMITS[width]
        value = self.one("limit")
        if value is None:
            return default
        if not re.fullmatch(r"[0-9]{1,6}", value) or not 1 <= int(value) <= maximum:
            raise _bad(f"limit: must be an integer between 1 and {maximum} for bucket_width {width}, got {value!r}")
        return int(value)


def _parse_rfc3339(name: str, value: str) -> datetime:
    """Strict RFC 3339 (a zone is required); 400 naming the parameter otherwise."""
    match = _RFC3339.match(value)
    if match is None:
        raise _bad(f"{name}: invalid RFC 3339 timestamp {value!r} (expected e.g. 2025-08-01T00:00:00Z)")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone in ("Z", "z"):
        tz = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second),
            int((fraction or "0")[:6].ljust(6, "0")), tzinfo=tz,
        )
    except ValueError as exc:
        raise _bad(f"{name}: invalid RFC 3339 timestamp {value!r}: {exc}") from exc
    return parsed.astimezone(UTC)


def _fingerprint(path: str, pairs: Sequence[tuple[str, str]]) -> str:
    """Short digest of a query without its page token: a token only continues the query it came from."""
    canonical = repr((path, sorted(p for p in pairs if p[0] != "page")))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _encode_page(start: int, fingerprint: str) -> str:
    raw = f"{render_time(from_epoch(start))}|{fingerprint}".encode()
    return "page_" + base64.urlsafe_b64encode(raw).decode()


def _decode_page(token: str, fingerprint: str, first: int, step: int) -> int:
    """Bucket start (epoch seconds) a page token points at; 400 if it does not belong to this query."""
    invalid = _bad("Invalid page token")
    if not token.startswith("page_"):
        raise invalid
    try:
        payload = token[5:]
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        when, _, fp = raw.partition("|")
        start = epoch_seconds(_parse_rfc3339("page", when))
    except (ApiError, binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    if fp != fingerprint or start < first or (start - first) % step:
        raise invalid
    return start


def _encode_offset(offset: int, fingerprint: str) -> str:
    return "page_" + base64.urlsafe_b64encode(f"{offset}|{fingerprint}".encode()).decode()


def _decode_offset(token: str, fingerprint: str, size: int) -> int:
    """Record offset a Claude Code page token points at; 400 if it does not belong to this query."""
    invalid = _bad("Invalid page token")
    try:
        payload = token.removeprefix("page_")
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        offset, _, fp = raw.partition("|")
        value = int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    if not token.startswith("page_") or fp != fingerprint or not 0 < value < size:
        raise invalid
    return value


def _page_bounds(first: int, stop: int, step: int, limit: int, page_start: int) -> tuple[list[int], int | None]:
    """Bucket starts of this page (buckets end by ``stop``) and the next page's start, if any."""
    end = first + max(0, (stop - first) // step) * step  # exclusive end of the last whole bucket
    page_end = min(page_start + limit * step, end)
    starts = list(range(page_start, page_end, step))
    return starts, (page_end if page_end < end else None)


def _report_body(buckets: list[bytes], next_page: str | None) -> list[bytes]:
    """``{"data": [...], "has_more": ..., "next_page": ...}`` as chunks (no copy of the buckets)."""
    chunks = [b'{"data":[']
    for i, bucket in enumerate(buckets):
        if i:
            chunks.append(b",")
        chunks.append(bucket)
    tail = {"has_more": next_page is not None, "next_page": next_page}
    chunks.append(b"]," + msgspec.json.encode(tail)[1:])
    return chunks


def _drop_field(body: bytes, dotted: str) -> bytes:
    """The same page with ``dotted`` removed from every result row (reports) or record (lists, Claude Code)."""
    doc = msgspec.json.decode(body)
    *parents, leaf = dotted.split(".")
    items = doc.get("data", []) if isinstance(doc.get("data"), list) else [doc]
    for item in items:
        for row in item["results"] if "results" in item else [item]:
            for part in parents:
                row = row.get(part) or {}
            row.pop(leaf, None)
    return encode(doc)


def _first_row(doc: dict) -> tuple[list, dict] | None:
    """(its bucket's results, the row) of the page's first result row, if any."""
    for bucket in doc.get("data", []):
        if bucket.get("results"):
            return bucket["results"], bucket["results"][0]
    return None


def _edit(body: bytes, fault: Fault) -> bytes:
    """The report with one thing wrong that a careful client must refuse or survive (see faults.py)."""
    doc = msgspec.json.decode(body)
    if fault.kind == "short_page":
        doc["data"], doc["has_more"], doc["next_page"] = doc.get("data", [])[:fault.buckets], False, None
        return msgspec.json.encode(doc)
    first = _first_row(doc)
    if first is not None:
        results, row = first
        if fault.kind == "duplicate_row":
            results.insert(1, dict(row))
        else:  # set_field
            *parents, leaf = (fault.field or "output_tokens").split(".")
            for part in parents:
                row = row.setdefault(part, {})
            row[leaf] = fault.value
    return msgspec.json.encode(doc)


def _endless(response: _Response, request_id: str) -> _Response:
    """The page with `has_more` true and a cursor never handed out before (reports: `next_page`; lists: `last_id`)."""
    doc = msgspec.json.decode(b"".join(response.chunks))
    if isinstance(doc, dict) and "has_more" in doc:
        doc["has_more"] = True
        doc["last_id" if "last_id" in doc else "next_page"] = f"endless_{request_id}"
    return _Response(200, [msgspec.json.encode(doc)])


def _mangle(response: _Response, fault: Fault) -> _Response:
    """The body faults: a field removed or changed, a row repeated, buckets cut off, the body cut in half (valid
    HTTP), or a short read (then close)."""
    body = b"".join(response.chunks)
    if fault.kind == "missing_field":
        return _Response(200, [_drop_field(body, fault.field or "")])
    if fault.kind in ("set_field", "duplicate_row", "short_page"):
        return _Response(200, [_edit(body, fault)])
    half = [body[: len(body) // 2]]
    if fault.kind == "truncate":
        return _Response(200, half)
    return _Response(200, half, declared_length=len(body), close=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End idle keep-alive connections, so a stopped simulator really stops answering."""
        with self._open_lock:
            open_sockets = list(self._open)
        for sock in open_sockets:
            with contextlib.suppress(OSError):  # already closed by the client
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-response are normal here (fault tests); never print a traceback."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every response carries Content-Length
    disable_nagle_algorithm = True  # headers and body go out in separate writes; avoid 40 ms stalls
    timeout = 60  # idle keep-alive connections are closed eventually
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's per-request stderr logging."""

    def do_GET(self) -> None:
        self.server.simulator._handle(self)

    def do_POST(self) -> None:  # answered with 405 by the router, not the stdlib's HTML 501
        self.server.simulator._handle(self)


class Simulator:
    """The fake Admin API in a background thread; use as a context manager or ``start()``/``stop()``."""

    def __init__(
        self,
        org: SimulatedOrg | None = None,
        *,
        now: datetime | Callable[[], datetime] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_key: str | None = None,
        cost_lag_hours: int = 0,
        faults: FaultPlan | None = None,
        page_bucket_cap: int | None = None,
        page_record_cap: int | None = None,
    ) -> None:
        self.org = org or SimulatedOrg.small()
        self.now = now  # the setter also accepts a clock (callable) or None for real time
        self.admin_key = admin_key or DEFAULT_ADMIN_KEY
        self.cost_lag_hours = cost_lag_hours
        # Serve at most this many buckets per page whatever `limit` asks, like an API that pages by size:
        # clients must then assemble a day from several pages.
        self.page_bucket_cap = page_bucket_cap
        self.page_record_cap = page_record_cap  # the same for records per page (lists, Claude Code)
        self.faults = faults or FaultPlan()
        # path parts answered 403 "not available for this organization" (an org without Claude Code, the
        # Analytics API, Spend Limits or Rate Limits): {"claude_code", "analytics", "spend_limits", "rate_limits"}
        self.unavailable: set[str] = set()
        self.analytics_drift: dict[date, Decimal] = {}  # cents added to a day of /analytics/cost only (`simulator.analytics`)
        self.caps: list[dict[str, Any]] = limits_api.default_caps(self.org)  # the Spend Limits API's caps (`simulator.limits`)
        self.rate_limits: list[dict[str, Any]] = limits_api.default_rate_limits(self.org)
        self.served = ServedTotals()
        self._log: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._count = 0
        self._server = _Server((host, port), self)
        self._thread: threading.Thread | None = None
        self._serving = False

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def now(self) -> datetime:
        """The simulator's clock (UTC): a pinned datetime, a callable, or the real time."""
        clock = self._clock
        value = clock() if callable(clock) else clock
        return datetime.now(UTC) if value is None else utc(value)

    @now.setter
    def now(self, value: datetime | Callable[[], datetime] | None) -> None:
        self._clock = value

    def start(self) -> Simulator:
        """Serve in a daemon thread (returns at once)."""
        if self._thread is None:
            self._serving = True
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                name="usage-lake-simulator", daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Block until ``stop()`` (from another thread) or KeyboardInterrupt; for a CLI.

        Serves in the calling thread, or, if ``start()`` already did, just waits for that thread.
        """
        if self._thread is not None:
            self._thread.join()
            return
        self._serving = True
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._serving = False
            self._close()

    def stop(self) -> None:
        """Stop serving (idempotent): the listening socket and open connections are closed."""
        if self._serving:
            self._serving = False
            self._server.shutdown()  # returns once the serving loop, in whichever thread, has exited
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._close()

    def _close(self) -> None:
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request log --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def _next_request_id(self) -> str:
        with self._lock:
            self._count += 1
            return f"req_sim{self._count:017d}"

    # -- request handling ---------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        """Decide the answer, log it, then send it: a client never sees a response before its record."""
        request_id = self._next_request_id()
        url = urlsplit(handler.path)
        pairs = tuple(parse_qsl(url.query, keep_blank_values=True))
        fault = self.faults.pick(url.path)
        try:
            response = self._respond(handler, request_id, url.path, pairs, fault)
        except Exception as exc:  # a simulator bug must surface as a 500, not as a silent drop
            response = self._error(ApiError(500, f"simulator error: {type(exc).__name__}: {exc}"), request_id)
        record = RequestRecord(
            request_id=request_id, method=handler.command, path=url.path, query=pairs,
            status=None if response is None else response.status, fault=fault.name if fault else None,
            anthropic_version=handler.headers.get("anthropic-version"),
            user_agent=handler.headers.get("user-agent"),
            api_key_sent=handler.headers.get("x-api-key") is not None,
        )
        with self._lock:
            self._log.append(record)
        if response is None:
            handler.close_connection = True
            return
        if response.rendered is not None:
            self.served.add(url.path, response.rendered)
        self._send(handler, request_id, response)

    def _respond(
        self, handler: _Handler, request_id: str, path: str, pairs: tuple[tuple[str, str], ...], fault: Fault | None
    ) -> _Response | None:
        """The (possibly faulted) answer; None means drop the connection without one."""
        kind = fault.kind if fault else None
        if fault is None or kind == "slow":
            if fault is not None:
                time.sleep(fault.seconds)
            return self._normal(handler, request_id, path, pairs)
        if kind == "drop":
            return None
        if kind == "status":
            headers = (("retry-after", fault.retry_after),) if fault.retry_after is not None else ()
            return self._error(ApiError(fault.code, fault.message, headers), request_id)
        if kind == "not_json":
            return _Response(200, [_HTML], content_type="text/html")
        if kind == "endless_cursor":
            response = self._normal(handler, request_id, path, tuple(p for p in pairs if p[0] not in ("page", "after_id")))
            return _endless(response, request_id) if response.status == 200 else response
        response = self._normal(handler, request_id, path, pairs)
        return _mangle(response, fault) if response.status == 200 else response

    def _normal(
        self, handler: _Handler, request_id: str, path: str, pairs: tuple[tuple[str, str], ...]
    ) -> _Response:
        try:
            return self._route(handler.command, path, pairs, handler.headers)
        except ApiError as exc:
            return self._error(exc, request_id)

    @staticmethod
    def _send(handler: _Handler, request_id: str, response: _Response) -> None:
        handler.send_response(response.status)
        handler.send_header("content-type", response.content_type)
        handler.send_header("request-id", request_id)
        for name, value in response.headers:
            handler.send_header(name, value)
        length = response.declared_length
        handler.send_header("content-length", str(sum(map(len, response.chunks)) if length is None else length))
        handler.end_headers()
        try:
            for chunk in response.chunks:
                handler.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        if response.close:
            handler.close_connection = True

    @staticmethod
    def _error(exc: ApiError, request_id: str) -> _Response:
        body = {"type": "error", "error": {"type": exc.error_type, "message": exc.message}, "request_id": request_id}
        return _Response(exc.status, [msgspec.json.encode(body)], headers=exc.headers)

    def _route(self, method: str, path: str, pairs: Sequence[tuple[str, str]], headers: Any) -> _Response:
        members = _MEMBERS_PATH.match(path)
        limits = limits_api.match(path)
        if path not in (USAGE_PATH, COST_PATH, CLAUDE_CODE_PATH, ME_PATH, *ANALYTICS_PATHS) and path not in _LISTS and not members \
                and not limits:
            raise ApiError(404, f"Not found: {path}")
        if method != "GET":
            raise ApiError(405, f"Method {method} not allowed; use GET")
        self._authenticate(headers.get("x-api-key"))
        if not headers.get("anthropic-version"):
            raise _bad("anthropic-version: header is required")
        if any(part in path for part in self.unavailable):
            raise ApiError(403, "This endpoint is not available for this organization or API key")
        if path in ANALYTICS_PATHS:
            try:
                body = analytics.serve(path, pairs, headers.get("anthropic-beta"), self.org, self.now, self.analytics_drift)
            except analytics.Refused as exc:
                raise ApiError(exc.status, exc.message) from None
            return _Response(200, [encode(body)])
        if limits:
            try:
                return _Response(200, [encode(limits_api.serve(path, pairs, self.org, self.caps, self.rate_limits))])
            except limits_api.Refused as exc:
                raise ApiError(exc.status, exc.message) from None
        fingerprint = _fingerprint(path, pairs)
        if path == USAGE_PATH:
            return self._usage(_Params(pairs, _USAGE_PARAMS), fingerprint)
        if path == COST_PATH:
            return self._cost(_Params(pairs, _COMMON_PARAMS), fingerprint)
        if path == CLAUDE_CODE_PATH:
            return self._claude_code(_Params(pairs, {"starting_at", "limit", "page"}), fingerprint)
        if path == ME_PATH:
            _Params(pairs, set())
            return _Response(200, [encode(self.org.directory.organization)])
        if members:
            return self._members(members.group(1), _Params(pairs, _LIST_PARAMS))
        attribute, extra = _LISTS[path]
        return self._list(attribute, _Params(pairs, _LIST_PARAMS | extra))

    def _authenticate(self, key: str | None) -> None:
        """401s that never echo the key back."""
        if key is None:
            raise ApiError(401, "x-api-key header is required")
        if key == self.admin_key:
            return
        if key.startswith("sk-ant-api"):
            raise ApiError(401, "This endpoint requires an Admin API key (sk-ant-admin...); "
                                "standard API keys cannot use the Admin API")
        raise ApiError(401, "invalid x-api-key")

    @staticmethod
    def _range(params: _Params) -> tuple[datetime, datetime | None]:
        start = params.time("starting_at")
        if start is None:
            raise _bad("starting_at: parameter is required")
        end = params.time("ending_at")
        if end is not None and end <= start:
            raise _bad("ending_at: must be after starting_at")
        return start, end

    def _usage(self, params: _Params, fingerprint: str) -> _Response:
        width = params.one("bucket_width") or "1d"
        if width not in _LIMITS:
            raise _bad(f"bucket_width: must be one of 1d, 1h, 1m, got {width!r}")
        start, end = self._range(params)
        limit = self._capped(params.limit(width))
        group_by = params.many("group_by[]", USAGE_GROUP_BY)
        filters = tuple(
            (dim, frozenset(values))
            for name, (dim, accepted) in _USAGE_FILTERS.items()
            if (values := params.many(name, accepted))
        )
        step = BUCKET_SECONDS[width]
        now = self.now
        first = epoch_seconds(start) // step * step
        stop = epoch_seconds(min(end, now) if end is not None else now)
        page = params.one("page")
        page_start = first if page is None else _decode_page(page, fingerprint, first, step)
        starts, next_start = _page_bounds(first, stop, step, limit, page_start)
        query = UsageQuery(width, tuple(d for d in STREAM_DIMS if d in group_by), filters)
        rendered = self.org.render_usage(query, starts)
        next_page = None if next_start is None else _encode_page(next_start, fingerprint)
        return _Response(200, _report_body(rendered.buckets, next_page), rendered=rendered)

    # -- the organization lists and the Claude Code report ---------------------------------------

    def _list(self, attribute: str, params: _Params) -> _Response:
        items: list[dict[str, Any]] = getattr(self.org.directory, attribute)
        if attribute == "workspaces":
            archived = params.one("include_archived") or "false"
            if archived not in ("true", "false"):
                raise _bad(f"include_archived: must be true or false, got {archived!r}")
            items = [w for w in items if archived == "true" or not w["archived_at"]]
        elif attribute == "api_keys":
            status = params.one("status")
            if status is not None and status not in _KEY_STATUSES:
                raise _bad(f"status: invalid value {status!r}; expected one of {', '.join(sorted(_KEY_STATUSES))}")
            for name, pick in (("status", lambda k: k["status"]), ("workspace_id", lambda k: k["workspace_id"]),
                               ("created_by_user_id", lambda k: (k["created_by"] or {}).get("id"))):
                wanted = params.one(name)
                items = [k for k in items if wanted is None or pick(k) == wanted]
        elif attribute == "users" and params.one("email") is not None:
            items = [u for u in items if u["email"] == params.one("email")]
        return self._page_of(items, "id", params)

    def _members(self, workspace_id: str, params: _Params) -> _Response:
        members = self.org.directory.members.get(workspace_id)
        if members is None:
            raise ApiError(404, f"Workspace {workspace_id} not found")
        return self._page_of(members, "user_id", params)

    def _page_of(self, items: list[dict[str, Any]], id_field: str, params: _Params) -> _Response:
        """One page of a list, in ``after_id``/``before_id`` paging (``{data, first_id, last_id, has_more}``)."""
        limit = self._record_cap(params.count("limit", 20, 1000))
        after, before = params.one("after_id"), params.one("before_id")
        if after is not None and before is not None:
            raise _bad("after_id and before_id cannot be given together")
        ids = [item[id_field] for item in items]
        for name, value in (("after_id", after), ("before_id", before)):
            if value is not None and value not in ids:
                raise _bad(f"{name}: {value!r} is not in this list")
        if before is not None:
            end = ids.index(before)
            page, has_more = items[max(0, end - limit):end], end - limit > 0
        else:
            start = ids.index(after) + 1 if after is not None else 0
            page, has_more = items[start:start + limit], start + limit < len(items)
        body = {"data": page, "first_id": page[0][id_field] if page else None, "last_id": page[-1][id_field] if page else None,
                "has_more": has_more}
        return _Response(200, [encode(body)])

    def _claude_code(self, params: _Params, fingerprint: str) -> _Response:
        value = params.one("starting_at")
        if value is None:
            raise _bad("starting_at: parameter is required (a UTC date, YYYY-MM-DD)")
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError
            day = date.fromisoformat(value)
        except ValueError:
            raise _bad(f"starting_at: must be a UTC date in YYYY-MM-DD format, got {value!r}") from None
        limit = self._record_cap(params.count("limit", 20, 1000))
        records = self.org.claude_code.records(day) if day <= self.now.date() else []
        token = params.one("page")
        offset = 0 if token is None else _decode_offset(token, fingerprint, len(records))
        page = records[offset:offset + limit]
        following = offset + limit if offset + limit < len(records) else None
        next_page = None if following is None else _encode_offset(following, fingerprint)
        return _Response(200, [encode({"data": page, "has_more": next_page is not None, "next_page": next_page})])

    def _record_cap(self, limit: int) -> int:
        return min(limit, self.page_record_cap) if self.page_record_cap else limit

    def _capped(self, limit: int) -> int:
        return min(limit, self.page_bucket_cap) if self.page_bucket_cap else limit

    def _cost(self, params: _Params, fingerprint: str) -> _Response:
        width = params.one("bucket_width") or "1d"
        if width != "1d":
            raise _bad(f"bucket_width: the cost report only supports 1d, got {width!r}")
        start, end = self._range(params)
        limit = self._capped(params.limit(width))
        group_by = params.many("group_by[]", _COST_GROUP_BY)
        now = self.now
        # the last billed day ends at today 00:00, or earlier while billing lags
        billed_until = now - timedelta(hours=self.cost_lag_hours)
        today = datetime(billed_until.year, billed_until.month, billed_until.day, tzinfo=UTC)
        effective_end = min(end, today) if end is not None else today
        first = epoch_seconds(start) // 86400 * 86400
        if first >= epoch_seconds(effective_end):
            raise _bad(TOO_RECENT)
        page = params.one("page")
        page_start = first if page is None else _decode_page(page, fingerprint, first, 86400)
        starts, next_start = _page_bounds(first, epoch_seconds(effective_end), 86400, limit, page_start)
        ready = epoch_seconds(now) - 86400 - self.cost_lag_hours * 3600  # day D is billed once now >= D+1 + lag
        days = [(date(1970, 1, 1) + timedelta(days=s // 86400), s <= ready) for s in starts]
        rendered = self.org.render_cost(tuple(g for g in _COST_GROUP_BY if g in group_by), days)
        next_page = None if next_start is None else _encode_page(next_start, fingerprint)
        return _Response(200, _report_body(rendered.buckets, next_page), rendered=rendered)
