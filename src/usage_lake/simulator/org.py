"""A deterministic synthetic Anthropic organization: usage counters, billed cost, exact totals.

Everything is a pure function of the constructor parameters and the seed (splitmix64 hashing of
(seed, hour, stream); no wall clock, no ``random``, no ``hash()`` of strings), so two machines produce
byte-identical report pages and tests can assert exact equality between what the simulator serves and
what the lake ingested.

Model: a fixed list of *streams* (api key x workspace x model x service tier x context window x
inference geo). The base grain is one UTC hour: in each hour a stream is active or not (diurnal pattern
for the small org, always for the large one) and, when active, carries six counters (``USAGE_FIELDS``).
A ``1d`` bucket is the exact sum of its 24 hours; in a ``1m`` bucket each hourly row lands whole in one
minute of its hour, so totals agree across bucket widths. Billed cost is derived from the same hourly
counters with ``PriceTable.rates`` (priority tier excluded, as in the real cost report) plus a small
code-execution charge that no usage explains. ``cost_inference_geo = False`` serves a 2025-shaped cost report:
token lines leave ``inference_geo`` null and their descriptions do not name it, so a model's US and global
lines are one line (billed at their own rates, as before).

Large-org rendering speed (one fully grouped hourly day, 240,000 rows)::

    python -c "from usage_lake.simulator.org import render_speed; print(f'{render_speed():,.0f} rows/s')"
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

import msgspec

from usage_lake.money.pricing import PriceTable, TokenRates
from usage_lake.simulator.ids import _GOLDEN, _M64, _MIX1, _MIX2, _hash, _make_id, render_time, utc

if TYPE_CHECKING:
    from usage_lake.simulator.claude_code import ClaudeCodeActivity
    from usage_lake.simulator.organization import Directory

USAGE_FIELDS = (
    "uncached_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "server_tool_use.web_search_requests",
)
"""Counter names (API field paths); every counts tuple in this module is in this order."""

STREAM_DIMS = ("api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo")
USAGE_GROUP_BY = (*STREAM_DIMS, "account_id", "service_account_id")
COST_DIMS = (
    "workspace_id", "description", "cost_type", "model", "token_type",
    "service_tier", "context_window", "inference_geo",
)
TOKEN_TYPES = USAGE_FIELDS[:5]
BUCKET_SECONDS = {"1m": 60, "1h": 3600, "1d": 86400}

Counts = tuple[int, int, int, int, int, int]
Row = tuple[int, Counts]  # (stream index, counts)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Hash domain tags, so different uses of (seed, index) never share a value.
_TAG_WORKSPACE, _TAG_KEY, _TAG_HOUR, _TAG_STREAM, _TAG_PROFILE, _TAG_CHOICE, _TAG_CODE_EXEC = range(1, 8)
# Share of streams active per UTC hour of day, in 1/1024 units. 02:00-05:00 UTC is always idle, so
# every small-org day has empty buckets.
_DIURNAL = (
    160, 90, 0, 0, 0, 60, 200, 360, 560, 720, 820, 870,
    870, 820, 820, 770, 720, 610, 510, 410, 360, 300, 250, 200,
)
_TOKEN_LABELS = {
    "uncached_input_tokens": "Input Tokens",
    "output_tokens": "Output Tokens",
    "cache_read_input_tokens": "Cache Read Tokens",
    "cache_creation.ephemeral_5m_input_tokens": "5m Cache Write Tokens",
    "cache_creation.ephemeral_1h_input_tokens": "1h Cache Write Tokens",
}
_ROW_PREFIX = (
    b'{"uncached_input_tokens":%d,"cache_creation":{"ephemeral_5m_input_tokens":%d,'
    b'"ephemeral_1h_input_tokens":%d},"cache_read_input_tokens":%d,"output_tokens":%d,'
    b'"server_tool_use":{"web_search_requests":%d},'
)
_BUCKET_HEAD = '{"starting_at":"%s","ending_at":"%s","results":['
_ONE = Decimal(1)
_CENTS_PER_USD_MTOK = Decimal(10_000)  # tokens x USD/MTok x 100 cents / 1,000,000 tokens


def epoch_seconds(dt: datetime) -> int:
    """Whole seconds since the epoch, floored, without going through a float."""
    return (utc(dt) - _EPOCH) // timedelta(seconds=1)


def from_epoch(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def plain_decimal(value: Decimal) -> str:
    """A decimal string without exponent or trailing zeros: ``37.5``, ``0.000625``, ``123``."""
    return format(value.normalize(), "f") if value else "0"


@dataclass(frozen=True, slots=True)
class Stream:
    """One fixed combination of usage dimensions; the unit the generator draws counters for."""

    api_key_id: str | None
    workspace_id: str | None
    model: str
    service_tier: str
    context_window: str
    inference_geo: str

    def dim(self, name: str) -> str | None:
        return getattr(self, name)


@dataclass(frozen=True, slots=True)
class _Profile:
    """Per-stream magnitudes: an active hour draws each counter around these bases."""

    uncached: int
    cache_5m: int
    cache_1h: int
    cache_read: int
    output: int
    web_search: int


@dataclass(frozen=True)
class UsageQuery:
    """The aggregation part of a usage request (already validated by the server)."""

    bucket_width: str = "1h"
    group_by: tuple[str, ...] = ()
    filters: tuple[tuple[str, frozenset[str]], ...] = ()  # (stream dim, accepted values)


@dataclass(frozen=True, slots=True)
class CostItem:
    """One billed line: a UTC day x workspace x description."""

    day: date
    workspace_id: str | None
    description: str
    cost_type: str
    model: str | None
    token_type: str | None
    service_tier: str | None
    context_window: str | None
    inference_geo: str | None
    amount: Decimal  # cents

    def dim(self, name: str) -> str | None:
        return self.day.isoformat() if name == "day" else getattr(self, name)


@dataclass
class Rendered:
    """JSON of some report buckets (one bytes chunk each) plus what they carried (``Simulator.served``).

    Bytes rendering with ``%`` templates is ~2x faster than str; the chunks are written to the socket
    one by one, so a 100 MB page is never copied into one string.
    """

    buckets: list[bytes]
    rows: int = 0
    usage: list[int] = field(default_factory=lambda: [0] * len(USAGE_FIELDS))
    cost_cents: Decimal = Decimal(0)


@dataclass(frozen=True)
class _GroupPlan:
    """How a query maps streams to output rows: group index per stream (-1: filtered out)."""

    group_of: tuple[int, ...]
    templates: tuple[bytes, ...]  # row JSON with six %d slots, one per group
    one_row_per_stream: bool
    identity: bool  # group index == stream index (fully grouped, unfiltered: the benchmark's query)


class SimulatedOrg:
    """A synthetic organization; see the module docstring. Build it with ``small()`` or ``large()``."""

    def __init__(
        self,
        streams: Sequence[Stream],
        *,
        seed: int,
        workspace_ids: Sequence[str | None],
        api_key_ids: Sequence[str | None],
        prices: PriceTable,
        web_search_streams: Iterable[int] = (),
        always_active: bool = False,
    ) -> None:
        if len(set(streams)) != len(streams):
            raise ValueError("streams must be distinct dimension combinations")
        self.seed = seed
        self.streams = tuple(streams)
        self.workspace_ids = tuple(workspace_ids)
        self.api_key_ids = tuple(api_key_ids)
        self.models = tuple(dict.fromkeys(s.model for s in self.streams))
        self.prices = prices
        self.blank_days: set[date] = set()
        self.billing_factors: dict[str, Decimal] = {}  # switch (issue 19): model -> share of list price billed
        self.hostile_names = False  # `hostile()`: names with control characters, formulas, bidi overrides, 1M characters
        self.cost_inference_geo = True  # False: the cost report leaves inference_geo null (2025-shaped)
        self._multipliers: dict[date, int] = {}
        self._always_active = always_active
        searching = set(web_search_streams)
        self._profiles = tuple(self._profile(i, s, i in searching) for i, s in enumerate(self.streams))
        self._salts = tuple(_hash(seed, _TAG_STREAM, i) for i in range(len(self.streams)))
        self._thresholds = tuple(self._activity(i) for i in range(len(self.streams)))
        self._combos, self._combo_of = self._cost_combos()
        self._workspace_index = {w: i for i, w in enumerate(self.workspace_ids)}
        self._raw_hour = lru_cache(maxsize=4)(self._generate_hour)
        self._raw_day = lru_cache(maxsize=8)(self._generate_day)
        self._plan = lru_cache(maxsize=32)(self._make_plan)

    # -- the organization's lists and its Claude Code activity (built on first use) ---------------

    @cached_property
    def directory(self) -> Directory:
        """Workspaces, API keys (every id the usage report carries), users, invites, members: ``simulator.organization``."""
        from usage_lake.simulator.organization import Directory

        return Directory.of(self)

    @cached_property
    def claude_code(self) -> ClaudeCodeActivity:
        """The Claude Code report's records per day and their exact totals: ``simulator.claude_code``."""
        from usage_lake.simulator.claude_code import ClaudeCodeActivity

        return ClaudeCodeActivity(self, self.directory)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def small(cls, seed: int = 7, prices: PriceTable | None = None, *, rename: Mapping[str, str] | None = None) -> SimulatedOrg:
        """The demo/test org: 3 workspaces (one default), 6 keys + Console, 5 models, 28 streams.

        `rename` (switch, issue 19) reports models under other ids. A known id is billed at its own (dated) list
        prices, e.g. ``{"claude-sonnet-4-6": "claude-sonnet-5-5"}``; an id the price table does not know (a model
        missing from the price table), e.g. ``{"claude-haiku-4-5-20251001": "claude-saga-7"}``, is billed at the old
        model's list prices (the simulator's own table learns it; the lake's does not).
        """
        prices = prices or PriceTable.load_default()
        renamed = dict(rename or {})
        unknown = [{**_price_row(prices, old), "id": new, "name": new} for old, new in renamed.items() if prices.model(new) is None]
        if unknown:
            prices = prices.with_overrides({"models": unknown})
        workspaces = (None, *(_make_id("wrkspc", seed, _TAG_WORKSPACE, i) for i in (1, 2)))
        keys = tuple(_make_id("apikey", seed, _TAG_KEY, i) for i in range(len(_SMALL_KEY_WORKSPACE)))
        streams = [
            Stream(
                api_key_id=None if key is None else keys[key],
                workspace_id=workspaces[0 if key is None else _SMALL_KEY_WORKSPACE[key]],
                model=renamed.get(model, model), service_tier=tier, context_window=ctx, inference_geo=geo,
            )
            for key, model, tier, ctx, geo in _SMALL_STREAMS
        ]
        return cls(
            streams, seed=seed, workspace_ids=workspaces, api_key_ids=(*keys, None), prices=prices,
            web_search_streams=range(1, len(streams), 4),
        )

    @classmethod
    def hostile(cls, seed: int = 7, prices: PriceTable | None = None) -> SimulatedOrg:
        """The small org whose workspaces, API keys, tags and users carry hostile names: ESC sequences, OSC-8 links,
        BEL, NUL, U+FFFE, U+202E, newlines, spreadsheet formulas and a 1,000,000-character key name
        (``simulator.organization.HOSTILE_*``); usage and cost are the small org's, to the token and the cent."""
        org = cls.small(seed, prices)
        org.hostile_names = True
        return org

    @classmethod
    def large(
        cls,
        api_keys: int = 1000,
        models: int = 10,
        workspaces: int = 20,
        seed: int = 7,
        prices: PriceTable | None = None,
    ) -> SimulatedOrg:
        """Benchmark org: every key x every model is a stream, all active every hour."""
        prices = prices or PriceTable.load_default()
        if not 1 <= models <= len(prices.models) or api_keys < 1 or workspaces < 1:
            raise ValueError(f"need api_keys >= 1, workspaces >= 1, 1 <= models <= {len(prices.models)}")
        workspace_ids = (None, *(_make_id("wrkspc", seed, _TAG_WORKSPACE, i) for i in range(1, workspaces)))
        key_ids = tuple(_make_id("apikey", seed, _TAG_KEY, i) for i in range(api_keys))
        chosen = prices.models[:models]
        tiers = ("standard",) * 7 + ("batch",) * 2 + ("priority",)  # drawn with h % 10
        streams: list[Stream] = []
        web_search: list[int] = []
        for k, key_id in enumerate(key_ids):
            for m, model in enumerate(chosen):
                h = _hash(seed, _TAG_CHOICE, k, m)
                long_ctx = model.long_context is not None and (h >> 8) % 10 < 3
                geo = ("us" if (h >> 16) & 1 else "global") if model.supports_inference_geo else "not_available"
                if (h >> 24) % 4 == 0:
                    web_search.append(len(streams))
                streams.append(Stream(
                    api_key_id=key_id, workspace_id=workspace_ids[k % workspaces], model=model.id,
                    service_tier=tiers[h % 10], context_window="200k-1M" if long_ctx else "0-200k",
                    inference_geo=geo,
                ))
        return cls(
            streams, seed=seed, workspace_ids=workspace_ids, api_key_ids=key_ids, prices=prices,
            web_search_streams=web_search, always_active=True,
        )

    def _profile(self, index: int, stream: Stream, web_search: bool) -> _Profile:
        """Seeded magnitudes: tens of thousands of tokens, some counters always zero."""
        h = _hash(self.seed, _TAG_PROFILE, index)
        scale = 8 if stream.context_window == "200k-1M" else 1  # long-context requests are >200k input
        return _Profile(
            uncached=scale * (2_000 + h % 38_000),
            cache_5m=0 if (h >> 16) % 10 < 3 else 1_000 + (h >> 20) % 19_000,
            cache_1h=0 if (h >> 36) % 2 else 500 + (h >> 40) % 9_500,
            cache_read=0 if (h >> 48) % 5 == 0 else scale * (5_000 + (h >> 52) % 145_000),
            output=500 + (h >> 8) % 11_500,
            web_search=1 + (h >> 60) % 6 if web_search else 0,
        )

    def _activity(self, index: int) -> tuple[int, ...]:
        """Per hour of day, the 10-bit threshold under which the stream is active."""
        if self._always_active:
            return (1024,) * 24
        weight = 460 + _hash(self.seed, _TAG_PROFILE, index, 1) % 565  # 45%..100% of the diurnal share
        return tuple(share * weight // 1024 for share in _DIURNAL)

    def _cost_combos(self) -> tuple[tuple[tuple[str, str, str, str], ...], tuple[int, ...]]:
        """Distinct (model, tier, context, geo) billed combinations; -1 for unbilled priority streams."""
        combos: dict[tuple[str, str, str, str], int] = {}
        combo_of = []
        for s in self.streams:
            if s.service_tier == "priority":
                combo_of.append(-1)
                continue
            key = (s.model, s.service_tier, s.context_window, s.inference_geo)
            combo_of.append(combos.setdefault(key, len(combos)))
        return tuple(combos), tuple(combo_of)

    # -- revisions and gaps -------------------------------------------------------------------

    def bill_below_list(self, model: str, fraction: Decimal) -> None:
        """Switch (issue 19): bill `model`'s tokens at (1 - fraction) x list price from now on (a discount)."""
        self.billing_factors[model] = _ONE - fraction

    def adjust(self, day: date, multiplier: int) -> None:
        """Revise a day: every counter of it (and so its token cost) is multiplied; repeated calls compound."""
        if not isinstance(multiplier, int) or multiplier < 1:
            raise ValueError("multiplier must be an int >= 1 (use blank_days for a day without usage)")
        self._multipliers[day] = self._multipliers.get(day, 1) * multiplier

    def _day_modifier(self, day_index: int) -> int:
        """0 for a blank day, else the day's revision multiplier."""
        day = date(1970, 1, 1) + timedelta(days=day_index)
        return 0 if day in self.blank_days else self._multipliers.get(day, 1)

    # -- counter generation -------------------------------------------------------------------

    def _generate_hour(self, hour: int) -> tuple[tuple[int, int, Counts], ...]:
        """Raw (unrevised) rows of one hour: (stream, minute within the hour, counts).

        The hot loop of the benchmark: one inlined splitmix64 per stream, six counters cut from its bits.
        """
        hour_key = _hash(self.seed, _TAG_HOUR, hour)
        hod = hour % 24
        rows = []
        for s, (salt, p, thresholds) in enumerate(zip(self._salts, self._profiles, self._thresholds, strict=False)):
            x = hour_key ^ salt
            x = ((x ^ (x >> 30)) * _MIX1) & _M64
            x = ((x ^ (x >> 27)) * _MIX2) & _M64
            z = x ^ (x >> 31)
            if z >> 54 >= thresholds[hod]:
                continue
            rows.append((s, ((z * _GOLDEN) & _M64) * 60 >> 64, (
                1 + (p.uncached * (512 + (z & 1023)) >> 10),
                p.cache_5m * ((z >> 10) & 1023) >> 9,
                p.cache_1h * ((z >> 20) & 1023) >> 9,
                p.cache_read * ((z >> 30) & 1023) >> 9,
                1 + (p.output * (512 + ((z >> 40) & 1023)) >> 10),
                p.web_search * ((z >> 50) & 15) >> 3,
            )))
        return tuple(rows)

    def _generate_day(self, day_index: int) -> tuple[Row, ...]:
        """Raw per-stream sums of a UTC day's 24 hours, in stream order."""
        acc: dict[int, list[int]] = {}
        for hour in range(day_index * 24, day_index * 24 + 24):
            for s, _, c in self._raw_hour(hour):
                _add_counts(acc, s, c)
        return tuple((s, tuple(acc[s])) for s in sorted(acc))  # type: ignore[misc]

    def bucket_rows(self, start: int, width: str) -> list[Row]:
        """Revised per-stream rows of the bucket starting at epoch second ``start``."""
        rows: list[Row]
        if width == "1d":
            day_index = start // 86400
            rows = list(self._raw_day(day_index))
        else:
            hour = start // 3600
            day_index = hour // 24
            raw = self._raw_hour(hour)
            if width == "1m":
                minute = start % 3600 // 60
                rows = [(s, c) for s, m, c in raw if m == minute]
            else:
                rows = [(s, c) for s, _, c in raw]
        mult = self._day_modifier(day_index)
        if mult == 1:
            return rows
        if mult == 0:
            return []
        return [(s, tuple(v * mult for v in c)) for s, c in rows]  # type: ignore[misc]

    def _hours(self, start: datetime, end: datetime) -> range:
        """Hour indexes of hourly buckets with start <= bucket start and bucket end <= end."""
        first = -(-(utc(start) - _EPOCH) // timedelta(hours=1))
        return range(first, (utc(end) - _EPOCH) // timedelta(hours=1))

    # -- exact totals (independent of HTTP) ---------------------------------------------------

    def usage_totals(self, start: datetime, end: datetime) -> dict[str, int]:
        """Sum of each counter over the hourly buckets inside [start, end)."""
        return self.usage_totals_by(start, end, ()).get((), dict.fromkeys(USAGE_FIELDS, 0))

    def usage_totals_by(
        self, start: datetime, end: datetime, dims: tuple[str, ...]
    ) -> dict[tuple, dict[str, int]]:
        """Counters summed per value tuple of ``dims`` (stream dims, plus the pseudo-dim ``day``)."""
        unknown = set(dims) - {*STREAM_DIMS, "day"}
        if unknown:
            raise ValueError(f"unknown usage dims {sorted(unknown)}")
        acc: dict[tuple, list[int]] = {}
        for hour in self._hours(start, end):
            day = (date(1970, 1, 1) + timedelta(days=hour // 24)).isoformat()
            for s, c in self.bucket_rows(hour * 3600, "1h"):
                stream = self.streams[s]
                _add_counts(acc, tuple(day if d == "day" else stream.dim(d) for d in dims), c)
        return {k: dict(zip(USAGE_FIELDS, v, strict=False)) for k, v in acc.items()}

    def cost_items(self, day: date) -> list[CostItem]:
        """Billed lines of one UTC day, derived exactly from its (revised) hourly usage."""
        day_index = (day - date(1970, 1, 1)).days
        if self._day_modifier(day_index) == 0:
            return []
        by_key: dict[tuple[int, int], list[int]] = {}
        for s, c in self.bucket_rows(day_index * 86400, "1d"):
            combo = self._combo_of[s]
            if combo >= 0:
                _add_counts(by_key, (self._workspace_index[self.streams[s].workspace_id], combo), c)
        items: list[CostItem] = []
        for ws in range(len(self.workspace_ids)):
            searches = 0
            for (w, combo), counts in sorted(by_key.items()):
                if w == ws:
                    items.extend(self._token_items(day, self.workspace_ids[ws], combo, counts))
                    searches += counts[5]
            if searches:
                cents = searches * self.prices.web_search_per_request * 100
                items.append(_flat_item(day, self.workspace_ids[ws], "web_search", "Web Search Usage", cents))
        items.extend(self._code_execution(day, day_index))
        return items

    def _token_items(self, day: date, workspace_id: str | None, combo: int, counts: list[int]) -> list[CostItem]:
        model, tier, ctx, geo = self._combos[combo]
        rates = self.prices.rates(model, tier, ctx, geo, day)  # the price in force that day
        entry = self.prices.model(model, day)
        if rates is None or entry is None:
            raise ValueError(f"simulated model {model!r} is not in the price table")
        items = []
        shown_geo = geo if self.cost_inference_geo else None  # a 2025-shaped report does not split by geo
        for token_type, n, rate in zip(TOKEN_TYPES, counts, _rates_in_field_order(rates), strict=False):
            if n:
                items.append(CostItem(
                    day=day, workspace_id=workspace_id,
                    description=_description(entry.display_name, token_type, tier, ctx, shown_geo),
                    cost_type="tokens", model=model, token_type=token_type, service_tier=tier,
                    context_window=ctx, inference_geo=shown_geo,
                    amount=n * rate * self.billing_factors.get(model, _ONE) / _CENTS_PER_USD_MTOK,
                ))
        return items

    def _code_execution(self, day: date, day_index: int) -> list[CostItem]:
        """A billed line no usage explains, so billed cost never equals token math exactly."""
        h = _hash(self.seed, _TAG_CODE_EXEC, day_index)
        if h % 3 == 0:
            return []
        workspace_id = self.workspace_ids[min(1, len(self.workspace_ids) - 1)]
        cents = Decimal(1 + (h >> 8) % 20_000).scaleb(-2)
        return [_flat_item(day, workspace_id, "code_execution", "Code Execution Usage", cents)]

    def _days(self, start: datetime, end: datetime) -> list[date]:
        """UTC days whose whole bucket lies inside [start, end)."""
        first = -(-(utc(start) - _EPOCH) // timedelta(days=1))
        last = (utc(end) - _EPOCH) // timedelta(days=1)
        return [date(1970, 1, 1) + timedelta(days=d) for d in range(first, last)]

    def cost_total_cents(self, start: datetime, end: datetime) -> Decimal:
        """Billed cents over the daily buckets inside [start, end)."""
        return sum((i.amount for d in self._days(start, end) for i in self.cost_items(d)), Decimal(0))

    def cost_totals_by(self, start: datetime, end: datetime, dims: tuple[str, ...]) -> dict[tuple, Decimal]:
        """Billed cents per value tuple of ``dims`` (cost item fields, plus the pseudo-dim ``day``)."""
        unknown = set(dims) - {*COST_DIMS, "day"}
        if unknown:
            raise ValueError(f"unknown cost dims {sorted(unknown)}")
        acc: dict[tuple, Decimal] = {}
        for d in self._days(start, end):
            for item in self.cost_items(d):
                key = tuple(item.dim(name) for name in dims)
                acc[key] = acc.get(key, Decimal(0)) + item.amount
        return acc

    # -- report rendering ---------------------------------------------------------------------

    def _make_plan(self, query: UsageQuery) -> _GroupPlan:
        """Group index and row template per stream for one group_by/filter combination."""
        filters = dict(query.filters)
        groups: dict[tuple, int] = {}
        templates: list[bytes] = []
        group_of: list[int] = []
        for stream in self.streams:
            if any(stream.dim(d) not in allowed for d, allowed in filters.items()):
                group_of.append(-1)
                continue
            key = tuple(stream.dim(d) if d in query.group_by else None for d in STREAM_DIMS)
            if key not in groups:
                groups[key] = len(templates)
                dims = dict(zip(STREAM_DIMS, key, strict=False), account_id=None, service_account_id=None)
                templates.append(_ROW_PREFIX + msgspec.json.encode(dims)[1:].replace(b"%", b"%%"))
            group_of.append(groups[key])
        selected = sum(g >= 0 for g in group_of)
        return _GroupPlan(
            tuple(group_of), tuple(templates), one_row_per_stream=len(templates) == selected,
            identity=group_of == list(range(len(self.streams))),
        )

    def render_usage(self, query: UsageQuery, starts: Sequence[int]) -> Rendered:
        """JSON of usage buckets starting at the given epoch seconds (rows in first-stream order)."""
        plan = self._plan(query)
        width = BUCKET_SECONDS[query.bucket_width]
        out = Rendered(buckets=[])
        for start in starts:
            rows = self._grouped_rows(plan, self.bucket_rows(start, query.bucket_width))
            templates = plan.templates
            out.rows += len(rows)
            for i, total in enumerate(map(sum, zip(*(c for _, c in rows), strict=False))):
                out.usage[i] += total
            head = _BUCKET_HEAD % (render_time(from_epoch(start)), render_time(from_epoch(start + width)))
            out.buckets.append(b"".join((head.encode(), b",".join([templates[g] % c for g, c in rows]), b"]}")))
        return out

    @staticmethod
    def _grouped_rows(plan: _GroupPlan, rows: list[Row]) -> list[tuple[int, Counts]]:
        """(group, counts) pairs; aggregation is skipped when every stream is its own group."""
        if plan.identity:
            return rows
        group_of = plan.group_of
        if plan.one_row_per_stream:
            return [(g, c) for s, c in rows if (g := group_of[s]) >= 0]
        acc: dict[int, list[int]] = {}
        for s, c in rows:
            g = group_of[s]
            if g >= 0:
                _add_counts(acc, g, c)
        return [(g, tuple(a)) for g, a in sorted(acc.items())]  # type: ignore[misc]

    def render_cost(self, group_by: tuple[str, ...], days: Sequence[tuple[date, bool]]) -> Rendered:
        """JSON of daily cost buckets; ``(day, available)`` pairs, unavailable days render empty."""
        out = Rendered(buckets=[])
        for day, available in days:
            acc: dict[tuple, Decimal] = {}
            first: dict[tuple, CostItem] = {}
            for item in self.cost_items(day) if available else []:
                key = (
                    item.workspace_id if "workspace_id" in group_by else None,
                    item.description if "description" in group_by else None,
                )
                acc[key] = acc.get(key, Decimal(0)) + item.amount
                first.setdefault(key, item)
            results = [_cost_result(k[0], first[k], amount, "description" in group_by) for k, amount in acc.items()]
            out.rows += len(results)
            out.cost_cents += sum(acc.values(), Decimal(0))
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            out.buckets.append(msgspec.json.encode({
                "starting_at": render_time(start),
                "ending_at": render_time(start + timedelta(days=1)),
                "results": results,
            }))
        return out


def _add_counts(acc: dict, key: object, counts: Counts) -> None:
    """Sum a row's six counters into ``acc[key]``."""
    total = acc.get(key)
    if total is None:
        acc[key] = list(counts)
    else:
        for i in range(6):
            total[i] += counts[i]


def _rates_in_field_order(rates: TokenRates) -> tuple[Decimal, ...]:
    """Rates aligned with ``TOKEN_TYPES``."""
    return (rates.uncached_input, rates.cache_write_5m, rates.cache_write_1h, rates.cache_read, rates.output)


def _description(display_name: str, token_type: str, tier: str, ctx: str, geo: str | None) -> str:
    """Unique per (model, token type, tier, context, geo), e.g. ``... - Output Tokens (Batch, Long Context)``."""
    qualifiers = [tier.replace("_", " ").title()] if tier != "standard" else []
    if ctx == "200k-1M":
        qualifiers.append("Long Context")
    if geo == "us":
        qualifiers.append("US Inference")
    suffix = f" ({', '.join(qualifiers)})" if qualifiers else ""
    return f"{display_name} Usage - {_TOKEN_LABELS[token_type]}{suffix}"


def _flat_item(day: date, workspace_id: str | None, cost_type: str, description: str, cents: Decimal) -> CostItem:
    """A non-token cost line (web search, code execution): no model or token fields."""
    return CostItem(
        day=day, workspace_id=workspace_id, description=description, cost_type=cost_type, model=None,
        token_type=None, service_tier=None, context_window=None, inference_geo=None, amount=cents,
    )


def _cost_result(
    workspace_id: str | None, item: CostItem, amount: Decimal, by_description: bool
) -> dict[str, str | None]:
    """One cost report result row; description-derived fields are null unless grouped by description."""
    return {
        "currency": "USD",
        "amount": plain_decimal(amount),
        "workspace_id": workspace_id,
        "description": item.description if by_description else None,
        "cost_type": item.cost_type if by_description else None,
        "context_window": item.context_window if by_description else None,
        "model": item.model if by_description else None,
        "service_tier": item.service_tier if by_description else None,
        "token_type": item.token_type if by_description else None,
        "inference_geo": item.inference_geo if by_description else None,
    }


_SONNET_45 = "claude-sonnet-4-5-20250929"
_OPUS_46 = "claude-opus-4-6"
_HAIKU_45 = "claude-haiku-4-5-20251001"
_SONNET_46 = "claude-sonnet-4-6"
_HAIKU_3 = "claude-3-haiku-20240307"
_SMALL_KEY_WORKSPACE = (1, 1, 2, 2, 0, 0)  # key index -> workspace index (0 = default workspace)
# (key index or None for Console usage, model, service tier, context window, inference geo)
_SMALL_STREAMS: tuple[tuple[int | None, str, str, str, str], ...] = (
    (0, _SONNET_45, "standard", "0-200k", "not_available"),
    (0, _SONNET_45, "standard", "200k-1M", "not_available"),
    (0, _SONNET_45, "batch", "200k-1M", "not_available"),
    (0, _OPUS_46, "standard", "0-200k", "global"),
    (0, _HAIKU_45, "batch", "0-200k", "not_available"),
    (1, _OPUS_46, "standard", "0-200k", "us"),
    (1, _OPUS_46, "batch", "0-200k", "us"),
    (1, _OPUS_46, "priority", "0-200k", "global"),
    (1, _SONNET_46, "standard", "0-200k", "global"),
    (1, _HAIKU_3, "standard", "0-200k", "not_available"),
    (2, _SONNET_45, "standard", "0-200k", "not_available"),
    (2, _SONNET_45, "priority", "0-200k", "not_available"),
    (2, _OPUS_46, "standard", "200k-1M", "global"),
    (2, _HAIKU_45, "standard", "0-200k", "not_available"),
    (2, _HAIKU_3, "batch", "0-200k", "not_available"),
    (3, _SONNET_46, "standard", "0-200k", "us"),
    (3, _SONNET_46, "batch", "0-200k", "global"),
    (3, _HAIKU_45, "priority", "0-200k", "not_available"),
    (3, _SONNET_45, "batch", "0-200k", "not_available"),
    (4, _OPUS_46, "standard", "0-200k", "global"),
    (4, _SONNET_45, "standard", "200k-1M", "not_available"),
    (4, _HAIKU_45, "standard", "0-200k", "not_available"),
    (5, _SONNET_46, "standard", "0-200k", "global"),
    (5, _HAIKU_3, "standard", "0-200k", "not_available"),
    (5, _OPUS_46, "priority", "0-200k", "us"),
    (None, _SONNET_45, "standard", "0-200k", "not_available"),
    (None, _OPUS_46, "standard", "0-200k", "global"),
    (None, _HAIKU_45, "standard", "0-200k", "not_available"),
)


def _price_row(prices: PriceTable, model: str) -> dict[str, str]:
    """A model's newest list prices as a prices.json `models[]` row (to add the same prices under another id)."""
    entry = prices.model(model)
    if entry is None:
        raise ValueError(f"{model!r} is not in the price table")
    return {"input": str(entry.input), "cache_write_5m": str(entry.cache_write_5m), "cache_write_1h": str(entry.cache_write_1h),
            "cache_read": str(entry.cache_read), "output": str(entry.output)}


def render_speed(hours: int = 24) -> float:
    """Rows per second rendering ``hours`` fully grouped hourly buckets of ``SimulatedOrg.large()``."""
    org = SimulatedOrg.large()
    query = UsageQuery(bucket_width="1h", group_by=STREAM_DIMS)
    start = epoch_seconds(datetime(2026, 10, 1, tzinfo=UTC))
    began = time.perf_counter()
    org.render_usage(query, [start + 3600 * h for h in range(hours)])
    elapsed = time.perf_counter() - began
    return hours * len(org.streams) / elapsed
