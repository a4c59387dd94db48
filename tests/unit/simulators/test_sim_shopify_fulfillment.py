"""The Shopify simulator's Order.fulfillmentOrders and fulfillmentCreate."""

from __future__ import annotations

from typing import Any

from unit.simulators.shopify_harness import LOC, PARENT, ShopifySim

FOS = """
query($id: ID!) { order(id: $id) { id fulfillmentOrders(first: 5) { nodes {
  id status lineItems(first: 5) { nodes { id sku totalQuantity remainingQuantity } } } } } }
"""
CREATE = """
mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
  fulfillment { id status trackingInfo(first: 5) { number company url } }
  userErrors { field message } } }
"""


async def place(shopify: ShopifySim, qty: int) -> str:
    await shopify.seed(PARENT, [{"sku": "A", "quantities": {LOC: 10}}])
    r = await shopify.client.post(
        f"/_sim/stores/{PARENT}/orders", json={"line_items": [{"sku": "A", "quantity": qty}]}
    )
    assert r.status_code == 201
    return str(r.json()["order"]["admin_graphql_api_id"])


async def fulfillment_orders(shopify: ShopifySim, order_gid: str) -> list[dict[str, Any]]:
    data = (await shopify.graphql(FOS, {"id": order_gid}))["data"]
    nodes: list[dict[str, Any]] = data["order"]["fulfillmentOrders"]["nodes"]
    return nodes


async def create(shopify: ShopifySim, fo_id: str, line_id: str, qty: int) -> dict[str, Any]:
    spec = {
        "lineItemsByFulfillmentOrder": [
            {
                "fulfillmentOrderId": fo_id,
                "fulfillmentOrderLineItems": [{"id": line_id, "quantity": qty}],
            }
        ],
        "trackingInfo": {"number": "T1", "company": "DHL"},
    }
    answer: dict[str, Any] = (await shopify.graphql(CREATE, {"f": spec}))["data"][
        "fulfillmentCreate"
    ]
    return answer


async def test_a_placed_order_has_an_open_fulfillment_order(shopify: ShopifySim) -> None:
    order_gid = await place(shopify, 3)
    (fo,) = await fulfillment_orders(shopify, order_gid)
    assert fo["status"] == "OPEN"
    assert [
        (li["sku"], li["totalQuantity"], li["remainingQuantity"]) for li in fo["lineItems"]["nodes"]
    ] == [("A", 3, 3)]


async def test_fulfilling_part_then_the_rest_closes_it_and_ships_committed_units(
    shopify: ShopifySim,
) -> None:
    order_gid = await place(shopify, 3)
    (fo,) = await fulfillment_orders(shopify, order_gid)
    line = fo["lineItems"]["nodes"][0]["id"]
    first = await create(shopify, fo["id"], line, 2)
    assert first["userErrors"] == [] and first["fulfillment"]["status"] == "SUCCESS"
    assert first["fulfillment"]["trackingInfo"] == [{"number": "T1", "company": "DHL", "url": None}]
    assert (await fulfillment_orders(shopify, order_gid))[0]["status"] == "IN_PROGRESS"
    too_many = await create(shopify, fo["id"], line, 2)
    assert too_many["fulfillment"] is None and too_many["userErrors"]
    rest = await create(shopify, fo["id"], line, 1)
    assert rest["userErrors"] == []
    assert (await fulfillment_orders(shopify, order_gid))[0]["status"] == "CLOSED"
    level = shopify.sim.state.stores[PARENT].products["A"].levels[LOC]
    assert (level.available, level.committed) == (7, 0)


async def test_unknown_order_is_null_and_unknown_fulfillment_order_is_a_user_error(
    shopify: ShopifySim,
) -> None:
    data = (await shopify.graphql(FOS, {"id": "gid://shopify/Order/1"}))["data"]
    assert data["order"] is None
    answer = await create(shopify, "gid://shopify/FulfillmentOrder/999", "x", 1)
    assert answer["fulfillment"] is None and answer["userErrors"][0]["message"]
