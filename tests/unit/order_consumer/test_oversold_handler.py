"""The order handler's second consumer: ``order.oversold`` on inventory.changed.v1."""

from __future__ import annotations

from aiokafka.structs import TopicPartition
from unit.order_consumer.fakes import FakeProducer, MemoryOrders, handler, oversold, webhook
from unit.order_consumer.payloads import SHOP, fulfillment, item, key, order, run

from order_consumer.domain import OrderState
from stocksync_common.events import (
    Event,
    InventoryChanged,
    InventoryCommand,
    Levels,
    OrderLineRef,
    StockChange,
)
from stocksync_common.topics import INVENTORY_CHANGED
from support.records import incoming

TP = TopicPartition(INVENTORY_CHANGED, 0)


def changed(cmd: InventoryCommand) -> InventoryChanged:
    lv = Levels(on_hand=5, reserved=0, available=5)
    return InventoryChanged(
        source="inventory-adjuster",
        payload=StockChange(
            sku=cmd.sku,
            location=cmd.location,
            command=cmd.command,
            idempotency_key=cmd.idempotency_key,
            version=1,
            before=lv,
            after=lv,
            sku_available_before=5,
            sku_available_after=5,
            order=cmd.order,
        ),
    )


async def created(orders: MemoryOrders, producer: FakeProducer) -> list[InventoryCommand]:
    body = order(1, item(11, "SKU-A", 3), item(12, "SKU-B", 1))
    await handler(orders, producer).handle_webhook(webhook("orders/create", body, "w1"))
    return producer.commands()


async def test_a_refusal_is_saved_once_and_publishes_nothing() -> None:
    producer, orders = FakeProducer(), MemoryOrders()
    reserve_a, _ = await created(orders, producer)
    producer.clear()
    h = handler(orders, producer)
    event = oversold(reserve_a)
    batch = incoming(INVENTORY_CHANGED, [event, event])
    await h.handle_inventory_batch(TP, batch)
    assert producer.sent == []
    rev, _ = orders.docs[(SHOP, "1")]
    assert rev == 2  # created, then the refusal: the duplicate saved nothing
    state = (await orders.load(SHOP, "1")).state
    assert state is not None
    assert (state.lines["11"].reserved, state.lines["11"].oversold) == (0, True)
    assert await h.handle_oversold(event) == "replayed"


async def test_then_a_cancel_releases_only_what_is_held() -> None:
    producer, orders = FakeProducer(), MemoryOrders()
    reserve_a, _ = await created(orders, producer)
    h = handler(orders, producer)
    assert await h.handle_oversold(oversold(reserve_a)) == "applied"
    producer.clear()
    body = order(1, item(11, "SKU-A", 3), item(12, "SKU-B", 1), updated=5, cancelled=5)
    await h.handle_webhook(webhook("orders/cancelled", body, "w2"))
    assert [(c.command, c.idempotency_key) for c in producer.commands()] == [
        ("release", key(1, 12, "release:cancel"))
    ]


async def test_a_concurrent_save_makes_the_refusal_recompute() -> None:
    producer, orders = FakeProducer(), MemoryOrders()
    reserve_a, _ = await created(orders, producer)
    h = handler(orders, producer)
    ship = fulfillment(501, 1, (11, 2))

    def ship_meanwhile() -> None:  # another consumer saves a shipment of 2 units first
        rev, doc = orders.docs[(SHOP, "1")]
        shipped = run(OrderState.model_validate_json(doc), "fulfillments/create", ship)
        orders.docs[(SHOP, "1")] = (rev + 1, shipped.state.model_dump_json())

    orders.before_save.append(ship_meanwhile)
    assert await h.handle_oversold(oversold(reserve_a)) == "applied"
    state = (await orders.load(SHOP, "1")).state
    assert state is not None and "fulfillment:501" in state.facts
    line = state.lines["11"]
    assert (line.shipped, line.reserved, line.unheld, line.refused) == (2, 0, 1, 3)


async def test_events_that_are_not_our_refusals_are_ignored() -> None:
    producer, orders = FakeProducer(), MemoryOrders()
    reserve_a, _ = await created(orders, producer)
    before, sent = dict(orders.docs), len(producer.sent)
    h = handler(orders, producer)
    foreign = reserve_a.model_copy(update={"idempotency_key": "wms:x:reserve"})
    no_order = reserve_a.model_copy(update={"order": None})
    other_shop = reserve_a.model_copy(
        update={"order": OrderLineRef(shop="b.myshopify.com", order_id="1", line_id="11")}
    )
    release = reserve_a.model_copy(
        update={"command": "release", "idempotency_key": key(1, 11, "release:cancel")}
    )
    unknown = reserve_a.model_copy(update={"idempotency_key": key(1, 11, "reserve:edit:9")})
    for cmd in (foreign, no_order, other_shop, release):
        assert await h.handle_oversold(oversold(cmd)) is None
    assert await h.handle_oversold(oversold(unknown)) == "unknown"
    events: list[Event] = [changed(reserve_a), oversold(foreign), oversold(unknown)]
    await h.handle_inventory_batch(TP, incoming(INVENTORY_CHANGED, events))
    assert orders.docs == before
    assert len(producer.sent) == sent
