"""What the notifier integration tests run against: a local SMTP server (aiosmtpd), a local
HTTP receiver (the sink simulator served by uvicorn) and notifier instances on real Redis and
Kafka. A "restart" is a new instance built against the same Redis."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any, Protocol

import httpx
import uvicorn
from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition
from aiosmtpd.controller import Controller

from notifier.bootstrap import Container, build, service, tasks
from notifier.domain.rules import RuleSet
from notifier.settings import Settings
from stocksync_common.consumer import ConsumerLoop, Incoming
from stocksync_common.events import (
    InventoryChanged,
    Levels,
    OrderLineRef,
    StockChange,
)
from stocksync_common.redis_client import connect
from stocksync_common.runtime import consumer_loops
from stocksync_common.topics import INVENTORY_CHANGED
from stocksync_sim.sink.app import create_app as create_sink
from support.poll import await_for
from support.records import Record

SECRET = "it-webhook-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"

    def about(self, sku: str) -> list[Message]:
        return [m for m in self.messages if sku in str(m["Subject"])]


@contextlib.contextmanager
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()


@dataclass
class Receiver:
    """The sink simulator on a fixed port, startable after the fact (a channel recovering)."""

    port: int = field(default_factory=free_port)
    server: uvicorn.Server | None = None
    task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        config = uvicorn.Config(
            create_sink(), host="127.0.0.1", port=self.port, log_config=None, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        await await_for("the receiver", lambda: _started(self.server), 10)

    async def stop(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await self.task

    async def messages(self, path: str, sku: str | None = None) -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as http:
            resp = await http.get(f"{self.url}/_sink/messages", params={"path": path})
        found: list[dict[str, Any]] = resp.json()
        return [m for m in found if sku is None or sku in (m["text"] or str(m["json"]))]


async def _started(server: uvicorn.Server | None) -> bool:
    return server is not None and server.started


class HasUrl(Protocol):
    @property
    def url(self) -> str: ...


@dataclass(frozen=True)
class NoReceiver:
    """For notifiers without a delivery worker: the channel URLs are never called."""

    url: str = "http://127.0.0.1:9"


def settings_for(
    kafka: str, redis_url: str, receiver: HasUrl, smtp_port: int, **over: Any
) -> Settings:
    run = uuid.uuid4().hex[:8]
    base: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka,
        "redis_url": redis_url,
        "consumer_group": f"notifier-it-{run}",
        "notifier_key_prefix": f"notifier-it-{run}",
        "ops_console_url": "https://ops.example.test/console",
        "alert_webhook_url": f"{receiver.url}/slack",
        "alert_generic_webhook_url": f"{receiver.url}/hook",
        "alert_generic_webhook_secret": SECRET,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_to": ["ops@example.test"],
        "delivery_backoff_base_s": 0.05,
        "delivery_backoff_max_s": 0.3,
        "delivery_poll_s": 0.05,
        "breaker_failures": 3,
        "breaker_reset_s": 0.3,
        "digest_poll_s": 0.1,
        "admin_token": "it-admin-token",
    }
    return Settings(**{**base, **over})


@contextlib.asynccontextmanager
async def notifier(
    settings: Settings, producer: AIOKafkaProducer, rules: RuleSet | None = None
) -> AsyncIterator[Container]:
    """One notifier instance (handler + delivery workers) on the shared Redis; no consumer."""
    redis = connect(settings.redis_url.get_secret_value())
    c = build(settings, redis=redis, producer=producer)
    if rules is not None:
        await c.rules.replace(rules)
    workers = tasks(c)
    running = [asyncio.create_task(t.run(), name=t.name) for t in workers]
    try:
        yield c
    finally:
        for t in workers:
            if t.stop is not None:
                t.stop()
        await asyncio.gather(*running, return_exceptions=True)
        await c.http.aclose()
        await redis.aclose()


def changed(sku: str, version: int, before: int, after: int, **kw: Any) -> InventoryChanged:
    return InventoryChanged(
        source="it",
        shop="north.myshopify.com",
        payload=StockChange(
            sku=sku,
            location="wh-1",
            command=kw.pop("command", "reserve"),
            idempotency_key=f"{sku}:{version}",
            version=version,
            before=Levels(),
            after=Levels(),
            sku_available_before=before,
            sku_available_after=after,
            order=OrderLineRef(shop="north.myshopify.com", order_id=f"o-{version}", line_id="1"),
            **kw,
        ),
    )


async def feed(c: Container, *events: Any) -> None:
    """Hand events to the handler as the consumer loop would (a redelivery, when repeated)."""
    items = [Incoming(Record(INVENTORY_CHANGED), e) for e in events]
    await c.handler.handle_batch(TopicPartition("inventory.changed.v1", 0), items)


async def outbox_empty(c: Container) -> bool:
    depths = [await w.outbox.depth() for w in c.workers]
    return sum(depths) == 0


@contextlib.asynccontextmanager
async def consuming(settings: Settings, c: Container, topic: str) -> AsyncIterator[ConsumerLoop]:
    """The service's own consumer loop feeding ``c``: a new group, started at the end of
    ``topic`` (positions pinned before the test publishes anything), stopped on exit."""
    [(_, loop)] = consumer_loops(service(settings), c)
    consumer = loop.consumer
    consumer._auto_offset_reset = "latest"  # a new group: start at the end of the topic
    await consumer.start()
    task = asyncio.create_task(loop.run())
    try:

        async def assigned() -> list[TopicPartition] | None:
            return [tp for tp in consumer.assignment() if tp.topic == topic] or None

        # "latest" is resolved lazily: pin the positions before publishing, or a slow
        # offset lookup (the group's retry topics are new too) starts after our events.
        for tp in await await_for("assignment", assigned):
            await consumer.position(tp)
        yield loop
    finally:
        loop.stop()
        await asyncio.wait_for(task, 10)
        await consumer.stop()
