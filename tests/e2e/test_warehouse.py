"""The warehouse both ways, through the running stack (receiver, order-consumer,
inventory-adjuster, shopify-sync, wms-connector and the Shopify and WMS simulators):
receipts reach every store, a cycle count taken while orders were in flight ends with the
right truth, an order reaches the WMS exactly once through failures, a shipment commits
stock and creates the Shopify fulfilment, and reconciliation corrects drift."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import pytest
from e2e.test_happy_path import ADMIN, EU, GIDS, seed, store_is

from stack import Stack
from support.poll import wait_for

pytestmark = pytest.mark.e2e
FULFILLMENTS = """
query O($id: ID!) { order(id: $id) {
  fulfillments { status trackingInfo { number company } }
  fulfillmentOrders(first: 5) { nodes { status } }
} }
"""


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def levels(http: httpx.Client, stack: Stack, sku: str) -> dict[str, int] | None:
    r = http.get(f"{stack.url('inventory-adjuster')}/inventory/{sku}")
    if r.status_code != 200:
        return None
    loc: dict[str, int] = r.json()["locations"]["wh-1"]
    return loc


def levels_are(http: httpx.Client, stack: Stack, sku: str, **want: int) -> bool:
    got = levels(http, stack, sku) or {}
    return all(got.get(k) == v for k, v in want.items())


def place_order(http: httpx.Client, stack: Stack, shop: str, sku: str, qty: int) -> str:
    r = http.post(
        f"{stack.url('shopify-sim')}/_sim/stores/{shop}/orders",
        json={"line_items": [{"sku": sku, "quantity": qty}]},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["order"]["id"])


def wms_order(http: httpx.Client, stack: Stack, shop: str, order_id: str) -> dict[str, Any] | None:
    listed = http.get(f"{stack.url('wms-sim')}/_sim/fulfillment-orders").json()
    ref = f"{shop}:{order_id}"
    return next((o for o in listed["orders"] if o["external_ref"] == ref), None)


def wms_event(http: httpx.Client, stack: Stack, event: dict[str, Any]) -> None:
    http.post(f"{stack.url('wms-sim')}/_sim/events", json=event).raise_for_status()


def test_a_receipt_raises_every_stores_count(stack: Stack, http: httpx.Client) -> None:
    sku = f"WH-RCV-{uuid.uuid4().hex[:6]}"
    seed(http, stack, {sku: 3})  # low: shown as shares
    wms_event(http, stack, {"event_type": "receipt", "lines": [{"sku": sku, "quantity": 17}]})
    wait_for("receipt in truth", partial(levels_are, http, stack, sku, on_hand=20, available=20))
    for shop in GIDS:  # ample now: every store shows truth
        wait_for(f"{shop} shows the receipt", partial(store_is, http, stack, shop, sku, 20), 30)


def test_cycle_count_taken_while_orders_were_in_flight_ends_with_the_right_truth(
    stack: Stack, http: httpx.Client
) -> None:
    sku = f"WH-CNT-{uuid.uuid4().hex[:6]}"
    seed(http, stack, {sku: 30})
    first = place_order(http, stack, EU, sku, 2)
    wait_for("first order at the WMS", lambda: wms_order(http, stack, EU, first), 30)
    wait_for("first reserved", partial(levels_are, http, stack, sku, reserved=2))

    counted_at = datetime.now(UTC)  # the count: 29 on the shelf (one unit lost)
    wait_for("clock moved past the count", lambda: datetime.now(UTC) > counted_at)
    place_order(http, stack, EU, sku, 3)  # reserved after the count
    wait_for("second reserved", partial(levels_are, http, stack, sku, reserved=5))
    fo = wms_order(http, stack, EU, first)
    assert fo is not None
    http.post(
        f"{stack.url('wms-sim')}/_sim/fulfillment-orders/{fo['id']}/ship", json={}
    ).raise_for_status()  # shipped after the count: 2 leave the shelf
    wait_for("first shipped", partial(levels_are, http, stack, sku, on_hand=28, reserved=3))

    count = {
        "event_type": "cycle_count",
        "occurred_at": counted_at.isoformat().replace("+00:00", "Z"),
        "lines": [{"sku": sku, "quantity": 29}],
    }
    wms_event(http, stack, count)
    # 29 counted, minus the 2 shipped since; the 3 reserved since stay reserved.
    wait_for(
        "count applied",
        partial(levels_are, http, stack, sku, on_hand=27, reserved=3, available=24),
    )
    ledger = http.get(
        f"{stack.url('inventory-adjuster')}/inventory/{sku}/ledger", headers=ADMIN
    ).json()
    assert [e["command"] for e in ledger["entries"]][-1] == "set_on_hand"


def test_an_order_reaches_the_wms_exactly_once_when_it_fails_twice(
    stack: Stack, http: httpx.Client
) -> None:
    sku = f"WH-ONCE-{uuid.uuid4().hex[:6]}"
    seed(http, stack, {sku: 5})
    wms = stack.url("wms-sim")
    http.put(f"{wms}/_sim/faults", json={"fail_next": 2, "fail_status": 503}).raise_for_status()
    before = http.get(f"{wms}/_sim/faults").json()["refused"].get("injected failure", 0)
    order_id = place_order(http, stack, EU, sku, 1)
    fo = wait_for("order at the WMS", lambda: wms_order(http, stack, EU, order_id), 60)
    assert fo["lines"] == [{"sku": sku, "quantity": 1, "location": "wh-1"}]
    refused = http.get(f"{wms}/_sim/faults").json()["refused"]["injected failure"]
    assert refused - before == 2
    listed = http.get(f"{wms}/_sim/fulfillment-orders").json()
    assert listed["create_calls"][f"{EU}:{order_id}"] == 1
    assert [o["external_ref"] for o in listed["orders"]].count(f"{EU}:{order_id}") == 1
    status = http.get(f"{stack.url('wms-connector')}/wms/status", headers=ADMIN).json()
    assert status["outbound"]["circuit"] in ("closed", "half_open")


def test_a_shipment_commits_stock_and_creates_the_shopify_fulfilment(
    stack: Stack, http: httpx.Client
) -> None:
    sku = f"WH-SHIP-{uuid.uuid4().hex[:6]}"
    seed(http, stack, {sku: 6})
    order_id = place_order(http, stack, EU, sku, 2)
    fo = wait_for("order at the WMS", lambda: wms_order(http, stack, EU, order_id), 30)
    wait_for("reserved", partial(levels_are, http, stack, sku, on_hand=6, reserved=2))
    shipped = http.post(
        f"{stack.url('wms-sim')}/_sim/fulfillment-orders/{fo['id']}/ship",
        json={"tracking_number": "1ZE2E0001", "carrier": "UPS"},
    )
    assert shipped.status_code == 200, shipped.text
    wait_for("committed", partial(levels_are, http, stack, sku, on_hand=4, reserved=0))

    def fulfilled() -> dict[str, Any] | None:
        r = http.post(
            f"{stack.url('shopify-sim')}/admin/api/2026-10/graphql.json",
            json={"query": FULFILLMENTS, "variables": {"id": f"gid://shopify/Order/{order_id}"}},
            headers={"X-Shopify-Access-Token": "shpat_demo_child_eu"},
        )
        order: dict[str, Any] | None = (r.json().get("data") or {}).get("order")
        return order if order and order["fulfillments"] else None

    order = wait_for("Shopify fulfilment", fulfilled, 30)
    (fulfilment,) = order["fulfillments"]
    assert fulfilment["status"] == "SUCCESS"
    assert fulfilment["trackingInfo"] == [{"number": "1ZE2E0001", "company": "UPS"}]
    assert order["fulfillmentOrders"]["nodes"] == [{"status": "CLOSED"}]


def test_reconciliation_corrects_drift_confirmed_on_two_runs(
    stack: Stack, http: httpx.Client
) -> None:
    sku = f"WH-REC-{uuid.uuid4().hex[:6]}"
    seed(http, stack, {sku: 10})
    wms = stack.url("wms-sim")
    http.put(f"{wms}/_sim/stock", json=[{"sku": sku, "on_hand": 12}]).raise_for_status()
    url = f"{stack.url('wms-connector')}/wms/reconcile"
    first = http.post(url, headers=ADMIN).json()["report"]
    mine = [d for d in first["differences"] if d["sku"] == sku]
    assert [(d["delta"], d["seen_runs"]) for d in mine] == [(2, 1)]
    assert sku not in [c["sku"] for c in first["corrected"]]  # not confirmed yet
    second = http.post(url, headers=ADMIN).json()["report"]
    assert sku in [c["sku"] for c in second["corrected"]]
    wait_for("truth corrected", partial(levels_are, http, stack, sku, on_hand=12))
    assert http.post(url).status_code == 401
