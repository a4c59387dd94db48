"""Warehouse shipments to Shopify fulfilments: the documents validate against the Admin
schema, shipped units are matched to open fulfillment-order lines, and the handler creates
one fulfilment with tracking on the simulator, once per shipment."""

from __future__ import annotations

from typing import Any

import pytest
from unit.shopify_sync.harness import rig, store

from shopify_sync.adapters.fulfillment_documents import FULFILLMENT_DOCUMENTS
from shopify_sync.fulfillments import FulfillmentHandler, plan_fulfillment
from stocksync_common.events import OrderLineQuantity, WarehouseShipment
from stocksync_common.stores import StoresConfig
from support.shopify_schema import validate_document

SHOP = "ful.myshopify.com"
ORDER_QUERY = """
query O($id: ID!) { order(id: $id) {
  fulfillmentOrders(first: 5) {
    nodes { status lineItems(first: 5) { nodes { sku remainingQuantity } } }
  }
  fulfillments { status trackingInfo { number company } }
} }
"""


class MemoryRedis:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    async def exists(self, key: str) -> int:
        return int(key in self.data)

    async def set(self, key: str, value: str, ex: int | None = None) -> bool:
        self.data[key] = value
        return True


@pytest.mark.parametrize("name", sorted(FULFILLMENT_DOCUMENTS))
def test_document_validates_against_the_admin_schema(name: str) -> None:
    assert validate_document(FULFILLMENT_DOCUMENTS[name]) == []


def fo(fo_id: str, status: str, lines: list[tuple[str, str, int]]) -> dict[str, Any]:
    nodes = [{"id": i, "sku": s, "remainingQuantity": n} for i, s, n in lines]
    return {"id": fo_id, "status": status, "lineItems": {"nodes": nodes}}


def test_plan_takes_shipped_units_from_open_lines_only() -> None:
    fos = [
        fo("F1", "CLOSED", [("L0", "A", 5)]),
        fo("F2", "OPEN", [("L1", "A", 1), ("L2", "B", 4)]),
        fo("F3", "IN_PROGRESS", [("L3", "A", 3)]),
    ]
    plan = plan_fulfillment(fos, {"A": 3, "B": 2, "C": 1})
    assert plan == [
        {"fulfillmentOrderId": "F2", "fulfillmentOrderLineItems": [
            {"id": "L1", "quantity": 1}, {"id": "L2", "quantity": 2}]},
        {"fulfillmentOrderId": "F3", "fulfillmentOrderLineItems": [{"id": "L3", "quantity": 2}]},
    ]  # fmt: skip
    assert plan_fulfillment(fos, {"Z": 1}) == []


def shipment(order_id: str, shipment_id: str, qty: int = 2) -> WarehouseShipment:
    line = OrderLineQuantity(line_id="0", sku="TEE", quantity=qty, location="wh-1")
    return WarehouseShipment(
        shop=SHOP, order_id=order_id, shipment_id=shipment_id, lines=[line],
        tracking_number="1ZTRACK", carrier="UPS",
    )  # fmt: skip


async def test_shipment_creates_one_fulfilment_with_tracking() -> None:
    async with rig([store(SHOP, "standard")]) as r:
        await r.seed(SHOP, {"TEE": 10})
        placed = await r.http.post(
            f"/_sim/stores/{SHOP}/orders", json={"line_items": [{"sku": "TEE", "quantity": 2}]}
        )
        order_id = str(placed.json()["order"]["id"])
        handler = FulfillmentHandler(
            StoresConfig(stores=list(r.stores.values())),
            r.client,
            MemoryRedis(),  # type: ignore[arg-type]
        )
        created = await handler.fulfil(shipment(order_id, "ev-1"))
        assert created and created.startswith("gid://shopify/Fulfillment/")
        assert await handler.fulfil(shipment(order_id, "ev-1")) is None  # redelivered
        assert await handler.fulfil(shipment(order_id, "ev-2")) is None  # nothing remains

        body = {"query": ORDER_QUERY, "variables": {"id": f"gid://shopify/Order/{order_id}"}}
        answer = await r.http.post(
            r.stores[SHOP].graphql_url, json=body, headers={"X-Shopify-Access-Token": f"tok-{SHOP}"}
        )
        order = answer.json()["data"]["order"]
        assert order["fulfillments"] == [
            {"status": "SUCCESS", "trackingInfo": [{"number": "1ZTRACK", "company": "UPS"}]}
        ]
        (fo_node,) = order["fulfillmentOrders"]["nodes"]
        assert fo_node["status"] == "CLOSED"
        assert fo_node["lineItems"]["nodes"] == [{"sku": "TEE", "remainingQuantity": 0}]
