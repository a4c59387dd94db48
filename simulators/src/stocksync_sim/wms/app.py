"""The WMS simulator's ASGI app: ``POST /_sim/events`` builds a canonical WMS event and
delivers it signed (``X-WMS-Signature``: hex HMAC-SHA256 of the raw body), with retries."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import httpx
from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

from stocksync_sim.delivery import Deliverer, Delivery, RetryPolicy, Sleep, rfc3339, utc_now

EventType = Literal["receipt", "adjustment", "cycle_count", "shipment"]
Wait = Annotated[bool, Query(description="await the first delivery attempt before answering")]


@dataclass(frozen=True)
class WmsSettings:
    webhook_url: str
    secret: str
    warehouse_id: str = "WH1"
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class LineIn(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int
    location: str = "wh-1"


class EventIn(BaseModel):
    event_type: EventType
    lines: list[LineIn] = Field(min_length=1)
    order_id: str | None = None
    tracking_number: str | None = None
    event_id: str | None = Field(default=None, description="fixed id, e.g. to send a duplicate")
    occurred_at: str | None = None


def wms_signature(secret: str, body: bytes) -> str:
    """``X-WMS-Signature``: lowercase hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


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
        body["tracking_number"] = event.tracking_number or f"1ZSIM{uuid.uuid4().hex[:12].upper()}"
    return body


class WmsSim:
    def __init__(self, settings: WmsSettings) -> None:
        self.settings = settings
        self.events: dict[str, Delivery] = {}
        self.deliverer: Deliverer | None = None

    def delivery(self, event: dict[str, Any]) -> Delivery:
        body = json.dumps(event, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "X-WMS-Signature": wms_signature(self.settings.secret, body),
            "X-WMS-Event-Id": event["event_id"],
            "X-WMS-Event-Type": event["event_type"],
        }
        meta = {"event": event}
        return Delivery(event["event_id"], self.settings.webhook_url, headers, body, meta)

    def require_deliverer(self) -> Deliverer:
        if self.deliverer is None:
            raise RuntimeError("simulator not started: run the app with its lifespan")
        return self.deliverer


def create_app(
    settings: WmsSettings,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = asyncio.sleep,
) -> FastAPI:
    sim = WmsSim(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(transport=webhook_transport, trust_env=False) as client:
            sim.deliverer = Deliverer(client, settings.retry, sleep)
            try:
                yield
            finally:
                await sim.deliverer.aclose()
                sim.deliverer = None

    app = FastAPI(title="StockSync WMS simulator", lifespan=lifespan)
    app.state.sim = sim

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/_sim/events", status_code=201)
    async def send_event(event: EventIn, wait: Wait = False) -> dict[str, Any]:
        delivery = sim.delivery(build_event(event, settings.warehouse_id))
        sim.events[delivery.id] = delivery
        await sim.require_deliverer().send(delivery, wait_first=wait)
        return delivery.to_json()

    @app.post("/_sim/events/{event_id}/redeliver")
    async def redeliver(event_id: str, wait: Wait = False) -> dict[str, Any]:
        delivery = sim.events.get(event_id)
        if delivery is None:
            raise HTTPException(404, f"no event {event_id}")
        await sim.require_deliverer().send(delivery, wait_first=wait)
        return delivery.to_json()

    @app.get("/_sim/events")
    async def list_events(status: str | None = None) -> list[dict[str, Any]]:
        return [d.to_json() for d in sim.events.values() if status in (None, d.status)]

    @app.delete("/_sim/events", status_code=204)
    async def clear_events() -> None:
        sim.events.clear()

    return app
