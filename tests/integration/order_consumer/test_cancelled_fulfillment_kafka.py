"""A fulfilment Shopify cancelled after it shipped is undone (ADR 0022, b), through
order-consumer and inventory-adjuster in process on the real Kafka and Redis: the shipped
units come back on hand and are held for the order again, once however often the
cancellation is delivered (its own webhook or inside an orders/updated); a new shipment then
commits them; a cancellation seen before its shipment makes that shipment move nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from integration.order_consumer.harness import running
from unit.order_consumer.payloads import fulfillment, item, order

pytestmark = pytest.mark.integration


async def test_a_cancelled_fulfilment_returns_its_units_once(
    kafka_bootstrap: str, redis_url: str, topics: list[str], tmp_path: Path
) -> None:
    sku = f"FCX-{uuid.uuid4().hex[:8].upper()}"
    oid, early = (uuid.uuid4().int % 10**12 for _ in range(2))
    async with running(kafka_bootstrap, redis_url, tmp_path) as rig:
        shop = rig.shop()
        await shop.stock(sku, "set_on_hand", 10)
        await rig.settled("stock loaded", sku, (10, 0))
        await shop.webhook("orders/create", oid, order(oid, item(1, sku, 3)))
        await rig.settled("reserved", sku, (10, 3))
        shipped = fulfillment(77, oid, (1, 2), sku=sku)
        await shop.webhook("fulfillments/create", oid, shipped)
        await rig.settled("2 shipped", sku, (8, 1))

        cancelled = {**shipped, "status": "cancelled"}
        await shop.webhook("fulfillments/update", oid, cancelled)
        await rig.settled("the shipment undone", sku, (10, 3))
        # again, and inside a later snapshot of the order: nothing moves twice
        await shop.webhook("fulfillments/update", oid, cancelled)
        updated = order(oid, item(1, sku, 3), updated=9, fulfillments=(cancelled,))
        await shop.webhook("orders/updated", oid, updated)
        await shop.webhook("fulfillments/create", oid, shipped)  # the shipment, late
        again = fulfillment(78, oid, (1, 3), sku=sku)
        await shop.webhook("fulfillments/create", oid, again)
        await rig.settled("shipped for good", sku, (7, 0))

        # A cancellation that overtook its shipment: the shipment moves nothing.
        await shop.webhook("orders/create", early, order(early, item(1, sku, 2)))
        await rig.settled("second order reserved", sku, (7, 2))
        first = fulfillment(79, early, (1, 2), sku=sku)
        await shop.webhook("fulfillments/update", early, {**first, "status": "cancelled"})
        await shop.webhook("fulfillments/create", early, first)
        cancel = order(early, item(1, sku, 2), updated=5, cancelled=5)
        await shop.webhook("orders/cancelled", early, cancel)
        await rig.settled("second order released, nothing shipped", sku, (7, 0))
        entries = await rig.ledger(sku)
        adjusts = [e for e in entries if e["command"] == "adjust"]
        assert [int(e["d_on_hand"]) for e in adjusts] == [2]  # the one undo
        assert sum(e["command"] == "commit" for e in entries) == 2
