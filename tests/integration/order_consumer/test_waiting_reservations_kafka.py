"""Refused order lines reserved when stock comes back (ADR 0022, a), through order-consumer
and inventory-adjuster in process on the real Kafka and Redis: lines refused for stock wait
in order of arrival; stock returning (a cancelled order's release, a receipt) reserves them,
never a later line ahead of an earlier one; the order's state holds the units again (a
shipment commits them); a line whose order was cancelled while it waited is released again
at once; each happens once."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from integration.order_consumer.harness import SHOP, running, until_line
from redis.asyncio import Redis
from unit.order_consumer.payloads import fulfillment, item, order

from order_consumer.adapters.redis_orders import RedisOrders
from order_consumer.domain import LineState
from support.poll import await_for

pytestmark = pytest.mark.integration


async def test_refused_lines_are_reserved_in_order_when_stock_returns(
    kafka_bootstrap: str, redis_url: str, redis: Redis, topics: list[str], tmp_path: Path
) -> None:
    sku = f"WAIT-{uuid.uuid4().hex[:8].upper()}"
    a, b, c = (uuid.uuid4().int % 10**12 for _ in range(3))
    repo = RedisOrders(redis, ttl_s=60)

    async def line(oid: int) -> LineState | None:
        state = (await repo.load(SHOP, str(oid))).state
        return state.lines.get("1") if state else None

    async with running(kafka_bootstrap, redis_url, tmp_path) as rig:
        shop = rig.shop()
        await shop.stock(sku, "set_on_hand", 1)
        await rig.settled("stock loaded", sku, (1, 0))
        await shop.webhook("orders/create", a, order(a, item(1, sku, 2)))  # refused: waits
        await until_line(repo, "A refused", a, unheld=2)
        await shop.webhook("orders/create", b, order(b, item(1, sku, 1)))  # fits
        await rig.settled("B reserved", sku, (1, 1))
        await shop.webhook("orders/create", c, order(c, item(1, sku, 1)))  # refused: waits
        await until_line(repo, "C refused", c, unheld=1)

        # B cancelled: 1 unit back. C (1) would fit, but A (2) came first: none served.
        cancel_b = order(b, item(1, sku, 1), updated=5, cancelled=5)
        await shop.webhook("orders/cancelled", b, cancel_b)
        await rig.settled("B released", sku, (1, 0))
        # A receipt of 1: A is served, C still waits behind it.
        await shop.stock(sku, "adjust", 1)
        await rig.settled("A re-reserved", sku, (2, 2))
        held = await until_line(repo, "A's state holds its units", a, reserved=2)
        assert (held.unheld, held.rereserved, held.oversold) == (0, 2, True)
        c_line = await line(c)
        assert c_line is not None and (c_line.reserved, c_line.unheld) == (0, 1)

        # C cancelled while it waits, then a receipt: the adjuster serves C, and
        # order-consumer releases the units at once (the order no longer wants them).
        cancel_c = order(c, item(1, sku, 1), updated=5, cancelled=5)
        await shop.webhook("orders/cancelled", c, cancel_c)

        async def c_cancelled() -> bool:
            state = (await repo.load(SHOP, str(c))).state
            return state is not None and state.cancelled

        await await_for("C cancelled", c_cancelled, 30)
        await shop.stock(sku, "adjust", 1)

        async def c_released() -> bool:
            state = (await repo.load(SHOP, str(c))).state
            return state is not None and any(f.startswith("rereserved:") for f in state.facts)

        await await_for("C's re-reservation seen", c_released, 30)
        await rig.settled("C's units released again", sku, (3, 2))

        # A ships: its held units are committed (not an adjust of unheld units).
        await shop.webhook("fulfillments/create", a, fulfillment(901, a, (1, 2), sku=sku))
        await rig.settled("A shipped", sku, (1, 0))
        entries = await rig.ledger(sku)
        assert [e["command"] for e in entries if e.get("served_by")] == ["reserve", "reserve"]
        assert [e["command"] for e in entries].count("commit") == 1
        assert [e["command"] for e in entries].count("release") == 2  # B's cancel, C's
