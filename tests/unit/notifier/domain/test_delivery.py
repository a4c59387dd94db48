from notifier.domain.delivery import backoff_s


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_s(n, 1.0, 10.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
