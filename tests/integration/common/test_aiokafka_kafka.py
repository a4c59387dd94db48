"""What StockSync relies on in aiokafka, on the real broker.

The fetch wait: with ``fetch_min_bytes`` 1 the broker answers a fetch at the first record,
and aiokafka sends the next fetch only once the last one's records were taken, every
partition in it. The wait (``fetch_max_wait_ms``) then bounds only how often an idle consumer
polls; it is never how long a record waits, however long it is (``consumer.FETCH_MAX_WAIT_MS``,
docs/profiling.md, ninth session). If aiokafka left a just-drained partition out of the fetch
in flight (as an earlier docstring assumed), each record below would wait out the 30 s fetch
and the test would fail at its deadline.

The metadata watch (``service.watch_metadata``) reads aiokafka's private client attributes.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from stocksync_common.consumer import make_consumer
from stocksync_common.kafka import stop_consumer
from stocksync_common.topics import ensure_topics
from support.poll import await_for

pytestmark = pytest.mark.integration

LONG_POLL_MS = 30_000  # far beyond the deadline each record is awaited with


async def test_a_record_is_not_held_by_the_fetch_wait(kafka_bootstrap: str) -> None:
    topic = f"fetch-wait-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, {topic: 3}, 1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    consumer = make_consumer(
        kafka_bootstrap, f"fetch-wait-{uuid.uuid4().hex[:8]}", "fetch-wait-test",
        fetch_max_wait_ms=LONG_POLL_MS,
    )  # fmt: skip
    consumer.subscribe([topic])
    await producer.start()
    await consumer.start()
    got: list[bytes] = []
    try:

        async def assigned() -> bool:
            await consumer.getmany(timeout_ms=100)
            return len(consumer.assignment()) == 3

        await await_for("the topic's partitions assigned", assigned, 20)
        # the same partition again and again (what a hot SKU does), then the others: each
        # record is sent only once the one before it was taken and handled
        for n, partition in enumerate([0, 0, 0, 1, 0, 2, 2]):
            value = f"r{n}".encode()
            await producer.send_and_wait(topic, value, partition=partition)

            async def taken(value: bytes = value) -> bool:
                batch = await consumer.getmany(timeout_ms=200)
                got.extend(r.value for records in batch.values() for r in records if r.value)
                return value in got

            await await_for(f"record {n} taken", taken, LONG_POLL_MS / 1000 / 3)
    finally:
        await stop_consumer(consumer)
        await producer.stop()
    assert got == [f"r{n}".encode() for n in range(7)]


async def test_the_metadata_watch_reads_what_a_real_consumer_has(kafka_bootstrap: str) -> None:
    """``watch_metadata`` reads aiokafka's own attributes (not API): a started consumer's
    client has its metadata task running and an update future that a forced refresh sets
    and then clears once the broker answered. Renamed in a new aiokafka, this fails."""
    consumer = make_consumer(kafka_bootstrap, f"md-watch-{uuid.uuid4().hex[:8]}", "md-watch")
    await consumer.start()
    try:
        client = consumer._client  # noqa: SLF001
        assert isinstance(client._sync_task, asyncio.Task) and not client._sync_task.done()  # noqa: SLF001
        refreshed = client.force_metadata_update()
        assert isinstance(client._md_update_fut, asyncio.Future)  # noqa: SLF001
        assert await refreshed is True

        async def cleared() -> bool:
            return client._md_update_fut is None  # noqa: SLF001

        await await_for("the update future cleared", cleared, 10)
    finally:
        await stop_consumer(consumer)
