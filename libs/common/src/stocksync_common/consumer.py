"""The consumer loop: poll, hand each partition's batch to a handler, commit explicit offsets.

Offsets are committed only after the handler succeeded for the whole batch of a partition.
A record that cannot be parsed, or keeps failing, goes to ``<topic>.dlq.<group>`` with the
reason, so one poison message never crashes the consumer nor blocks its partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata, TopicPartition
from opentelemetry import trace
from pydantic import ValidationError

from stocksync_common.events import Event, decode
from stocksync_common.logs import correlation
from stocksync_common.metrics import CONSUMER_LAG, DLQ_PUBLISHED, EVENTS_CONSUMED, HANDLER_SECONDS
from stocksync_common.topics import dlq_topic
from stocksync_common.tracing import extract_context

log = logging.getLogger(__name__)
tracer = trace.get_tracer("stocksync.consumer")


class Record(Protocol):
    """The parts of a consumed record StockSync uses (aiokafka's ConsumerRecord has them)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


class PoisonMessage(Exception):  # noqa: N818 - the domain's word for it
    """Raised by a handler for input that can never succeed; it goes straight to the DLQ."""


@dataclass(frozen=True)
class Incoming:
    record: Record
    event: Event


BatchHandler = Callable[[TopicPartition, Sequence[Incoming]], Awaitable[None]]
AssignHook = Callable[[set[TopicPartition]], Awaitable[dict[TopicPartition, int]]]


@dataclass
class RetryPolicy:
    """In-process retries for transient errors before a record goes to the DLQ."""

    delays_s: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0)


def make_consumer(bootstrap: str, group: str, client_id: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=2000,
        fetch_max_wait_ms=50,
        session_timeout_ms=30000,
        heartbeat_interval_ms=3000,
        max_poll_interval_ms=300000,
    )


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumerLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        log.info("partitions revoked", extra={"partitions": sorted(map(str, revoked))})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"partitions": sorted(map(str, assigned))})
        if self.loop.on_assign is None or not assigned:
            return
        positions = await self.loop.on_assign(assigned)
        for tp, offset in positions.items():
            committed = await self.loop.consumer.committed(tp)
            if committed is None or offset < committed:
                log.info("resuming from stored offset", extra={"tp": str(tp), "offset": offset})
                self.loop.consumer.seek(tp, offset)


@dataclass
class ConsumerLoop:
    consumer: AIOKafkaConsumer
    producer: AIOKafkaProducer
    group: str
    topics: Sequence[str]
    handler: BatchHandler
    on_assign: AssignHook | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    batch_timeout_ms: int = 100
    processed: int = 0
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        self.consumer.subscribe(list(self.topics), listener=_Rebalance(self))
        while not self._stopping.is_set():
            batches = await self.consumer.getmany(timeout_ms=self.batch_timeout_ms)
            if not batches:
                continue
            await asyncio.gather(*(self.process_partition(tp, rs) for tp, rs in batches.items()))
            await self._commit({tp: rs[-1].offset + 1 for tp, rs in batches.items()})
            await self._record_lag()

    def stop(self) -> None:
        self._stopping.set()

    async def process_partition(self, tp: TopicPartition, records: Sequence[Record]) -> None:
        """Parse, then handle the partition's batch; isolate failures record by record."""
        incoming: list[Incoming] = []
        for record in records:
            try:
                incoming.append(Incoming(record, decode(record.value)))
            except (ValidationError, ValueError) as exc:
                await self.dead_letter(record, exc, attempts=1, reason="schema")
        if not incoming:
            return
        started = time.perf_counter()
        try:
            await self.handler(tp, incoming)
            EVENTS_CONSUMED.labels(tp.topic, "ok").inc(len(incoming))
        except Exception:  # noqa: BLE001 - fall back to one by one to find the culprit
            log.warning("batch failed, handling one by one", exc_info=True)
            for item in incoming:
                await self._handle_one(tp, item)
        HANDLER_SECONDS.labels(tp.topic).observe(time.perf_counter() - started)
        self.processed += len(incoming)

    async def _handle_one(self, tp: TopicPartition, item: Incoming) -> None:
        attempts = 0
        for delay in (*self.retry.delays_s, None):
            attempts += 1
            with correlation(item.event.correlation_id):
                try:
                    await self.handler(tp, [item])
                    EVENTS_CONSUMED.labels(tp.topic, "ok").inc()
                    return
                except PoisonMessage as exc:
                    await self.dead_letter(item.record, exc, attempts=attempts, reason="poison")
                    return
                except Exception as exc:  # noqa: BLE001 - retried, then dead-lettered
                    if delay is None:
                        await self.dead_letter(item.record, exc, attempts, reason="exhausted")
                        return
                    EVENTS_CONSUMED.labels(tp.topic, "retried").inc()
                    log.warning("handler failed, retrying", extra={"attempt": attempts})
                    await asyncio.sleep(delay)

    async def dead_letter(
        self, record: Record, exc: BaseException, attempts: int, reason: str
    ) -> None:
        topic = dlq_topic(record.topic, self.group)
        body = {
            "original_topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "key": record.key.decode("utf-8", "replace") if record.key else None,
            "headers": {k: v.decode("utf-8", "replace") for k, v in record.headers},
            "error": f"{type(exc).__name__}: {exc}"[:4000],
            "stack": traceback.format_exception(exc)[-3:],
            "attempts": attempts,
            "reason": reason,
            "group": self.group,
            "failed_at": time.time(),
            "value": (record.value or b"").decode("utf-8", "replace"),
        }
        await self._publish_dead_letter(topic, orjson.dumps(body), record)
        DLQ_PUBLISHED.labels(record.topic, reason).inc()
        EVENTS_CONSUMED.labels(record.topic, "dlq").inc()
        log.error(
            "record sent to DLQ",
            extra={"dlq": topic, "reason": reason, "error": body["error"], "offset": record.offset},
        )

    async def _publish_dead_letter(self, topic: str, value: bytes, record: Record) -> None:
        """Keep trying: a record is committed only once it was handled or dead-lettered."""
        delay = 0.5
        while True:
            try:
                await self.producer.send_and_wait(
                    topic, value, key=record.key, headers=list(record.headers)
                )
                return
            except KafkaError as exc:
                log.error("DLQ publish failed; retrying", extra={"dlq": topic, "error": str(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assigned = self.consumer.assignment()
        mine = {tp: OffsetAndMetadata(o, "") for tp, o in offsets.items() if tp in assigned}
        if not mine:
            return
        try:
            await self.consumer.commit(mine)
        except (CommitFailedError, KafkaError) as exc:
            # The group moved on; the next owner re-reads from the last commit and the
            # idempotent handlers make that harmless.
            log.warning("commit failed", extra={"error": str(exc)})

    async def _record_lag(self) -> None:
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is None:
                continue
            try:
                pos = await self.consumer.position(tp)
            except KafkaError:
                continue
            CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(max(0, high - pos))


@contextlib.contextmanager
def handling(item: Incoming, name: str) -> Iterator[trace.Span]:
    """Handle one record inside a consumer span continuing the producer's trace, with the
    record's correlation id on every log line; events published inside carry the trace."""
    ctx = extract_context(item.record.headers)
    with (
        correlation(item.event.correlation_id),
        tracer.start_as_current_span(name, context=ctx, kind=trace.SpanKind.CONSUMER) as span,
    ):
        span.set_attribute("messaging.system", "kafka")
        span.set_attribute("messaging.destination.name", item.record.topic)
        span.set_attribute("stocksync.correlation_id", item.event.correlation_id)
        yield span
