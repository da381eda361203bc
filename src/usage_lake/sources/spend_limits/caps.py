"""`GET /v1/organizations/spend_limits` -> `spend_limits` (one partition per UTC day of the snapshot).

A record: `{type: "spend_limit", id, amount, currency, is_enabled, period, scope: {type, workspace_id?, ...},
created_at, updated_at}`. `amount` is a string of whole cents (`"50000"` is $500) or null (no cap); it is
cast exactly, as the cost report's amounts. Pages: `{data, has_more, next_page}`, continued with `page`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
import pyarrow as pa

from usage_lake.config.settings import Settings
from usage_lake.errors import ResponseShapeError
from usage_lake.lake.schema import AMOUNT_CENTS
from usage_lake.sources.http import Paging, record_page
from usage_lake.sources.organization.lists import BASE, ListSnapshot, _stamp

__all__ = ["CAP_PAGES", "SpendLimitsSnapshot", "spend_limits"]

CAP_PAGES = Paging("page", "next_page", record_page)
_HUNDRED = Decimal(100)


class _Scope(msgspec.Struct):
    type: str | None = None
    workspace_id: str | None = None


class _SpendLimit(msgspec.Struct):
    id: str
    amount: str | None = None
    currency: str | None = None
    is_enabled: bool | None = None
    period: str | None = None
    scope: _Scope | None = None
    created_at: str | None = None
    updated_at: str | None = None


def _cents(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        cents = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"`amount` {value!r} is not a decimal string of cents") from None
    exponent = cents.as_tuple().exponent
    if not cents.is_finite() or not isinstance(exponent, int) or exponent < -AMOUNT_CENTS.scale or cents < 0:
        raise ValueError(f"`amount` {value!r} is not a non-negative number of cents")
    return cents


def _spend_limit(r: _SpendLimit) -> dict[str, Any]:
    scope = r.scope or _Scope()
    cents = _cents(r.amount)
    return {
        "id": r.id, "scope_type": scope.type, "workspace_id": scope.workspace_id, "period": r.period, "is_enabled": r.is_enabled,
        "amount_cents": cents, "amount_usd": cents / _HUNDRED if cents is not None and r.currency == "USD" else None,
        "currency": r.currency, "created_at": _stamp(r.created_at, "created_at"), "updated_at": _stamp(r.updated_at, "updated_at"),
    }


@dataclass(frozen=True)
class SpendLimitsSnapshot(ListSnapshot):
    """The caps, read whole once a UTC day."""

    def to_table(self, records: Sequence[msgspec.Raw], *, run_id: str, snapshot_at: datetime, where: str) -> pa.Table:
        try:
            return super().to_table(records, run_id=run_id, snapshot_at=snapshot_at, where=where)
        except pa.ArrowInvalid as exc:
            raise ResponseShapeError(f"{where}: {exc}") from None


def spend_limits(settings: Settings) -> SpendLimitsSnapshot:
    return SpendLimitsSnapshot("spend_limits", f"{BASE}/spend_limits", (), _SpendLimit, _spend_limit, paging=CAP_PAGES)


