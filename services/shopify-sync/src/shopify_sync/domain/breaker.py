"""A circuit breaker per shop: closed, open, half-open.

Closed: calls go through; ``failure_threshold`` transient failures in a row open it.
Open: calls are refused at once (no request leaves) until ``retry_at``. Then half-open:
exactly one probe call goes through; success closes the circuit, failure opens it again
with a longer wait (doubling up to ``max_open_s``). Pure: the clock is injected; the
``on_change`` hook lets the adapter export metrics and log transitions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from shopify_sync.domain.pacing import Clock


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    clock: Clock
    failure_threshold: int = 5
    open_s: float = 5.0
    max_open_s: float = 60.0
    on_change: Callable[[State, State], None] | None = None
    state: State = State.CLOSED
    failures: int = 0
    retry_at: float = 0.0
    _open_for: float = field(default=0.0, repr=False)
    _probing: bool = field(default=False, repr=False)

    def _move(self, to: State) -> None:
        before, self.state = self.state, to
        if before != to and self.on_change is not None:
            self.on_change(before, to)

    def allow(self) -> bool:
        """May a call go out now? In half-open, only the one probe may."""
        if self.state == State.CLOSED:
            return True
        if self.state == State.OPEN and self.clock() >= self.retry_at:
            self._move(State.HALF_OPEN)
        if self.state == State.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def wait_s(self) -> float:
        """How long until a call may go out (0 when closed or a probe is due)."""
        if self.state == State.CLOSED:
            return 0.0
        if self.state == State.HALF_OPEN:
            return 0.0 if not self._probing else max(self.open_s / 10, 0.01)
        return max(0.0, self.retry_at - self.clock())

    def success(self) -> None:
        self.failures = 0
        self._probing = False
        self._open_for = 0.0
        self._move(State.CLOSED)

    def failure(self) -> None:
        self.failures += 1
        if self.state == State.HALF_OPEN or (
            self.state == State.CLOSED and self.failures >= self.failure_threshold
        ):
            self._open()

    def release(self) -> None:
        """A call ended without telling anything about the shop (cancelled, our own bug)."""
        self._probing = False

    def _open(self) -> None:
        self._probing = False
        self._open_for = min(self.max_open_s, self._open_for * 2 if self._open_for else self.open_s)
        self.retry_at = self.clock() + self._open_for
        self._move(State.OPEN)
