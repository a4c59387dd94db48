"""Pacing by cost: what we believe of a shop's leaky bucket, learned from its answers.

Every GraphQL answer carries ``extensions.cost.throttleStatus`` (maximumAvailable,
currentlyAvailable, restoreRate). Nothing is configured per plan: the first answer teaches
the bucket, and until then only one request is in flight. Requests in flight are reserved
at their requested cost, so several callers sharing a shop never overspend. The estimate is
conservative on purpose: the server's level is taken at the time we *receive* it (later
than Shopify measured it), it is floored, and reservations may be counted twice until their
answer comes back. Conservative means waiting a few milliseconds too long, never THROTTLED.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]
EPSILON = 1e-6  # float drift of elapsed-time arithmetic
MIN_WAIT_S = 0.001


@dataclass(frozen=True)
class ThrottleStatus:
    maximum: float
    available: float
    restore_rate: float

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> ThrottleStatus | None:
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        try:
            maximum = float(status["maximumAvailable"])
            available = float(status["currentlyAvailable"])
            rate = float(status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return None
        if maximum <= 0 or rate <= 0:
            return None
        return cls(maximum, max(0.0, available), rate)


def requested_cost(body: Mapping[str, Any]) -> float | None:
    cost = (body.get("extensions") or {}).get("cost") or {}
    value = cost.get("requestedQueryCost")
    return float(value) if isinstance(value, int | float) else None


def actual_cost(body: Mapping[str, Any]) -> float:
    cost = (body.get("extensions") or {}).get("cost") or {}
    value = cost.get("actualQueryCost")
    return float(value) if isinstance(value, int | float) else 0.0


@dataclass
class CostBucket:
    """Our estimate of one shop's bucket. Pure: the clock is injected."""

    clock: Clock
    maximum: float | None = None
    restore_rate: float | None = None
    level: float = 0.0
    at: float = 0.0
    reserved: float = 0.0
    in_flight: int = 0
    margin: float = 1.0  # points kept back for rounding between our clock and Shopify's

    @property
    def known(self) -> bool:
        return self.maximum is not None and self.restore_rate is not None

    def available(self) -> float:
        if self.maximum is None or self.restore_rate is None:
            return 0.0
        refilled = self.level + (self.clock() - self.at) * self.restore_rate
        return min(self.maximum, refilled) - self.reserved

    def delay_for(self, cost: float) -> float | None:
        """Seconds to wait before ``cost`` points may be spent; None: wait for an answer."""
        if self.maximum is None or self.restore_rate is None:
            return 0.0 if self.in_flight == 0 else None
        need = min(cost, self.maximum - self.margin) + self.margin
        short = need - self.available()
        if short <= EPSILON:
            return 0.0
        if self.reserved > 0 and short > self.maximum - self.reserved:
            return None  # only answers in flight can free enough
        return max(short / self.restore_rate, MIN_WAIT_S)

    def reserve(self, cost: float) -> None:
        self.reserved += cost
        self.in_flight += 1

    def settle(self, cost: float, status: ThrottleStatus | None) -> None:
        """An answer came back (or the call failed): release the reservation, learn."""
        self.reserved = max(0.0, self.reserved - cost)
        self.in_flight = max(0, self.in_flight - 1)
        if status is not None:
            self.maximum = status.maximum
            self.restore_rate = status.restore_rate
            self.level = math.floor(status.available)
            self.at = self.clock()

    def drained(self) -> None:
        """A 429 without a cost body: assume the bucket is empty now."""
        self.level = 0.0
        self.at = self.clock()

    def snapshot(self) -> dict[str, float | None]:
        return {
            "maximum": self.maximum,
            "restore_rate": self.restore_rate,
            "available": self.available() if self.known else None,
        }
