"""shopify-sync: ops and admin endpoints, the consumers (inventory changes; product
webhooks to the mapping and catalog.v1; catalog.v1 to the children; shipments), one push
lane per shop, and the reconciliation schedule."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from shopify_sync.adapters.topics import ensure_topics
from shopify_sync.bootstrap import Container, Worker, build
from shopify_sync.entrypoints import admin, jobs, status
from shopify_sync.fulfillments import FulfillmentWorker
from shopify_sync.settings import Settings, get_settings
from stocksync_common.dlq_api import dlq_router
from stocksync_common.ops import Health, install_ops
from stocksync_common.service import consumer_running, kafka_worker, redis_check, supervise

log = logging.getLogger(__name__)


async def recover(c: Container) -> None:
    """Finish what a crash left in the catalog journals (rolled back, then redone)."""
    assert c.propagator is not None  # noqa: S101 - only scheduled with a propagator
    try:
        redone = await c.propagator.recover()
    except Exception:  # noqa: BLE001 - retried on the next start; the journal stays
        log.exception("catalog journal recovery failed")
        return
    log.info("catalog journals recovered", extra={"redone": redone})


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
    if c.propagator is not None:
        tasks.append(asyncio.create_task(recover(c), name="catalog-recover"))
    if c.runner is not None:
        await c.runner.resume()
    c.lanes.start()
    try:
        yield
    finally:
        if c.runner is not None:
            await c.runner.stop()
        await c.lanes.stop()
        c.catalog_loop.stop()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await c.catalog_consumer.stop()


@contextlib.asynccontextmanager
async def optional_consumer(
    health: Health, name: str, worker: Worker | FulfillmentWorker | None
) -> AsyncIterator[None]:
    """One more consumer group and its loop, when the container built it (propagation:
    ``shopify-sync-propagation`` on catalog.v1; shipments: ``shopify-sync-fulfillments``)."""
    if worker is None:
        yield
        return
    async with consumer_running(health, name, worker.consumer, worker.loop):
        yield


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
                optional_consumer(health, "propagation-consumer", c.propagation),
                optional_consumer(health, "fulfillments-consumer", c.fulfillments),
            ):
                yield
        finally:
            await c.http.aclose()
            await c.redis.aclose()

    app = FastAPI(title="StockSync shopify-sync", lifespan=lifespan)
    install_ops(app, health)
    app.include_router(admin.router)
    app.include_router(jobs.router)
    app.include_router(status.router)
    groups = {
        settings.consumer_group: [settings.changes_topic],
        settings.catalog_consumer_group: [settings.webhooks_topic],
        settings.fulfillments_consumer_group: [settings.orders_topic],
        settings.propagation_consumer_group: [settings.catalog_topic],
    }
    app.include_router(dlq_router(groups, settings, health.checks))
    return app
