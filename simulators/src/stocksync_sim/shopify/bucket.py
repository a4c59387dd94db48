"""Shopify's GraphQL cost bucket: a leaky bucket of query-cost points per store.

Shopify may reduce a store's limits for a while (its rate-limit documentation asks apps to
handle that gracefully): :meth:`LeakyBucket.cut` models it, :meth:`LeakyBucket.restore` ends it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
EPSILON = 1e-6  # absorbs float drift of elapsed-time arithmetic


class LeakyBucket:
    """Points drain when spent and restore continuously at ``restore_rate`` per second.

    The clock is injectable so tests can freeze time instead of sleeping.
    """

    def __init__(self, maximum: float, restore_rate: float, clock: Clock = time.monotonic):
        self.maximum = float(maximum)
        self.restore_rate = float(restore_rate)
        self.plan_limits = (self.maximum, self.restore_rate)
        self._clock = clock
        self._available = self.maximum
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._at)
        self._available = min(self.maximum, self._available + elapsed * self.restore_rate)
        self._at = now

    @property
    def available(self) -> float:
        self._refill()
        return self._available

    def try_take(self, cost: float) -> bool:
        """Spend ``cost`` points if that many are available; never goes negative."""
        self._refill()
        if cost > self._available + EPSILON:
            return False
        self._available = max(0.0, self._available - cost)
        return True

    def refund(self, points: float) -> None:
        """Give back points charged up front but not used (requested minus actual cost)."""
        if points <= 0:
            return
        self._refill()
        self._available = min(self.maximum, self._available + points)

    def set_available(self, points: float) -> None:
        """Control hook for tests: force the current level (clamped to [0, maximum])."""
        self._refill()
        self._available = min(self.maximum, max(0.0, float(points)))

    def cut(self, maximum: float, restore_rate: float) -> None:
        """Reduced limits: a smaller bucket (what it holds above the new size is gone) and
        a slower restore rate, until :meth:`restore`."""
        if maximum <= 0 or restore_rate <= 0:
            raise ValueError("a bucket needs a positive size and restore rate")
        self._refill()
        self.maximum = float(maximum)
        self.restore_rate = float(restore_rate)
        self._available = min(self._available, self.maximum)

    def restore(self) -> None:
        """The plan's limits again; the bucket refills from its level at the plan's rate."""
        self._refill()
        self.maximum, self.restore_rate = self.plan_limits

    @property
    def reduced(self) -> bool:
        return (self.maximum, self.restore_rate) != self.plan_limits

    def status(self) -> dict[str, float | int]:
        """The ``throttleStatus`` object of Shopify's ``extensions.cost``."""
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": int(self.available + EPSILON),
            "restoreRate": self.restore_rate,
        }
