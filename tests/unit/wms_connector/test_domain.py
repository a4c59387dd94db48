from datetime import UTC, datetime

from stocksync_common.events import WmsEvent
from wms_connector.domain import commands_for, shipment_of
from wms_connector.domain.refs import order_ref, parse_ref


def event(kind, qty):
    return WmsEvent(
        event_id="e1",
        event_type=kind,
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
        lines=[{"sku": "A", "quantity": qty, "location": "wh-1"}],  # type: ignore[list-item]
    )


def test_receipt_adds_stock():
    (cmd,) = commands_for(event("receipt", 5))
    assert (cmd.command, cmd.quantity, cmd.idempotency_key) == ("adjust", 5, "wms:e1:line:0:adjust")


def test_adjustment_keeps_its_sign():
    (cmd,) = commands_for(event("adjustment", -2))
    assert (cmd.command, cmd.quantity) == ("adjust", -2)


def test_cycle_count_sets_on_hand_as_of_the_count():
    (cmd,) = commands_for(event("cycle_count", 40))
    assert cmd.command == "set_on_hand" and cmd.quantity == 40
    assert cmd.as_of == datetime(2026, 11, 1, tzinfo=UTC)


def test_shipment_commits():
    (cmd,) = commands_for(event("shipment", 3))
    assert (cmd.command, cmd.quantity) == ("commit", 3)


def shipment(order_id: str | None):
    return WmsEvent(
        event_id="s1",
        event_type="shipment",
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
        order_id=order_id,
        tracking_number="1Z9",
        carrier="UPS",
        lines=[{"sku": "A", "quantity": 2, "location": "wh-1"}],  # type: ignore[list-item]
    )


def test_shipment_commits_for_the_order_it_names():
    (cmd,) = commands_for(shipment("shop.test:77"))
    assert (cmd.command, cmd.quantity, cmd.idempotency_key) == ("commit", 2, "wms:s1:line:0:commit")
    assert cmd.order is not None and (cmd.order.shop, cmd.order.order_id) == ("shop.test", "77")


def test_shipment_of_our_order_becomes_the_fulfilment_fact():
    fact = shipment_of(shipment("shop.test:77"))
    assert fact is not None
    assert (fact.shop, fact.order_id, fact.shipment_id) == ("shop.test", "77", "s1")
    assert (fact.tracking_number, fact.carrier) == ("1Z9", "UPS")
    assert [(ln.sku, ln.quantity) for ln in fact.lines] == [("A", 2)]


def test_shipment_of_an_order_we_did_not_send_commits_but_fulfils_nothing():
    assert shipment_of(shipment("FOREIGN-1")) is None
    assert commands_for(shipment("FOREIGN-1"))[0].order is None
    assert shipment_of(event("receipt", 1)) is None


def test_refs_round_trip():
    assert parse_ref(order_ref("a.myshopify.com", "123")) == ("a.myshopify.com", "123")
    assert parse_ref("no-colon") is None


def test_the_shipment_of_a_routed_line_is_a_routed_commit_where_it_left():
    shipped = event("shipment", 2).model_copy(update={"order_id": "s.myshopify.com:9"})
    (plain,) = commands_for(shipped)
    assert plain.route is None and plain.order is not None and plain.order.line_id is None
    (routed,) = commands_for(shipped, {("A", "wh-1"): "77"})
    assert routed.order is not None and routed.order.line_id == "77"
    assert routed.route is not None and routed.route.locations == ["wh-1"]
    assert routed.idempotency_key == plain.idempotency_key  # same key either way
