"""Kafka producer helper: acks=all, idempotent, headers with type, correlation id and trace."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from stocksync_common.events import Envelope, encode
from stocksync_common.metrics import EVENTS_PUBLISHED
from stocksync_common.tracing import inject_headers


def make_producer(bootstrap: str, client_id: str, *, linger_ms: int = 2) -> AIOKafkaProducer:
    """An idempotent producer (idempotence forces acks=all)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=256 * 1024,
        request_timeout_ms=15000,
    )


def event_headers(event: Envelope) -> list[tuple[str, bytes]]:
    headers = [
        ("type", event.type.encode()),
        ("correlation-id", event.correlation_id.encode()),
        ("event-id", event.id.encode()),
    ]
    headers.extend(inject_headers())
    return headers


async def send_event(
    producer: AIOKafkaProducer,
    topic: str,
    key: str,
    event: Envelope,
    *,
    extra_headers: Sequence[tuple[str, bytes]] = (),
) -> asyncio.Future[RecordMetadata]:
    """Queue one event; the returned future resolves when the broker acknowledged it."""
    fut: asyncio.Future[RecordMetadata] = await producer.send(
        topic, encode(event), key=key.encode(), headers=[*event_headers(event), *extra_headers]
    )
    EVENTS_PUBLISHED.labels(topic).inc()
    return fut


async def publish_event(
    producer: AIOKafkaProducer, topic: str, key: str, event: Envelope, *, timeout_s: float
) -> RecordMetadata:
    """Publish and wait for the acknowledgement, bounded by ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        fut = await send_event(producer, topic, key, event)
        return await fut
