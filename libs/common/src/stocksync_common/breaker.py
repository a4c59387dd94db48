"""The circuit breaker every outbound path uses: closed, open, half-open.

Closed: calls go through; ``failure_threshold`` transient failures in a row open it.
Open: calls are refused at once (nothing leaves) until ``retry_at``. Then half-open: exactly
one probe goes through; its success closes the circuit, its failure opens it again. Each
reopening may wait longer: the wait doubles from ``open_s`` up to ``max_open_s`` (None keeps
it at ``open_s``). A caller that was let through must end with ``success``, ``failure`` or,
when the call told nothing about the other side (cancelled, our own bug, no work after all),
``release``; else a half-open circuit would wait for its probe forever.

Pure: the clock is injected (``time.monotonic`` by default); ``on_change(before, after)``
lets the adapter export metrics and log transitions. shopify-sync keeps one per shop,
wms-connector one for the WMS, notifier one per alert channel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

Clock = Callable[[], float]


class State(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"

    @property
    def level(self) -> int:
        """For a gauge: 0 closed, 1 half-open, 2 open."""
        return _LEVELS[self]


_LEVELS = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}


@dataclass(kw_only=True)
class CircuitBreaker:
    failure_threshold: int = 5
    open_s: float = 5.0
    max_open_s: float | None = None
    clock: Clock = time.monotonic
    on_change: Callable[[State, State], None] | None = None
    state: State = State.CLOSED
    failures: int = 0
    retry_at: float = 0.0
    _open_for: float = field(default=0.0, repr=False)
    _probing: bool = field(default=False, repr=False)

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
        """How long until a call may go out: 0 when closed or a probe is due; while a probe
        is out, a short while (a tenth of ``open_s``), so that waiters poll rather than spin."""
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
        """A transient failure. While open it only counts: the call began before it opened."""
        self.failures += 1
        if self.state == State.HALF_OPEN or (
            self.state == State.CLOSED and self.failures >= self.failure_threshold
        ):
            self._open()

    def release(self) -> None:
        """A call let through ended without telling anything about the other side."""
        self._probing = False

    def _open(self) -> None:
        self._probing = False
        longest = self.open_s if self.max_open_s is None else self.max_open_s
        self._open_for = min(longest, self._open_for * 2 if self._open_for else self.open_s)
        self.retry_at = self.clock() + self._open_for
        self._move(State.OPEN)

    def _move(self, to: State) -> None:
        before, self.state = self.state, to
        if before != to and self.on_change is not None:
            self.on_change(before, to)
