"""The Shopify simulator's ASGI app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from stocksync_sim.delivery import MAX_IN_FLIGHT, Deliverer, Sleep, delivery_client, warm
from stocksync_sim.shopify import (
    bulk_mutation,
    control,
    control_ops,
    endpoint,
    oauth,
    storefront,
)
from stocksync_sim.shopify.bucket import Clock
from stocksync_sim.shopify.runtime import SimSettings, Simulator


def create_app(
    settings: SimSettings,
    *,
    clock: Clock = time.monotonic,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = asyncio.sleep,
) -> FastAPI:
    """Build the app. ``clock``, ``webhook_transport`` and ``sleep`` are test seams."""
    sim = Simulator(settings, clock, sleep)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(sim.preload_schemas)
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

    app = FastAPI(title="StockSync Shopify simulator", lifespan=lifespan)
    app.state.sim = sim
    app.include_router(endpoint.router)
    app.include_router(oauth.router)
    app.include_router(control.router)
    app.include_router(control_ops.router)
    app.include_router(storefront.router)
    app.include_router(bulk_mutation.router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
