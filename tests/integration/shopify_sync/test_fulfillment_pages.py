"""A warehouse shipment fulfils lines beyond the first page (ADR 0038 §1): through
shopify-sync's fulfillments consumer on the real Kafka and Redis, against the Shopify
simulator, an order of 70 lines whose merchant moved 11 of them one by one to another
location (12 fulfillment orders) ships a line of the 12th fulfillment order and the
original's 70th line (its 59th once 11 moved): both beyond what one read shows (10
fulfillment orders, their first lines), both fulfilled in the one ``fulfillmentCreate``."""

from __future__ import annotations

import uuid

import pytest
from integration.shopify_sync.conftest import LOC, Sync, SyncFactory, _topics
from integration.shopify_sync.test_fulfillment_order_moves import LOC2, MOVE, STORE, admin

from stocksync_common.events import OrderLineQuantity, OrderShipped, WarehouseShipment, encode
from support.poll import await_for

pytestmark = pytest.mark.integration
EVERY_LINE = """
query E($id: ID!) { order(id: $id) {
  fulfillments { trackingInfo { number } }
  fulfillmentOrders(first: 20) { nodes {
    id status lineItems(first: 100) { nodes { id sku remainingQuantity } }
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
    run = uuid.uuid4().hex[:8]
    topic = f"it.{run}.orders"
    await _topics(kafka_bootstrap, [topic])
    async with sync_stack(["plus"], store_extra=[STORE], orders_topic=topic,
                          fulfillments_consumer_group=f"it-ful-{run}") as s:  # fmt: skip
        shop = s.shops[0]
        skus = [f"FP-{n:02d}" for n in range(1, 71)]
        seeded = [{"sku": sku, "price": "5.00", "quantities": {LOC: 2, LOC2: 2}} for sku in skus]
        assert (await s.sim.post(f"/_sim/stores/{shop}/products", json=seeded)).status_code == 201
        items = [{"sku": sku, "quantity": 1} for sku in skus]
        placed = await s.sim.post(f"/_sim/stores/{shop}/orders", json={"line_items": items})
        assert placed.status_code == 201, placed.text
        order = placed.json()["order"]
        gid_ = f"gid://shopify/Order/{order['id']}"
        (first,) = (await admin(s, EVERY_LINE, {"id": gid_}))["order"]["fulfillmentOrders"]["nodes"]
        lines = {line["sku"]: line["id"] for line in first["lineItems"]["nodes"]}
        assert list(lines) == skus  # one fulfillment order, the 70th SKU its 70th line
        for sku in skus[:11]:  # the merchant's own moves: a new fulfillment order each
            one = [{"id": lines[sku], "quantity": 1}]
            moved = await admin(s, MOVE, {"id": first["id"], "to": LOC2, "lines": one})
            assert moved["fulfillmentOrderMove"]["userErrors"] == []
        fos = (await admin(s, EVERY_LINE, {"id": gid_}))["order"]["fulfillmentOrders"]["nodes"]
        assert len(fos) == 12
        assert [line["sku"] for line in fos[-1]["lineItems"]["nodes"]] == ["FP-11"]

        shipped = [OrderLineQuantity(line_id=str(n), sku=sku, quantity=1, location="wh-1")
                   for n, sku in enumerate(["FP-12", "FP-11", "FP-70"])]  # fmt: skip
        event = OrderShipped(source="test", shop=shop, payload=WarehouseShipment(
            shop=shop, order_id=str(order["id"]), shipment_id=f"ship-{run}", lines=shipped,
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
