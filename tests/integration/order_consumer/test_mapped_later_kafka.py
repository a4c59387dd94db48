"""A line mapped to a SKU only after it shipped (ADR 0022, c), through order-consumer and
inventory-adjuster in process on the real Kafka and Redis: the shipment of the unmapped line
moves nothing; once the store's variant mapping names the SKU, the next order webhook takes
the shipped units off on-hand (and holds the open ones), once."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from integration.order_consumer.harness import SHOP, running
from redis.asyncio import Redis
from unit.order_consumer.payloads import fulfillment, item, order

from order_consumer.adapters.redis_orders import RedisOrders, skumap_key
from support.poll import await_for

pytestmark = pytest.mark.integration


async def test_earlier_shipments_come_off_on_hand_once_the_line_is_mapped(
    kafka_bootstrap: str, redis_url: str, redis: Redis, topics: list[str], tmp_path: Path
) -> None:
    sku = f"MAPL-{uuid.uuid4().hex[:8].upper()}"
    oid, variant = uuid.uuid4().int % 10**12, uuid.uuid4().int % 10**9
    repo = RedisOrders(redis, ttl_s=60)
    line = item(1, None, 3, variant_id=variant)
    async with running(kafka_bootstrap, redis_url, tmp_path) as rig:
        shop = rig.shop()
        await shop.stock(sku, "set_on_hand", 10)
        await rig.settled("stock loaded", sku, (10, 0))
        await shop.webhook("orders/create", oid, order(oid, line))
        await shop.webhook("fulfillments/create", oid, fulfillment(3, oid, (1, 2), sku=None))

        async def kept() -> bool:
            state = (await repo.load(SHOP, str(oid))).state
            return state is not None and state.lines["1"].unmapped_on_hand == {"wh-1": -2}

        await await_for("the unmapped shipment kept for later", kept, 30)
        assert await rig.levels(sku) == (10, 0)

        await redis.hset(skumap_key(SHOP), f"variant:{variant}", sku)
        try:
            for n in (5, 5, 7):  # the same snapshot twice, then a later one
                await shop.webhook("orders/updated", oid, order(oid, line, updated=n))
            shipped = fulfillment(4, oid, (1, 1), sku=sku)  # a last unit ships mapped
            await shop.webhook("fulfillments/create", oid, shipped)
            await rig.settled("shipped units off on-hand once, the rest shipped", sku, (7, 0))
        finally:
            await redis.hdel(skumap_key(SHOP), f"variant:{variant}")
