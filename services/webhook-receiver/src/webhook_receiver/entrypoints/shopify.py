"""``POST /webhooks/shopify``: Shopify's webhook deliveries.

In order: size bound, shop and signature (before anything reads the body as data), required
headers, content type, JSON, then one ledger call and one publish; the answer; then the
dedupe record, the routing metrics and the receiver's part of a compliance request.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, cast

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from stocksync_common.dlq.redaction import subjects_of_request
from stocksync_common.events import (
    ComplianceRequest,
    ComplianceRequestReceived,
    ComplianceTopic,
    encode,
    stable_id,
)
from stocksync_common.pii import without_pii
from stocksync_common.redis_client import REDIS_ERRORS, redis_failed
from stocksync_common.shopify_webhooks import SHOPIFY_WEBHOOK_PATH
from stocksync_common.topics import WEBHOOKS_SHOPIFY, dlq_topic
from webhook_receiver.bootstrap import Container
from webhook_receiver.compliance_erasure import handle_compliance
from webhook_receiver.domain.compliance import compliance_request, shape_problem
from webhook_receiver.domain.freshness import parse_instant
from webhook_receiver.domain.routing import ORDERS, Route, record_key, route_for, topic_label
from webhook_receiver.entrypoints.edge import (
    MAX_ID_CHARS,
    SOURCE,
    ClientGone,
    Handled,
    Headers,
    Rejected,
    acknowledge,
    check_declared_length,
    check_fresh,
    check_id,
    container_of,
    counted,
    dead_letter,
    headers_of,
    read_bounded,
    require_headers,
    require_json,
)
from webhook_receiver.entrypoints.openapi import SHOPIFY_OPENAPI, responses
from webhook_receiver.envelope import SHOPIFY_RECEIVED, shopify_received
from webhook_receiver.intake import Delivery, Outcome
from webhook_receiver.metrics import PARKED, PII_REMOVED, ROUTED
from webhook_receiver.verify import verify_shopify

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])


@dataclass(frozen=True, slots=True)
class Received:
    """A verified delivery, ready to publish, and what happens once it is accepted."""

    delivery: Delivery
    route: Route
    topic: str
    compliance: ComplianceRequest | None
    # what a customers/redact or shop/redact erases from the dead letters' views
    erases: tuple[str, ...] = ()


async def shopify_edge(c: Container, scope: Scope, receive: Receive, send: Send) -> None:
    """Verify, publish durably, acknowledge, then record one Shopify delivery (raw ASGI)."""
    started = time.perf_counter()
    try:
        received = await _receive(c, headers_of(scope), receive)
        await _note_erasure(c, received)
        outcome = await c.intake.accept(received.delivery)
        await acknowledge(send, outcome, received.delivery.event_id)
    except Rejected as refusal:
        await refusal.send(send)
        counted("shopify", refusal.outcome, started)
        return
    except ClientGone:
        return
    counted("shopify", outcome.value, started)
    if outcome is Outcome.ACCEPTED:
        await c.intake.record(received.delivery)
        await _accepted(c, received)


@router.post(
    SHOPIFY_WEBHOOK_PATH,
    openapi_extra=SHOPIFY_OPENAPI,
    responses=responses(200, 400, 401, 413, 415, 429, 503),
    response_model=None,
)
async def shopify_webhook(request: Request) -> Response:
    """Verify, publish durably, then acknowledge one Shopify delivery."""
    return Handled(shopify_edge, container_of(request))


async def _receive(c: Container, h: Headers, receive: Receive) -> Received:
    limit = c.settings.max_body_bytes
    check_declared_length(h, limit)
    shop = h.get("x-shopify-shop-domain", "").strip().lower()
    secrets = c.shop_secrets.get(shop)
    signature = h.get("x-shopify-hmac-sha256")
    if secrets is None or not signature:
        raise Rejected(401, "unknown shop or missing signature", "unauthorized")
    body = await read_bounded(receive, limit)
    if not verify_shopify(body, signature, secrets):
        raise Rejected(401, "invalid webhook signature", "unauthorized")
    topic, webhook_id, stamp = require_headers(
        h, ["X-Shopify-Topic", "X-Shopify-Webhook-Id", "X-Shopify-Triggered-At"]
    )
    check_id("X-Shopify-Webhook-Id", webhook_id)
    check_fresh(c, "X-Shopify-Triggered-At", parse_instant(stamp))
    require_json(h)
    doc = await _parse(c, h, shop, webhook_id, body)
    route = route_for(topic)
    if route.compliance:
        problem = shape_problem(topic, shop, doc)
        if problem is not None:
            await _keep(c, h, shop, webhook_id, body, f"not a {topic} request: {problem}")
            raise Rejected(400, f"body is not a {topic} request: {problem}", "mismatch")
    eid = stable_id("shopify", shop, webhook_id)
    cid = stable_id("correlation", shop, webhook_id)
    compliance: ComplianceRequest | None = None
    event_type: str
    if route.compliance:
        compliance = _compliance(h, topic, shop, webhook_id, doc)
        event = ComplianceRequestReceived(
            id=eid, correlation_id=cid, source=SOURCE, shop=shop, payload=compliance
        )
        value, event_type = encode(event), event.type
    else:
        if route.handler == ORDERS.handler or route.parked:
            doc, removed = without_pii(doc)
            if removed:  # the record carries no customer data (stocksync_common.pii)
                body = orjson.dumps(doc)
                PII_REMOVED.labels(topic_label(topic)).inc(removed)
        value = shopify_received(
            event_id=eid,
            correlation_id=cid,
            source=SOURCE,
            shop=shop,
            topic=topic,
            webhook_id=webhook_id,
            shopify_event_id=h.get("x-shopify-event-id"),
            triggered_at=h.get("x-shopify-triggered-at"),
            api_version=h.get("x-shopify-api-version"),
            body=body,
        )
        event_type = SHOPIFY_RECEIVED
    delivery = Delivery(
        sender=shop,
        delivery_id=webhook_id,
        topic=route.kafka_topic,
        key=record_key(shop, route, doc, webhook_id),
        value=value,
        event_id=eid,
        event_type=event_type,
        correlation_id=cid,
        rate_limit=c.settings.shop_rate_limit_per_s,
        note=h.get("x-shopify-event-id", "")[:MAX_ID_CHARS],
    )
    erases = tuple(subjects_of_request(topic, shop, doc)) if compliance is not None else ()
    return Received(delivery, route, topic, compliance, erases)


async def _parse(
    c: Container, h: Headers, shop: str, webhook_id: str, body: bytes
) -> dict[str, Any]:
    """The body as a JSON object; otherwise it is kept in the DLQ and refused with 400."""
    try:
        doc = orjson.loads(body)
        if isinstance(doc, dict):
            return doc
        error = f"body is a JSON {type(doc).__name__}, not an object"
    except orjson.JSONDecodeError as exc:
        error = f"body is not valid JSON: {exc}"
    await _keep(c, h, shop, webhook_id, body, error)
    raise Rejected(400, error, "invalid")


async def _keep(
    c: Container, h: Headers, shop: str, webhook_id: str, body: bytes, error: str
) -> None:
    """A refused body kept in the receiver's DLQ with the reason (503 if it cannot be)."""
    dlq = dlq_topic(WEBHOOKS_SHOPIFY, SOURCE)
    record = dead_letter(h, WEBHOOKS_SHOPIFY, f"{shop}/{webhook_id}", body, error)
    if not await c.intake.keep_raw(dlq, f"{shop}/{webhook_id}", record):
        raise Rejected(503, "could not keep the invalid body; retry later", "unavailable")


def _compliance(
    h: Headers, topic: str, shop: str, webhook_id: str, doc: dict[str, Any]
) -> ComplianceRequest:
    request = compliance_request(
        cast(ComplianceTopic, topic),
        shop,
        webhook_id,
        doc,
        event_id=h.get("x-shopify-event-id"),
        triggered_at=h.get("x-shopify-triggered-at"),
        api_version=h.get("x-shopify-api-version"),
    )
    log.info(
        "compliance request received",
        extra={"compliance_topic": topic, "shop": shop, "webhook_id": webhook_id},
    )
    return request


async def _note_erasure(c: Container, r: Received) -> None:
    """Put what a redact request erases on the redaction list before the request is
    accepted: 503 (Shopify sends it again) when it cannot be, so no erasure is lost."""
    if not r.erases:
        return
    try:
        await c.redactions.add(r.erases)
    except REDIS_ERRORS as exc:
        if not redis_failed(exc):
            raise
        log.warning("redaction list not written", extra={"topic": topic_label(r.topic)})
        raise Rejected(503, "could not note the erasure; retry later", "unavailable") from exc


async def _note_parked(c: Container, r: Received) -> None:
    """For the ops console; the delivery is in Kafka already, so a failed note loses nothing
    but the note."""
    d = r.delivery
    try:
        await c.parked.note(d.sender, r.topic, d.delivery_id, len(d.value))
    except REDIS_ERRORS as exc:
        if not redis_failed(exc):
            raise
        log.warning("parked delivery not noted", extra={"topic": topic_label(r.topic)})


async def _accepted(c: Container, r: Received) -> None:
    label = topic_label(r.topic)
    ROUTED.labels(label, r.route.kafka_topic, r.route.handler).inc()
    if r.route.parked:
        PARKED.labels(label).inc()
        log.warning("unhandled webhook topic parked", extra={"topic": label})
        await _note_parked(c, r)
    if r.compliance is not None:
        # After the answer and the record: the request path stays one ledger call, one publish.
        await handle_compliance(c.intake.ledger, r.compliance)
