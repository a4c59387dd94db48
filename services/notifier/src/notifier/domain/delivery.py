"""Delivery policy: exponential backoff and a circuit breaker per channel (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass


def backoff_s(attempts: int, base_s: float, cap_s: float) -> float:
    """Delay before the next try after ``attempts`` failed ones: base, 2 base, 4 base ... cap."""
    exponent = min(max(attempts - 1, 0), 30)
    return float(min(cap_s, base_s * 2.0**exponent))


@dataclass
class CircuitBreaker:
    """Closed until ``threshold`` consecutive failures; then open for ``reset_s``; then one
    trial (half-open) decides: success closes it, failure opens it again."""

    threshold: int
    reset_s: float
    failures: int = 0
    opened_at: float | None = None

    def allows(self, now: float) -> bool:
        return self.opened_at is None or now - self.opened_at >= self.reset_s

    def wait_s(self, now: float) -> float:
        """How long until it lets a trial through (0 when closed)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.reset_s - (now - self.opened_at))

    @property
    def state(self) -> str:
        return "closed" if self.opened_at is None else "open"

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def failure(self, now: float) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = now
