"""``POST /webhooks/shopify``: Shopify's webhook deliveries."""

from __future__ import annotations

import time
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from stocksync_common.events import ShopifyWebhook, ShopifyWebhookReceived, stable_id
from stocksync_common.topics import WEBHOOKS_SHOPIFY, dlq_topic
from webhook_receiver.bootstrap import Container
from webhook_receiver.entrypoints.body import read_bounded, require_headers
from webhook_receiver.intake import ACK_SECONDS, WEBHOOKS, Outcome
from webhook_receiver.verify import verify_shopify

router = APIRouter(tags=["webhooks"])


def container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


ContainerDep = Annotated[Container, Depends(container)]


def _resource_key(shop: str, body: object, webhook_id: str) -> str:
    rid = body.get("id") if isinstance(body, dict) else None
    return f"{shop}/{rid if rid is not None else webhook_id}"


@router.post("/webhooks/shopify", responses={401: {}, 400: {}, 413: {}, 503: {}})
async def shopify_webhook(
    request: Request,
    c: ContainerDep,
    x_shopify_shop_domain: Annotated[str | None, Header()] = None,
    x_shopify_hmac_sha256: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Verify, publish durably, then acknowledge one Shopify delivery."""
    started = time.perf_counter()
    body = await read_bounded(request, c.settings.max_body_bytes)
    store = c.stores.by_shop(x_shopify_shop_domain or "")
    if store is None or not verify_shopify(body, x_shopify_hmac_sha256, store.webhook_secrets()):
        WEBHOOKS.labels("shopify", "unauthorized").inc()
        raise HTTPException(401, "invalid webhook signature")
    h = require_headers(request, ["x-shopify-topic", "x-shopify-webhook-id"])
    webhook_id = h["x-shopify-webhook-id"]
    try:
        doc = orjson.loads(body)
        if not isinstance(doc, dict):
            raise ValueError("body is not a JSON object")
    except ValueError as exc:
        parked = await c.intake.park_invalid(
            dlq_topic(WEBHOOKS_SHOPIFY, "webhook-receiver"),
            f"{store.shop}/{webhook_id}",
            body,
            str(exc),
        )
        WEBHOOKS.labels("shopify", "invalid").inc()
        if not parked:
            raise HTTPException(503, "could not keep the invalid body; retry later") from exc
        raise HTTPException(400, f"body is not valid JSON: {exc}") from exc
    event = ShopifyWebhookReceived(
        id=stable_id("shopify", store.shop, webhook_id),
        correlation_id=stable_id("correlation", store.shop, webhook_id),
        source="webhook-receiver",
        shop=store.shop,
        payload=ShopifyWebhook(
            topic=h["x-shopify-topic"],
            shop=store.shop,
            webhook_id=webhook_id,
            event_id=request.headers.get("x-shopify-event-id"),
            triggered_at=request.headers.get("x-shopify-triggered-at"),
            api_version=request.headers.get("x-shopify-api-version"),
            body=doc,
        ),
    )
    outcome = await c.intake.accept(
        WEBHOOKS_SHOPIFY,
        _resource_key(store.shop, doc, webhook_id),
        event,
        f"webhook:seen:{{{store.shop}}}:{webhook_id}",
    )
    WEBHOOKS.labels("shopify", outcome.value).inc()
    ACK_SECONDS.labels("shopify").observe(time.perf_counter() - started)
    if outcome is Outcome.UNAVAILABLE:
        raise HTTPException(503, "event log unavailable; retry later")
    return JSONResponse({"status": outcome.value, "event_id": event.id})
