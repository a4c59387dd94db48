"""The order handler with fakes: publish after save, replays, conflicts, poison messages."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aiokafka.structs import TopicPartition
from prometheus_client import REGISTRY
from unit.order_consumer.fakes import FakeProducer, MemoryOrders, handler, webhook
from unit.order_consumer.payloads import SHOP, item, key, order, refund, run

from order_consumer.domain import OrderState
from order_consumer.handlers import OrderSaveConflict
from stocksync_common.consumer import Incoming, PoisonMessage
from stocksync_common.events import (
    InventoryCommandRequested,
    OrderLineUnmapped,
    OrderReceived,
    OrderRefunded,
)
from stocksync_common.topics import WEBHOOKS_SHOPIFY
from support.poll import await_for
from support.records import Record, incoming


async def test_commands_go_to_inventory_by_sku_and_lifecycle_events_by_order() -> None:
    producer, orders = FakeProducer(), MemoryOrders()
    h = handler(orders, producer)
    await h.handle_webhook(webhook("orders/create", order(1, item(11, "SKU-A", 2)), "w1"))
    assert [(c.command, c.sku, c.quantity, c.idempotency_key) for c in producer.commands()] == [
        ("reserve", "SKU-A", 2, key(1, 11, "reserve"))
    ]
    (received,) = producer.order_events()
    assert isinstance(received, OrderReceived)
    assert [s.key for s in producer.sent if s.event is received] == ["1"]
    assert received.causation_id == webhook("orders/create", {}, "w1").id


async def test_a_redelivery_publishes_the_same_records_again() -> None:
    producer, orders = FakeProducer(), MemoryOrders()
    h = handler(orders, producer)
    body = order(1, item(11, "SKU-A", 2))
    await h.handle_webhook(webhook("orders/create", body, "w1"))
    first = [(s.topic, s.key, s.event.id) for s in producer.sent]
    producer.clear()
    await h.handle_webhook(webhook("orders/create", body, "w1"))
    assert [(s.topic, s.key, s.event.id) for s in producer.sent] == first


async def test_a_failed_publish_after_the_save_is_recovered_by_the_redelivery() -> None:
    orders = MemoryOrders()
    broken = FakeProducer(fail=True)
    body = order(1, item(11, "SKU-A", 2))
    with pytest.raises(ConnectionError):
        await handler(orders, broken).handle_webhook(webhook("orders/create", body, "w1"))
    assert orders.docs  # the state was saved before publishing
    producer = FakeProducer()
    await handler(orders, producer).handle_webhook(webhook("orders/create", body, "w1"))
    assert [c.idempotency_key for c in producer.commands()] == [key(1, 11, "reserve")]


async def test_a_concurrent_save_makes_the_handler_recompute_from_the_new_state() -> None:
    producer, orders = FakeProducer(), MemoryOrders()
    h = handler(orders, producer)
    await h.handle_webhook(webhook("orders/create", order(1, item(11, "SKU-A", 3)), "w1"))
    rev, doc = orders.docs[(SHOP, "1")]

    def refund_elsewhere() -> None:
        state = OrderState.model_validate_json(doc)
        done = run(state, "refunds/create", refund(901, 1, (9011, 11, 1, "cancel", None)))
        orders.docs[(SHOP, "1")] = (rev + 1, done.state.model_dump_json())

    orders.before_save.append(refund_elsewhere)
    producer.clear()
    cancel = order(1, item(11, "SKU-A", 3, current=2), updated=9, cancelled=9)
    await h.handle_webhook(webhook("orders/cancelled", cancel, "w2"))
    # Computed again after the refund: only the 2 units still held are released.
    assert [(c.command, c.quantity) for c in producer.commands()] == [("release", 2)]
    assert orders.docs[(SHOP, "1")][0] == rev + 2


async def test_endless_conflicts_are_a_transient_error() -> None:
    orders = MemoryOrders()
    h = handler(orders)
    h.save_attempts = 3

    def bump() -> None:
        current = orders.docs.get((SHOP, "1"), (0, ""))
        orders.docs[(SHOP, "1")] = (current[0] + 1, current[1])

    orders.before_save.extend([bump, bump, bump])
    with pytest.raises(OrderSaveConflict):
        await h.handle_webhook(webhook("orders/create", order(1, item(11)), "w1"))


@pytest.mark.parametrize(
    ("topic", "body", "shop"),
    [
        ("orders/create", {"id": 1}, SHOP),
        ("refunds/create", {"id": 9, "refund_line_items": []}, SHOP),
        ("orders/create", order(1, item(11)), "unknown.myshopify.com"),
    ],
)
async def test_bad_webhooks_are_poison(topic: str, body: dict[str, object], shop: str) -> None:
    producer = FakeProducer()
    with pytest.raises(PoisonMessage):
        await handler(MemoryOrders(), producer).handle_webhook(webhook(topic, body, "w", shop))
    assert producer.sent == []


async def test_topics_without_inventory_meaning_publish_nothing() -> None:
    producer = FakeProducer()
    await handler(MemoryOrders(), producer).handle_webhook(
        webhook("products/update", {"id": 1}, "w")
    )
    assert producer.sent == []


async def test_unmapped_lines_are_counted_once_and_mapped_lines_use_the_store_mapping() -> None:
    def counted() -> float:
        return REGISTRY.get_sample_value("stocksync_unmapped_lines_total", {"shop": SHOP}) or 0.0

    producer, orders = FakeProducer(), MemoryOrders(skumap={"55": "SKU-M"})
    h = handler(orders, producer)
    before = counted()
    body = order(1, item(11, None, 1, variant_id=55), item(12, None, 2, variant_id=56))
    await h.handle_webhook(webhook("orders/create", body, "w1"))
    await h.handle_webhook(webhook("orders/create", body, "w1"))
    assert counted() == before + 1
    assert {(c.sku, c.quantity) for c in producer.commands()} == {("SKU-M", 1)}
    unmapped = [e for e in producer.order_events() if isinstance(e, OrderLineUnmapped)]
    assert {e.payload.line_id for e in unmapped} == {"12"}
    assert len({e.id for e in unmapped}) == 1  # the replay re-published the same event


async def test_refund_event_is_published_with_its_restock_types() -> None:
    producer, orders = FakeProducer(), MemoryOrders()
    h = handler(orders, producer)
    await h.handle_webhook(webhook("orders/create", order(1, item(11, "SKU-A", 2)), "w1"))
    producer.clear()
    body = refund(901, 1, (9011, 11, 1, "cancel", None))
    await h.handle_webhook(webhook("refunds/create", body, "w2"))
    (refunded,) = producer.order_events()
    assert isinstance(refunded, OrderRefunded)
    assert [(ln.line_id, ln.restock_type) for ln in refunded.payload.lines] == [("11", "cancel")]


async def test_a_batch_is_handled_in_partition_order() -> None:
    producer, orders = FakeProducer(), MemoryOrders()
    tp = TopicPartition("webhooks.shopify.v1", 0)
    hooks = [
        webhook("orders/create", order(1, item(11, "SKU-A", 2)), "w1"),
        webhook("orders/cancelled", order(1, item(11, "SKU-A", 2), updated=1, cancelled=1), "w2"),
    ]
    batch = incoming(WEBHOOKS_SHOPIFY, hooks)
    await handler(orders, producer).handle_batch(tp, batch)
    assert [(c.command, c.idempotency_key) for c in producer.commands()] == [
        ("reserve", key(1, 11, "reserve")),
        ("release", key(1, 11, "release:cancel")),
    ]


async def test_a_batch_with_another_event_type_is_poison() -> None:
    tp = TopicPartition("webhooks.shopify.v1", 0)
    wrong = InventoryCommandRequested.model_validate(
        {
            "source": "t",
            "payload": {
                "command": "reserve",
                "idempotency_key": "k",
                "sku": "A",
                "location": "l",
                "quantity": 1,
            },
        }
    )
    with pytest.raises(PoisonMessage):
        await handler(MemoryOrders()).handle_batch(tp, [Incoming(Record(WEBHOOKS_SHOPIFY), wrong)])


@dataclass
class HeldProducer(FakeProducer):
    """Acknowledges nothing until the test says so; notes how many orders were saved when
    each record was sent."""

    orders: MemoryOrders | None = None
    pending: list[asyncio.Future[None]] = field(default_factory=list)
    saved_at_send: list[int] = field(default_factory=list)

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[None]:
        await super().send(topic, value, key, headers)
        assert self.orders is not None
        self.saved_at_send.append(len(self.orders.docs))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append(ack)
        return ack


async def test_a_batch_saves_every_order_then_sends_everything_before_awaiting_acks() -> None:
    orders = MemoryOrders()
    producer = HeldProducer(orders=orders)
    tp = TopicPartition("webhooks.shopify.v1", 0)
    hooks = [webhook("orders/create", order(n, item(11, "SKU-A", 1)), f"w{n}") for n in range(5)]
    batch = incoming(WEBHOOKS_SHOPIFY, hooks)
    task = asyncio.create_task(handler(orders, producer).handle_batch(tp, batch))
    # 5 commands and 5 order.received events, all sent while no acknowledgement came back
    await await_for("every record sent", lambda: _now(len(producer.sent) == 10 or None), 5)
    assert not task.done()
    assert producer.saved_at_send == [5] * 10  # every order saved before the first send
    for ack in producer.pending:
        ack.set_result(None)
    await asyncio.wait_for(task, 5)
    assert [c.idempotency_key for c in producer.commands()] == [
        key(n, 11, "reserve") for n in range(5)
    ]


async def _now(value: object) -> object:
    return value
