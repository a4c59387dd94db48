"""The consumer loop: poll, hand each partition's batch to a handler, commit explicit offsets.

Offsets are committed only after each record of a partition's batch was handled, sent to the
group's retry topic, or dead-lettered. A record that cannot be parsed, or raises
PoisonMessage, goes straight to ``<topic>.dlq.<group>``; a transient failure is retried in
process for blips, then through ``<topic>.retry.<group>`` after 1, 2, 4 and 8 s, then
dead-lettered. The loop reads its own retry topics too: it pauses a retry partition until its
head record is due, so waiting never blocks the main partitions. See
docs/decisions/0009-retry-topics-and-ordering.md for why a late retry is harmless.

The commit of a handled batch does not hold back the next fetch: it runs while the next batch
is fetched and handled, and is awaited before the next commit is started, before partitions
are revoked and when the loop stops. At most one commit is in flight, so offsets reach the
group in order, and each one belongs to a batch that was already handled (ADR 0003). Under
load, batches handled within ``commit_interval_s`` of the last commit (or while it is in
flight) go out together in the next one: a few commits a second instead of one per fetch,
and a crash re-reads at most that much more (handlers are idempotent). Lag is sampled on a
timer (``lag_interval_s``), not after every batch.

Test-only: with ``STOCKSYNC_FAULTS_HOLD_DIR`` set (the fault suite sets it; nothing else
does), a group's fetched batch waits before its handler while ``<dir>/<group>.hold`` exists,
so a fault can SIGKILL the process between fetch and handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata, TopicPartition
from opentelemetry import trace
from pydantic import ValidationError

from stocksync_common.dlq import dead_letter_body
from stocksync_common.events import Envelope, Event, decode
from stocksync_common.logs import correlation
from stocksync_common.metrics import (
    CONSUMER_LAG,
    DLQ_PUBLISHED,
    EVENTS_CONSUMED,
    HANDLER_SECONDS,
    RETRIES_PUBLISHED,
)
from stocksync_common.retry import (
    RetrySchedule,
    attempts_of,
    classify,
    is_retry_topic,
    not_before_ms,
    now_ms,
    origin_of,
    retry_headers,
)
from stocksync_common.topics import Registered, dlq_topic, ensure_topics, group_topics, retry_topic
from stocksync_common.tracing import extract_context
from stocksync_common.transport import KafkaSecurity, kafka_options

log = logging.getLogger(__name__)
tracer = trace.get_tracer("stocksync.consumer")
FAULTS_HOLD_ENV = "STOCKSYNC_FAULTS_HOLD_DIR"


class Record(Protocol):
    """The parts of a consumed record StockSync uses (aiokafka's ConsumerRecord has them)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


class _Stopped(Exception):  # noqa: N818 - control flow, never escapes the loop
    """The loop was stopped while a record was held: leave without committing."""


class PoisonMessage(Exception):  # noqa: N818 - the domain's word for it
    """Raised by a handler for input that can never succeed; it goes straight to the DLQ."""


class Decoded(Protocol):
    """What the loop itself reads of a decoded record: an envelope has it, and so has a
    service's own lighter reading of a shared event (shopify-sync's, the notifier's and
    order-consumer's readings of ``inventory.changed``, ADR 0041 and 0042)."""

    @property
    def type(self) -> str: ...

    @property
    def correlation_id(self) -> str: ...


@dataclass(frozen=True)
class Incoming:
    record: Record
    # A shared event, or one of the service's own when its consumer has its own decoder
    # (an event of its own, or its own reading of a shared one).
    event: Event | Envelope | Decoded


Decoder = Callable[[bytes | None], Event | Envelope | Decoded]


BatchHandler = Callable[[TopicPartition, Sequence[Incoming]], Awaitable[None]]
Parts = Sequence[tuple[TopicPartition, Sequence[Incoming]]]
ManyHandler = Callable[[Parts], Awaitable[None]]
AssignHook = Callable[[set[TopicPartition]], Awaitable[dict[TopicPartition, int]]]


@dataclass
class RetryPolicy:
    """Short in-process retries for blips, then the retry topic's delays, then the DLQ."""

    blips_s: tuple[float, ...] = (0.1, 0.5)
    delays_s: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    # A dependency failure holds the partition (retried in place every hold_s until the
    # dependency is back) instead of rerouting: for a consumer whose records must apply in
    # partition order (inventory-adjuster, docs/decisions/0009).
    hold_on_dependency: bool = False
    hold_s: float = 1.0

    @property
    def schedule(self) -> RetrySchedule:
        return RetrySchedule(self.delays_s)


# How long the broker holds a fetch that found nothing. With ``fetch_min_bytes`` 1 it answers
# at the first record for any partition in the fetch, and aiokafka sends the next fetch only
# once the last one's records were taken (a loop's ``getmany`` takes every partition's): the
# wait bounds how often an idle group polls, not how long a record waits
# (tests/integration/common/test_aiokafka_kafka.py). At 10 ms each sale-path group sent 100
# empty fetches a second while idle, each about 0.35 ms of the broker's CPU and 0.45 ms of
# the client's here: three groups cost a tenth of this 2-core machine doing nothing. One case
# still waits on it: records left untaken past aiokafka's prefetch backoff (0.1 s, a batch
# handled that long) are fetched once the fetch sent meanwhile for the other partitions
# returns, at the next record for any of them or after this wait (docs/profiling.md).
FETCH_MAX_WAIT_MS = 100


def make_consumer(
    bootstrap: str,
    group: str,
    client_id: str,
    *,
    fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS,
    max_poll_records: int = 2000,
    fetch_min_bytes: int = 1,
    security: KafkaSecurity | None = None,
) -> AIOKafkaConsumer:
    """A group consumer with explicit commits only.

    ``fetch_max_wait_ms``: how long the broker holds a fetch that found nothing
    (:data:`FETCH_MAX_WAIT_MS`: it does not delay a record). ``max_poll_records`` bounds a
    batch, and with it how long the first record of a batch waits for the last one.
    ``fetch_min_bytes``: the broker holds a fetch until that much has arrived (or
    ``fetch_max_wait_ms`` passed). 1 (the default) answers at the first record: every record
    is a fetch and a handler call of its own at moderate rates, about a millisecond of CPU
    each per group. A consumer off the sale's path (alerts, oversell records, warehouse
    orders) asks for more and takes its records in batches, a fetch wait later.
    """
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        **kafka_options(security),
        group_id=group,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=max_poll_records,
        fetch_max_wait_ms=fetch_max_wait_ms,
        fetch_min_bytes=fetch_min_bytes,
        session_timeout_ms=30000,
        heartbeat_interval_ms=3000,
        max_poll_interval_ms=300000,
    )


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumerLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        log.info("partitions revoked", extra={"partitions": sorted(map(str, revoked))})
        # No commit starts until the new assignment is known, and the one started for the
        # last handled batch goes out while these partitions are still ours (this
        # generation), never after they were handed to another member.
        # Offsets handled but not committed yet go out first, while they are still ours.
        await self.loop.flush_commit()
        self.loop.rebalancing = True
        await self.loop.settle_commit(self.loop.commit_wait_s)
        for tp in revoked:
            self.loop.waiting.pop(tp, None)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"partitions": sorted(map(str, assigned))})
        self.loop.rebalancing = False
        if self.loop.on_assign is None or not assigned:
            return
        positions = await self.loop.on_assign(assigned)
        for tp, offset in positions.items():
            committed = await self.loop.consumer.committed(tp)
            if committed is None or offset < committed:
                log.info("resuming from stored offset", extra={"tp": str(tp), "offset": offset})
                self.loop.consumer.seek(tp, offset)


def _faults_hold_dir() -> Path | None:
    where = os.environ.get(FAULTS_HOLD_ENV)
    return Path(where) if where else None


@dataclass
class ConsumerLoop:
    consumer: AIOKafkaConsumer
    producer: AIOKafkaProducer
    group: str
    topics: Sequence[str]
    handler: BatchHandler
    on_assign: AssignHook | None = None
    # Handles the batches of all the partitions of one fetch in one call (one pipelined
    # round trip and one burst of sends, not one per partition). Records keep their
    # partition's order; a failure falls back to ``handler``, partition by partition.
    handler_many: ManyHandler | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Parses a record value (raises on a malformed one, which is dead-lettered): the shared
    # events by default, a service's own decoder for a topic that carries its own event.
    decode: Decoder = decode
    batch_timeout_ms: int = 100
    processed: int = 0
    # Paused retry partitions and when (epoch ms) their head record is due.
    waiting: dict[TopicPartition, int] = field(default_factory=dict)
    # Create this group's missing retry and DLQ topics on start (the catalog has the usual
    # groups' ones; tests and renamed groups need theirs), through ``bootstrap``.
    create_missing: bool = True
    bootstrap: str | None = None
    security: KafkaSecurity | None = None
    # How those topics are replicated (the settings' topic_replication_factor and
    # topic_min_insync_replicas; None: as many replicas as brokers up to 3, the broker's
    # default min.insync.replicas).
    replication: int | None = None
    min_isr: int | None = None
    # Consumer lag (``stocksync_consumer_lag``) is sampled this often, in the background.
    lag_interval_s: float = 10.0
    # How long a revoke or a stop waits for the commit in flight before abandoning it.
    commit_wait_s: float = 10.0
    # At most one commit per this interval: the offsets of batches handled in between are
    # merged into the next (0: one commit per batch).
    commit_interval_s: float = 0.1
    # Between a revoke and the next assignment: batches handled then are not committed
    # (their partitions may be another member's by the time a commit would arrive; whoever
    # owns them next re-reads them, harmless as handlers are idempotent).
    rebalancing: bool = False
    # Test-only, off unless the fault suite sets FAULTS_HOLD_ENV (see the module docstring).
    faults_hold_dir: Path | None = field(default_factory=_faults_hold_dir)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _committing: asyncio.Task[None] | None = None
    _handled: dict[TopicPartition, int] = field(default_factory=dict)  # not committed yet
    _committed_at: float = float("-inf")  # monotonic start of the last commit

    @property
    def retry_topics(self) -> list[str]:
        return [retry_topic(t, self.group) for t in self.topics]

    async def run(self) -> None:
        if self.create_missing:
            await self._create_missing()
        subscribed = [*self.topics, *self.retry_topics]
        self.consumer.subscribe(subscribed, listener=_Rebalance(self))
        lag = asyncio.create_task(self._sample_lag(), name=f"{self.group}-lag")
        try:
            while not self._stopping.is_set():
                self._resume_due()
                batches = await self.consumer.getmany(timeout_ms=self.batch_timeout_ms)
                if not batches:
                    await self._commit_due()
                    continue
                try:
                    ends = await self._process_fetch(batches)
                except _Stopped:
                    break
                self._handled.update(zip(batches, ends, strict=True))
                await self._commit_due()
        finally:
            lag.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lag
            await self.flush_commit()
            await self.settle_commit(self.commit_wait_s)

    def stop(self) -> None:
        self._stopping.set()

    async def settle_commit(self, timeout_s: float | None = None) -> None:
        """Wait for the commit in flight, if any. One still pending after ``timeout_s`` is
        cancelled, so it can never be sent once its partitions changed hands; the next owner
        then re-reads from the previous commit (handlers are idempotent)."""
        task = self._committing
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:
            log.warning("commit still pending; abandoned", extra={"timeout_s": timeout_s})
            task.cancel()
        if self._committing is task:
            self._committing = None

    async def _commit_due(self) -> None:
        """Start a commit of what was handled, unless one is in flight or the last started
        less than ``commit_interval_s`` ago (then a later call carries these offsets too)."""
        if not self._handled:
            return
        busy = self._committing is not None and not self._committing.done()
        if busy or time.monotonic() - self._committed_at < self.commit_interval_s:
            return
        await self.flush_commit()

    async def flush_commit(self) -> None:
        """Start the commit of everything handled and not committed yet, now."""
        if not self._handled:
            return
        offsets, self._handled = self._handled, {}
        self._committed_at = time.monotonic()
        await self._start_commit(offsets)

    async def _start_commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit ``offsets`` (of a batch already handled) in the background, once the
        previous commit is done: one in flight at a time, in order."""
        await self.settle_commit()
        if self.rebalancing:
            log.info("batch handled during a rebalance; not committed")
            return
        assigned = self.consumer.assignment()
        mine = {tp: o for tp, o in offsets.items() if tp in assigned}
        if mine:
            self._committing = asyncio.create_task(self._commit_quietly(mine))

    async def _commit_quietly(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            await self._commit(offsets)
        except Exception:  # noqa: BLE001 - nobody awaits a background commit's error
            log.exception("commit failed")

    async def _create_missing(self) -> None:
        """This group's retry and DLQ topics that do not exist yet, as the topic description
        has them (:func:`stocksync_common.topics.group_topics`), each with as many partitions
        as the topic it serves."""
        existing = await self.consumer.topics()
        wanted: dict[str, int] = {}
        configs: dict[str, dict[str, str]] = {}
        for topic in self.topics:
            count = len(await self.producer.partitions_for(topic)) or 1
            for spec in group_topics(Registered({self.group: (topic,)})):
                if spec.name not in existing:
                    wanted[spec.name], configs[spec.name] = count, spec.config
        if wanted:
            if self.bootstrap is None:
                raise ValueError("create_missing needs the loop's bootstrap (Kafka servers)")
            await ensure_topics(
                self.bootstrap,
                wanted,
                self.replication,
                min_isr=self.min_isr,
                configs=configs,
                security=self.security,
            )
            # Subscribe once the metadata lists them: a topic that shows up later would cost
            # a rebalance right after the first assignment.
            deadline = time.monotonic() + 15
            while not set(wanted) <= await self.consumer.topics():
                if time.monotonic() > deadline:
                    log.warning("new retry/DLQ topics not in metadata yet", extra={"t": wanted})
                    break
                await asyncio.sleep(0.2)

    def _resume_due(self) -> None:
        now = now_ms()
        for tp, due in list(self.waiting.items()):
            if due <= now:
                del self.waiting[tp]
                if tp in self.consumer.assignment():
                    self.consumer.resume(tp)

    def _hold(self, tp: TopicPartition, record: Record, due: int) -> None:
        """Stop reading ``tp`` at ``record`` until it is due; the main partitions flow on."""
        self.consumer.pause(tp)
        self.consumer.seek(tp, record.offset)
        self.waiting[tp] = due

    async def _process_fetch(self, batches: dict[TopicPartition, list[Record]]) -> list[int]:
        """Handle one fetch; the offset to commit per partition, in ``batches``' order."""
        if self.handler_many is None or len(batches) < 2:
            return list(
                await asyncio.gather(
                    *(self.process_partition(tp, rs) for tp, rs in batches.items())
                )
            )
        ends, parts = [], []
        for tp, records in batches.items():
            due, end = self._due(tp, records)
            ends.append(end)
            if due and self.faults_hold_dir is not None:
                await self._hold_for_fault(self.faults_hold_dir, tp, due)
            incoming = await self._decode(due)
            if incoming:
                parts.append((tp, incoming))
        if parts:
            await self._handle_together(self.handler_many, parts)
        return ends

    async def process_partition(self, tp: TopicPartition, records: Sequence[Record]) -> int:
        """Handle the partition's batch (a retry partition only up to its first record not
        yet due); returns the offset to commit."""
        records, next_offset = self._due(tp, records)
        if records:
            if self.faults_hold_dir is not None:
                await self._hold_for_fault(self.faults_hold_dir, tp, records)
            await self._process(tp, records)
        return next_offset

    def _due(self, tp: TopicPartition, records: Sequence[Record]) -> tuple[Sequence[Record], int]:
        """The records to handle now and the offset to commit after them: on a retry
        partition, those before the first record not yet due (held until it is)."""
        next_offset = records[-1].offset + 1
        if is_retry_topic(tp.topic):
            now = now_ms()
            for i, record in enumerate(records):
                due = not_before_ms(record.headers)
                if due > now:
                    self._hold(tp, record, due)
                    return records[:i], record.offset
        return records, next_offset

    async def _hold_for_fault(
        self, where: Path, tp: TopicPartition, records: Sequence[Record]
    ) -> None:
        """Test-only: while ``<where>/<group>.hold`` exists, keep the fetched ``records``
        from the handler, after saying so in ``<where>/<group>.held.<pid>.<topic>.<partition>``
        (the partition and the first and last offsets held)."""
        gate = where / f"{self.group}.hold"
        if not gate.exists():
            return
        marker = where / f"{self.group}.held.{os.getpid()}.{tp.topic}.{tp.partition}"
        held = {"topic": tp.topic, "partition": tp.partition, "first": records[0].offset}
        partial = marker.with_name(f"{marker.name}.tmp")
        partial.write_bytes(orjson.dumps({**held, "last": records[-1].offset}))
        partial.replace(marker)
        log.warning("holding fetched records before handling (fault injection)", extra=held)
        while gate.exists():
            if self._stopping.is_set():
                raise _Stopped
            await asyncio.sleep(0.05)

    async def _decode(self, records: Sequence[Record]) -> list[Incoming]:
        """The records as events; one that cannot be parsed goes to the DLQ."""
        incoming: list[Incoming] = []
        for record in records:
            try:
                incoming.append(Incoming(record, self.decode(record.value)))
            except (ValidationError, ValueError) as exc:
                await self.dead_letter(record, exc, attempts=1, reason="schema")
        return incoming

    async def _handle_together(self, handler: ManyHandler, parts: Parts) -> None:
        started = time.perf_counter()
        try:
            await handler(parts)
        except Exception:  # noqa: BLE001 - each partition on its own finds the culprit
            log.warning("batch of several partitions failed, handling each", exc_info=True)
            await asyncio.gather(*(self._handle(tp, incoming) for tp, incoming in parts))
            return
        seconds = time.perf_counter() - started
        for tp, incoming in parts:
            EVENTS_CONSUMED.labels(tp.topic, "ok").inc(len(incoming))
            HANDLER_SECONDS.labels(tp.topic).observe(seconds)
            self.processed += len(incoming)

    async def _process(self, tp: TopicPartition, records: Sequence[Record]) -> None:
        incoming = await self._decode(records)
        if incoming:
            await self._handle(tp, incoming)

    async def _handle(self, tp: TopicPartition, incoming: Sequence[Incoming]) -> None:
        started = time.perf_counter()
        try:
            await self.handler(tp, incoming)
            EVENTS_CONSUMED.labels(tp.topic, "ok").inc(len(incoming))
        except Exception:  # noqa: BLE001 - fall back to one by one to find the culprit
            log.warning("batch failed, handling one by one", exc_info=True)
            blips = True
            for item in incoming:
                blips = await self._handle_one(tp, item, blips)
        HANDLER_SECONDS.labels(tp.topic).observe(time.perf_counter() - started)
        self.processed += len(incoming)

    async def _handle_one(self, tp: TopicPartition, item: Incoming, blips: bool) -> bool:
        """Handle one record; returns whether the next record may still retry in process
        (not once a record ran out of blip retries: its dependency is likely down)."""
        delays = (*self.retry.blips_s, None) if blips else (None,)
        for delay in delays:
            with correlation(item.event.correlation_id):
                try:
                    await self.handler(tp, [item])
                    EVENTS_CONSUMED.labels(tp.topic, "ok").inc()
                    return blips
                except PoisonMessage as exc:
                    attempts = attempts_of(item.record.headers) + 1
                    await self.dead_letter(item.record, exc, attempts, reason="poison")
                    return blips
                except Exception as exc:  # noqa: BLE001 - retried, then dead-lettered
                    if delay is None:
                        if self.retry.hold_on_dependency and _is_dependency(exc):
                            await self._hold_in_place(tp, item)
                        else:
                            await self.retry_later(item.record, exc)
                        return False
                    log.warning("handler failed, retrying in process", exc_info=True)
                    await asyncio.sleep(delay)
        return False  # pragma: no cover - the last delay is None

    async def _hold_in_place(self, tp: TopicPartition, item: Incoming) -> None:
        """Retry until the dependency is back (or the failure stops being one)."""
        log.error("dependency down; holding the partition", extra={"tp": str(tp)})
        while True:
            if self._stopping.is_set():
                raise _Stopped
            await asyncio.sleep(self.retry.hold_s)
            with correlation(item.event.correlation_id):
                try:
                    await self.handler(tp, [item])
                    EVENTS_CONSUMED.labels(tp.topic, "ok").inc()
                    return
                except PoisonMessage as exc:
                    attempts = attempts_of(item.record.headers) + 1
                    await self.dead_letter(item.record, exc, attempts, reason="poison")
                    return
                except Exception as exc:  # noqa: BLE001 - held while the dependency is down
                    if not _is_dependency(exc):
                        await self.retry_later(item.record, exc)
                        return

    async def retry_later(self, record: Record, exc: BaseException) -> None:
        """Send a failed record to the group's retry topic, or to the DLQ after the last try."""
        attempts = attempts_of(record.headers) + 1
        delay = self.retry.schedule.delay_after(attempts)
        if delay is None:
            await self.dead_letter(record, exc, attempts, reason=classify(exc))
            return
        origin = origin_of(record.topic, record.partition, record.offset, record.headers)
        target = retry_topic(origin.topic, self.group)
        headers = retry_headers(record.headers, origin, attempts, now_ms() + int(delay * 1000))
        await self._publish(target, record.value or b"", record.key, headers)
        RETRIES_PUBLISHED.labels(origin.topic, str(attempts)).inc()
        EVENTS_CONSUMED.labels(record.topic, "retried").inc()
        log.warning(
            "record sent to retry topic",
            extra={"retry": target, "attempt": attempts, "delay_s": delay, "error": str(exc)},
        )

    async def dead_letter(
        self, record: Record, exc: BaseException, attempts: int, reason: str
    ) -> None:
        origin = origin_of(record.topic, record.partition, record.offset, record.headers)
        topic = dlq_topic(origin.topic, self.group)
        body = dead_letter_body(
            origin,
            record.key,
            record.value,
            record.headers,
            group=self.group,
            exc=exc,
            attempts=attempts,
            reason=reason,
            failed_at_ms=now_ms(),
        )
        await self._publish(topic, orjson.dumps(body), record.key, list(record.headers))
        DLQ_PUBLISHED.labels(origin.topic, reason).inc()
        EVENTS_CONSUMED.labels(record.topic, "dlq").inc()
        log.error(
            "record sent to DLQ",
            extra={"dlq": topic, "reason": reason, "error": body["error"], "offset": record.offset},
        )

    async def _publish(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        """Keep trying: a record is committed only once it was handled, retried or
        dead-lettered."""
        delay = 0.5
        while True:
            try:
                await self.producer.send_and_wait(topic, value, key=key, headers=headers)
                return
            except KafkaError as exc:
                log.error("publish failed; retrying", extra={"target": topic, "error": str(exc)})
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

    async def _sample_lag(self) -> None:
        """Keep the lag gauge current on a timer: a sample per batch (a ``position()`` per
        partition) used to stand between a batch and the next fetch."""
        while True:
            await asyncio.sleep(self.lag_interval_s)
            try:
                await self._record_lag()
            except Exception:  # noqa: BLE001 - a metric must never stop the consumer
                log.warning("lag sampling failed", exc_info=True)

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


def _is_dependency(exc: BaseException) -> bool:
    return classify(exc).startswith("dependency:")


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
        if item.record.key is not None:  # the SKU on inventory topics: find a SKU's traces
            key = item.record.key.decode("utf-8", "replace")
            span.set_attribute("messaging.kafka.message.key", key)
        yield span
