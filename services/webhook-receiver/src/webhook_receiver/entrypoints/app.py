"""The webhook-receiver HTTP app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from stocksync_common.ops import Health, install_ops
from stocksync_common.service import kafka_check, redis_check
from webhook_receiver.bootstrap import build
from webhook_receiver.entrypoints import shopify, wms
from webhook_receiver.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    health = Health()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        c = build(settings)
        app.state.container = c
        health.checks["kafka"] = kafka_check(settings.kafka_bootstrap_servers)
        health.checks["redis"] = redis_check(c.redis)
        await c.producer.start()
        try:
            yield
        finally:
            await c.producer.stop()
            await c.redis.aclose()

    app = FastAPI(title="StockSync webhook-receiver", lifespan=lifespan)
    install_ops(app, health)
    app.include_router(shopify.router)
    app.include_router(wms.router)
    return app
