"""The one circuit breaker (shopify-sync per shop, wms-connector for the WMS, notifier per
channel): every behaviour the three breakers it replaced had, tested once."""

from __future__ import annotations

import pytest

from stocksync_common.breaker import CircuitBreaker, State


def state(b: CircuitBreaker) -> State:
    """Read afresh each time (mypy would keep the state narrowed between calls)."""
    return b.state


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_and_refuses_until_the_open_time_passed() -> None:
    clock, changes = Clock(), list[tuple[State, State]]()
    b = CircuitBreaker(
        failure_threshold=2, open_s=5.0, clock=clock, on_change=lambda a, z: changes.append((a, z))
    )
    b.failure()
    assert b.allow() and state(b) == State.CLOSED and b.wait_s() == 0
    b.failure()
    assert state(b) == State.OPEN and not b.allow()
    assert b.wait_s() == 5.0
    clock.now += 4.9
    assert not b.allow() and b.wait_s() == pytest.approx(0.1)
    assert changes == [(State.CLOSED, State.OPEN)]


def test_half_open_lets_one_probe_through_and_its_success_closes() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=1, open_s=1.0, clock=clock)
    b.failure()
    clock.now += 1.0
    assert b.wait_s() == 0, "a probe is due"
    assert b.allow() and state(b) == State.HALF_OPEN
    assert not b.allow()  # one probe at a time
    assert b.wait_s() == pytest.approx(0.1), "waiters poll while the probe is out"
    b.success()
    assert state(b) == State.CLOSED and b.allow() and b.allow()


def test_a_failed_probe_reopens_for_another_full_period_without_a_maximum() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=3, open_s=2.0, clock=clock)
    for _ in range(3):
        b.failure()
    for _ in range(3):
        clock.now += 2.0
        assert b.allow()
        b.failure()
        assert state(b) == State.OPEN and b.wait_s() == 2.0


def test_with_a_maximum_the_wait_doubles_up_to_it_and_a_success_resets_it() -> None:
    clock = Clock()
    changes: list[tuple[State, State]] = []
    b = CircuitBreaker(
        failure_threshold=2,
        open_s=5,
        max_open_s=12,
        clock=clock,
        on_change=lambda a, z: changes.append((a, z)),
    )
    b.failure()
    assert b.allow()
    b.failure()
    assert state(b) == State.OPEN and not b.allow() and b.wait_s() == 5
    waits = []
    for _ in range(3):
        clock.now += b.wait_s()
        assert b.allow() and state(b).value == "half_open"
        b.failure()
        waits.append(b.wait_s())
    assert waits == [10, 12, 12]  # doubled, then capped
    clock.now += 12
    assert b.allow()
    b.success()
    assert state(b).value == "closed"
    b.failure()
    b.failure()
    assert b.wait_s() == 5, "a success starts the doubling over"
    assert [z for _, z in changes[:5]] == [
        State.OPEN,
        State.HALF_OPEN,
        State.OPEN,
        State.HALF_OPEN,
        State.OPEN,
    ]
    assert changes[-2:] == [(State.HALF_OPEN, State.CLOSED), (State.CLOSED, State.OPEN)]


def test_success_resets_the_failure_count() -> None:
    b = CircuitBreaker(failure_threshold=2, clock=Clock())
    b.failure()
    b.success()
    b.failure()
    assert state(b) == State.CLOSED and b.failures == 1


def test_a_released_probe_lets_the_next_one_through() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=1, open_s=1.0, clock=clock)
    b.failure()
    clock.now += 1.0
    assert b.allow() and not b.allow()
    b.release()  # the probe told nothing (cancelled; no work after all)
    assert state(b) == State.HALF_OPEN and b.allow()


def test_a_late_failure_while_open_counts_but_does_not_extend_the_wait() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=1, open_s=4.0, clock=clock)
    b.failure()
    clock.now += 3.0
    b.failure()  # a call that was let through before it opened
    assert b.failures == 2 and b.wait_s() == 1.0


def test_the_notifier_channel_sequence() -> None:
    """Three failures open it for 30 s; the trial's failure reopens it; a success closes."""
    clock = Clock()
    b = CircuitBreaker(failure_threshold=3, open_s=30, clock=clock)
    clock.now = 0
    b.failure()
    clock.now = 1
    b.failure()
    clock.now = 2
    assert b.allow() and state(b) == "closed"
    b.failure()
    clock.now = 3
    assert not b.allow()
    clock.now = 12
    assert b.wait_s() == 20
    clock.now = 32
    assert b.allow()  # the trial
    b.failure()
    clock.now = 33
    assert not b.allow() and state(b) == "open"
    b.success()
    assert b.allow() and b.failures == 0


def test_levels_for_a_gauge() -> None:
    assert [s.level for s in (State.CLOSED, State.HALF_OPEN, State.OPEN)] == [0, 1, 2]
