"""A batch's output records: every send started without waiting for the one before, one
wait for all of them per batch (docs/decisions/0014-adjuster-hot-path.md).

``AIOKafkaProducer.send`` returns once the record is in the producer's buffer, but it waits
there when the partition's batch is full or the topic's metadata is not known yet; awaited
one by one, one full partition held back the records of every other one. Here each send is
its own task, so they wait side by side. Records of one (topic, key) still reach the
buffer in the order they were sent: a send waits until the previous record of its key is
buffered (not acknowledged), because a later, smaller record could otherwise slip into the
room a full batch still has; one producer keeps a partition's buffered order on the wire
(idempotent, so retries keep it too). If a record of a key could not be buffered, the later
ones of that key are not sent at all.

Each record's partition is passed explicitly, from :func:`partitions.partition_of` (the
default partitioner's choice, hashed once per key); while the topic's metadata is not known
yet, aiokafka's partitioner picks the same partition itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from inventory_adjuster.adapters.partitions import partition_of
from stocksync_common.metrics import EVENTS_PUBLISHED

Headers = Sequence[tuple[str, bytes]]


class NotSent(Exception):
    """An earlier record of the same key failed, so this one was not sent."""


class BatchPublisher:
    """Collects the sends of one batch; :meth:`flush` waits for every acknowledgement and
    raises the first failure (the batch is then retried, re-publishing is harmless)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._sends: list[asyncio.Task[RecordMetadata]] = []
        # the buffering of the last record sent per (topic, key): True once buffered
        self._buffered: dict[tuple[str, str], asyncio.Future[bool]] = {}
        self._topics: list[str] = []  # of each send, in order

    def send(self, topic: str, key: str, value: bytes, headers: Headers) -> None:
        before = self._buffered.get((topic, key))
        buffered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._buffered[(topic, key)] = buffered
        self._sends.append(
            asyncio.ensure_future(self._send(topic, key, value, headers, before, buffered))
        )
        self._topics.append(topic)

    async def _send(
        self,
        topic: str,
        key: str,
        value: bytes,
        headers: Headers,
        before: asyncio.Future[bool] | None,
        buffered: asyncio.Future[bool],
    ) -> RecordMetadata:
        ok = False
        try:
            if before is not None and not await before:
                raise NotSent(f"an earlier record of {key!r} on {topic} was not sent")
            key_bytes = key.encode()
            delivery: asyncio.Future[RecordMetadata] = await self._producer.send(
                topic,
                value,
                key=key_bytes,
                partition=self._partition(topic, key_bytes),
                headers=list(headers),
            )
            ok = True
        finally:
            buffered.set_result(ok)
        return await delivery

    def _partition(self, topic: str, key: bytes) -> int | None:
        """The cached partition of ``key``; ``None`` (aiokafka picks) while the topic's
        partitions are not known yet."""
        partitions = self._producer.client.cluster.partitions_for_topic(topic)
        return partition_of(key, len(partitions)) if partitions else None

    async def flush(self) -> None:
        """Wait for every send started since the last flush; raise the first failure."""
        sends, self._sends, self._buffered = self._sends, [], {}
        topics, self._topics = self._topics, []
        if not sends:
            return
        results = await asyncio.gather(*sends, return_exceptions=True)
        for topic, result in zip(topics, results, strict=True):
            if not isinstance(result, BaseException):  # acknowledged: published
                EVENTS_PUBLISHED.labels(topic).inc()
        for result in results:
            if isinstance(result, BaseException):
                raise result
