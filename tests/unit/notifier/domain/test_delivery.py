from notifier.domain.delivery import CircuitBreaker, backoff_s


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_s(n, 1.0, 10.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_breaker_opens_after_threshold_and_half_opens_after_reset():
    b = CircuitBreaker(threshold=3, reset_s=30)
    b.failure(0)
    b.failure(1)
    assert b.allows(2) and b.state == "closed"
    b.failure(2)
    assert not b.allows(3) and b.wait_s(12) == 20
    assert b.allows(32)  # the trial
    b.failure(32)
    assert not b.allows(33)
    b.success()
    assert b.allows(33) and b.failures == 0
