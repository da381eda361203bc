"""How long a run may go on: no limit locally, the Lambda's remaining time when deployed."""

from __future__ import annotations

import math
from typing import Any, Protocol

__all__ = ["Deadline", "LambdaDeadline", "NoDeadline"]


class Deadline(Protocol):
    def remaining_seconds(self) -> float: ...


class NoDeadline:
    """Local runs have no time limit."""

    def remaining_seconds(self) -> float:
        return math.inf


class LambdaDeadline:
    """The Lambda context's remaining time."""

    def __init__(self, context: Any) -> None:
        self._context = context

    def remaining_seconds(self) -> float:
        return float(self._context.get_remaining_time_in_millis()) / 1000
