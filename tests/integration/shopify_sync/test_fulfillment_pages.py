"""A warehouse shipment fulfils lines beyond the first page (ADR 0037 §1): through
shopify-sync's fulfillments consumer on the real Kafka and Redis, against the Shopify
simulator, an order of 70 lines whose merchant moved 11 of them one by one to another
location (12 fulfillment orders) ships a line of the 12th fulfillment order and the
original's 70th line (its 59th once 11 moved): both beyond what one read shows (10
fulfillment orders, their first lines), both fulfilled in the one ``fulfillmentCreate``."""

from __future__ import annotations

import uuid

import pytest
from integration.shopify_sync.conftest import LOC, Sync, SyncFactory
from integration.shopify_sync.test_fulfillment_order_moves import (
    LOC2,
    admin,
    orders_stack,
    split_by_the_merchant,
)

from stocksync_common.events import OrderLineQuantity, OrderShipped, WarehouseShipment, encode
from support.poll import await_for

pytestmark = pytest.mark.integration
EVERY_LINE = """
query E($id: ID!) { order(id: $id) {
  fulfillments { trackingInfo { number } }
  fulfillmentOrders(first: 20) { nodes {
    id status assignedLocation { location { id } }
    lineItems(first: 100) { nodes { id sku remainingQuantity } }
  } }
} }
"""


async def remaining(s: Sync, order_gid: str) -> tuple[dict[str, int], int]:
    """Units left to fulfil per SKU, and the fulfillments the order has."""
    order = (await admin(s, EVERY_LINE, {"id": order_gid}))["order"]
    left: dict[str, int] = {}
    for fo in order["fulfillmentOrders"]["nodes"]:
        for line in fo["lineItems"]["nodes"]:
            left[line["sku"]] = left.get(line["sku"], 0) + line["remainingQuantity"]
    return left, len(order["fulfillments"])


async def test_a_shipment_beyond_the_first_page_of_fulfillment_orders_and_lines_is_fulfilled(
    sync_stack: SyncFactory, kafka_bootstrap: str
) -> None:
    async with orders_stack(sync_stack, kafka_bootstrap) as (s, topic):
        shop = s.shops[0]
        skus = [f"FP-{n:02d}" for n in range(1, 71)]
        order, gid_, fos = await split_by_the_merchant(s, skus, {LOC: 2, LOC2: 2}, 11, EVERY_LINE)
        assert [line["sku"] for line in fos[0]["lineItems"]["nodes"]][-1] == "FP-70"  # the 59th
        assert [line["sku"] for line in fos[-1]["lineItems"]["nodes"]] == ["FP-11"]

        shipped = [OrderLineQuantity(line_id=str(n), sku=sku, quantity=1, location="wh-1")
                   for n, sku in enumerate(["FP-12", "FP-11", "FP-70"])]  # fmt: skip
        event = OrderShipped(source="test", shop=shop, payload=WarehouseShipment(
            shop=shop, order_id=str(order["id"]), shipment_id=uuid.uuid4().hex, lines=shipped,
            tracking_number="1ZPAGES", carrier="UPS"))  # fmt: skip
        await s.producer.send_and_wait(topic, encode(event), key=str(order["id"]).encode())

        async def fulfilled() -> tuple[dict[str, int], int] | None:
            left, made = await remaining(s, gid_)
            return (left, made) if made else None

        left, made = await await_for("the shipment fulfilled", fulfilled, 60)
        assert made == 1  # one fulfillmentCreate for the whole shipment
        assert {sku: left[sku] for sku in ("FP-11", "FP-12", "FP-70")} == {
            "FP-11": 0, "FP-12": 0, "FP-70": 0}  # fmt: skip
        assert sum(left.values()) == 67  # nothing else fulfilled
