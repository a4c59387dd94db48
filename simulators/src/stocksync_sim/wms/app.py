"""The WMS simulator's ASGI app: a 3PL-style REST API for fulfilment orders and stock
snapshots (``api``), signed webhooks (``X-WMS-Signature``: hex HMAC-SHA256 of the raw body)
delivered with retries, and a control API under ``/_sim`` (``control``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from stocksync_sim.delivery import MAX_IN_FLIGHT, Deliverer, Sleep, delivery_client, warm
from stocksync_sim.wms import api, control
from stocksync_sim.wms.events import EventIn, LineIn, build_event
from stocksync_sim.wms.sim import DEV_API_KEY, WmsSettings, WmsSim

__all__ = [
    "DEV_API_KEY", "EventIn", "LineIn", "WmsSettings", "WmsSim", "build_event", "create_app",
]  # fmt: skip


def create_app(
    settings: WmsSettings,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = asyncio.sleep,
) -> FastAPI:
    sim = WmsSim(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The simulators' own keep-alive HTTP/1.1 client (a test's transport: httpx over it);
        # backlogs wait on the Deliverer's semaphore, not in a connection pool's queue (#18).
        await warm()
        async with delivery_client(MAX_IN_FLIGHT, webhook_transport) as client:
            sim.deliverer = Deliverer(client, settings.retry, sleep, max_in_flight=MAX_IN_FLIGHT)
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

    app.include_router(api.router)
    app.include_router(control.router)
    return app
