"""``POST /webhooks/wms``: the warehouse's signed events."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from stocksync_common.events import WmsEvent, WmsWebhookReceived, stable_id
from stocksync_common.topics import WEBHOOKS_WMS, dlq_topic
from webhook_receiver.entrypoints.body import read_bounded
from webhook_receiver.entrypoints.shopify import ContainerDep
from webhook_receiver.intake import ACK_SECONDS, WEBHOOKS, Outcome
from webhook_receiver.verify import verify_wms

router = APIRouter(tags=["webhooks"])


@router.post("/webhooks/wms", responses={401: {}, 400: {}, 413: {}, 503: {}})
async def wms_webhook(
    request: Request,
    c: ContainerDep,
    x_wms_signature: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Verify, validate, publish durably, then acknowledge one WMS event."""
    started = time.perf_counter()
    body = await read_bounded(request, c.settings.max_body_bytes)
    if not verify_wms(body, x_wms_signature, c.wms_secrets()):
        WEBHOOKS.labels("wms", "unauthorized").inc()
        raise HTTPException(401, "invalid WMS signature")
    try:
        wms_event = WmsEvent.model_validate_json(body)
    except ValidationError as exc:
        parked = await c.intake.park_invalid(
            dlq_topic(WEBHOOKS_WMS, "webhook-receiver"), "wms", body, str(exc)[:2000]
        )
        WEBHOOKS.labels("wms", "invalid").inc()
        if not parked:
            raise HTTPException(503, "could not keep the invalid body; retry later") from exc
        errors = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:10]]
        raise HTTPException(400, {"message": "invalid WMS event", "errors": errors}) from exc
    event = WmsWebhookReceived(
        id=stable_id("wms", wms_event.event_id),
        correlation_id=stable_id("correlation", "wms", wms_event.event_id),
        source="webhook-receiver",
        payload=wms_event,
    )
    outcome = await c.intake.accept(
        WEBHOOKS_WMS, f"wms/{wms_event.event_id}", event, f"wms:seen:{{{wms_event.event_id}}}"
    )
    WEBHOOKS.labels("wms", outcome.value).inc()
    ACK_SECONDS.labels("wms").observe(time.perf_counter() - started)
    if outcome is Outcome.UNAVAILABLE:
        raise HTTPException(503, "event log unavailable; retry later")
    return JSONResponse({"status": outcome.value, "event_id": event.id})
