"""A small circuit breaker: after ``failure_threshold`` failures in a row calls are refused
for ``open_s``; then one probe is let through (half-open), whose outcome closes or reopens it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

Clock = Callable[[], float]


class State(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass
class CircuitBreaker:
    failure_threshold: int = 5
    open_s: float = 5.0
    clock: Clock = time.monotonic
    on_change: Callable[[State], None] | None = None
    state: State = State.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    _probing: bool = field(default=False, repr=False)

    def allow(self) -> bool:
        """May a call go out now? In half-open only one probe at a time."""
        if self.state == State.OPEN:
            if self.clock() - self.opened_at < self.open_s:
                return False
            self._set(State.HALF_OPEN)
        if self.state == State.HALF_OPEN:
            if self._probing:
                return False
            self._probing = True
        return True

    def wait_s(self) -> float:
        """Seconds until the next probe may go out (0 when calls are allowed)."""
        if self.state != State.OPEN:
            return 0.0
        return max(0.0, self.open_s - (self.clock() - self.opened_at))

    def success(self) -> None:
        self.failures = 0
        self._probing = False
        self._set(State.CLOSED)

    def failure(self) -> None:
        self.failures += 1
        self._probing = False
        if self.state == State.HALF_OPEN or self.failures >= self.failure_threshold:
            self.opened_at = self.clock()
            self._set(State.OPEN)

    def _set(self, state: State) -> None:
        if state != self.state:
            self.state = state
            if self.on_change is not None:
                self.on_change(state)
