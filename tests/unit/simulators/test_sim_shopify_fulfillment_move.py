"""The Shopify simulator's fulfillmentOrderMove: a whole untouched fulfillment order moves
itself, a part (or one partly fulfilled) moves into a new one, committed units follow, and
the refusals Shopify documents are user errors that change nothing: among them a fulfillment
order awaiting a fulfillment service (its ``requestStatus``) and one with progress reported,
both set through the control API."""

from __future__ import annotations

from typing import Any

import pytest
from unit.simulators.shopify_harness import LOC, LOC2, PARENT, ShopifySim
from unit.simulators.test_sim_shopify_fulfillment import create, fulfillment_orders, place

FOS = """
query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) { nodes {
  id status requestStatus assignedLocation { location { id } }
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


# Shopify: "You can't change the assigned location while a fulfillment order has a request
# status of SUBMITTED, ACCEPTED, CANCELLATION_REQUESTED, or CANCELLATION_REJECTED."
HELD_BY_SERVICE = ["SUBMITTED", "ACCEPTED", "CANCELLATION_REQUESTED", "CANCELLATION_REJECTED"]


async def set_state(shopify: ShopifySim, fo_gid: str, **state: Any) -> dict[str, Any]:
    number = fo_gid.rsplit("/", 1)[1]
    r = await shopify.client.patch(f"/_sim/stores/{PARENT}/fulfillment-orders/{number}", json=state)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def request_status(shopify: ShopifySim, order_gid: str) -> list[str]:
    data = (await shopify.graphql(FOS, {"id": order_gid}))["data"]["order"]
    return [fo["requestStatus"] for fo in data["fulfillmentOrders"]["nodes"]]


@pytest.mark.parametrize("status", HELD_BY_SERVICE)
async def test_one_awaiting_a_fulfillment_service_is_not_moved(
    shopify: ShopifySim, status: str
) -> None:
    order_gid = await seed_both(shopify, 3)
    (fo,) = await fulfillment_orders(shopify, order_gid)
    assert await request_status(shopify, order_gid) == ["UNSUBMITTED"]
    assert (await set_state(shopify, fo["id"], request_status=status))["requestStatus"] == status
    assert await request_status(shopify, order_gid) == [status]
    answer = await move(shopify, fo["id"], LOC2)
    assert answer["movedFulfillmentOrder"] is None
    (error,) = answer["userErrors"]
    assert error["field"] == ["id"] and error["code"] is None
    assert f"request status of {status}" in error["message"], error
    assert await where(shopify, order_gid) == [("OPEN", LOC, 3)]
    assert level(shopify, LOC) == (7, 3) and level(shopify, LOC2) == (4, 0)


@pytest.mark.parametrize("status", ["UNSUBMITTED", "REJECTED", "CANCELLATION_ACCEPTED"])
async def test_one_the_fulfillment_service_let_go_of_moves(
    shopify: ShopifySim, status: str
) -> None:
    order_gid = await seed_both(shopify, 3)
    (fo,) = await fulfillment_orders(shopify, order_gid)
    await set_state(shopify, fo["id"], request_status="ACCEPTED")
    await set_state(shopify, fo["id"], request_status=status)
    assert (await move(shopify, fo["id"], LOC2))["userErrors"] == []
    assert await where(shopify, order_gid) == [("OPEN", LOC2, 3)]


async def test_one_with_progress_reported_is_not_moved_until_marked_open(
    shopify: ShopifySim,
) -> None:
    order_gid = await seed_both(shopify, 3)
    (fo,) = await fulfillment_orders(shopify, order_gid)
    reported = await set_state(shopify, fo["id"], progress_reported=True)
    assert reported["status"] == "IN_PROGRESS"
    answer = await move(shopify, fo["id"], LOC2)
    assert answer["movedFulfillmentOrder"] is None
    assert answer["userErrors"] == [{
        "field": ["id"], "code": "CANNOT_MOVE_FULFILLMENT_ORDER_WITH_REPORTED_PROGRESS",
        "message": "Cannot move a fulfillment order that has progress reported.",
    }]  # fmt: skip
    assert await where(shopify, order_gid) == [("IN_PROGRESS", LOC, 3)]
    assert (await set_state(shopify, fo["id"], progress_reported=False))["status"] == "OPEN"
    assert (await move(shopify, fo["id"], LOC2))["userErrors"] == []
    assert await where(shopify, order_gid) == [("OPEN", LOC2, 3)]


async def test_the_state_of_an_unknown_fulfillment_order_is_a_404(shopify: ShopifySim) -> None:
    r = await shopify.client.patch(
        f"/_sim/stores/{PARENT}/fulfillment-orders/999", json={"request_status": "ACCEPTED"}
    )
    assert r.status_code == 404
    r = await shopify.client.patch(
        f"/_sim/stores/{PARENT}/fulfillment-orders/999", json={"request_status": "LOST"}
    )
    assert r.status_code == 422
