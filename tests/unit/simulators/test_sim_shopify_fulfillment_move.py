"""The Shopify simulator's fulfillmentOrderMove: a whole untouched fulfillment order moves
itself, a part (or one partly fulfilled) moves into a new one, committed units follow, and
the refusals Shopify documents are user errors that change nothing."""

from __future__ import annotations

from typing import Any

from unit.simulators.shopify_harness import LOC, LOC2, PARENT, ShopifySim
from unit.simulators.test_sim_shopify_fulfillment import create, fulfillment_orders, place

FOS = """
query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) { nodes {
  id status assignedLocation { location { id } }
  lineItems(first: 5) { nodes { id remainingQuantity totalQuantity } } } } } }
"""
MOVE = """
mutation($id: ID!, $to: ID!, $items: [FulfillmentOrderLineItemInput!]) {
  fulfillmentOrderMove(id: $id, newLocationId: $to, fulfillmentOrderLineItems: $items) {
    movedFulfillmentOrder { id status assignedLocation { location { id } } }
    originalFulfillmentOrder { id status }
    userErrors { field message code } } }
"""


async def move(shopify: ShopifySim, fo: str, to: str, items: Any = None) -> dict[str, Any]:
    answer = await shopify.graphql(MOVE, {"id": fo, "to": to, "items": items})
    payload: dict[str, Any] = answer["data"]["fulfillmentOrderMove"]
    return payload


async def where(shopify: ShopifySim, order_gid: str) -> list[tuple[str, str, int]]:
    data = (await shopify.graphql(FOS, {"id": order_gid}))["data"]["order"]
    return [
        (fo["status"], fo["assignedLocation"]["location"]["id"], line["remainingQuantity"])
        for fo in data["fulfillmentOrders"]["nodes"]
        for line in fo["lineItems"]["nodes"]
    ]


def level(shopify: ShopifySim, location: str) -> tuple[int, int]:
    lv = shopify.sim.state.stores[PARENT].products["A"].levels[location]
    return lv.available, lv.committed


async def seed_both(shopify: ShopifySim, qty: int) -> str:
    order_gid = await place(shopify, qty)  # A: 10 at LOC, allocated there
    await shopify.seed(PARENT, [{"sku": "A", "quantities": {LOC: 10 - qty, LOC2: 4}}])
    return order_gid


async def test_a_whole_untouched_fulfillment_order_moves_itself(shopify: ShopifySim) -> None:
    order_gid = await seed_both(shopify, 3)
    (fo,) = await fulfillment_orders(shopify, order_gid)
    answer = await move(shopify, fo["id"], LOC2)
    assert answer["userErrors"] == []
    assert answer["movedFulfillmentOrder"]["id"] == fo["id"]
    assert answer["movedFulfillmentOrder"]["assignedLocation"]["location"]["id"] == LOC2
    assert await where(shopify, order_gid) == [("OPEN", LOC2, 3)]
    assert level(shopify, LOC) == (10, 0) and level(shopify, LOC2) == (1, 3)


async def test_part_of_a_line_moves_into_a_new_fulfillment_order(shopify: ShopifySim) -> None:
    order_gid = await seed_both(shopify, 3)
    (fo,) = await fulfillment_orders(shopify, order_gid)
    line = fo["lineItems"]["nodes"][0]["id"]
    answer = await move(shopify, fo["id"], LOC2, [{"id": line, "quantity": 2}])
    assert answer["userErrors"] == []
    assert answer["movedFulfillmentOrder"]["id"] != fo["id"]
    assert answer["originalFulfillmentOrder"] == {"id": fo["id"], "status": "OPEN"}
    assert await where(shopify, order_gid) == [("OPEN", LOC, 1), ("OPEN", LOC2, 2)]
    assert level(shopify, LOC) == (9, 1) and level(shopify, LOC2) == (2, 2)


async def test_a_partly_fulfilled_one_moves_its_unfulfilled_units_only(shopify: ShopifySim) -> None:
    order_gid = await seed_both(shopify, 3)
    (fo,) = await fulfillment_orders(shopify, order_gid)
    line = fo["lineItems"]["nodes"][0]["id"]
    assert (await create(shopify, fo["id"], line, 1))["userErrors"] == []
    answer = await move(shopify, fo["id"], LOC2)
    assert answer["userErrors"] == []
    assert answer["movedFulfillmentOrder"]["id"] != fo["id"]
    assert answer["originalFulfillmentOrder"]["status"] == "CLOSED"
    assert await where(shopify, order_gid) == [("CLOSED", LOC, 0), ("OPEN", LOC2, 2)]


async def test_refusals_change_nothing(shopify: ShopifySim) -> None:
    order_gid = await place(shopify, 3)  # A is stocked at LOC only
    (fo,) = await fulfillment_orders(shopify, order_gid)
    line = fo["lineItems"]["nodes"][0]["id"]
    cases = [
        (fo["id"], LOC2, None, "does not stock A"),
        (fo["id"], LOC, None, "already assigned"),
        (fo["id"], "gid://shopify/Location/77", None, "could not be found"),
        (fo["id"], LOC2, [{"id": line, "quantity": 4}], "quantity"),
        ("gid://shopify/FulfillmentOrder/999", LOC2, None, "does not exist"),
    ]
    for fo_id, to, items, message in cases:
        answer = await move(shopify, fo_id, to, items)
        assert answer["movedFulfillmentOrder"] is None
        assert message in answer["userErrors"][0]["message"], (message, answer)
    assert await where(shopify, order_gid) == [("OPEN", LOC, 3)]
    assert (await create(shopify, fo["id"], line, 3))["userErrors"] == []
    closed = await move(shopify, fo["id"], LOC2)
    assert "not in a movable state" in closed["userErrors"][0]["message"]
