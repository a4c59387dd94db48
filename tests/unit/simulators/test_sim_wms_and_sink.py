"""WMS simulator (signed warehouse events) and the alert sink."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest
from unit.simulators.shopify_harness import Receiver, Sleeps

from stocksync_sim.delivery import RetryPolicy
from stocksync_sim.sink.app import create_app as create_sink
from stocksync_sim.wms.app import WmsSettings, WmsSim
from stocksync_sim.wms.app import create_app as create_wms

SECRET = "wms-secret"
URL = "http://receiver.test/webhooks/wms"


@dataclass
class Wms:
    client: httpx.AsyncClient
    receiver: Receiver
    sim: WmsSim


@pytest.fixture
async def wms() -> AsyncIterator[Wms]:
    receiver = Receiver()
    settings = WmsSettings(URL, SECRET, retry=RetryPolicy(max_attempts=3, window_seconds=1.0))
    app = create_wms(settings, webhook_transport=receiver.transport(), sleep=Sleeps())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wms.test") as client:
            yield Wms(client, receiver, app.state.sim)


async def test_event_is_signed_with_hex_hmac(wms: Wms) -> None:
    client, receiver = wms.client, wms.receiver
    response = await client.post(
        "/_sim/events",
        json={"event_type": "receipt", "lines": [{"sku": "A", "quantity": 10}]},
        params={"wait": "true"},
    )
    assert response.status_code == 201
    [request] = receiver.requests
    expected = hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
    assert request.headers["X-WMS-Signature"] == expected
    event = json.loads(request.content)
    assert request.headers["X-WMS-Event-Id"] == event["event_id"]
    assert event["event_type"] == "receipt"
    assert event["warehouse_id"] == "WH1"
    assert event["lines"] == [{"sku": "A", "quantity": 10, "location": "wh-1"}]
    assert event["occurred_at"].endswith("Z")
    assert datetime.fromisoformat(event["occurred_at"]).utcoffset() is not None
    listed = (await client.get("/_sim/events")).json()
    assert [(e["id"], e["status"]) for e in listed] == [(event["event_id"], "delivered")]


async def test_shipment_carries_order_and_tracking(wms: Wms) -> None:
    client, receiver = wms.client, wms.receiver
    lines = [{"sku": "A", "quantity": 1}]
    refused = await client.post("/_sim/events", json={"event_type": "shipment", "lines": lines})
    assert refused.status_code == 422
    body = {"event_type": "shipment", "lines": lines, "order_id": "shopify:p:order:1"}
    await client.post("/_sim/events", json=body, params={"wait": "true"})
    event = json.loads(receiver.requests[0].content)
    assert event["order_id"] == "shopify:p:order:1"
    assert event["tracking_number"]


async def test_failed_event_delivery_is_retried(wms: Wms) -> None:
    client, receiver = wms.client, wms.receiver
    receiver.outcomes = [500, httpx.ReadTimeout("slow"), 500]
    body = {"event_type": "cycle_count", "lines": [{"sku": "A", "quantity": 7}]}
    sent = (await client.post("/_sim/events", json=body, params={"wait": "true"})).json()
    # wait=true awaits only the first try; retries go on in the background.
    assert (sent["status"], sent["attempt_count"]) == ("pending", 1)
    await wms.sim.require_deliverer().drain()
    [failed] = (await client.get("/_sim/events", params={"status": "failed"})).json()
    assert [a["status_code"] for a in failed["attempts"]] == [500, None, 500]
    redelivered = await client.post(f"/_sim/events/{sent['id']}/redeliver", params={"wait": "1"})
    assert redelivered.json()["status"] == "delivered"
    assert len({r.content for r in receiver.requests}) == 1


async def test_sink_records_any_post() -> None:
    app = create_sink()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sink.test") as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        await client.post("/slack/T000/B000", json={"text": "low stock: A"})
        await client.post("/email", content=b"plain body", headers={"X-Test": "1"})
        messages = (await client.get("/_sink/messages")).json()
        assert [(m["path"], m["json"], m["text"]) for m in messages] == [
            ("/slack/T000/B000", {"text": "low stock: A"}, None),
            ("/email", None, "plain body"),
        ]
        assert messages[1]["headers"]["x-test"] == "1"
        assert (await client.delete("/_sink/messages")).status_code == 204
        assert (await client.get("/_sink/messages")).json() == []
