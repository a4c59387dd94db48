from wms_connector.domain.breaker import CircuitBreaker, State


def state(b: CircuitBreaker) -> State:
    return b.state


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_and_refuses_until_the_open_time_passed():
    clock, changes = Clock(), list[State]()
    b = CircuitBreaker(failure_threshold=2, open_s=5.0, clock=clock, on_change=changes.append)
    b.failure()
    assert b.allow() and state(b) == State.CLOSED
    b.failure()
    assert state(b) == State.OPEN and not b.allow()
    assert b.wait_s() == 5.0
    clock.now += 4.9
    assert not b.allow()
    assert changes == [State.OPEN]


def test_half_open_lets_one_probe_through_and_its_success_closes():
    clock = Clock()
    b = CircuitBreaker(failure_threshold=1, open_s=1.0, clock=clock)
    b.failure()
    clock.now += 1.0
    assert b.allow() and state(b) == State.HALF_OPEN
    assert not b.allow()  # one probe at a time
    b.success()
    assert state(b) == State.CLOSED and b.allow() and b.allow()


def test_a_failed_probe_reopens_for_another_full_period():
    clock = Clock()
    b = CircuitBreaker(failure_threshold=3, open_s=2.0, clock=clock)
    for _ in range(3):
        b.failure()
    clock.now += 2.0
    assert b.allow()
    b.failure()
    assert state(b) == State.OPEN and b.wait_s() == 2.0


def test_success_resets_the_failure_count():
    b = CircuitBreaker(failure_threshold=2, clock=Clock())
    b.failure()
    b.success()
    b.failure()
    assert state(b) == State.CLOSED
