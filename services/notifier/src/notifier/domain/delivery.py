"""Delivery policy: exponential backoff (no I/O). Each channel's circuit breaker is
``stocksync_common.breaker.CircuitBreaker``."""

from __future__ import annotations


def backoff_s(attempts: int, base_s: float, cap_s: float) -> float:
    """Delay before the next try after ``attempts`` failed ones: base, 2 base, 4 base ... cap."""
    exponent = min(max(attempts - 1, 0), 30)
    return float(min(cap_s, base_s * 2.0**exponent))
