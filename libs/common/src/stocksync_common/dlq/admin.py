"""Reading, replaying and purging DLQ records (what the HTTP API and the CLI both use).

Kafka holds the records; Redis holds which ones were replayed: one hash per DLQ topic,
``dlq:state:{<dlq topic>}``, field ``<partition>:<offset>``. A replay claims its field with
HSETNX first, so replaying the same id twice (from two replicas, the API and the CLI, or the
automatic replayer) sends it once. Purge deletes the records from Kafka (DeleteRecords up to
the end of each partition) and forgets their state. Every record read is checked against the
redaction list (``dlq:redactions``, :mod:`stocksync_common.dlq.redaction`): one that names
an erased customer or shop is read, shown and replayed without their data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.cluster import ClusterMetadata
from aiokafka.structs import TopicPartition
from redis.asyncio import Redis

from stocksync_common.client_start import start_whole
from stocksync_common.dlq import DlqRecord, parse_record_id, split_dlq_topic
from stocksync_common.dlq.redaction import RedisRedactions
from stocksync_common.kafka import consumer_started, stop_consumer
from stocksync_common.metrics import DLQ_REPLAYED
from stocksync_common.retry import ATTEMPT, NOT_BEFORE, ORIGIN, OURS, REPLAY_OF, Origin, now_ms
from stocksync_common.topics import dlq_topic, group_sources, registered, retry_topic
from stocksync_common.transport import KafkaSecurity, kafka_options

log = logging.getLogger(__name__)
READ_TIMEOUT_S = 20.0
# a DLQ's partition count changes only by an operator's hand: looked up once a minute
PARTITIONS_TTL_S = 60.0
MISSING_TTL_S = 5.0  # a DLQ not created yet is looked for again after this


# Group names (their topics from the catalog), or each group with the topics it reads.
Groups = Mapping[str, Sequence[str]] | Sequence[str]


def resolve_groups(groups: Groups) -> dict[str, tuple[str, ...]]:
    if isinstance(groups, Mapping):
        return {g: tuple(ts) for g, ts in groups.items()}
    return {g: group_sources(g) for g in groups}


def state_key(topic: str) -> str:
    return f"dlq:state:{{{topic}}}"


def replay_target(record: DlqRecord, producers: Collection[str] | None = None) -> str:
    """The group's own retry topic; the original topic for a group that does not consume it
    (``producers``, None: as registered; the webhook-receiver's dead letters never reached
    Kafka)."""
    original, group = split_dlq_topic(record.topic)
    if group not in (registered().producers if producers is None else producers):
        return retry_topic(original, group)
    return str(record.body.get("original_topic") or original)


def replay_headers(record: DlqRecord, replayed_at_ms: int) -> list[tuple[str, bytes]]:
    b = record.body
    raw = b.get("headers") or {}
    headers = [(str(k), str(v).encode()) for k, v in raw.items() if k not in OURS and v is not None]
    if record.body.get("correlation_id") and "correlation-id" not in raw:
        headers.append(("correlation-id", str(b["correlation_id"]).encode()))
    if isinstance(b.get("partition"), int) and isinstance(b.get("offset"), int):
        origin = Origin(str(b.get("original_topic")), b["partition"], b["offset"])
        headers.append((ORIGIN, origin.header()))
    headers += [
        (ATTEMPT, b"0"),
        (NOT_BEFORE, str(replayed_at_ms).encode()),
        (REPLAY_OF, record.id.encode()),
    ]
    return headers


class DlqAdmin:
    """The DLQ topics of some groups, on one Kafka cluster and one Redis."""

    def __init__(
        self,
        bootstrap: str,
        redis: Redis,
        groups: Groups,
        producers: Collection[str] | None = None,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.redis = redis
        self.redactions = RedisRedactions(redis)
        self.groups = resolve_groups(groups)
        # Groups that dead-letter without consuming (None: as the services register them).
        self.producers = set(registered().producers if producers is None else producers)
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._known: dict[str, tuple[float, list[TopicPartition]]] = {}  # topic -> (at, tps)
        self._missing: dict[str, float] = {}  # topic -> when it was not there

    def topics(self) -> list[tuple[str, str, str]]:
        """``(dlq topic, group, original topic)`` for every group."""
        return [(dlq_topic(t, g), g, t) for g, topics in self.groups.items() for t in topics]

    def owns(self, topic: str) -> bool:
        return any(topic == t for t, _, _ in self.topics())

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        if self._consumer is not None:
            await stop_consumer(self._consumer)
            self._consumer = None

    async def overview(self) -> list[dict[str, Any]]:
        out = []
        for topic, group, original in self.topics():
            depth, low = await self._depth(topic)
            replayed = await self._replayed(topic, low)
            out.append(
                {
                    "topic": topic,
                    "group": group,
                    "original_topic": original,
                    "depth": depth,
                    "pending": max(0, depth - len(replayed)),
                }
            )
        return out

    async def records(
        self, topic: str, status: str = "pending", limit: int = 100, reason: str | None = None
    ) -> list[DlqRecord]:
        states = await self._states(topic)
        erased = await self.redactions.current()
        out = []
        for r in await self._scan(topic):
            rec = r.with_status("replayed" if f"{r.partition}:{r.offset}" in states else "pending")
            if status != "all" and rec.status != status:
                continue
            if reason is not None and not rec.reason.startswith(reason):
                continue
            out.append(rec)
        kept = out[-limit:] if limit > 0 else out
        return [rec.redacted_if(erased) for rec in kept]

    async def get(self, rid: str) -> DlqRecord | None:
        topic, partition, offset = parse_record_id(rid)
        raw = await self._read_one(TopicPartition(topic, partition), offset)
        if raw is None:
            return None
        rec = DlqRecord.parse(topic, partition, offset, raw)
        rec = rec.redacted_if(await self.redactions.current())
        state = await self.redis.hget(state_key(topic), f"{partition}:{offset}")
        return rec.with_status("replayed" if state else "pending")

    async def replay(
        self, records: Iterable[DlqRecord], who: str, trigger: str = "manual"
    ) -> list[str]:
        """Send each not yet replayed record to its group's retry path; returns their ids.
        A record that cannot succeed (``DlqRecord.replay_refusal``) is never sent."""
        done = []
        for rec in records:
            if rec.replay_refusal is not None:
                continue
            field = f"{rec.partition}:{rec.offset}"
            at = now_ms()
            mark = orjson.dumps({"status": "replayed", "at": at, "by": who, "trigger": trigger})
            if not await self.redis.hsetnx(state_key(rec.topic), field, mark):
                continue
            try:
                producer = await self._producer_started()
                key = rec.body.get("key")
                await producer.send_and_wait(
                    replay_target(rec, self.producers),
                    rec.original_value(),
                    key=str(key).encode() if key is not None else None,
                    headers=replay_headers(rec, at),
                )
            except BaseException:
                await self.redis.hdel(state_key(rec.topic), field)
                raise
            DLQ_REPLAYED.labels(rec.topic, trigger).inc()
            done.append(rec.id)
        return done

    async def purge(self, topic: str) -> int:
        """Delete every record of ``topic``; returns how many there were."""
        tps, begins, ends = await self.bounds(topic)
        todo = {tp: RecordsToDelete(ends[tp]) for tp in tps if ends[tp] > begins[tp]}
        if todo:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap, **kafka_options(self.security)
            )
            try:
                await start_whole(admin.start())  # a failed start's client is closed too
                await admin.delete_records(todo, timeout_ms=30000)
            finally:
                await admin.close()
        await self.redis.delete(state_key(topic))
        return sum(ends[tp] - begins[tp] for tp in todo)

    async def _producer_started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                enable_idempotence=True,
                acks="all",
                **kafka_options(self.security),
            )
            try:
                await start_whole(producer.start())
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _states(self, topic: str) -> set[str]:
        fields = await self.redis.hkeys(state_key(topic))
        return {f.decode() if isinstance(f, bytes) else str(f) for f in fields}

    async def _replayed(self, topic: str, low: dict[int, int]) -> list[str]:
        out = []
        for f in await self._states(topic):
            partition, _, offset = f.partition(":")
            if int(offset) >= low.get(int(partition), 0):
                out.append(f)
        return out

    async def _depth(self, topic: str) -> tuple[int, dict[int, int]]:
        tps, begins, ends = await self.bounds(topic)
        depth = sum(ends[tp] - begins[tp] for tp in tps)
        return depth, {tp.partition: begins[tp] for tp in tps}

    @contextlib.asynccontextmanager
    async def _reader(self) -> AsyncIterator[AIOKafkaConsumer]:
        """One group-less consumer, kept between calls (assigned anew by each)."""
        async with self._lock:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self.bootstrap,
                    enable_auto_commit=False,
                    group_id=None,
                    **kafka_options(self.security),
                )
                self._consumer = await consumer_started(consumer)
                self._track_dlqs(consumer)
            try:
                yield self._consumer
            finally:
                # Between reads the reader holds no partitions. Assigned ones keep its
                # fetcher long-polling them, and offset lookups queue behind those fetches;
                # and its client would track only the assigned topics, so a lookup on any
                # other DLQ failed with StaleMetadata and waited out a refresh. Both made an
                # overview of four DLQs take 12 s.
                if self._consumer.assignment():
                    self._consumer.unsubscribe()
                    self._track_dlqs(self._consumer)

    def _track_dlqs(self, consumer: AIOKafkaConsumer) -> None:
        """The reader's client keeps the metadata of every DLQ of ours, and of nothing else:
        left unassigned it would track every topic on the cluster, and refetch all of their
        metadata (hundreds of topics on a shared broker) after each read."""
        client = consumer._client  # noqa: SLF001
        # only those that exist: the client logs an error for each missing one it asks about
        there = client.cluster.topics() | set(self._known)
        client.set_topics([t for t, _, _ in self.topics() if t in there])

    async def _partitions(self, consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
        """The partitions of ``topic``, kept for ``PARTITIONS_TTL_S``: the whole cluster's
        metadata (hundreds of topics on a shared broker) took a quarter of a busy service's
        CPU when the DLQ replayer asked for it every second. A topic seen before is asked
        for alone; one never seen is looked up in the whole cluster's metadata (asking for a
        missing topic by name makes the client log an error), at most every
        ``MISSING_TTL_S`` for all of our DLQs at once."""
        now = time.monotonic()
        known = self._known.get(topic)
        if known is not None and now - known[0] < PARTITIONS_TTL_S:
            return known[1]
        if known is None and now - self._missing.get(topic, float("-inf")) < MISSING_TTL_S:
            return []
        client = consumer._client  # noqa: SLF001
        if known is not None:
            cluster = ClusterMetadata()
            await client._metadata_update(cluster, [topic])  # noqa: SLF001
            names = [topic]
        else:
            cluster = await client.fetch_all_metadata()
            names = list(dict.fromkeys([topic, *(t for t, _, _ in self.topics())]))
        for name in names:
            parts = sorted(cluster.partitions_for_topic(name) or ())
            tps = [TopicPartition(name, p) for p in parts]
            if not tps:
                self._missing[name] = now
                self._known.pop(name, None)
                continue
            if name not in self._known:
                client.add_topic(name)  # created since we last looked
            self._known[name] = (now, tps)
            self._missing.pop(name, None)
        return self._known[topic][1] if topic in self._known else []

    async def bounds(
        self, topic: str
    ) -> tuple[list[TopicPartition], dict[TopicPartition, int], dict[TopicPartition, int]]:
        async with self._reader() as consumer:
            return await _bounds_with(consumer, await self._partitions(consumer, topic))

    async def _scan(self, topic: str) -> list[DlqRecord]:
        """Every record of ``topic``, oldest failure first."""
        out, _, _ = await self.read_from(topic, {}, limit=sys.maxsize)
        return sorted(out, key=lambda r: (r.body.get("failed_at") or 0, r.partition, r.offset))

    async def read_from(
        self, topic: str, starts: dict[int, int], limit: int
    ) -> tuple[list[DlqRecord], dict[int, int], dict[int, int]]:
        """Up to about ``limit`` records of ``topic`` from ``starts`` (partition -> offset; the
        log start where missing or older), the positions to go on from, and each partition's
        log start. For readers that follow a DLQ as it grows instead of reading it whole."""
        async with self._reader() as consumer:
            tps, begins, ends = await _bounds_with(
                consumer, await self._partitions(consumer, topic)
            )
            pos = {tp.partition: max(starts.get(tp.partition, 0), begins[tp]) for tp in tps}
            low = {tp.partition: begins[tp] for tp in tps}
            todo = [tp for tp in tps if ends[tp] > pos[tp.partition]]
            out: list[DlqRecord] = []
            if not todo:
                return out, pos, low
            consumer.assign(todo)
            for tp in todo:
                consumer.seek(tp, pos[tp.partition])
            async with asyncio.timeout(READ_TIMEOUT_S):
                while todo and len(out) < limit:
                    batches = await consumer.getmany(*todo, timeout_ms=200, max_records=500)
                    for tp, recs in batches.items():
                        out.extend(
                            DlqRecord.parse(topic, tp.partition, r.offset, r.value)
                            for r in recs
                            if r.offset < ends[tp]
                        )
                    for tp in todo:  # the position also steps over offsets without a record
                        pos[tp.partition] = min(await consumer.position(tp), ends[tp])
                    todo = [tp for tp in todo if pos[tp.partition] < ends[tp]]
            return out, pos, low

    async def _read_one(self, tp: TopicPartition, offset: int) -> bytes | None:
        async with self._reader() as consumer:
            parts = await self._partitions(consumer, tp.topic)
            _, begins, ends = await _bounds_with(consumer, parts)
            if tp not in ends or not begins[tp] <= offset < ends[tp]:
                return None
            consumer.assign([tp])
            consumer.seek(tp, offset)
            async with asyncio.timeout(READ_TIMEOUT_S):
                while True:
                    batches = await consumer.getmany(tp, timeout_ms=200)
                    for rec in batches.get(tp, []):
                        if rec.offset >= offset:
                            return rec.value if rec.offset == offset else None
                    if await consumer.position(tp) >= ends[tp]:
                        return None


async def _bounds_with(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition]
) -> tuple[list[TopicPartition], dict[TopicPartition, int], dict[TopicPartition, int]]:
    if not tps:
        return [], {}, {}
    begins = await consumer.beginning_offsets(tps)
    ends = await consumer.end_offsets(tps)
    return tps, begins, ends
