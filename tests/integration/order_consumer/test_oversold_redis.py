"""Refused reservations (``order.oversold``) fed back into the order state on a real Redis,
with a fake producer and a model of inventory-adjuster (reject policy, clamped per SKU and
location): once the refusal is known, the order never releases or commits units it does not
hold, so other orders keep their holds; duplicates and races with webhooks are safe."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka.structs import TopicPartition
from redis.asyncio import Redis
from unit.order_consumer.fakes import FakeProducer, handler, oversold, webhook
from unit.order_consumer.payloads import SHOP, fulfillment, item, key, order

from order_consumer.adapters.redis_orders import RedisOrders, order_key
from order_consumer.handlers import OrderHandler
from stocksync_common.events import InventoryCommand
from stocksync_common.topics import INVENTORY_CHANGED
from support.records import incoming

pytestmark = pytest.mark.integration

TP = TopicPartition(INVENTORY_CHANGED, 0)
OTHERS = 4  # units other orders hold of every SKU


@dataclass
class Adjuster:
    """inventory-adjuster, reject policy: a refused key moves nothing; release and commit
    clamp the SKU's reservations at 0 whichever order held them."""

    refuse: set[str] = field(default_factory=set)
    on_hand: dict[tuple[str, str], int] = field(default_factory=dict)
    reserved: dict[tuple[str, str], int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def run(self, commands: list[InventoryCommand]) -> list[InventoryCommand]:
        """Apply new commands; the reservations refused among them."""
        refused = []
        for c in commands:
            if c.idempotency_key in self.seen:
                continue
            self.seen.add(c.idempotency_key)
            at = (c.sku, c.location)
            rs = self.reserved.setdefault(at, OTHERS)
            self.on_hand.setdefault(at, 0)
            if c.command == "reserve":
                if c.idempotency_key in self.refuse:
                    refused.append(c)
                else:
                    self.reserved[at] = rs + c.quantity
            elif c.command == "release":
                self.reserved[at] = max(0, rs - c.quantity)
            elif c.command == "commit":
                self.reserved[at] = max(0, rs - c.quantity)
                self.on_hand[at] -= c.quantity
            else:
                self.on_hand[at] += c.quantity
        return refused


@pytest.fixture
def orders(redis: Redis) -> RedisOrders:
    return RedisOrders(redis, ttl_s=3600)


@pytest.fixture
def oid() -> int:
    return uuid.uuid4().int % 10**12


class Consumer:
    def __init__(self, orders: RedisOrders) -> None:
        self.producer = FakeProducer()
        self.handler: OrderHandler = handler(orders, self.producer)

    async def deliver(self, topic: str, body: dict[str, Any], webhook_id: str) -> None:
        await self.handler.handle_webhook(webhook(topic, body, webhook_id))

    async def refusals(self, refused: list[InventoryCommand]) -> None:
        """The order.oversold events, as the second consumer group gets them."""
        events = [oversold(c) for c in refused]
        await self.handler.handle_inventory_batch(TP, incoming(TP.topic, events))


def created(oid: int) -> dict[str, Any]:
    return order(oid, item(11, "SKU-A", 3), item(12, "SKU-B", 1), updated=0)


def cancelled(oid: int, *fulfillments: dict[str, Any]) -> dict[str, Any]:
    return order(
        oid,
        item(11, "SKU-A", 3),
        item(12, "SKU-B", 1),
        updated=40,
        cancelled=40,
        fulfillments=fulfillments,
    )


async def test_refusal_known_before_the_shipment_and_the_cancel(orders, oid, redis):
    c = Consumer(orders)
    adjuster = Adjuster(refuse={key(oid, 11, "reserve")})
    await c.deliver("orders/create", created(oid), "w1")
    refused = adjuster.run(c.producer.commands())
    assert [r.idempotency_key for r in refused] == [key(oid, 11, "reserve")]
    await c.refusals(refused + refused)  # delivered twice
    rev = int(await redis.hget(order_key(SHOP, str(oid)), "rev"))
    await c.refusals(refused)  # and once more, later: nothing saved
    assert int(await redis.hget(order_key(SHOP, str(oid)), "rev")) == rev
    saved = (await orders.load(SHOP, str(oid))).state
    assert saved is not None
    line = saved.lines["11"]
    assert (line.reserved, line.unheld, line.refused, line.oversold) == (0, 3, 3, True)

    c.producer.clear()
    shipped = fulfillment(501, oid, (11, 1))
    await c.deliver("fulfillments/create", shipped, "w2")
    await c.deliver("orders/cancelled", cancelled(oid, shipped), "w3")
    assert [(x.command, x.idempotency_key) for x in c.producer.commands()] == [
        ("adjust", key(oid, 11, "adjust:fulfillment:501")),
        ("release", key(oid, 12, "release:cancel")),
    ]
    adjuster.run(c.producer.commands())
    assert adjuster.reserved == {("SKU-A", "wh-1"): OTHERS, ("SKU-B", "wh-1"): OTHERS}
    assert adjuster.on_hand[("SKU-A", "wh-1")] == -1


async def test_refusal_known_after_the_cancel_changes_nothing_more(orders, oid):
    c = Consumer(orders)
    await c.deliver("orders/create", created(oid), "w1")
    reserve_a = c.producer.commands()[0]
    await c.deliver("orders/cancelled", cancelled(oid), "w3")
    c.producer.clear()
    assert await c.handler.handle_oversold(oversold(reserve_a)) == "applied"
    assert await c.handler.handle_oversold(oversold(reserve_a)) == "replayed"
    assert c.producer.sent == []  # no second release
    saved = (await orders.load(SHOP, str(oid))).state
    assert saved is not None and saved.cancelled
    line = saved.lines["11"]
    assert (line.reserved, line.unheld, line.oversold) == (0, 0, True)
    # A redelivered cancel republishes its own release, nothing else.
    await c.deliver("orders/cancelled", cancelled(oid), "w3")
    assert [x.idempotency_key for x in c.producer.commands()] == [
        key(oid, 11, "release:cancel"),
        key(oid, 12, "release:cancel"),
    ]


async def test_refusal_racing_an_update_ends_in_the_same_state_either_way(orders):
    """The refusal (second group) and an orders/updated taking 2 of 4 units off race on
    the same order: compare-and-set serialises them, and whichever wins, the line holds
    nothing and 2 units stay unheld."""
    oids = [uuid.uuid4().int % 10**12 for _ in range(20)]
    webhooks, refusals = Consumer(orders), Consumer(orders)
    reserves = {}
    for oid in oids:
        await webhooks.deliver("orders/create", order(oid, item(11, "SKU-A", 4)), f"c{oid}")
        reserves[oid] = webhooks.producer.commands()[-1]
    await asyncio.gather(
        *(
            webhooks.deliver(
                "orders/updated", order(oid, item(11, "SKU-A", 4, current=2), updated=5), f"u{oid}"
            )
            for oid in oids
        ),
        *(refusals.handler.handle_oversold(oversold(reserves[oid])) for oid in oids),
    )
    for oid in oids:
        saved = (await orders.load(SHOP, str(oid))).state
        assert saved is not None
        line = saved.lines["11"]
        assert (line.open, line.reserved, line.unheld, line.refused) == (2, 0, 2, 4)
        assert {f"oversold:{key(oid, 11, 'reserve')}"} <= set(saved.facts)
