"""shopify-sync: ops and admin endpoints, the two consumers (inventory changes; product
webhooks), one push lane per shop, and the reconciliation schedule."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from shopify_sync.adapters.topics import ensure_topics
from shopify_sync.bootstrap import Container, build
from shopify_sync.entrypoints import admin
from shopify_sync.settings import Settings, get_settings
from stocksync_common.ops import Health, install_ops
from stocksync_common.service import kafka_worker, redis_check, supervise


@contextlib.asynccontextmanager
async def background(c: Container, health: Health) -> AsyncIterator[None]:
    """The catalog consumer, the lanes and the schedule, around the main consumer."""
    s = c.settings
    await c.catalog_consumer.start()
    tasks = [supervise(health, "catalog-consumer", c.catalog_loop.run)]
    if s.reconcile_interval_s > 0:
        tasks.append(
            supervise(health, "reconcile-schedule", lambda: c.jobs.schedule(s.reconcile_interval_s))
        )
    c.lanes.start()
    try:
        yield
    finally:
        await c.lanes.stop()
        c.catalog_loop.stop()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await c.catalog_consumer.stop()


def create_app(settings: Settings | None = None, http: httpx.AsyncClient | None = None) -> FastAPI:
    """The app; ``http`` is a test seam (an ASGI transport to the simulator)."""
    settings = settings or get_settings()
    health = Health()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        c = build(settings, http=http)
        app.state.container = c
        health.checks["redis"] = redis_check(c.redis)
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            c.extra_topics(),
            settings.topic_partitions,
            settings.topic_replication_factor,
        )
        try:
            async with (
                kafka_worker(
                    health, c.producer, c.consumer, c.loop, settings.kafka_bootstrap_servers
                ),
                background(c, health),
            ):
                yield
        finally:
            await c.http.aclose()
            await c.redis.aclose()

    app = FastAPI(title="StockSync shopify-sync", lifespan=lifespan)
    install_ops(app, health)
    app.include_router(admin.router)
    return app
