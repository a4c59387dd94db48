"""Crossing semantics, pure: once per crossing, re-armed by crossing back, replays are no-ops."""

from notifier.domain.crossings import SkuState, decide
from notifier.domain.rules import Effective
from stocksync_common.events import Levels, OrderLineRef, StockChange

RULE = Effective(low_stock=5, reorder_point=3, reorder_quantity=20)
DEFAULTS = Effective()


def change(version, before, after, *, backordered=False, command="reserve"):
    return StockChange(
        sku="A",
        location="l1",
        command=command,
        idempotency_key=f"k{version}",
        version=version,
        before=Levels(),
        after=Levels(),
        sku_available_before=before,
        sku_available_after=after,
        backordered=backordered,
        order=OrderLineRef(shop="s1.myshopify.com", order_id="1001", line_id="7"),
    )


def kinds(decision):
    return [a.kind for a in decision.send]


def run(state, steps, rule=RULE, now=1000.0):
    out = []
    for i, (before, after) in enumerate(steps, start=state.version + 1):
        out.append(kinds(decide(state, change(i, before, after), rule, now=now)))
    return out


def test_falling_through_low_alerts_once_and_rearms_on_the_way_back():
    state = SkuState()
    assert run(state, [(8, 6), (6, 5), (5, 4), (4, 4)]) == [[], ["low_stock"], [], []]
    assert run(state, [(4, 9), (9, 5)]) == [[], ["low_stock"]]


def test_out_of_stock_and_back_in_stock_once_each():
    state = SkuState()
    assert run(state, [(2, 0), (0, -1), (-1, 0), (0, 4), (4, 6)]) == [
        ["out_of_stock"],
        [],
        [],
        ["back_in_stock"],
        [],
    ]


def test_straight_to_zero_says_out_of_stock_not_low_stock_but_triggers_reorder():
    state = SkuState()
    decision = decide(state, change(1, 10, 0), RULE, now=0)
    assert kinds(decision) == ["out_of_stock", "reorder"]
    assert decision.reorder is not None and decision.reorder.reorder_quantity == 20
    assert decision.reorder.threshold == 3


def test_reorder_once_per_crossing_of_the_reorder_point():
    state = SkuState()
    reorders = []
    for version, (before, after) in enumerate([(5, 3), (3, 2), (2, 1), (1, 7), (7, 3)], 1):
        reorders.append(decide(state, change(version, before, after), RULE, now=0).reorder)
    assert [r is not None for r in reorders] == [True, False, False, False, True]


def test_replayed_or_older_versions_decide_nothing():
    state = SkuState()
    assert kinds(decide(state, change(3, 6, 4), RULE, now=0)) == ["low_stock"]
    assert kinds(decide(state, change(3, 6, 4), RULE, now=0)) == []
    assert kinds(decide(state, change(2, 9, 0), RULE, now=0)) == []
    assert state.version == 3


def test_state_survives_a_round_trip_through_json():
    rule = Effective(low_stock=5)
    state = SkuState()
    decide(state, change(1, 6, 4), rule, now=0)
    again = SkuState.model_validate_json(state.model_dump_json())
    assert kinds(decide(again, change(2, 4, 3), rule, now=0)) == []
    assert kinds(decide(again, change(3, 3, 0), rule, now=0)) == ["out_of_stock"]


def test_backordered_change_is_an_oversell_alert_at_once():
    state = SkuState()
    decision = decide(state, change(1, 0, -2, backordered=True), RULE, now=0)
    assert kinds(decision) == ["oversell"]
    alert = decision.send[0]
    assert alert.available == -2 and alert.order is not None and alert.store == "s1.myshopify.com"


def test_switched_off_kinds_do_not_alert():
    rule = Effective(out_of_stock=False, back_in_stock=False, oversell=False)
    state = SkuState()
    assert run(state, [(1, 0), (0, 3)], rule) == [[], []]
    assert kinds(decide(state, change(3, 3, -1, backordered=True), rule, now=0)) == []


def test_velocity_alerts_when_the_rate_goes_above_and_rearms_below():
    rule = Effective(velocity_per_minute=10)
    state = SkuState()
    rates = [5, 11, 30, 9, 12]
    got = [
        kinds(decide(state, change(v, 100, 99), rule, rate=r, now=0))
        for v, r in enumerate(rates, 1)
    ]
    assert got == [[], ["velocity"], [], [], ["velocity"]]


def test_quiet_period_sends_the_first_and_holds_the_rest_for_the_digest():
    rule = Effective(low_stock=5, quiet_period_s=600)
    state = SkuState()
    first = decide(state, change(1, 6, 5), rule, now=1000)
    decide(state, change(2, 5, 8), rule, now=1010)
    second = decide(state, change(3, 8, 4), rule, now=1020)
    assert kinds(first) == ["low_stock"] and second.send == []
    assert [a.kind for a in second.digest] == ["low_stock"]
    decide(state, change(4, 4, 8), rule, now=1700)
    third = decide(state, change(5, 8, 4), rule, now=1700)
    assert kinds(third) == ["low_stock"]


def test_alert_ids_are_deterministic_per_crossing():
    a = decide(SkuState(), change(7, 6, 4), RULE, now=0).send[0]
    b = decide(SkuState(), change(7, 6, 4), RULE, now=5).send[0]
    c = decide(SkuState(), change(8, 6, 4), RULE, now=0).send[0]
    assert a.id == b.id != c.id


def test_a_skus_first_stock_is_not_back_in_stock():
    state = SkuState()  # the import: the SKU's first command, from nothing to 50
    assert kinds(decide(state, change(1, 0, 50, command="set_on_hand"), DEFAULTS, now=0)) == []
    assert run(state, [(50, 0), (0, 2)], DEFAULTS) == [["out_of_stock"], ["back_in_stock"]]


def test_a_sku_configured_before_its_first_stock_is_not_back_in_stock_either():
    state = SkuState()
    assert kinds(decide(state, change(1, 0, 0, command="configure"), DEFAULTS, now=0)) == []
    assert kinds(decide(state, change(2, 0, 6, command="set_on_hand"), DEFAULTS, now=0)) == []
    assert run(state, [(6, 0), (0, 1)], DEFAULTS) == [["out_of_stock"], ["back_in_stock"]]


def test_an_import_of_a_sku_the_notifier_never_saw_is_not_back_in_stock():
    # No state (a notifier deployed later, its state lost, the SKU's creation past the
    # topic's retention): an import's count from nothing is the stock there is, not a return.
    state = SkuState()
    assert kinds(decide(state, change(3, 0, 25, command="set_on_hand"), DEFAULTS, now=0)) == []
    assert run(state, [(25, 0), (0, 4)], DEFAULTS) == [["out_of_stock"], ["back_in_stock"]]
    known = SkuState()  # a SKU it has seen sell out: a count bringing it back is a return
    assert run(known, [(3, 0)], DEFAULTS) == [["out_of_stock"]]
    assert kinds(decide(known, change(5, 0, 25, command="set_on_hand"), DEFAULTS, now=0)) == [
        "back_in_stock"
    ]


def test_a_sku_first_seen_later_at_zero_still_comes_back_in_stock():
    state = SkuState()  # no state: the notifier did not see the SKU's creation
    assert kinds(decide(state, change(9, 0, 4, command="adjust"), DEFAULTS, now=0)) == [
        "back_in_stock"
    ]
