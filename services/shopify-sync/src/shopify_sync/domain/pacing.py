"""Pacing by cost: what we believe of a shop's leaky bucket, learned from its answers.

Every GraphQL answer carries ``extensions.cost.throttleStatus`` (maximumAvailable,
currentlyAvailable, restoreRate). Nothing is configured per plan: the first answer teaches
the bucket, and until then only one request is in flight. Requests in flight are reserved
at their requested cost, so several callers sharing a shop never overspend. The estimate is
conservative on purpose: the server's level is taken at the time we *receive* it (later
than Shopify measured it), it is floored, and reservations may be counted twice until their
answer comes back. Conservative means waiting a few milliseconds too long, never THROTTLED.

Shopify may cut a store's limits for a while (a smaller bucket, a slower restore rate); the
answers teach that too. A query never costs more than :meth:`CostBucket.ceiling` (1,000
points, or the bucket's size when smaller): callers size pages and batches to fit it (see
:func:`largest_fitting`), and a THROTTLED answer waits for the points it lacked
(:meth:`CostBucket.refused`), never a tight retry loop (ADR 0013).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]
EPSILON = 1e-6  # float drift of elapsed-time arithmetic
MIN_WAIT_S = 0.001
SINGLE_QUERY_MAX_COST = 1000.0  # Shopify refuses a query above this (MAX_COST_EXCEEDED)


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
    query_limit: float = SINGLE_QUERY_MAX_COST  # lower when a MAX_COST_EXCEEDED said so

    @property
    def known(self) -> bool:
        return self.maximum is not None and self.restore_rate is not None

    def ceiling(self, share: float = 1.0) -> float:
        """The most one query may cost now: 1,000 points, or the bucket's size when Shopify
        cut it below that; ``share``: the part of the bucket one query may take."""
        limit = self.query_limit
        if self.maximum is not None:
            limit = min(limit, self.maximum * share)
        return limit

    def available(self) -> float:
        if self.maximum is None or self.restore_rate is None:
            return 0.0
        refilled = self.level + (self.clock() - self.at) * self.restore_rate
        return min(self.maximum, refilled) - self.reserved

    def delay_for(self, cost: float) -> float | None:
        """Seconds to wait before ``cost`` points may be spent; None: wait for an answer.
        ``cost`` must fit the bucket (:meth:`ceiling`): a larger one is refused whenever it
        is sent, so no wait could make it go through."""
        if self.maximum is None or self.restore_rate is None:
            return 0.0 if self.in_flight == 0 else None
        need = min(cost + self.margin, self.maximum)
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
            if status.maximum != self.maximum:
                self.query_limit = SINGLE_QUERY_MAX_COST  # the limits changed: learn anew
            self.maximum = status.maximum
            self.restore_rate = status.restore_rate
            self.level = math.floor(status.available)
            self.at = self.clock()

    def refused(self, cost: float) -> None:
        """A THROTTLED answer for ``cost`` points: the bucket held less than that, whatever
        we believed, so the next try waits at least for the points it lacked."""
        now = self.clock()
        current = self.level
        if self.maximum is not None and self.restore_rate is not None:
            current = min(self.maximum, self.level + (now - self.at) * self.restore_rate)
        self.level = max(0.0, min(current, math.ceil(cost) - 1.0))
        self.at = now

    def too_costly(self, limit: float) -> None:
        """A MAX_COST_EXCEEDED answer named the most one query may cost."""
        if limit > 0:
            self.query_limit = min(SINGLE_QUERY_MAX_COST, float(limit))

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


def largest_fitting(budget: float, cost_of: Callable[[int], float], most: int) -> int:
    """The most items (1 to ``most``) one query may carry when it may cost ``budget`` and
    carrying ``n`` costs ``cost_of(n)`` (growing with ``n``); 1 when even one does not fit
    (the client then refuses it as too costly rather than sending it)."""
    low, high = 1, max(1, most)
    if cost_of(high) <= budget:
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if cost_of(middle) <= budget:
            low = middle
        else:
            high = middle - 1
    return low
