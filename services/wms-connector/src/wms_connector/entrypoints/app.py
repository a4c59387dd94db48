"""wms-connector: ops endpoints plus the consumer of WMS webhooks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from stocksync_common.ops import Health, install_ops
from stocksync_common.service import kafka_worker
from wms_connector.bootstrap import build
from wms_connector.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    health = Health()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        c = build(settings)
        app.state.container = c
        async with kafka_worker(
            health, c.producer, c.consumer, c.loop, settings.kafka_bootstrap_servers
        ):
            yield

    app = FastAPI(title="StockSync wms-connector", lifespan=lifespan)
    install_ops(app, health)
    return app
