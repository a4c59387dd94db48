"""``POST /webhooks/wms``: the warehouse's signed events, validated per event type."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from stocksync_common.events import WmsWebhookReceived, encode, stable_id
from stocksync_common.topics import WEBHOOKS_WMS, dlq_topic
from webhook_receiver.bootstrap import Container
from webhook_receiver.domain.wms import InvalidWmsEvent, parse_wms_event
from webhook_receiver.entrypoints.edge import (
    SOURCE,
    ClientGone,
    Handled,
    Headers,
    Rejected,
    acknowledge,
    check_declared_length,
    check_fresh,
    container_of,
    counted,
    dead_letter,
    headers_of,
    read_bounded,
    require_json,
)
from webhook_receiver.entrypoints.openapi import WMS_OPENAPI, responses
from webhook_receiver.intake import Delivery, Outcome
from webhook_receiver.verify import verify_wms

router = APIRouter(tags=["webhooks"])
SENDER = "wms"


async def wms_edge(c: Container, scope: Scope, receive: Receive, send: Send) -> None:
    """Verify, validate, publish durably, acknowledge, then record one WMS event (raw ASGI)."""
    started = time.perf_counter()
    try:
        delivery = await _receive(c, headers_of(scope), receive)
        outcome = await c.intake.accept(delivery)
        await acknowledge(send, outcome, delivery.event_id)
    except Rejected as refusal:
        await refusal.send(send)
        counted("wms", refusal.outcome, started)
        return
    except ClientGone:
        return
    counted("wms", outcome.value, started)
    if outcome is Outcome.ACCEPTED:
        await c.intake.record(delivery)


@router.post(
    "/webhooks/wms",
    openapi_extra=WMS_OPENAPI,
    responses=responses(200, 400, 401, 413, 415, 429, 503),
    response_model=None,
)
async def wms_webhook(request: Request) -> Response:
    """Verify, validate, publish durably, then acknowledge one WMS event."""
    return Handled(wms_edge, container_of(request))


async def _receive(c: Container, h: Headers, receive: Receive) -> Delivery:
    limit = c.settings.max_body_bytes
    check_declared_length(h, limit)
    signature = h.get("x-wms-signature")
    if not signature:
        raise Rejected(401, "missing signature", "unauthorized")
    body = await read_bounded(receive, limit)
    if not verify_wms(body, signature, c.wms_secrets()):
        raise Rejected(401, "invalid WMS signature", "unauthorized")
    require_json(h)
    try:
        wms_event = parse_wms_event(body)
    except InvalidWmsEvent as exc:
        record = dead_letter(h, WEBHOOKS_WMS, SENDER, body, str(exc))
        if not await c.intake.keep_raw(dlq_topic(WEBHOOKS_WMS, SOURCE), SENDER, record):
            raise Rejected(
                503, "could not keep the invalid body; retry later", "unavailable"
            ) from exc
        raise Rejected(400, "invalid WMS event", "invalid", errors=exc.errors) from exc
    check_fresh(c, "occurred_at", wms_event.occurred_at)
    declared = h.get("x-wms-event-type")
    if declared is not None and declared != wms_event.event_type:
        raise Rejected(400, "X-WMS-Event-Type does not match the body's event_type", "bad_request")
    event = WmsWebhookReceived(
        id=stable_id("wms", wms_event.event_id),
        correlation_id=stable_id("correlation", "wms", wms_event.event_id),
        source=SOURCE,
        payload=wms_event,
    )
    return Delivery(
        sender=SENDER,
        delivery_id=wms_event.event_id,
        topic=WEBHOOKS_WMS,
        key=f"wms/{wms_event.event_id}",
        value=encode(event),
        event_id=event.id,
        event_type=event.type,
        correlation_id=event.correlation_id,
        rate_limit=c.settings.wms_rate_limit_per_s,
    )
