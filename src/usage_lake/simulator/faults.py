"""Fault injection for the simulator: what can go wrong between a client and the Admin API.

A ``FaultPlan`` is consulted once per request (``sim.faults``). Rules are checked in the order they
were added and the first one that fires decides the request; ``path`` narrows a rule to requests whose
path contains that substring (``"usage_report"``, ``"cost_report"``, ``"claude_code"``, ``"/api_keys"``)::

    sim.faults.add(Fault.rate_limit(retry_after="1"), times=2)      # next 2 requests: 429
    sim.faults.add(Fault.status(503), times=3, path="cost_report")   # next 3 cost requests: 503
    sim.faults.every(3, Fault.drop())                                # every 3rd request: connection dropped
    sim.faults.after(5, Fault.status(529))                           # a lasting outage after 5 requests
    sim.faults.clear()

Fault kinds: ``status`` (any HTTP error with the documented ``error.type``; 429 is ``rate_limit``),
``drop`` (connection closed, no response), ``truncate`` (200, body cut in half, Content-Length matching:
valid HTTP, invalid JSON), ``short_read`` (200 declaring the full Content-Length, half sent, then
closed), ``not_json`` (200 with an HTML page), ``slow`` (sleep, then a normal answer),
``missing_field`` (200 JSON whose result rows lack a field; a top-level object such as ``server_tool_use``
drops the whole object), ``set_field`` (the page's first result row carries another value, e.g. a negative
or absurd count), ``duplicate_row`` (the page's first result row appears twice in its bucket),
``short_page`` (only the first N buckets, with ``has_more`` false: a query that stops early) and
``endless_cursor`` (a cursor that never ends: the first page again, with ``has_more`` true and a fresh
``next_page``/``last_id`` every time; the cursor it is sent back is ignored). A never-ending cursor on one
endpoint: ``sim.faults.after(0, Fault.endless_cursor(), path="/users")``.

For the command line, ``FaultPlan.from_spec`` builds a seeded random plan from a comma-separated list
of ``KIND[=ARG][:PROBABILITY]`` items, e.g. ``"429:0.2,503:0.1,drop:0.05,truncate:0.05,slow=2:0.1"``:

* KIND is an HTTP status code or one of ``drop truncate short_read not_json slow missing_field set_field
  duplicate_row short_page endless_cursor``;
* ARG is the ``retry-after`` value for 429 (``none``: no header; default ``1``), the seconds for
  ``slow`` (default 1), the field for ``missing_field`` (default ``output_tokens``), ``FIELD=VALUE`` for
  ``set_field`` (default ``output_tokens=-5``), the buckets kept by ``short_page`` (default 12);
* PROBABILITY (default 1) is the chance per request. Items are tried in order with independent draws
  derived from (seed, request index, item index), so a plan replays identically; the first hit applies.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_MESSAGES = {
    400: "Invalid request (simulated fault)",
    401: "invalid x-api-key (simulated fault)",
    403: "Your API key does not have permission to use the specified resource. (simulated fault)",
    404: "The requested resource could not be found. (simulated fault)",
    429: "Number of requests has exceeded your rate limit (simulated fault)",
    529: "Overloaded (simulated fault)",
}
_BODY_FAULTS = ("drop", "truncate", "short_read", "not_json", "endless_cursor")


@dataclass(frozen=True)
class Fault:
    """One way to answer a request badly. Build with the class methods."""

    kind: str
    code: int = 200  # HTTP status of a ``status`` fault
    retry_after: str | None = None
    seconds: float = 0.0
    field: str | None = None
    value: int = 0  # ``set_field``: the value written
    buckets: int = 0  # ``short_page``: buckets kept

    @property
    def name(self) -> str:
        """Name recorded in ``sim.requests``: ``rate_limit``, ``status_503``, ``drop``, ``slow``, ..."""
        if self.kind != "status":
            return self.kind
        return "rate_limit" if self.code == 429 else f"status_{self.code}"

    @property
    def error_type(self) -> str:
        return ERROR_TYPES.get(self.code, "api_error" if self.code >= 500 else "invalid_request_error")

    @property
    def message(self) -> str:
        return _MESSAGES.get(self.code, f"Internal server error (simulated fault {self.code})")

    @classmethod
    def rate_limit(cls, retry_after: str | None = "1") -> Fault:
        """429 ``rate_limit_error``; ``retry_after=None`` sends no header (like a spend-cap 429)."""
        return cls("status", code=429, retry_after=retry_after)

    @classmethod
    def status(cls, code: int, retry_after: str | None = None) -> Fault:
        """An error response with the documented error type for ``code`` (500, 503, 529, 401, ...)."""
        if not 400 <= code <= 599:
            raise ValueError(f"fault status must be an HTTP error code, got {code}")
        return cls("status", code=code, retry_after=retry_after)

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")

    @classmethod
    def truncate(cls) -> Fault:
        return cls("truncate")

    @classmethod
    def short_read(cls) -> Fault:
        return cls("short_read")

    @classmethod
    def not_json(cls) -> Fault:
        return cls("not_json")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls("slow", seconds=seconds)

    @classmethod
    def missing_field(cls, field: str) -> Fault:
        """Result rows lack ``field`` (a dotted path such as ``cache_creation.ephemeral_5m_input_tokens``)."""
        return cls("missing_field", field=field)

    @classmethod
    def set_field(cls, field: str, value: int) -> Fault:
        """The first result row of the page has ``field`` (dotted path) set to ``value``."""
        return cls("set_field", field=field, value=value)

    @classmethod
    def duplicate_row(cls) -> Fault:
        """The first result row of the page is sent twice in its bucket."""
        return cls("duplicate_row")

    @classmethod
    def endless_cursor(cls) -> Fault:
        """The query's first page, every time, saying there is more under a cursor never given before."""
        return cls("endless_cursor")

    @classmethod
    def short_page(cls, buckets: int) -> Fault:
        """Only the first ``buckets`` buckets of the page, and ``has_more`` false: the query ends early."""
        if buckets < 0:
            raise ValueError("short_page keeps zero or more buckets")
        return cls("short_page", buckets=buckets)


@dataclass
class _Rule:
    """A fault and when it fires; ``seen`` counts the requests offered to it (its path matched)."""

    path: str | None
    mode: str  # "times" | "every" | "after" | "random"
    n: int
    fault: Fault | None = None
    choices: tuple[tuple[Fault, float], ...] = ()
    seed: int = 0
    seen: int = 0

    def offer(self, path: str, taken: bool) -> Fault | None:
        """Count the request; return the fault if this rule fires and no earlier rule did."""
        if self.path is not None and self.path not in path:
            return None
        self.seen += 1
        if taken:
            return None
        if self.mode == "times":
            if self.n <= 0:
                return None
            self.n -= 1
            return self.fault
        if self.mode == "every":
            return self.fault if self.seen % self.n == 0 else None
        if self.mode == "after":
            return self.fault if self.seen > self.n else None
        return self._draw()

    def _draw(self) -> Fault | None:
        for item, (fault, probability) in enumerate(self.choices):
            if _uniform(self.seed, self.seen, item) < probability:
                return fault
        return None


def _uniform(seed: int, request: int, item: int) -> float:
    """A reproducible draw in [0, 1) for (seed, request index, item index)."""
    digest = hashlib.blake2b(f"{seed}:{request}:{item}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class FaultPlan:
    """Thread-safe, ordered list of fault rules; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []

    def add(self, fault: Fault, times: int = 1, path: str | None = None) -> FaultPlan:
        """The next ``times`` matching requests get ``fault``."""
        return self._append(_Rule(path, "times", times, fault))

    def every(self, n: int, fault: Fault, path: str | None = None) -> FaultPlan:
        """Every ``n``-th matching request gets ``fault``."""
        if n < 1:
            raise ValueError("n must be >= 1")
        return self._append(_Rule(path, "every", n, fault))

    def after(self, n: int, fault: Fault, path: str | None = None) -> FaultPlan:
        """Every matching request after the first ``n`` gets ``fault`` (a persistent outage)."""
        return self._append(_Rule(path, "after", n, fault))

    def random(self, choices: Sequence[tuple[Fault, float]], seed: int = 0, path: str | None = None) -> FaultPlan:
        """Each matching request draws the listed faults in order, each with its probability."""
        for _, probability in choices:
            if not 0 <= probability <= 1:
                raise ValueError(f"probability must be within [0, 1], got {probability}")
        return self._append(_Rule(path, "random", 0, choices=tuple(choices), seed=seed))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pick(self, path: str) -> Fault | None:
        """The fault for one request to ``path`` (None: answer normally)."""
        chosen: Fault | None = None
        with self._lock:
            for rule in self._rules:
                fired = rule.offer(path, taken=chosen is not None)
                chosen = chosen or fired
        return chosen

    @classmethod
    def from_spec(cls, spec: str, seed: int = 0, path: str | None = None) -> FaultPlan:
        """A seeded random plan from ``KIND[=ARG][:PROBABILITY],...`` (grammar in the module docstring)."""
        choices = [_parse_item(item.strip()) for item in spec.split(",") if item.strip()]
        return cls().random(choices, seed=seed, path=path)

    def _append(self, rule: _Rule) -> FaultPlan:
        with self._lock:
            self._rules.append(rule)
        return self


def _parse_item(item: str) -> tuple[Fault, float]:
    """One ``KIND[=ARG][:PROBABILITY]`` item."""
    head, _, probability = item.partition(":")
    kind, has_arg, arg = head.partition("=")
    try:
        p = float(probability) if probability else 1.0
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"a probability is from 0 to 1, got {probability}")
        if kind.isdigit():
            code = int(kind)
            if code == 429:
                retry_after = (arg or "1") if arg.lower() != "none" else None
                return Fault.rate_limit(retry_after), p
            return Fault.status(code), p
        if kind == "slow":
            return Fault.slow(float(arg) if has_arg else 1.0), p
        if kind == "missing_field":
            return Fault.missing_field(arg or "output_tokens"), p
        if kind == "set_field":
            name, _, value = (arg or "output_tokens=-5").partition("=")
            return Fault.set_field(name, int(value)), p
        if kind == "duplicate_row" and not has_arg:
            return Fault.duplicate_row(), p
        if kind == "short_page":
            return Fault.short_page(int(arg) if has_arg else 12), p
        if kind in _BODY_FAULTS and not has_arg:
            return Fault(kind), p
    except ValueError as exc:
        raise ValueError(f"bad fault spec item {item!r}: {exc}") from None
    known = ", ".join(["429[=SECONDS|none]", "CODE (e.g. 503)", "slow[=SECONDS]", "missing_field[=NAME]", "set_field[=NAME=INT]",
                       "duplicate_row", "short_page[=N]", *_BODY_FAULTS])
    raise ValueError(f"bad fault spec item {item!r}: unknown kind {kind!r} (known: {known}; each may end in :PROBABILITY)")
