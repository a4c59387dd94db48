"""Order lifecycle events for what adjuster feedback and cancelled shipments change
(ADR 0031), through order-consumer and inventory-adjuster in process on the real Kafka and
Redis: a refused line reserved when stock returns publishes ``order.rereserved`` (units held,
where); a cancelled fulfilment publishes ``order.fulfillment_cancelled`` (the units open and
back on hand); each once, however often its cause is delivered."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from integration.order_consumer.harness import SHOP, running
from redis.asyncio import Redis
from unit.order_consumer.payloads import fulfillment, item, order

from order_consumer.adapters.redis_orders import RedisOrders
from stocksync_common.events import (
    Envelope,
    OrderFulfillmentCancelled,
    OrderRereserved,
    decode,
)
from stocksync_common.topics import ORDERS
from support.poll import await_for

pytestmark = pytest.mark.integration


@asynccontextmanager
async def orders_seen(kafka: str) -> AsyncIterator[list[Envelope]]:
    """Every ``orders.v1`` event published from now on, as it arrives."""
    consumer = AIOKafkaConsumer(
        ORDERS, bootstrap_servers=kafka, group_id=None, auto_offset_reset="latest"
    )
    await consumer.start()
    for tp in consumer.assignment():
        await consumer.position(tp)  # pinned at the end before anything is published
    seen: list[Envelope] = []

    async def pump() -> None:
        while True:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                seen.extend(decode(r.value) for r in records)

    task = asyncio.create_task(pump())
    try:
        yield seen
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


async def test_rereserved_and_cancelled_shipments_are_order_events(
    kafka_bootstrap: str, redis_url: str, redis: Redis, topics: list[str], tmp_path: Path
) -> None:
    sku = f"OEV-{uuid.uuid4().hex[:8].upper()}"
    oid = uuid.uuid4().int % 10**12
    repo = RedisOrders(redis, ttl_s=60)
    async with (
        orders_seen(kafka_bootstrap) as seen,
        running(kafka_bootstrap, redis_url, tmp_path) as rig,
    ):

        def of(kind: type[Envelope]) -> list[Envelope]:
            ours = [e for e in seen if isinstance(e, OrderRereserved | OrderFulfillmentCancelled)]
            return [e for e in ours if isinstance(e, kind) and e.payload.order_id == str(oid)]

        async def first(kind: type[Envelope]) -> list[Envelope] | None:
            return of(kind)[:1] or None

        shop = rig.shop()
        await shop.stock(sku, "set_on_hand", 1)
        await rig.settled("stock loaded", sku, (1, 0))
        await shop.webhook("orders/create", oid, order(oid, item(1, sku, 2)))  # refused: waits

        async def refused() -> bool:
            state = (await repo.load(SHOP, str(oid))).state
            return state is not None and state.lines["1"].unheld == 2

        await await_for("the line refused", refused)
        await shop.stock(sku, "adjust", 1)  # back: the line is reserved
        [rereserved] = await await_for("order.rereserved", lambda: first(OrderRereserved))
        assert isinstance(rereserved, OrderRereserved)
        p = rereserved.payload
        assert (p.shop, p.line_id, p.sku, p.quantity, p.released) == (SHOP, "1", sku, 2, 0)
        assert p.locations == {"wh-1": 2}

        shipped = fulfillment(93, oid, (1, 2), sku=sku)
        await shop.webhook("fulfillments/create", oid, shipped)
        await rig.settled("shipped", sku, (0, 0))
        cancelled = {**shipped, "status": "cancelled"}
        for _ in range(2):  # delivered twice: one event
            await shop.webhook("fulfillments/update", oid, cancelled)
        await rig.settled("the shipment undone and held again", sku, (2, 2))
        [undone] = await await_for(
            "order.fulfillment_cancelled", lambda: first(OrderFulfillmentCancelled)
        )
        assert isinstance(undone, OrderFulfillmentCancelled)
        assert undone.payload.fulfillment_id == "93"
        lines = [(ln.line_id, ln.quantity, ln.location) for ln in undone.payload.lines]
        assert lines == [("1", 2, "wh-1")]
        await rig.settled("nothing moved twice", sku, (2, 2))
        assert len({e.id for e in of(OrderFulfillmentCancelled)}) == 1
        assert len({e.id for e in of(OrderRereserved)}) == 1
