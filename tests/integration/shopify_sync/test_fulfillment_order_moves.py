"""Fulfillment orders moved to where routing placed the units (ADR 0035), through
shopify-sync's fulfillments consumer on the real Kafka and Redis, against the Shopify
simulator: Shopify assigned an order's lines to its first location, routing placed one line
at the second and split another across both; ``order.routed`` moves the first line's
fulfillment order whole and the split line's units in part, with the order's committed units;
a redelivery moves nothing more; a move Shopify refuses is a poison message naming its
reason; a fulfillment order a fulfillment service holds is not sent at all (Shopify would
refuse it), the order's other moves are made, and it is dead-lettered the same way."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from integration.shopify_sync.conftest import LOC, Sync, SyncFactory, _topics
from prometheus_client import REGISTRY

from stocksync_common.consumer import PoisonMessage
from stocksync_common.events import Order, OrderLine, OrderRouted, encode
from support.poll import await_for

pytestmark = pytest.mark.integration
LOC2 = "gid://shopify/Location/2"
LOC3 = "gid://shopify/Location/3"
STORE = {"locations": {"wh-1": LOC, "wh-2": LOC2, "wh-3": LOC3},
         "routing": {"locations": ["wh-2", "wh-1"], "split": True}}  # fmt: skip
FOS = """
query F($id: ID!) { order(id: $id) { fulfillmentOrders(first: 10) { nodes {
  id status assignedLocation { location { id } }
  lineItems(first: 10) { nodes { sku remainingQuantity } }
} } } }
"""


@asynccontextmanager
async def orders_stack(
    sync_stack: SyncFactory, kafka_bootstrap: str, **overrides: Any
) -> AsyncIterator[tuple[Sync, str]]:
    """shopify-sync against the simulator, one store routed as STORE, its fulfillments
    consumer reading an orders topic of its own (given back with the stack)."""
    run = uuid.uuid4().hex[:8]
    topic = f"it.{run}.orders"
    await _topics(kafka_bootstrap, [topic])
    group = f"it-ful-{run}"
    async with sync_stack(["plus"], store_extra=[STORE], orders_topic=topic,
                          fulfillments_consumer_group=group, **overrides) as s:  # fmt: skip
        yield s, topic


async def fulfillment_orders(s: Sync, order_id: int) -> dict[tuple[str, str], int]:
    """Remaining units per (SKU, location) over the order's open fulfillment orders."""
    r = await s.sim.post(
        "/admin/api/2026-10/graphql.json",
        json={"query": FOS, "variables": {"id": f"gid://shopify/Order/{order_id}"}},
        headers={"X-Shopify-Access-Token": f"tok-{s.shops[0]}"},
    )
    body: dict[str, Any] = r.json()
    out: dict[tuple[str, str], int] = {}
    for fo in body["data"]["order"]["fulfillmentOrders"]["nodes"]:
        if fo["status"] in ("OPEN", "IN_PROGRESS"):
            where = fo["assignedLocation"]["location"]["id"]
            for line in fo["lineItems"]["nodes"]:
                key = (line["sku"], where)
                out[key] = out.get(key, 0) + line["remainingQuantity"]
    return out


async def inventory(s: Sync) -> dict[str, dict[str, int]]:
    data: dict[str, dict[str, int]] = (
        await s.sim.get(f"/_sim/stores/{s.shops[0]}/inventory")
    ).json()
    return data


async def moves_sent(s: Sync) -> int:
    r = await s.sim.get("/_sim/requests", params={"operation_name": "MoveFulfillmentOrder"})
    return len(r.json())


def routed(s: Sync, order: dict[str, Any], places: list[tuple[str, int, str]]) -> Order:
    ids = {line["sku"]: str(line["id"]) for line in order["line_items"]}
    lines = [OrderLine(line_id=ids[sku], sku=sku, quantity=n, location=loc)
             for sku, n, loc in places]  # fmt: skip
    return Order(shop=s.shops[0], order_id=str(order["id"]), lines=lines, routing=True)


async def test_routed_lines_move_their_fulfillment_orders_once(
    sync_stack: SyncFactory, kafka_bootstrap: str
) -> None:
    async with orders_stack(sync_stack, kafka_bootstrap,
                            inventory_url="http://inventory.test") as (s, topic):  # fmt: skip
        shop = s.shops[0]
        seeded = [{"sku": sku, "price": "5.00", "quantities": {LOC: 5, LOC2: 5}}
                  for sku in ("MV-A", "MV-B")]  # fmt: skip
        seeded.append({"sku": "MV-C", "price": "5.00", "quantities": {LOC: 5}})  # never at LOC2
        assert (await s.sim.post(f"/_sim/stores/{shop}/products", json=seeded)).status_code == 201
        items = [{"sku": "MV-A", "quantity": 2}, {"sku": "MV-B", "quantity": 3}]
        placed = await s.sim.post(f"/_sim/stores/{shop}/orders", json={"line_items": items})
        assert placed.status_code == 201, placed.text
        order = placed.json()["order"]
        assert await fulfillment_orders(s, order["id"]) == {("MV-A", LOC): 2, ("MV-B", LOC): 3}
        fulfillments = s.container.fulfillments
        assert fulfillments is not None and fulfillments.mover is not None
        assert fulfillments.mover.resync is not None  # the read API is known: moves reconcile
        resynced: list[tuple[str, list[str]]] = []

        async def recorded(shop: str, skus: Any) -> object:  # the job itself: not run here
            resynced.append((shop, list(skus)))
            return None

        fulfillments.mover.resync = recorded

        # routing: MV-A all at wh-2; MV-B split, 2 at wh-2 and 1 at wh-1
        event = OrderRouted(source="test", shop=shop, payload=routed(
            s, order, [("MV-A", 2, "wh-2"), ("MV-B", 2, "wh-2"), ("MV-B", 1, "wh-1")]))  # fmt: skip
        await s.producer.send_and_wait(topic, encode(event), key=str(order["id"]).encode())

        async def moved() -> dict[tuple[str, str], int] | None:
            now = await fulfillment_orders(s, order["id"])
            return now if ("MV-A", LOC2) in now and ("MV-B", LOC2) in now else None

        after = await await_for("fulfillment orders moved to wh-2", moved, 60)
        assert after == {("MV-A", LOC2): 2, ("MV-B", LOC2): 2, ("MV-B", LOC): 1}
        levels = await inventory(s)  # the committed units moved with them
        assert levels["MV-A"] == {LOC: 5, LOC2: 3}
        assert levels["MV-B"] == {LOC: 4, LOC2: 3}
        sent = await moves_sent(s)
        assert sent == 1  # one per (fulfillment order, destination): both lines in one call
        await await_for("the moved SKUs re-checked against truth", lambda: _ready(resynced), 30)
        assert resynced == [(shop, ["MV-A", "MV-B"])]

        # redelivered: planned from what Shopify shows now, nothing moves twice
        assert await fulfillments.mover.on_routed(event.payload) == 0
        assert await moves_sent(s) == sent and len(resynced) == 1
        assert await fulfillment_orders(s, order["id"]) == after

        # a location that never stocked the item: Shopify refuses, the event is poison
        other = await s.sim.post(f"/_sim/stores/{shop}/orders",
                                 json={"line_items": [{"sku": "MV-C", "quantity": 1}]})  # fmt: skip
        refused = routed(s, other.json()["order"], [("MV-C", 1, "wh-2")])
        with pytest.raises(PoisonMessage, match="does not stock MV-C"):
            await fulfillments.mover.on_routed(refused)
        assert await fulfillment_orders(s, other.json()["order"]["id"]) == {("MV-C", LOC): 1}


async def _ready(resynced: list[Any]) -> bool:
    return bool(resynced)


ALL_FOS = """
query A($id: ID!) { order(id: $id) { fulfillmentOrders(first: 15) { nodes {
  id status assignedLocation { location { id } }
  lineItems(first: 40) { nodes { id sku remainingQuantity } }
} } } }
"""
MOVE = """
mutation M($id: ID!, $to: ID!, $lines: [FulfillmentOrderLineItemInput!]) {
  fulfillmentOrderMove(id: $id, newLocationId: $to, fulfillmentOrderLineItems: $lines) {
    movedFulfillmentOrder { id } userErrors { message }
  }
}
"""


async def admin(s: Sync, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    r = await s.sim.post("/admin/api/2026-10/graphql.json",
                         json={"query": query, "variables": variables},
                         headers={"X-Shopify-Access-Token": f"tok-{s.shops[0]}"})  # fmt: skip
    body: dict[str, Any] = r.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def test_an_order_beyond_the_first_page_of_fulfillment_orders_and_lines_is_moved(
    sync_stack: SyncFactory, kafka_bootstrap: str
) -> None:
    """40 lines in one fulfillment order at wh-1; the merchant moved 11 of them one by one
    to wh-2 (12 fulfillment orders). Routing places the 11th moved line (12th fulfillment
    order) and the original's 29th line at wh-3: both beyond the first page (10 fulfillment
    orders, 25 lines) and both moved."""
    async with orders_stack(sync_stack, kafka_bootstrap) as (s, _topic):
        skus = [f"PG-{n:02d}" for n in range(1, 41)]
        quantities = {LOC: 2, LOC2: 2, LOC3: 2}
        order, gid_, fos = await split_by_the_merchant(s, skus, quantities, 11, ALL_FOS)
        assert [line["sku"] for line in fos[-1]["lineItems"]["nodes"]] == ["PG-11"]
        assert [line["sku"] for line in fos[0]["lineItems"]["nodes"]].index("PG-40") == 28
        fulfillments = s.container.fulfillments
        assert fulfillments is not None and fulfillments.mover is not None

        event = routed(s, order, [("PG-11", 1, "wh-3"), ("PG-40", 1, "wh-3")])
        assert await fulfillments.mover.on_routed(event) == 2
        now = await fulfillment_orders_at(s, gid_)
        assert now["PG-11"] == now["PG-40"] == LOC3
        assert now["PG-10"] == LOC2 and now["PG-39"] == LOC  # the others stay
        assert await fulfillments.mover.on_routed(event) == 0  # in place: nothing more


async def split_by_the_merchant(
    s: Sync, skus: list[str], quantities: dict[str, int], moved: int, query: str
) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """An order of one unit of each SKU (stocked with ``quantities``), one fulfillment order
    at LOC, whose merchant moved its first ``moved`` lines one by one to LOC2 (a new
    fulfillment order each): the order, its gid and its fulfillment orders as ``query`` (a
    query of ``$id``, fulfillment orders with their lines' ``id`` and ``sku``) reads them."""
    shop = s.shops[0]
    seeded = [{"sku": sku, "price": "5.00", "quantities": quantities} for sku in skus]
    assert (await s.sim.post(f"/_sim/stores/{shop}/products", json=seeded)).status_code == 201
    items = [{"sku": sku, "quantity": 1} for sku in skus]
    placed = await s.sim.post(f"/_sim/stores/{shop}/orders", json={"line_items": items})
    assert placed.status_code == 201, placed.text
    order: dict[str, Any] = placed.json()["order"]
    gid_ = f"gid://shopify/Order/{order['id']}"
    first = (await admin(s, query, {"id": gid_}))["order"]["fulfillmentOrders"]["nodes"]
    assert len(first) == 1 and first[0]["assignedLocation"]["location"]["id"] == LOC
    lines = {line["sku"]: line["id"] for line in first[0]["lineItems"]["nodes"]}
    for sku in skus[:moved]:
        one = [{"id": lines[sku], "quantity": 1}]
        done = await admin(s, MOVE, {"id": first[0]["id"], "to": LOC2, "lines": one})
        assert done["fulfillmentOrderMove"]["userErrors"] == []
    fos = (await admin(s, query, {"id": gid_}))["order"]["fulfillmentOrders"]["nodes"]
    assert len(fos) == 1 + moved
    return order, gid_, fos


async def fulfillment_orders_at(s: Sync, order_gid: str) -> dict[str, str]:
    """Where each SKU's open units are now."""
    fos = (await admin(s, ALL_FOS, {"id": order_gid}))["order"]["fulfillmentOrders"]["nodes"]
    return {
        line["sku"]: fo["assignedLocation"]["location"]["id"]
        for fo in fos if fo["status"] in ("OPEN", "IN_PROGRESS")
        for line in fo["lineItems"]["nodes"] if line["remainingQuantity"] > 0
    }  # fmt: skip


def held_counted(shop: str) -> float:
    labels = {"shop": shop, "outcome": "held"}
    return REGISTRY.get_sample_value("stocksync_fulfillment_order_moves_total", labels) or 0.0


async def test_a_fulfillment_order_a_fulfillment_service_holds_is_not_moved(
    sync_stack: SyncFactory, kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    """HS-B's fulfillment order (at wh-1) was accepted by a fulfillment service, HS-A's (at
    wh-2, the merchant moved it) was not; routing placed both at wh-3. HS-A's moves; no move
    is sent for HS-B's, and the event is poison naming why, as a refused move is."""
    async with orders_stack(sync_stack, kafka_bootstrap) as (s, _topic):
        shop = s.shops[0]
        quantities = {LOC: 2, LOC2: 2, LOC3: 2}
        order, gid_, fos = await split_by_the_merchant(s, ["HS-A", "HS-B"], quantities, 1, ALL_FOS)
        held = next(fo for fo in fos if fo["assignedLocation"]["location"]["id"] == LOC)
        number = held["id"].rsplit("/", 1)[1]
        r = await s.sim.patch(f"/_sim/stores/{shop}/fulfillment-orders/{number}",
                              json={"request_status": "ACCEPTED"})  # fmt: skip
        assert r.status_code == 200, r.text
        fulfillments = s.container.fulfillments
        assert fulfillments is not None and fulfillments.mover is not None
        await s.sim.delete("/_sim/requests")
        before = held_counted(shop)

        event = routed(s, order, [("HS-A", 1, "wh-3"), ("HS-B", 1, "wh-3")])
        with caplog.at_level(logging.WARNING), pytest.raises(PoisonMessage) as poison:
            await fulfillments.mover.on_routed(event)
        assert await moves_sent(s) == 1  # HS-A's only: none for the held one
        assert await fulfillment_orders_at(s, gid_) == {"HS-A": LOC3, "HS-B": LOC}
        reason = str(poison.value)
        assert "held by a fulfillment service" in reason and "ACCEPTED" in reason, reason
        assert held["id"] in reason
        assert held_counted(shop) - before == 1
        assert any("held by a fulfillment service" in r.getMessage() for r in caplog.records)

        # redelivered while still held: nothing sent, poison again; once the service let go
        # (a cancellation accepted), it moves
        with pytest.raises(PoisonMessage, match="held by a fulfillment service"):
            await fulfillments.mover.on_routed(event)
        assert await moves_sent(s) == 1
        r = await s.sim.patch(f"/_sim/stores/{shop}/fulfillment-orders/{number}",
                              json={"request_status": "CANCELLATION_ACCEPTED"})  # fmt: skip
        assert r.status_code == 200, r.text
        assert await fulfillments.mover.on_routed(event) == 1
        assert await fulfillment_orders_at(s, gid_) == {"HS-A": LOC3, "HS-B": LOC3}
