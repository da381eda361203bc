"""Deterministic ids and hashes for the simulated organization (shared by org.py, organization.py, claude_code.py)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["_GOLDEN", "_M64", "_MIX1", "_MIX2", "_hash", "_make_id", "render_time", "utc"]

_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _mix64(x: int) -> int:
    """splitmix64 finaliser: a fast, well-spread 64-bit hash."""
    x = ((x ^ (x >> 30)) * _MIX1) & _M64
    x = ((x ^ (x >> 27)) * _MIX2) & _M64
    return x ^ (x >> 31)


def _hash(*parts: int) -> int:
    """Deterministic 64-bit hash of a few integers (never Python's salted ``hash``)."""
    h = _GOLDEN
    for part in parts:
        h = _mix64(((h ^ (part & _M64)) + _GOLDEN) & _M64)
    return h


def _make_id(prefix: str, seed: int, tag: int, index: int) -> str:
    """A realistic fixed-length id such as ``wrkspc_01`` + 22 base62 characters."""
    n = (_hash(seed, tag, index, 1) << 64) | _hash(seed, tag, index, 2)
    chars = []
    for _ in range(22):
        n, r = divmod(n, 62)
        chars.append(_BASE62[r])
    return f"{prefix}_01{''.join(chars)}"


def utc(dt: datetime) -> datetime:
    """Aware UTC datetime; naive input is taken to be UTC already."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def render_time(dt: datetime) -> str:
    """RFC 3339 as the API renders it: ``2025-08-01T00:00:00Z``."""
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")
