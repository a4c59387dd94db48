"""``merged_calls``: per-item script calls merged into calls of at most ``most`` items, keys
and arguments concatenated in the items' order."""

from stocksync_common.redis_client import merged_calls


def test_items_are_merged_in_order_up_to_the_bound() -> None:
    calls = [([f"k{n}"], [f"f{n}", n]) for n in range(5)]
    assert merged_calls(calls, 2) == [
        (["k0", "k1"], ["f0", 0, "f1", 1]),
        (["k2", "k3"], ["f2", 2, "f3", 3]),
        (["k4"], ["f4", 4]),
    ]


def test_items_without_arguments_or_with_several_keys_keep_their_shape() -> None:
    assert merged_calls([(["a"], []), (["b"], [])], 1000) == [(["a", "b"], [])]
    assert merged_calls([(["a", "b"], [1]), (["c"], [2])], 1000) == [(["a", "b", "c"], [1, 2])]


def test_no_items_make_no_call() -> None:
    assert merged_calls([], 1000) == []
