"""Running a service: one process serving HTTP (ops and API) plus its Kafka worker tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import uvicorn
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from fastapi import FastAPI
from redis.asyncio import Redis

from stocksync_common import gc_tuning
from stocksync_common.consumer import ConsumerLoop
from stocksync_common.kafka import consumer_started, stop_consumer
from stocksync_common.logs import configure_logging
from stocksync_common.metrics import DLQ_DEPTH
from stocksync_common.ops import Health
from stocksync_common.settings import CommonSettings
from stocksync_common.topics import dlq_topic
from stocksync_common.tracing import setup_tracing

log = logging.getLogger(__name__)


def supervise(
    health: Health, name: str, factory: Callable[[], Coroutine[Any, Any, None]]
) -> asyncio.Task[None]:
    """Run a background worker; if it dies, liveness fails so the orchestrator restarts us."""

    async def guarded() -> None:
        try:
            await factory()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker died", extra={"worker": name})
            health.fail(f"{name} died")
            raise

    return asyncio.create_task(guarded(), name=name)


def redis_check(redis: Redis) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool(await redis.ping())

    return check


def kafka_check(bootstrap: str) -> Callable[[], Awaitable[bool]]:
    """Readiness of Kafka: a TCP connection to the first bootstrap server succeeds."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")

    async def check() -> bool:
        _, writer = await asyncio.open_connection(host or "127.0.0.1", int(port))
        writer.close()
        await writer.wait_closed()
        return True

    return check


def serve(app: FastAPI | str, settings: CommonSettings, *, workers: int = 1) -> None:
    """Configure logging and tracing, then serve until SIGINT/SIGTERM."""
    configure_logging(settings.service_name, settings.log_level)
    setup_tracing(settings.service_name)
    gc_tuning.tune(settings.gc_thresholds)
    gc_tuning.freeze_after_start = settings.gc_freeze
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        # X-Forwarded-For is read by stocksync_common.proxies, from the proxies the settings
        # trust only (uvicorn would believe it from 127.0.0.1)
        proxy_headers=False,
        workers=workers,
        factory=isinstance(app, str),
        timeout_graceful_shutdown=10,
    )


@contextlib.asynccontextmanager
async def consumer_running(
    health: Health, name: str, consumer: AIOKafkaConsumer, loop: ConsumerLoop
) -> AsyncIterator[None]:
    """Start ``consumer`` and its supervised loop; stop both cleanly on exit (a start that
    fails or is cancelled closes the consumer's client too)."""
    await consumer_started(consumer)
    task = supervise(health, name, loop.run)
    sampler = asyncio.create_task(sample_dlq_depth(consumer, loop), name=f"{name}-dlq-depth")
    watch = asyncio.create_task(
        watch_metadata(consumer, health, f"{name} ({loop.group})"), name=f"{name}-metadata"
    )
    try:
        yield
    finally:
        loop.stop()
        for running in (task, sampler, watch):
            running.cancel()
            with contextlib.suppress(BaseException):
                await running
        await stop_consumer(consumer)


async def sample_dlq_depth(
    consumer: AIOKafkaConsumer, loop: ConsumerLoop, interval_s: float = 15.0
) -> None:
    """Keep ``stocksync_dlq_depth_records`` current for the loop's own DLQ topics.

    Depth is end minus start offsets, so a purge (records deleted) lowers it. Failures are
    logged and retried next round: a metric must never take the consumer down.
    """
    dlqs = [dlq_topic(t, loop.group) for t in loop.topics]
    while True:
        try:
            parts = [
                TopicPartition(t, p)
                for t in dlqs
                for p in sorted(consumer.partitions_for_topic(t) or await _partitions(consumer, t))
            ]
            async with asyncio.timeout(10):
                ends = await consumer.end_offsets(parts)
                starts = await consumer.beginning_offsets(parts)
            for topic in dlqs:
                depth = sum(ends[tp] - starts[tp] for tp in parts if tp.topic == topic)
                DLQ_DEPTH.labels(topic, loop.group).set(max(0, depth))
        except Exception:  # noqa: BLE001 - retried next round
            log.warning("DLQ depth sampling failed", exc_info=True)
        await asyncio.sleep(interval_s)


# A metadata update tries the brokers one after the other, each bounded by the request
# timeout (40 s): three brokers that all time out take two minutes, a healthy one seconds.
METADATA_STUCK_S = 180.0


async def watch_metadata(
    consumer: AIOKafkaConsumer,
    health: Health,
    name: str,
    stuck_s: float = METADATA_STUCK_S,
    every_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Fail liveness when the consumer's Kafka metadata stops refreshing.

    aiokafka refreshes a client's metadata in one background task, and every fetch, offset
    lookup or rebalance that needs fresh metadata waits for that task's current update. Once,
    in the cluster fault suite at load 39 (#24), two of shopify-sync's consumers waited on an
    update that never finished after a controller kill and broker restarts: their groups
    stopped for good and nothing was raised anywhere (their DLQ-depth samples timed out in
    that wait). It did not reproduce on a quiet machine. This watch names it: an update pending
    for ``stuck_s``, or the metadata task ended, fails the liveness probe (the orchestrator
    restarts the process, and the group's partitions move on meanwhile) and logs an error.
    The client's attributes are aiokafka's own (not API): a test pins them on a real consumer.
    """
    pending: object | None = None  # the update future seen pending, and since when
    since = 0.0
    while True:
        await asyncio.sleep(every_s)
        client = getattr(consumer, "_client", None)
        task = getattr(client, "_sync_task", None)
        update = getattr(client, "_md_update_fut", None)
        reason = None
        if isinstance(task, asyncio.Task) and task.done():
            reason = "its metadata task ended"
        elif not isinstance(update, asyncio.Future) or update.done():
            pending = None
            continue
        elif update is not pending:
            pending, since = update, clock()
            continue
        elif clock() - since >= stuck_s:
            reason = f"a metadata update pending for {clock() - since:.0f} s"
        if reason:
            log.error("Kafka metadata stuck", extra={"consumer": name, "reason": reason})
            health.fail(f"{name}: {reason}")
            return


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """Partition ids of a topic the consumer is not subscribed to: asking for an offset of
    its partition 0 makes the client track the topic's metadata."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            await consumer.end_offsets([TopicPartition(topic, 0)])
    return consumer.partitions_for_topic(topic) or set()
