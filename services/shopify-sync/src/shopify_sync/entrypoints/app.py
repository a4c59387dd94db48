"""shopify-sync: ops endpoints plus the consumer that pushes levels to Shopify."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from shopify_sync.bootstrap import build
from shopify_sync.settings import Settings, get_settings
from stocksync_common.ops import Health, install_ops
from stocksync_common.service import kafka_worker


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    health = Health()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        c = build(settings)
        app.state.container = c
        try:
            async with kafka_worker(
                health, c.producer, c.consumer, c.loop, settings.kafka_bootstrap_servers
            ):
                yield
        finally:
            await c.http.aclose()

    app = FastAPI(title="StockSync shopify-sync", lifespan=lifespan)
    install_ops(app, health)
    return app
