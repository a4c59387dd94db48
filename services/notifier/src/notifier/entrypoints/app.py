"""notifier: ops endpoints, the rules API, the consumer and the delivery workers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from notifier.bootstrap import build, seed_rules
from notifier.entrypoints import rules_api
from notifier.settings import Settings, get_settings
from stocksync_common.dlq_api import dlq_router
from stocksync_common.ops import Health, install_ops
from stocksync_common.service import kafka_worker, redis_check, supervise


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    health = Health()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        c = build(settings)
        app.state.container = c
        health.checks["redis"] = redis_check(c.redis)
        tasks = []
        try:
            await seed_rules(c)
            async with kafka_worker(
                health, c.producer, c.consumer, c.loop, settings.kafka_bootstrap_servers
            ):
                for w in c.workers:
                    tasks.append(supervise(health, f"outbox-{w.channel.name}", w.run))
                if c.digest_worker is not None:
                    tasks.append(supervise(health, "digests", c.digest_worker.run))
                yield
                for w in c.workers:
                    w.stop()
                if c.digest_worker is not None:
                    c.digest_worker.stop()
                for task in tasks:
                    with contextlib.suppress(BaseException):
                        await task
        finally:
            for task in tasks:
                task.cancel()
            # Idempotent; covers a startup that failed before the Kafka worker started them.
            await c.consumer.stop()
            await c.producer.stop()
            await c.http.aclose()
            await c.redis.aclose()

    app = FastAPI(title="StockSync notifier", lifespan=lifespan)
    install_ops(app, health)
    app.include_router(rules_api.router)
    app.include_router(dlq_router([settings.consumer_group], settings, health.checks))
    return app
