"""wms-connector: ops and admin endpoints, the WMS webhooks consumer, the orders consumer
(fulfilment orders out to the WMS) and the reconciliation schedule."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from stocksync_common.dlq_api import dlq_router
from stocksync_common.ops import Health, install_ops
from stocksync_common.service import consumer_running, kafka_worker, redis_check, supervise
from wms_connector.bootstrap import build
from wms_connector.entrypoints import admin
from wms_connector.settings import Settings, get_settings


def create_app(settings: Settings | None = None, http: httpx.AsyncClient | None = None) -> FastAPI:
    """The app; ``http`` is a test seam (e.g. an ASGI transport to the WMS simulator)."""
    settings = settings or get_settings()
    health = Health()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        c = build(settings, http=http)
        app.state.container = c
        health.checks["redis"] = redis_check(c.redis)
        tasks = []
        if settings.reconcile_interval_s > 0:
            interval = settings.reconcile_interval_s
            tasks.append(supervise(health, "reconcile", lambda: c.reconciler.schedule(interval)))
        try:
            async with (
                kafka_worker(
                    health, c.producer, c.consumer, c.loop, settings.kafka_bootstrap_servers
                ),
                consumer_running(health, "orders-consumer", c.orders_consumer, c.orders_loop),
            ):
                yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            await c.http.aclose()
            await c.redis.aclose()

    app = FastAPI(title="StockSync wms-connector", lifespan=lifespan)
    install_ops(app, health)
    app.include_router(admin.router)
    groups = [settings.consumer_group, settings.orders_consumer_group]
    app.include_router(dlq_router(groups, settings, health.checks))
    return app
