from wms_connector.domain.reconcile import Confirmations, Truth, compare, to_correct


def snapshot(*lines):
    return [{"sku": s, "location": "wh-1", "on_hand": n, "allocated": a} for s, n, a in lines]


def test_on_hand_is_compared_and_in_flight_orders_are_shown_not_corrected():
    lines = compare(
        snapshot(("A", 10, 2), ("B", 5, 0), ("NEW", 3, 0)),
        {("A", "wh-1"): Truth(10, 5), ("B", "wh-1"): Truth(7, 0), ("NEW", "wh-1"): None},
    )
    by_sku = {ln.sku: ln for ln in lines}
    assert by_sku["A"].delta == 0 and by_sku["A"].in_flight == 3
    assert by_sku["B"].delta == -2
    assert by_sku["NEW"].delta == 3 and by_sku["NEW"].truth_on_hand == 0


def test_a_difference_is_corrected_only_once_seen_on_enough_runs_in_a_row():
    conf = Confirmations({})
    first = compare(snapshot(("B", 5, 0)), {("B", "wh-1"): Truth(7, 0)})
    assert to_correct(first, conf.observe(first), confirm_runs=2) == []
    second = compare(snapshot(("B", 5, 0)), {("B", "wh-1"): Truth(7, 0)})
    assert [ln.sku for ln in to_correct(second, conf.observe(second), confirm_runs=2)] == ["B"]


def test_a_difference_that_changed_between_runs_starts_counting_again():
    conf = Confirmations({})
    a = compare(snapshot(("B", 5, 0)), {("B", "wh-1"): Truth(7, 0)})
    conf.observe(a)
    b = compare(snapshot(("B", 5, 0)), {("B", "wh-1"): Truth(6, 0)})  # a shipment landed
    assert to_correct(b, conf.observe(b), confirm_runs=2) == []
    assert to_correct(b, Confirmations({}).observe(b), confirm_runs=1)[0].delta == -1
