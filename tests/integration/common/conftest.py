"""A consumer loop on a fresh topic and group of its own, for the retry and DLQ tests."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastapi import FastAPI

from stocksync_common.consumer import ConsumerLoop, Incoming, RetryPolicy, make_consumer
from stocksync_common.dlq.api import Check, dlq_router
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, new_id
from stocksync_common.kafka import make_producer, publish_event
from stocksync_common.settings import CommonSettings
from support.poll import await_for

TOKEN = "it-admin-token"  # noqa: S105 - a test secret
Behaviour = Callable[[str], Awaitable[None]]


@dataclass
class Harness:
    bootstrap: str
    redis_url: str
    run: str
    topic: str
    group: str
    loop: ConsumerLoop
    producer: AIOKafkaProducer
    handled: list[str]
    cids: list[str]
    correlation: dict[str, str] = field(default_factory=dict)

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        bootstrap: str,
        redis_url: str,
        behaviour: Behaviour,
        handled: list[str],
        policy: RetryPolicy,
    ) -> AsyncIterator[Harness]:
        run = uuid.uuid4().hex[:8]
        topic, group = f"it.dead.{run}.v1", f"it-dlq-{run}"
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, 2, 1)])
        await admin.close()

        cids: list[str] = []

        async def handler(_tp: TopicPartition, items: Sequence[Incoming]) -> None:
            for item in items:
                sku = item.event.payload.sku  # type: ignore[union-attr]
                await behaviour(sku)
                handled.append(sku)
                cids.append(item.event.correlation_id)

        producer = make_producer(bootstrap, "it")
        consumer = make_consumer(bootstrap, group, "it")
        loop = ConsumerLoop(
            consumer, producer, group, [topic], handler, retry=policy, bootstrap=bootstrap
        )
        await producer.start()
        await consumer.start()
        task = asyncio.create_task(loop.run())
        h = cls(bootstrap, redis_url, run, topic, group, loop, producer, handled, cids)
        try:
            await await_for("main and retry partitions", lambda: _assigned(consumer), 60)
            yield h
        finally:
            loop.stop()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 10)
            await consumer.stop()
            await producer.stop()

    async def send(self, sku: str, key: str | None = None) -> None:
        cid = f"cid-{new_id()}"
        self.correlation[sku] = cid
        event = InventoryCommandRequested(
            source="it",
            correlation_id=cid,
            payload=InventoryCommand(
                command="adjust", idempotency_key=sku, sku=sku, location="l", quantity=1
            ),
        )
        await publish_event(self.producer, self.topic, key or sku, event, timeout_s=10)

    async def seen(self, sku: str) -> bool:
        await asyncio.sleep(0)
        return sku in self.handled

    def settings(self) -> CommonSettings:
        return CommonSettings(
            kafka_bootstrap_servers=self.bootstrap, redis_url=self.redis_url, admin_token=TOKEN
        )

    def app(self, checks: dict[str, Check] | None = None, *, auto: bool = False) -> FastAPI:
        settings = self.settings()
        app = FastAPI()
        app.state.settings = settings  # where the admin dependency finds the token
        router = dlq_router({self.group: [self.topic]}, settings, checks, auto_replay=auto)
        app.include_router(router)
        return app


async def _assigned(consumer: object) -> bool:
    """Both main partitions and the retry topic (one partition or more) are assigned."""
    await asyncio.sleep(0)
    topics = [tp.topic for tp in consumer.assignment()]  # type: ignore[attr-defined]
    return len(topics) >= 3 and any(".retry." in t for t in topics)


@pytest.fixture
def harness() -> type[Harness]:
    return Harness
