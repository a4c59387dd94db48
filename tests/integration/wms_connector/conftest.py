"""wms-connector running in process on the real Kafka and Redis, talking to the WMS
simulator in process too (ASGI). Consumer groups are fresh per test; order ids and SKUs
are random, so tests never see each other's records."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from stocksync_common.events import Envelope, Event, decode, encode
from stocksync_common.kafka import stop_consumer
from stocksync_common.topics import ORDERS, WEBHOOKS_WMS
from stocksync_sim.delivery import RetryPolicy
from stocksync_sim.wms.app import WmsSettings
from stocksync_sim.wms.app import create_app as create_wms
from support.kafka_groups import start_at_end
from wms_connector.entrypoints.app import create_app
from wms_connector.settings import Settings

WMS = "http://wms.test"
ADMIN = {"Authorization": "Bearer it-admin-token"}


@dataclass
class Rig:
    app: FastAPI
    wms: httpx.AsyncClient
    admin: httpx.AsyncClient
    producer: AIOKafkaProducer
    settings: Settings

    async def publish(self, topic: str, key: str, event: Envelope) -> None:
        await (await self.producer.send(topic, encode(event), key=key.encode()))

    async def wms_orders(self) -> dict[str, Any]:
        body: dict[str, Any] = (await self.wms.get("/_sim/fulfillment-orders")).json()
        return body


async def read_topic(
    bootstrap: str, topic: str, match: Callable[[Event], bool], want: int, timeout_s: float = 30
) -> list[Event]:
    """Events on ``topic`` (from the beginning) for which ``match`` holds, once ``want`` arrived."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[Event] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(found) < want:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for r in records:
                        with contextlib.suppress(ValueError):
                            event = decode(r.value)
                            if match(event):
                                found.append(event)
    finally:
        await stop_consumer(consumer)
    return found


@pytest.fixture
def connector(kafka_bootstrap: str, redis_url: str, topics: list[str]) -> Any:
    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Rig]:
        run = uuid.uuid4().hex[:8]
        settings = Settings(
            kafka_bootstrap_servers=kafka_bootstrap, redis_url=redis_url,
            consumer_group=f"it-wms-{run}", orders_consumer_group=f"it-wms-orders-{run}",
            wms_url=WMS, wms_api_key="it-key", wms_backoff_s=(0.05, 0.05),
            reconcile_interval_s=0, admin_token="it-admin-token", topic_partitions=6,
            **overrides,
        )  # fmt: skip
        # orders.v1 and webhooks.wms.v1 hold earlier suites' records: start after them
        await start_at_end(
            kafka_bootstrap,
            [settings.consumer_group, settings.orders_consumer_group],
            [ORDERS, WEBHOOKS_WMS],
        )
        wms_app = create_wms(
            WmsSettings("http://nowhere.test/w", "s", api_key="it-key", retry=RetryPolicy(1, 0.0))
        )
        async with wms_app.router.lifespan_context(wms_app):
            wms_transport = httpx.ASGITransport(app=wms_app)
            wms = httpx.AsyncClient(transport=wms_transport, base_url=WMS)
            http = httpx.AsyncClient(transport=wms_transport)
            app = create_app(settings, http=http)
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
            await producer.start()
            try:
                async with app.router.lifespan_context(app):
                    admin = httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app), base_url="http://wmsc.test"
                    )
                    yield Rig(app, wms, admin, producer, settings)
                    await admin.aclose()
            finally:
                await producer.stop()
                await wms.aclose()

    return start
