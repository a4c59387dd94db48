"""Kafka helpers: an idempotent acks=all producer, headers with type, correlation id and
trace, and a consumer stop that always closes the consumer's connections."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from stocksync_common.client_start import start_whole
from stocksync_common.events import Envelope, encode
from stocksync_common.metrics import EVENTS_PUBLISHED
from stocksync_common.settings import CommonSettings
from stocksync_common.topics import MAX_RECORD_BYTES
from stocksync_common.tracing import inject_headers
from stocksync_common.transport import KafkaSecurity, kafka_options


def make_producer(
    bootstrap: str, client_id: str, *, linger_ms: int = 2, security: KafkaSecurity | None = None
) -> AIOKafkaProducer:
    """An idempotent producer (idempotence forces acks=all); records are not compressed
    (lz4 measured no different on the sale's path here; docs/decisions/0028)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        **kafka_options(security),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=256 * 1024,
        request_timeout_ms=15000,
        # the largest record accepted (the client-side check; the broker's is the topic's
        # max.message.bytes, raised to match where a webhook body may go: ADR 0028)
        max_request_size=MAX_RECORD_BYTES,
    )


def producer_from(settings: CommonSettings, *, linger_ms: int = 2) -> AIOKafkaProducer:
    """:func:`make_producer` for the settings' brokers, security and service name."""
    return make_producer(
        settings.kafka_bootstrap_servers,
        settings.service_name,
        linger_ms=linger_ms,
        security=settings.kafka_security,
    )


def env_security() -> KafkaSecurity:
    """For tools given only bootstrap servers (benches, the fault suite's views, profiling
    scripts): the ``STOCKSYNC_KAFKA_*`` security settings of the environment."""
    return CommonSettings().kafka_security


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


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stop ``consumer`` and close its client, whatever state it is in.

    aiokafka 0.14: a group-less consumer stopped before its coordinator's internal task ran
    once (start, then stop with nothing awaited that yields to the loop) has ``stop()`` raise
    that task's CancelledError before the fetcher and the client are closed. The client's
    metadata task then lives on and opens connections that are never closed. Yielding once
    lets the task start; should the error still come, the rest of the stop is done here. A
    cancellation of the caller's own task (before or during the stop) is passed on once the
    fetcher and the client are closed: a stop cut short would leave them open for good.
    """
    try:
        await asyncio.sleep(0)
        await consumer.stop()
    except asyncio.CancelledError:
        await _close_rest(consumer)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


async def _close_rest(consumer: AIOKafkaConsumer) -> None:
    """What ``stop()`` closes after the coordinator: the fetcher and the client (each
    idempotent), not cancellable halfway."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is not None:
        await asyncio.shield(fetcher.close())
    await asyncio.shield(consumer._client.close())


async def consumer_started(consumer: AIOKafkaConsumer) -> AIOKafkaConsumer:
    """Start ``consumer``; when its start fails or is cancelled, close what it opened.

    aiokafka's ``start()`` bootstraps the client (connections and its metadata task) before
    it waits for the subscribed topics' metadata, and leaves them open when that wait fails
    (a topic the broker does not have) or the caller is cancelled. A client nobody stops is
    garbage-collected with open connections later (``Unclosed AIOKafkaConnection``). A
    cancelled start is let finish first (:func:`start_whole`).
    """
    try:
        await start_whole(consumer.start())
    except BaseException:
        await stop_consumer(consumer)
        raise
    return consumer
