"""The order handler on a real Redis (order state, compare-and-set, SKU mapping), with a fake
producer: create, partial fulfilment, refund with return, cancel; duplicated, reordered and
concurrent deliveries end in the same inventory effect."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from typing import Any

import pytest
from redis.asyncio import Redis
from unit.order_consumer.fakes import FakeProducer, handler, webhook
from unit.order_consumer.payloads import SHOP, fulfillment, item, key, order, refund

from order_consumer.adapters.redis_orders import RedisOrders, order_key, skumap_key
from stocksync_common.events import InventoryCommand

pytestmark = pytest.mark.integration

Net = dict[tuple[str, str], dict[str, int]]


@pytest.fixture
def orders(redis: Redis) -> RedisOrders:
    return RedisOrders(redis, ttl_s=3600)


@pytest.fixture
def oid() -> int:
    return uuid.uuid4().int % 10**12


def net_effect(commands: list[InventoryCommand]) -> Net:
    """What inventory-adjuster would do with these commands: each key applied once."""
    levels: Net = defaultdict(lambda: {"on_hand": 0, "reserved": 0})
    seen: set[str] = set()
    for c in commands:
        if c.idempotency_key in seen:
            continue
        seen.add(c.idempotency_key)
        lv = levels[(c.sku, c.location)]
        if c.command == "reserve":
            lv["reserved"] += c.quantity
        elif c.command == "release":
            lv["reserved"] -= c.quantity
        elif c.command == "commit":
            lv["reserved"] -= c.quantity
            lv["on_hand"] -= c.quantity
        else:
            assert c.command == "adjust"
            lv["on_hand"] += c.quantity
    return dict(levels)


class Shop:
    """One consumer's handler on the shared Redis, with the webhooks of one order."""

    def __init__(self, orders: RedisOrders, oid: int) -> None:
        self.producer = FakeProducer()
        self.handler = handler(orders, self.producer)
        self.oid = oid

    async def deliver(self, topic: str, body: dict[str, Any], webhook_id: str) -> list[str]:
        """Handle one delivery; the keys of the commands it published."""
        before = len(self.producer.commands())
        await self.handler.handle_webhook(webhook(topic, body, webhook_id))
        return [c.idempotency_key for c in self.producer.commands()[before:]]

    def created(self) -> dict[str, Any]:
        return order(self.oid, item(11, "SKU-A", 3), item(12, "SKU-B", 1), updated=0)

    def shipped(self) -> dict[str, Any]:
        return fulfillment(501, self.oid, (11, 2))

    def returned(self) -> dict[str, Any]:
        return refund(901, self.oid, (9011, 11, 1, "return", 2))

    def cancelled(self) -> dict[str, Any]:
        return order(
            self.oid,
            item(11, "SKU-A", 3, current=2),
            item(12, "SKU-B", 1),
            updated=40,
            cancelled=40,
            fulfillments=(self.shipped(),),
            refunds=(self.returned(),),
        )


EXPECTED_NET = {
    ("SKU-A", "wh-1"): {"on_hand": -2, "reserved": 0},
    ("SKU-A", "wh-2"): {"on_hand": 1, "reserved": 0},
    ("SKU-B", "wh-1"): {"on_hand": 0, "reserved": 0},
}


async def test_lifecycle_in_order_with_a_duplicate_and_a_late_stale_update(orders, oid, redis):
    shop = Shop(orders, oid)
    assert await shop.deliver("orders/create", shop.created(), "w1") == [
        key(oid, 11, "reserve"),
        key(oid, 12, "reserve"),
    ]
    assert await shop.deliver("fulfillments/create", shop.shipped(), "w2") == [
        key(oid, 11, "commit:fulfillment:501")
    ]
    # Shopify delivers the fulfilment twice: the same command, the same key.
    assert await shop.deliver("fulfillments/create", shop.shipped(), "w2") == [
        key(oid, 11, "commit:fulfillment:501")
    ]
    # An orders/updated from before the shipment arrives late: nothing to do.
    stale = order(oid, item(11, "SKU-A", 3), item(12, "SKU-B", 1), updated=1)
    assert await shop.deliver("orders/updated", stale, "w0") == []
    assert await shop.deliver("refunds/create", shop.returned(), "w3") == [
        key(oid, 11, "adjust:refund:901:9011")
    ]
    assert await shop.deliver("orders/cancelled", shop.cancelled(), "w4") == [
        key(oid, 11, "release:cancel"),
        key(oid, 12, "release:cancel"),
    ]
    assert await shop.deliver("orders/cancelled", shop.cancelled(), "w4") == [
        key(oid, 11, "release:cancel"),
        key(oid, 12, "release:cancel"),
    ]
    commands = shop.producer.commands()
    assert [(c.command, c.sku, c.quantity, c.location) for c in commands[:5]] == [
        ("reserve", "SKU-A", 3, "wh-1"),
        ("reserve", "SKU-B", 1, "wh-1"),
        ("commit", "SKU-A", 2, "wh-1"),
        ("commit", "SKU-A", 2, "wh-1"),
        ("adjust", "SKU-A", 1, "wh-2"),
    ]
    assert net_effect(commands) == EXPECTED_NET
    saved = await orders.load(SHOP, str(oid))
    assert saved.state is not None and saved.state.cancelled
    line = saved.state.lines["11"]
    assert (line.reserved, line.shipped, line.returned) == (0, 2, 1)
    assert 0 < await redis.ttl(order_key(SHOP, str(oid))) <= 3600


async def test_reordered_deliveries_end_in_the_same_inventory_effect(orders, oid):
    shop = Shop(orders, oid)
    # Keyed by their own ids, fulfilment and refund overtake the order itself.
    assert await shop.deliver("fulfillments/create", shop.shipped(), "w2") == [
        key(oid, 11, "adjust:fulfillment:501")
    ]
    assert await shop.deliver("refunds/create", shop.returned(), "w3") == [
        key(oid, 11, "adjust:refund:901:9011")
    ]
    assert await shop.deliver("orders/create", shop.created(), "w1") == [
        key(oid, 11, "reserve"),
        key(oid, 12, "reserve"),
    ]
    assert await shop.deliver("orders/cancelled", shop.cancelled(), "w4") == [
        key(oid, 11, "release:cancel"),
        key(oid, 12, "release:cancel"),
    ]
    # The refund delivered again, after the snapshot that carried it: the same key.
    assert await shop.deliver("refunds/create", shop.returned(), "w3") == [
        key(oid, 11, "adjust:refund:901:9011")
    ]
    assert net_effect(shop.producer.commands()) == EXPECTED_NET


async def test_concurrent_facts_on_one_order_are_all_applied_once(orders):
    """Fulfilments and refunds of one order reach different partitions (keyed by their own
    ids), so two consumers can save the same order at once: compare-and-set keeps both."""
    oids = [uuid.uuid4().int % 10**12 for _ in range(20)]
    consumers = [Shop(orders, 0) for _ in range(3)]
    for oid in oids:
        await consumers[0].deliver("orders/create", order(oid, item(11, "SKU-A", 4)), f"c{oid}")
    deliveries = []
    for oid in oids:
        facts = [
            ("fulfillments/create", fulfillment(501, oid, (11, 1))),
            ("fulfillments/create", fulfillment(502, oid, (11, 1))),
            ("refunds/create", refund(901, oid, (9011, 11, 1, "cancel", None))),
        ]
        deliveries += [
            consumers[n].deliver(topic, body, f"{oid}-{n}") for n, (topic, body) in enumerate(facts)
        ]
    await asyncio.gather(*deliveries)
    published = [c for s in consumers for c in s.producer.commands()]
    for oid in oids:
        mine = [c for c in published if c.order is not None and c.order.order_id == str(oid)]
        assert net_effect(mine) == {("SKU-A", "wh-1"): {"on_hand": -2, "reserved": 1}}
        saved = await orders.load(SHOP, str(oid))
        assert saved.state is not None
        assert set(saved.state.facts) >= {"fulfillment:501", "fulfillment:502", "refund:901"}
        assert saved.state.lines["11"].reserved == 1


async def test_line_without_sku_maps_through_the_redis_variant_mapping(orders, oid, redis):
    variant = uuid.uuid4().int % 10**9
    await redis.hset(skumap_key(SHOP), f"variant:{variant}", "SKU-MAPPED")
    shop = Shop(orders, oid)
    body = order(oid, item(11, None, 2, variant_id=variant), item(12, None, 1, variant_id=1))
    assert await shop.deliver("orders/create", body, "w1") == [key(oid, 11, "reserve")]
    (cmd,) = shop.producer.commands()
    assert (cmd.sku, cmd.quantity) == ("SKU-MAPPED", 2)
    types = [e.type for e in shop.producer.order_events()]
    assert types.count("order.line_unmapped") == 1
    await redis.hdel(skumap_key(SHOP), f"variant:{variant}")
