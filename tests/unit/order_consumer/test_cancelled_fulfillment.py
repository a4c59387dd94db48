"""A fulfilment cancelled after it shipped is undone once (ADR 0022, b): the shipped units
back on hand where they left and held again; nothing at a warehouse-run location; a
cancellation seen first makes the shipment move nothing."""

from __future__ import annotations

from unit.order_consumer.payloads import commands, fulfillment, item, key, order, run

CREATED = order(1, item(11, "SKU-A", 3))


def test_the_undo_mirrors_the_shipment_and_holds_the_units_again() -> None:
    state = run(None, "orders/create", CREATED).state
    shipped = fulfillment(5, 1, (11, 2), location_id=2)  # from wh-2, reserved at wh-1
    state = run(state, "fulfillments/create", shipped).state
    undone = run(state, "fulfillments/update", {**shipped, "status": "cancelled"})
    assert commands(undone) == [
        ("adjust", "SKU-A", 2, "wh-2", key(1, 11, "adjust:fulfillment:5:cancelled")),
        ("reserve", "SKU-A", 2, "wh-1", key(1, 11, "reserve:fulfillment:5:cancelled")),
    ]
    line = undone.state.lines["11"]
    assert (line.shipped, line.reserved, line.open) == (0, 3, 3)
    again = run(undone.state, "fulfillments/update", {**shipped, "status": "cancelled"})
    assert again.replay and commands(again) == commands(undone)


def test_a_warehouse_run_location_moves_no_stock_back() -> None:
    wms = frozenset({"wh-2"})
    state = run(None, "orders/create", CREATED).state
    shipped = fulfillment(5, 1, (11, 3), location_id=2)
    state = run(state, "fulfillments/create", shipped, wms_locations=wms).state
    undone = run(
        state, "fulfillments/update", {**shipped, "status": "cancelled"}, wms_locations=wms
    )
    assert [c[0] for c in commands(undone)] == ["reserve"]


def test_a_cancellation_before_its_shipment_makes_it_move_nothing() -> None:
    state = run(None, "orders/create", CREATED).state
    shipped = fulfillment(5, 1, (11, 2))
    state = run(state, "fulfillments/update", {**shipped, "status": "cancelled"}).state
    late = run(state, "fulfillments/create", shipped)
    assert late.commands == [] and late.state.lines["11"].shipped == 0
