"""``POST /webhooks/shopify``: Shopify's webhook deliveries.

In order: size bound, shop and signature (before anything reads the body as data), required
headers, content type, JSON, then one ledger call, one publish and the dedupe record.
"""

from __future__ import annotations

import logging
import time
from typing import Any, cast

import orjson
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse

from stocksync_common.events import (
    ComplianceRequestReceived,
    ComplianceTopic,
    Envelope,
    ShopifyWebhook,
    ShopifyWebhookReceived,
    stable_id,
)
from stocksync_common.topics import WEBHOOKS_SHOPIFY, dlq_topic
from webhook_receiver.bootstrap import Container
from webhook_receiver.domain.compliance import compliance_request
from webhook_receiver.domain.routing import Route, record_key, route_for, topic_label
from webhook_receiver.entrypoints.edge import (
    MAX_ID_CHARS,
    SOURCE,
    Rejected,
    accepted,
    check_declared_length,
    check_id,
    container_of,
    dead_letter,
    read_bounded,
    require_headers,
    require_json,
)
from webhook_receiver.entrypoints.openapi import SHOPIFY_OPENAPI, responses
from webhook_receiver.handlers import handle_compliance
from webhook_receiver.intake import Delivery, Outcome
from webhook_receiver.metrics import ACK_SECONDS, PARKED, ROUTED, WEBHOOKS
from webhook_receiver.verify import verify_shopify

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhooks/shopify",
    openapi_extra=SHOPIFY_OPENAPI,
    responses=responses(200, 400, 401, 413, 415, 429, 503),
    response_model=None,
)
async def shopify_webhook(request: Request) -> JSONResponse:
    """Verify, publish durably, then acknowledge one Shopify delivery."""
    started = time.perf_counter()
    c = container_of(request)
    tasks = BackgroundTasks()
    try:
        outcome, event_id = await _receive(request, c, tasks)
        response = accepted(outcome, event_id)
        response.background = tasks
        WEBHOOKS.labels("shopify", outcome.value).inc()
    except Rejected as refusal:
        WEBHOOKS.labels("shopify", refusal.outcome).inc()
        response = refusal.response()
    ACK_SECONDS.labels("shopify").observe(time.perf_counter() - started)
    return response


async def _receive(request: Request, c: Container, tasks: BackgroundTasks) -> tuple[Outcome, str]:
    limit = c.settings.max_body_bytes
    check_declared_length(request, limit)
    shop = request.headers.get("x-shopify-shop-domain", "").strip().lower()
    store = c.store(shop)
    signature = request.headers.get("x-shopify-hmac-sha256")
    if store is None or not signature:
        raise Rejected(401, "unknown shop or missing signature", "unauthorized")
    body = await read_bounded(request, limit)
    if not verify_shopify(body, signature, store.webhook_secrets()):
        raise Rejected(401, "invalid webhook signature", "unauthorized")
    topic, webhook_id = require_headers(request, ["X-Shopify-Topic", "X-Shopify-Webhook-Id"])
    check_id("X-Shopify-Webhook-Id", webhook_id)
    require_json(request)
    doc = await _parse(c, request, shop, webhook_id, body)
    route = route_for(topic)
    event = _event(request, route, topic, shop, webhook_id, doc)
    delivery = Delivery(
        sender=shop,
        delivery_id=webhook_id,
        topic=route.kafka_topic,
        key=record_key(shop, route, doc, webhook_id),
        event=event,
        rate_limit=c.settings.shop_rate_limit_per_s,
        note=request.headers.get("x-shopify-event-id", "")[:MAX_ID_CHARS],
    )
    outcome = await c.intake.accept(delivery)
    if outcome is Outcome.ACCEPTED:
        _accepted(c, route, topic, event, tasks)
    return outcome, event.id


async def _parse(
    c: Container, request: Request, shop: str, webhook_id: str, body: bytes
) -> dict[str, Any]:
    """The body as a JSON object; otherwise it is kept in the DLQ and refused with 400."""
    try:
        doc = orjson.loads(body)
        if isinstance(doc, dict):
            return doc
        error = f"body is a JSON {type(doc).__name__}, not an object"
    except orjson.JSONDecodeError as exc:
        error = f"body is not valid JSON: {exc}"
    dlq = dlq_topic(WEBHOOKS_SHOPIFY, SOURCE)
    record = dead_letter(request, WEBHOOKS_SHOPIFY, f"{shop}/{webhook_id}", body, error)
    if not await c.intake.keep_raw(dlq, f"{shop}/{webhook_id}", record):
        raise Rejected(503, "could not keep the invalid body; retry later", "unavailable")
    raise Rejected(400, error, "invalid")


def _event(
    request: Request, route: Route, topic: str, shop: str, webhook_id: str, doc: dict[str, Any]
) -> Envelope:
    h = request.headers
    event_id = h.get("x-shopify-event-id")
    triggered_at = h.get("x-shopify-triggered-at")
    api_version = h.get("x-shopify-api-version")
    eid = stable_id("shopify", shop, webhook_id)
    cid = stable_id("correlation", shop, webhook_id)
    if route.compliance:
        request_ = compliance_request(
            cast(ComplianceTopic, topic),
            shop,
            webhook_id,
            doc,
            event_id=event_id,
            triggered_at=triggered_at,
            api_version=api_version,
        )
        log.info(
            "compliance request received",
            extra={"compliance_topic": topic, "shop": shop, "webhook_id": webhook_id},
        )
        return ComplianceRequestReceived(
            id=eid, correlation_id=cid, source=SOURCE, shop=shop, payload=request_
        )
    hook = ShopifyWebhook(
        topic=topic,
        shop=shop,
        webhook_id=webhook_id,
        event_id=event_id,
        triggered_at=triggered_at,
        api_version=api_version,
        body=doc,
    )
    return ShopifyWebhookReceived(
        id=eid, correlation_id=cid, source=SOURCE, shop=shop, payload=hook
    )


def _accepted(
    c: Container, route: Route, topic: str, event: Envelope, tasks: BackgroundTasks
) -> None:
    label = topic_label(topic)
    ROUTED.labels(label, route.kafka_topic, route.handler).inc()
    if route.parked:
        PARKED.labels(label).inc()
        log.warning("unhandled webhook topic parked", extra={"topic": label})
    if isinstance(event, ComplianceRequestReceived):
        # After the answer: the request path stays one publish and one ledger call.
        tasks.add_task(handle_compliance, c.intake.ledger, event.payload)
