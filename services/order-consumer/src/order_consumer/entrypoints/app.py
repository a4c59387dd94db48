"""order-consumer: ops endpoints plus the consumers of Shopify webhooks and of
``order.oversold`` (its own group on inventory.changed.v1)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from order_consumer.bootstrap import build
from order_consumer.settings import Settings, get_settings
from stocksync_common.dlq_api import dlq_router
from stocksync_common.ops import Health, install_ops
from stocksync_common.service import consumer_running, kafka_worker, redis_check
from stocksync_common.topics import COMPLIANCE, INVENTORY_CHANGED, WEBHOOKS_SHOPIFY


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    health = Health()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        c = build(settings)
        app.state.container = c
        health.checks["redis"] = redis_check(c.redis)
        try:
            async with (
                kafka_worker(
                    health, c.producer, c.consumer, c.loop, settings.kafka_bootstrap_servers
                ),
                consumer_running(health, "oversold-consumer", c.oversold_consumer, c.oversold_loop),
                consumer_running(
                    health, "compliance-consumer", c.compliance_consumer, c.compliance_loop
                ),
            ):
                yield
        finally:
            await c.redis.aclose()

    app = FastAPI(title="StockSync order-consumer", lifespan=lifespan)
    install_ops(app, health)
    groups = {
        settings.consumer_group: [WEBHOOKS_SHOPIFY],
        settings.oversold_consumer_group: [INVENTORY_CHANGED],
        settings.compliance_consumer_group: [COMPLIANCE],
    }
    app.include_router(dlq_router(groups, settings, health.checks))
    return app
