"""``POST /webhooks/wms``: the warehouse's signed events, validated per event type."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from stocksync_common.events import WmsWebhookReceived, stable_id
from stocksync_common.topics import WEBHOOKS_WMS, dlq_topic
from webhook_receiver.bootstrap import Container
from webhook_receiver.domain.wms import InvalidWmsEvent, parse_wms_event
from webhook_receiver.entrypoints.edge import (
    SOURCE,
    Rejected,
    accepted,
    check_declared_length,
    container_of,
    dead_letter,
    read_bounded,
    require_json,
)
from webhook_receiver.entrypoints.openapi import WMS_OPENAPI, responses
from webhook_receiver.intake import Delivery, Outcome
from webhook_receiver.metrics import ACK_SECONDS, WEBHOOKS
from webhook_receiver.verify import verify_wms

router = APIRouter(tags=["webhooks"])
SENDER = "wms"


@router.post(
    "/webhooks/wms",
    openapi_extra=WMS_OPENAPI,
    responses=responses(200, 400, 401, 413, 415, 429, 503),
    response_model=None,
)
async def wms_webhook(request: Request) -> JSONResponse:
    """Verify, validate, publish durably, then acknowledge one WMS event."""
    started = time.perf_counter()
    try:
        outcome, event_id = await _receive(request, container_of(request))
        response = accepted(outcome, event_id)
        WEBHOOKS.labels("wms", outcome.value).inc()
    except Rejected as refusal:
        WEBHOOKS.labels("wms", refusal.outcome).inc()
        response = refusal.response()
    ACK_SECONDS.labels("wms").observe(time.perf_counter() - started)
    return response


async def _receive(request: Request, c: Container) -> tuple[Outcome, str]:
    limit = c.settings.max_body_bytes
    check_declared_length(request, limit)
    signature = request.headers.get("x-wms-signature")
    if not signature:
        raise Rejected(401, "missing signature", "unauthorized")
    body = await read_bounded(request, limit)
    if not verify_wms(body, signature, c.wms_secrets()):
        raise Rejected(401, "invalid WMS signature", "unauthorized")
    require_json(request)
    try:
        wms_event = parse_wms_event(body)
    except InvalidWmsEvent as exc:
        record = dead_letter(request, WEBHOOKS_WMS, SENDER, body, str(exc))
        if not await c.intake.keep_raw(dlq_topic(WEBHOOKS_WMS, SOURCE), SENDER, record):
            raise Rejected(
                503, "could not keep the invalid body; retry later", "unavailable"
            ) from exc
        raise Rejected(400, "invalid WMS event", "invalid", errors=exc.errors) from exc
    declared = request.headers.get("x-wms-event-type")
    if declared is not None and declared != wms_event.event_type:
        raise Rejected(400, "X-WMS-Event-Type does not match the body's event_type", "bad_request")
    event = WmsWebhookReceived(
        id=stable_id("wms", wms_event.event_id),
        correlation_id=stable_id("correlation", "wms", wms_event.event_id),
        source=SOURCE,
        payload=wms_event,
    )
    delivery = Delivery(
        sender=SENDER,
        delivery_id=wms_event.event_id,
        topic=WEBHOOKS_WMS,
        key=f"wms/{wms_event.event_id}",
        event=event,
        rate_limit=c.settings.wms_rate_limit_per_s,
    )
    return await c.intake.accept(delivery), event.id
