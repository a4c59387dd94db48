"""WMS webhook events: the canonical body, and its ``X-WMS-Signature``."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any, Literal

from fastapi import HTTPException
from pydantic import BaseModel, Field

from stocksync_sim.delivery import rfc3339, utc_now

EventType = Literal["receipt", "adjustment", "cycle_count", "shipment"]


class LineIn(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int
    location: str = "wh-1"


class EventIn(BaseModel):
    event_type: EventType
    lines: list[LineIn] = Field(min_length=1)
    order_id: str | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    event_id: str | None = Field(default=None, description="fixed id, e.g. to send a duplicate")
    occurred_at: str | None = None


def wms_signature(secret: str, body: bytes) -> str:
    """``X-WMS-Signature``: lowercase hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def tracking_number() -> str:
    return f"1ZSIM{uuid.uuid4().hex[:12].upper()}"


def build_event(event: EventIn, warehouse_id: str) -> dict[str, Any]:
    """The canonical WMS event. For ``cycle_count`` a line's quantity is the counted
    on-hand; for ``adjustment`` a signed delta; for ``receipt``/``shipment`` units moved."""
    body: dict[str, Any] = {
        "event_id": event.event_id or str(uuid.uuid4()),
        "event_type": event.event_type,
        "occurred_at": event.occurred_at or rfc3339(utc_now()),
        "warehouse_id": warehouse_id,
        "lines": [line.model_dump() for line in event.lines],
    }
    if event.event_type == "shipment":
        if not event.order_id:
            raise HTTPException(422, "a shipment needs order_id")
        body["order_id"] = event.order_id
        body["tracking_number"] = event.tracking_number or tracking_number()
        body["carrier"] = event.carrier or "UPS"
    return body
