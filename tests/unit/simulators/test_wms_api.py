"""WMS simulator REST API: API-key auth, idempotent fulfilment orders, cancel, rate limit,
fault switches, the stock snapshot, and shipping an order (a signed shipment webhook)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from unit.simulators.shopify_harness import FrozenClock, Receiver, Sleeps

from stocksync_sim.delivery import RetryPolicy
from stocksync_sim.wms.app import WmsSettings, WmsSim, create_app

KEY = {"X-API-Key": "k-test"}


@dataclass
class Wms:
    client: httpx.AsyncClient
    receiver: Receiver
    sim: WmsSim

    async def create(self, ref: str, **extra: Any) -> httpx.Response:
        body = {"external_ref": ref, "lines": [{"sku": "A", "quantity": 2}], **extra}
        return await self.client.post("/api/v1/fulfillment-orders", json=body, headers=KEY)


@pytest.fixture
async def wms() -> AsyncIterator[Wms]:
    receiver = Receiver()
    settings = WmsSettings(
        "http://receiver.test/webhooks/wms", "s3cret", api_key="k-test",
        retry=RetryPolicy(max_attempts=2, window_seconds=0.1), rate_limit_per_s=1000,
    )  # fmt: skip
    app = create_app(settings, webhook_transport=receiver.transport(), sleep=Sleeps())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wms.test") as client:
            yield Wms(client, receiver, app.state.sim)


async def test_every_api_call_needs_the_api_key(wms: Wms) -> None:
    missing = await wms.client.get("/api/v1/stock-snapshot")
    wrong = await wms.client.get("/api/v1/stock-snapshot", headers={"X-API-Key": "nope"})
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert (await wms.client.get("/api/v1/stock-snapshot", headers=KEY)).status_code == 200


async def test_create_is_idempotent_by_external_ref(wms: Wms) -> None:
    first = await wms.create("shop.test:1")
    again = await wms.create("shop.test:1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    listed = (await wms.client.get("/_sim/fulfillment-orders")).json()
    assert len(listed["orders"]) == 1 and listed["create_calls"] == {"shop.test:1": 2}


async def test_cancel_then_shipping_is_refused_and_a_shipped_order_cannot_cancel(wms: Wms) -> None:
    fo = (await wms.create("s:1")).json()
    cancel = await wms.client.post(f"/api/v1/fulfillment-orders/{fo['id']}/cancel", headers=KEY)
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    assert (
        await wms.client.post(f"/_sim/fulfillment-orders/{fo['id']}/ship", json={})
    ).status_code == 409
    other = (await wms.create("s:2")).json()
    shipped = await wms.client.post(f"/_sim/fulfillment-orders/{other['id']}/ship", json={})
    assert shipped.status_code == 200
    late = await wms.client.post(f"/api/v1/fulfillment-orders/{other['id']}/cancel", headers=KEY)
    assert late.status_code == 409


async def test_status_by_id_or_external_ref(wms: Wms) -> None:
    fo = (await wms.create("s:7")).json()
    by_id = await wms.client.get(f"/api/v1/fulfillment-orders/{fo['id']}", headers=KEY)
    by_ref = await wms.client.get("/api/v1/fulfillment-orders/s:7", headers=KEY)
    assert by_id.json() == by_ref.json() and by_id.json()["status"] == "open"
    assert (await wms.client.get("/api/v1/fulfillment-orders/none", headers=KEY)).status_code == 404


async def test_fault_switches_fail_the_next_requests_then_heal(wms: Wms) -> None:
    await wms.client.put("/_sim/faults", json={"fail_next": 2, "fail_status": 502})
    codes = [(await wms.create("s:9")).status_code for _ in range(3)]
    assert codes == [502, 502, 201]
    await wms.client.put("/_sim/faults", json={"down": True})
    assert (await wms.create("s:10")).status_code == 503
    await wms.client.put("/_sim/faults", json={"down": False})
    assert (await wms.create("s:10")).status_code == 201
    assert len((await wms.client.get("/_sim/fulfillment-orders")).json()["orders"]) == 2


async def test_rate_limit_answers_429_with_retry_after() -> None:
    clock = FrozenClock()
    settings = WmsSettings("http://r.test/w", "s", api_key="k-test", rate_limit_per_s=2)
    app = create_app(settings, webhook_transport=Receiver().transport(), sleep=Sleeps())
    app.state.sim.guard.limit.clock = clock
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wms.test") as client:
            codes = [
                (await client.get("/api/v1/stock-snapshot", headers=KEY)).status_code
                for _ in range(3)
            ]
            refused = await client.get("/api/v1/stock-snapshot", headers=KEY)
            clock.advance(1.0)
            healed = await client.get("/api/v1/stock-snapshot", headers=KEY)
    assert codes == [200, 200, 429]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert healed.status_code == 200


async def test_snapshot_follows_events_and_counts_open_orders(wms: Wms) -> None:
    await wms.client.put("/_sim/stock", json=[{"sku": "A", "on_hand": 10}])
    receipt = {"event_type": "receipt", "lines": [{"sku": "A", "quantity": 5}]}
    count = {"event_type": "cycle_count", "lines": [{"sku": "B", "quantity": 3}]}
    for event in (receipt, count):
        assert (await wms.client.post("/_sim/events", json=event)).status_code == 201
    await wms.create("s:1")
    snap = (await wms.client.get("/api/v1/stock-snapshot", headers=KEY)).json()
    assert snap["as_of"] and snap["snapshot_id"]
    assert snap["lines"] == [
        {"sku": "A", "location": "wh-1", "on_hand": 15, "allocated": 2},
        {"sku": "B", "location": "wh-1", "on_hand": 3, "allocated": 0},
    ]


async def test_shipping_sends_a_signed_shipment_with_tracking_and_lines(wms: Wms) -> None:
    await wms.client.put("/_sim/stock", json=[{"sku": "A", "on_hand": 10}])
    fo = (await wms.create("shop.test:42")).json()
    r = await wms.client.post(
        f"/_sim/fulfillment-orders/{fo['id']}/ship",
        json={"tracking_number": "TRACK1", "carrier": "DHL"},
        params={"wait": "true"},
    )
    assert r.status_code == 200 and r.json()["order"]["status"] == "shipped"
    (request,) = wms.receiver.requests
    body = json.loads(request.content)
    assert body["event_type"] == "shipment" and body["order_id"] == "shop.test:42"
    assert (body["tracking_number"], body["carrier"]) == ("TRACK1", "DHL")
    assert body["lines"] == [{"sku": "A", "quantity": 2, "location": "wh-1"}]
    assert request.headers["X-WMS-Signature"]
    snap = (await wms.client.get("/api/v1/stock-snapshot", headers=KEY)).json()
    assert snap["lines"][0]["on_hand"] == 8


async def test_slow_fault_applies_the_request_before_answering(wms: Wms) -> None:
    await wms.client.put("/_sim/faults", json={"slow_next": 1, "slow_s": 0.0})
    assert (await wms.create("s:slow")).status_code == 201
    assert (await wms.client.get("/_sim/faults")).json()["slow_next"] == 0
