"""HTTP: the inventory read API, the admin import, and the ops endpoints."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from inventory_adjuster.bootstrap import build
from inventory_adjuster.entrypoints import admin, read_api
from inventory_adjuster.settings import Settings, get_settings
from stocksync_common.dlq_api import dlq_router
from stocksync_common.ops import Health, install_ops
from stocksync_common.service import kafka_worker, redis_check


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    health = Health()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        c = build(settings)
        app.state.container = c
        health.checks["redis"] = redis_check(c.redis)
        try:
            async with kafka_worker(
                health, c.producer, c.consumer, c.loop, settings.kafka_bootstrap_servers
            ):
                yield
        finally:
            await c.redis.aclose()

    app = FastAPI(title="StockSync inventory-adjuster", lifespan=lifespan)
    app.state.settings = settings
    install_ops(app, health)
    app.include_router(read_api.router)
    app.include_router(admin.router)
    groups = {settings.consumer_group: [settings.commands_topic]}
    app.include_router(dlq_router(groups, settings, health.checks))
    return app
