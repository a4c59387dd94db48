"""A routed order's cancelled fulfilment puts the units back where its shipment took them
(ADR 0031), through order-consumer and inventory-adjuster in process on the real Kafka and
Redis: a line placed at the route's second location ships (Shopify names no location, so
the commit is sent at the store's first location and the adjuster commits the line's hold);
cancelling the shipment returns the units at that second location, not at the store's
default, and the line is reserved again."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from integration.order_consumer.harness import running
from unit.order_consumer.payloads import fulfillment, item, order

pytestmark = pytest.mark.integration

ROUTING = {"locations": ["wh-1", "wh-2"], "split": False}


async def test_a_cancelled_routed_shipment_comes_back_where_it_left(
    kafka_bootstrap: str, redis_url: str, topics: list[str], tmp_path: Path
) -> None:
    sku = f"RFCX-{uuid.uuid4().hex[:8].upper()}"
    oid = uuid.uuid4().int % 10**12
    async with running(kafka_bootstrap, redis_url, tmp_path, routing=ROUTING) as rig:
        shop = rig.shop()
        await shop.stock(sku, "set_on_hand", 0)
        await shop.stock(sku, "set_on_hand", 5, "wh-2")
        await rig.settled("stock loaded", sku, (5, 0), "wh-2")
        await shop.webhook("orders/create", oid, order(oid, item(1, sku, 2)))
        await rig.settled("placed at wh-2", sku, (5, 2), "wh-2")
        shipped = fulfillment(81, oid, (1, 2), sku=sku)  # no location: the store's default
        await shop.webhook("fulfillments/create", oid, shipped)
        await rig.settled("shipped from wh-2", sku, (3, 0), "wh-2")

        await shop.webhook("fulfillments/update", oid, {**shipped, "status": "cancelled"})
        await rig.settled("back on hand at wh-2, held again", sku, (5, 2), "wh-2")
        assert await rig.levels(sku) == (0, 0)  # nothing appeared at the store's default
        undo = [e for e in await rig.ledger(sku) if e["command"] == "adjust"]
        assert [(e["location"], e["d_on_hand"]) for e in undo] == [("wh-2", "2")]
