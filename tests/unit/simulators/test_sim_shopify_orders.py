"""Storefront orders in the simulator: stock checks, signed orders/create webhooks, retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping

import httpx
from unit.simulators.shopify_harness import (
    LOC,
    LOC2,
    PARENT,
    PARENT_SECRET,
    WEBHOOK_URL,
    ShopifySim,
)

WEBHOOK_HEADERS = (
    "X-Shopify-Topic",
    "X-Shopify-Hmac-Sha256",
    "X-Shopify-Shop-Domain",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Event-Id",
    "X-Shopify-Triggered-At",
    "X-Shopify-API-Version",
)


def expected_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def order(
    shopify: ShopifySim, payload: Mapping[str, object], wait: bool = True
) -> httpx.Response:
    return await shopify.client.post(
        f"/_sim/stores/{PARENT}/orders", json=payload, params={"wait": str(wait).lower()}
    )


async def test_order_is_refused_when_own_stock_is_short(shopify: ShopifySim) -> None:
    await shopify.seed(PARENT, [{"sku": "A", "quantities": {LOC: 2, LOC2: 1}}])
    response = await order(shopify, {"line_items": [{"sku": "A", "quantity": 3}]})
    assert response.status_code == 409
    assert response.json()["shortages"] == [{"sku": "A", "requested": 3, "available": 2}]
    assert await shopify.inventory() == {"A": {LOC: 2, LOC2: 1}}
    assert shopify.receiver.requests == []


async def test_unknown_sku_is_422(shopify: ShopifySim) -> None:
    response = await order(shopify, {"line_items": [{"sku": "NOPE", "quantity": 1}]})
    assert response.status_code == 422


async def test_order_decrements_stock_and_sends_signed_webhook(shopify: ShopifySim) -> None:
    [seeded] = await shopify.seed(PARENT, [{"sku": "A", "quantities": {LOC: 5}, "price": "12.5"}])
    response = await order(shopify, {"line_items": [{"sku": "A", "quantity": 2}], "order_id": 4242})
    assert response.status_code == 201, response.text
    assert await shopify.inventory() == {"A": {LOC: 3}}

    [request] = shopify.receiver.requests
    assert str(request.url) == WEBHOOK_URL
    body = request.content
    assert request.headers["X-Shopify-Hmac-Sha256"] == expected_hmac(PARENT_SECRET, body)
    assert request.headers["Content-Type"] == "application/json"
    assert all(request.headers.get(name) for name in WEBHOOK_HEADERS)
    assert request.headers["X-Shopify-Topic"] == "orders/create"
    assert request.headers["X-Shopify-Shop-Domain"] == PARENT
    assert request.headers["X-Shopify-API-Version"] == "2026-10"

    payload = json.loads(body)
    assert payload["id"] == 4242
    assert payload["admin_graphql_api_id"] == "gid://shopify/Order/4242"
    [line] = payload["line_items"]
    assert (line["sku"], line["quantity"], line["price"]) == ("A", 2, "12.50")
    assert f"gid://shopify/ProductVariant/{line['variant_id']}" == seeded["variant_id"]
    assert f"gid://shopify/Product/{line['product_id']}" == seeded["product_id"]
    assert payload["total_price"] == "25.00"

    [delivery] = (await shopify.client.get("/_sim/webhooks")).json()
    assert delivery["webhook_id"] == request.headers["X-Shopify-Webhook-Id"]
    assert (delivery["status"], delivery["attempt_count"]) == ("delivered", 1)


async def test_sign_with_previous_secret(shopify: ShopifySim) -> None:
    await shopify.seed(PARENT, [{"sku": "A", "quantities": {"wh-1": 5}}])
    payload = {"line_items": [{"sku": "A", "quantity": 1}], "sign_with": "previous"}
    assert (await order(shopify, payload)).status_code == 201
    [request] = shopify.receiver.requests
    signature = request.headers["X-Shopify-Hmac-Sha256"]
    assert signature == expected_hmac("parent-old-secret", request.content)
    assert signature != expected_hmac(PARENT_SECRET, request.content)


async def test_failed_delivery_is_retried_with_growing_backoff(shopify: ShopifySim) -> None:
    await shopify.seed(PARENT, [{"sku": "A", "quantities": {LOC: 5}}])
    shopify.receiver.outcomes = [503, httpx.ConnectError("refused"), 200]
    assert (await order(shopify, {"line_items": [{"sku": "A", "quantity": 1}]})).status_code == 201
    await shopify.sim.require_deliverer().drain()
    requests = shopify.receiver.requests
    assert len(requests) == 3
    assert len({r.headers["X-Shopify-Webhook-Id"] for r in requests}) == 1
    assert len({r.content for r in requests}) == 1
    assert shopify.sleeps.waits[0] < shopify.sleeps.waits[1]
    [delivery] = (await shopify.client.get("/_sim/webhooks")).json()
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [503, None, 200]
    assert delivery["attempts"][1]["error"].startswith("ConnectError")


async def test_delivery_gives_up_after_eight_tries(shopify: ShopifySim) -> None:
    await shopify.seed(PARENT, [{"sku": "A", "quantities": {LOC: 5}}])
    shopify.receiver.outcomes = [500] * 20
    await order(shopify, {"line_items": [{"sku": "A", "quantity": 1}]}, wait=False)
    await shopify.sim.require_deliverer().drain()
    assert len(shopify.receiver.requests) == 8
    assert len(shopify.sleeps.waits) == 7
    assert abs(sum(shopify.sleeps.waits) - 3.0) < 1e-9
    [delivery] = (await shopify.client.get("/_sim/webhooks", params={"status": "failed"})).json()
    assert delivery["attempt_count"] == 8


async def test_redeliver_resends_the_same_delivery(shopify: ShopifySim) -> None:
    await shopify.seed(PARENT, [{"sku": "A", "quantities": {LOC: 5}}])
    created = (await order(shopify, {"line_items": [{"sku": "A", "quantity": 1}]})).json()
    webhook_id = created["webhook"]["webhook_id"]
    response = await shopify.client.post(
        f"/_sim/stores/{PARENT}/webhooks/{webhook_id}/redeliver", params={"wait": "true"}
    )
    assert response.status_code == 200
    assert response.json()["attempt_count"] == 2
    first, second = shopify.receiver.requests
    assert first.content == second.content
    for name in WEBHOOK_HEADERS:
        assert first.headers[name] == second.headers[name]
    assert await shopify.inventory() == {"A": {LOC: 4}}
    missing = await shopify.client.post(f"/_sim/stores/{PARENT}/webhooks/nope/redeliver")
    assert missing.status_code == 404
