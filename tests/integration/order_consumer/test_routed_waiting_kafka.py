"""Routed lines wait for stock like plain ones (ADR 0031), through order-consumer and
inventory-adjuster in process on the real Kafka and Redis: a routed line refused at every
location of its route waits with its route, in order of arrival; stock coming back at any
location the route allows places it there; the order's state holds the units where they were
placed, and a cancel releases them there (the line's hold follows the re-reservation)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from integration.order_consumer.harness import running, until_line
from redis.asyncio import Redis
from unit.order_consumer.payloads import item, order

from order_consumer.adapters.redis_orders import RedisOrders

pytestmark = pytest.mark.integration

ROUTING = {"locations": ["wh-1", "wh-2"], "split": False}


async def test_a_routed_line_waits_and_is_placed_where_stock_returns(
    kafka_bootstrap: str, redis_url: str, redis: Redis, topics: list[str], tmp_path: Path
) -> None:
    sku = f"RWAIT-{uuid.uuid4().hex[:8].upper()}"
    a, b = (uuid.uuid4().int % 10**12 for _ in range(2))
    repo = RedisOrders(redis, ttl_s=60)

    async with running(kafka_bootstrap, redis_url, tmp_path, routing=ROUTING) as rig:
        shop = rig.shop()
        await shop.stock(sku, "set_on_hand", 1)
        await shop.stock(sku, "set_on_hand", 0, "wh-2")
        await rig.settled("stock loaded", sku, (0, 0), "wh-2")
        await shop.webhook("orders/create", a, order(a, item(1, sku, 2)))  # refused: waits
        await until_line(repo, "A refused at both", a, unheld=2, tried=["wh-1", "wh-2"])
        await shop.webhook("orders/create", b, order(b, item(1, sku, 1)))  # fits at wh-1
        await rig.settled("B reserved at wh-1", sku, (1, 1))

        # 1 unit at wh-2: not enough for A (2, no split); nothing placed
        await shop.stock(sku, "adjust", 1, "wh-2")
        await rig.settled("wh-2 received 1", sku, (1, 0), "wh-2")
        # 2 more at wh-2: A is placed there, the second location of its route
        await shop.stock(sku, "adjust", 2, "wh-2")
        await rig.settled("A re-reserved at wh-2", sku, (3, 2), "wh-2")
        held = await until_line(repo, "A holds its units at wh-2", a, reserved=2)
        assert (held.unheld, held.rereserved, held.routed) == (0, 2, {"wh-2": 2})

        # A cancelled: the routed release finds the line's hold at wh-2 and frees it
        cancel = order(a, item(1, sku, 2), updated=5, cancelled=5)
        await shop.webhook("orders/cancelled", a, cancel)
        await rig.settled("A's units released at wh-2", sku, (3, 0), "wh-2")
        assert await rig.levels(sku) == (1, 1)  # B's hold at wh-1 untouched
        served = [e for e in await rig.ledger(sku) if e.get("served_by")]
        assert [(e["location"], e["d_reserved"]) for e in served] == [("wh-2", "2")]
