"""A late order webhook cannot recreate what a compliance request erased (ADR 0022, d),
through order-consumer and inventory-adjuster in process on the real Kafka and Redis:
``customers/redact`` leaves a tombstone per order named (also one never seen) and
``shop/redact`` one for the shop; an ``orders/updated`` or ``orders/create`` arriving after
them is counted as erased and applies nothing: no state, no command."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from integration.order_consumer.harness import SHOP, running
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from unit.order_consumer.payloads import item, order

from order_consumer.adapters.redis_orders import erased_shop_key, order_key
from support.poll import await_for

pytestmark = pytest.mark.integration


def erased_count(topic: str) -> float:
    value = REGISTRY.get_sample_value(
        "stocksync_order_webhooks_total", {"topic": topic, "outcome": "erased"}
    )
    return value or 0.0


async def test_late_webhooks_after_a_redact_recreate_nothing(
    kafka_bootstrap: str, redis_url: str, redis: Redis, topics: list[str], tmp_path: Path
) -> None:
    sku = f"ERASE-{uuid.uuid4().hex[:8].upper()}"
    kept, gone, never = (uuid.uuid4().int % 10**12 for _ in range(3))
    other = f"gone-{uuid.uuid4().hex[:8]}.myshopify.com"
    async with running(kafka_bootstrap, redis_url, tmp_path, SHOP, other) as rig:
        shop, gone_shop = rig.shop(), rig.shop(other)
        await shop.stock(sku, "set_on_hand", 10)
        await rig.settled("stock loaded", sku, (10, 0))
        for oid in (kept, gone):
            await shop.webhook("orders/create", oid, order(oid, item(1, sku, 1)))
        await gone_shop.webhook("orders/create", 5, order(5, item(1, sku, 2)))
        await rig.settled("three orders reserved", sku, (10, 4))

        await shop.compliance("customers/redact", gone, never)
        await gone_shop.compliance("shop/redact")

        async def erased() -> bool:
            names = [order_key(SHOP, str(gone)), order_key(SHOP, str(never))]
            marks = [await redis.hget(k, "erased") for k in names]
            return all(marks) and bool(await redis.exists(erased_shop_key(other)))

        await await_for("the tombstones", erased, 30)
        assert await redis.hget(order_key(SHOP, str(gone)), "doc") is None
        assert await redis.ttl(order_key(SHOP, str(gone))) > 15 * 24 * 3600

        before = erased_count("orders/updated"), erased_count("orders/create")
        await shop.webhook("orders/updated", gone, order(gone, item(1, sku, 3), updated=5))
        await shop.webhook("orders/create", never, order(never, item(1, sku, 1)))
        await gone_shop.webhook("orders/updated", 5, order(5, item(1, sku, 4), updated=5))
        await gone_shop.webhook("orders/create", 6, order(6, item(1, sku, 1)))

        async def skipped() -> bool:
            after = erased_count("orders/updated"), erased_count("orders/create")
            return after[0] - before[0] >= 2 and after[1] - before[1] >= 2

        await await_for("the late webhooks counted as erased", skipped, 30)
        # a webhook of an order not erased still applies
        await shop.webhook("orders/updated", kept, order(kept, item(1, sku, 2), updated=5))
        await rig.settled("only the kept order moved", sku, (10, 5))
        for key in (order_key(SHOP, str(gone)), order_key(SHOP, str(never)),
                    order_key(other, "5"), order_key(other, "6")):  # fmt: skip
            assert await redis.hget(key, "doc") is None
