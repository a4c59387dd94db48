"""One order through all six services, against real Kafka, real Redis and the simulators."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from stack import DEMO_ENV, SERVICES, Stack
from stocksync_common.kafka import stop_consumer
from stocksync_common.topics import WEBHOOKS_SHOPIFY
from support.allocation import shows_stock
from support.poll import wait_for
from support.sim_writes import compare_and_set_violations, quantities

pytestmark = pytest.mark.e2e

PARENT, EU, US = "parent-store.myshopify.com", "child-eu.myshopify.com", "child-us.myshopify.com"
GIDS = {
    PARENT: "gid://shopify/Location/1001",
    EU: "gid://shopify/Location/2001",
    US: "gid://shopify/Location/3001",
}
EU_SECRET = b"demo-child-eu-secret"
ADMIN = {"Authorization": f"Bearer {DEMO_ENV['STOCKSYNC_ADMIN_TOKEN']}"}


def truth(http: httpx.Client, stack: Stack, sku: str) -> int | None:
    r = http.get(f"{stack.url('inventory-adjuster')}/inventory/{sku}")
    return int(r.json()["available"]) if r.status_code == 200 else None


def store_level(http: httpx.Client, stack: Stack, shop: str, sku: str) -> int | None:
    inv = http.get(f"{stack.url('shopify-sim')}/_sim/stores/{shop}/inventory").json()
    return (inv.get(sku) or {}).get(GIDS[shop])


def truth_is(http: httpx.Client, stack: Stack, sku: str, n: int) -> bool:
    return truth(http, stack, sku) == n


def store_is(http: httpx.Client, stack: Stack, shop: str, sku: str, n: int) -> bool:
    return store_level(http, stack, shop, sku) == n


def stores_hold(http: httpx.Client, stack: Stack, sku: str, n: int) -> bool:
    """Every store shows ``n``, or shares of it (channel allocation)."""
    return shows_stock((store_level(http, stack, shop, sku) for shop in GIDS), n)


def stores_show(http: httpx.Client, stack: Stack, sku: str, levels: list[int]) -> bool:
    """The stores' counts, in any order (shares under channel allocation)."""
    return sorted(store_level(http, stack, shop, sku) or 0 for shop in GIDS) == sorted(levels)


def seed(http: httpx.Client, stack: Stack, stock: dict[str, int]) -> None:
    for shop, gid in GIDS.items():
        body = [{"sku": sku, "quantities": {gid: 0}} for sku in stock]
        http.post(
            f"{stack.url('shopify-sim')}/_sim/stores/{shop}/products", json=body
        ).raise_for_status()
    csv = "sku,location,on_hand\n" + "".join(f"{s},wh-1,{n}\n" for s, n in stock.items())
    r = http.post(
        f"{stack.url('inventory-adjuster')}/inventory/import",
        content=csv,
        headers={**ADMIN, "Content-Type": "text/csv"},
    )
    assert r.status_code == 202, r.text
    for sku, n in stock.items():
        wait_for(f"{sku} imported", partial(truth_is, http, stack, sku, n))
        wait_for(f"stores show {sku}={n}", partial(stores_hold, http, stack, sku, n))


def order_body(lines: list[tuple[str, int]]) -> dict[str, Any]:
    oid = int(uuid.uuid4().int % 10**15)
    return {
        "id": oid,
        "admin_graphql_api_id": f"gid://shopify/Order/{oid}",
        "name": "#1001",
        "line_items": [
            {"id": oid + i + 1, "sku": sku, "quantity": qty, "title": sku, "price": "10.00"}
            for i, (sku, qty) in enumerate(lines)
        ],
    }


def sign(body: bytes, secret: bytes = EU_SECRET) -> str:
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def deliver(
    http: httpx.Client,
    stack: Stack,
    body: bytes,
    webhook_id: str,
    signature: str | None = None,
) -> httpx.Response:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": sign(body) if signature is None else signature,
        "X-Shopify-Shop-Domain": EU,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
        "X-Shopify-API-Version": "2026-10",
    }
    url = f"{stack.url('webhook-receiver')}/webhooks/shopify"
    return http.post(url, content=body, headers=headers)


async def end_offsets(bootstrap: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(WEBHOOKS_SHOPIFY) or set()
        ends = await consumer.end_offsets([TopicPartition(WEBHOOKS_SHOPIFY, p) for p in parts])
        return sum(ends.values())
    finally:
        await stop_consumer(consumer)


def test_every_service_answers_health_ready_and_metrics(stack: Stack, http: httpx.Client) -> None:
    for name in SERVICES:
        for path in ("/healthz", "/readyz"):
            r = http.get(stack.url(name) + path)
            assert r.status_code == 200, f"{name}{path}: {r.text}"
        metrics = http.get(stack.url(name) + "/metrics")
        assert (
            metrics.status_code == 200
            and "stocksync_" in metrics.text
            or name == "webhook-receiver"
        )


async def test_signed_order_flows_through_and_a_redelivery_changes_nothing(
    stack: Stack, http: httpx.Client, kafka_bootstrap: str
) -> None:
    tee, mug = f"E2E-TEE-{uuid.uuid4().hex[:6]}", f"E2E-MUG-{uuid.uuid4().hex[:6]}"
    seed(http, stack, {tee: 20, mug: 4})
    http.delete(f"{stack.url('shopify-sim')}/_sim/requests").raise_for_status()

    body = orjson.dumps(order_body([(tee, 2), (mug, 3)]))
    webhook_id = str(uuid.uuid4())
    r = deliver(http, stack, body, webhook_id)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"

    wait_for("tee reserved", lambda: truth(http, stack, tee) == 18)
    wait_for("mug reserved", lambda: truth(http, stack, mug) == 1)
    for shop in GIDS:  # ample: every store shows truth
        wait_for(f"{shop} tee", partial(store_is, http, stack, shop, tee, 18))
    # low for three stores (the default channel allocation): one store shows the last mug
    wait_for("mug shared", partial(stores_show, http, stack, mug, [0, 0, 1]))

    # The simulator saw compare-and-set writes with idempotency keys for the other stores:
    # every quantity it applied was sent with the store's count at that moment.
    reqs = http.get(f"{stack.url('shopify-sim')}/_sim/requests").json()
    sets = [q for q in reqs if "inventorySetQuantities" in str(q.get("document", ""))]
    assert all(q["variables"]["idempotencyKey"] for q in sets)
    writes = http.get(f"{stack.url('shopify-sim')}/_sim/storefront/writes").json()
    ours = [q for q in quantities(writes, {tee, mug}) if q["outcome"] == "applied"]
    assert {PARENT, US} <= {q["shop"] for q in ours}
    assert compare_and_set_violations(writes) == []

    # Same delivery again: acknowledged, nothing published, nothing applied.
    before = await end_offsets(kafka_bootstrap)
    again = deliver(http, stack, body, webhook_id)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert await end_offsets(kafka_bootstrap) == before
    ledger = http.get(
        f"{stack.url('inventory-adjuster')}/inventory/{tee}/ledger", headers=ADMIN
    ).json()["entries"]
    assert [e["command"] for e in ledger] == ["set_on_hand", "reserve"]
    assert truth(http, stack, tee) == 18


async def test_bad_signature_is_refused_and_publishes_nothing(
    stack: Stack, http: httpx.Client, kafka_bootstrap: str
) -> None:
    before = await end_offsets(kafka_bootstrap)
    body = orjson.dumps(order_body([("ANY", 1)]))
    wrong_secret = deliver(http, stack, body, str(uuid.uuid4()), signature=sign(body, b"wrong"))
    tampered = deliver(http, stack, body + b" ", str(uuid.uuid4()), signature=sign(body))
    missing = deliver(http, stack, body, str(uuid.uuid4()), signature="")
    assert [wrong_secret.status_code, tampered.status_code, missing.status_code] == [401] * 3
    assert await end_offsets(kafka_bootstrap) == before


def test_wms_receipt_raises_stock_everywhere_and_zero_alerts(
    stack: Stack, http: httpx.Client
) -> None:
    sku = f"E2E-RCV-{uuid.uuid4().hex[:6]}"
    seed(http, stack, {sku: 1})
    body = orjson.dumps(order_body([(sku, 1)]))
    assert deliver(http, stack, body, str(uuid.uuid4())).status_code == 200
    wait_for("sold out", lambda: truth(http, stack, sku) == 0)

    def alert_for(kind: str) -> Any:
        msgs = http.get(f"{stack.url('sink')}/_sink/messages").json()
        hits = [m for m in msgs if sku in str(m.get("json")) and kind in str(m.get("json"))]
        return hits or None

    (alert,) = wait_for("out-of-stock alert", lambda: alert_for("out of stock"))
    assert alert["path"] == "/alerts/slack"

    receipt = {"event_type": "receipt", "lines": [{"sku": sku, "quantity": 20, "location": "wh-1"}]}
    http.post(f"{stack.url('wms-sim')}/_sim/events", json=receipt).raise_for_status()
    wait_for("receipt applied", lambda: truth(http, stack, sku) == 20)
    for shop in GIDS:  # ample again: allocation ends, every store shows truth
        wait_for(f"{shop} shows receipt", partial(store_is, http, stack, shop, sku, 20))
    wait_for("back-in-stock alert", lambda: alert_for("back in stock"))
