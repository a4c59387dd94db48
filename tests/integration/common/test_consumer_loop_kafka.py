"""The consumer loop on the real broker: handled records are committed, poison goes to the DLQ."""

import asyncio
import uuid
from collections.abc import Sequence

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stocksync_common.consumer import ConsumerLoop, Incoming, make_consumer
from stocksync_common.events import InventoryCommand, InventoryCommandRequested
from stocksync_common.kafka import make_producer, publish_event
from stocksync_common.topics import INVENTORY_COMMANDS, dlq_topic
from support.poll import await_for

pytestmark = pytest.mark.integration


async def test_loop_handles_commits_and_dead_letters(kafka_bootstrap, topics):
    group = f"it-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(dlq_topic(INVENTORY_COMMANDS, group), 1, 1)])
    await admin.close()
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    producer = make_producer(kafka_bootstrap, "it")
    await producer.start()
    # the test's own group: it starts from the end of the topic
    consumer = make_consumer(kafka_bootstrap, group, "it")
    consumer._auto_offset_reset = "latest"
    seen: list[str] = []

    async def handler(tp: TopicPartition, items: Sequence[Incoming]) -> None:
        seen.extend(i.event.payload.idempotency_key for i in items)  # type: ignore[union-attr,misc]

    loop = ConsumerLoop(
        consumer=consumer,
        producer=producer,
        group=group,
        topics=[INVENTORY_COMMANDS],
        handler=handler,
        bootstrap=kafka_bootstrap,
    )
    await consumer.start()
    task = asyncio.create_task(loop.run())
    dlq = AIOKafkaConsumer(
        dlq_topic(INVENTORY_COMMANDS, group),
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
    )
    await dlq.start()
    try:
        await await_for("assignment", lambda: _assigned(consumer), 30)
        event = InventoryCommandRequested(
            source="it",
            payload=InventoryCommand(
                command="adjust", idempotency_key=f"{sku}-1", sku=sku, location="l", quantity=1
            ),
        )
        md = await publish_event(producer, INVENTORY_COMMANDS, sku, event, timeout_s=10)
        await producer.send_and_wait(INVENTORY_COMMANDS, b"garbage", key=sku.encode())
        await await_for("the good record", lambda: _async(f"{sku}-1" in seen), 30)
        record = await asyncio.wait_for(dlq.getone(), 30)
        body = orjson.loads(record.value)
        assert body["reason"] == "schema" and body["original_topic"] == INVENTORY_COMMANDS
        assert body["partition"] == md.partition and body["offset"] == md.offset + 1
        tp = TopicPartition(INVENTORY_COMMANDS, md.partition)
        await await_for("the commit", lambda: _committed_past(consumer, tp, md.offset + 1), 30)
    finally:
        loop.stop()
        await asyncio.wait_for(task, 10)
        await consumer.stop()
        await dlq.stop()
        await producer.stop()


async def _async(value):
    return value


async def _assigned(consumer):
    """Assigned, and every position resolved: with offset reset "latest", a record published
    before the reset happened would be skipped."""
    assigned = consumer.assignment()
    for tp in assigned:
        await consumer.position(tp)
    return bool(assigned) or None


async def _committed_past(consumer, tp, offset):
    committed = await consumer.committed(tp)
    return committed is not None and committed > offset


async def test_the_next_batch_is_handled_while_a_commit_is_held_back(kafka_bootstrap):
    """The real consumer's commit is held at a gate: the loop still fetches and handles the
    next record, and the offsets reach the broker only once the gate opens, each after its
    record was handled."""
    run = uuid.uuid4().hex[:8]
    topic, group = f"it.commit.{run}.v1", f"it-commit-{run}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    producer = make_producer(kafka_bootstrap, "it")
    consumer = make_consumer(kafka_bootstrap, group, "it")
    handled: list[str] = []
    commits: list[tuple[int, list[str]]] = []
    gate = asyncio.Event()
    real_commit = consumer.commit

    async def held_commit(offsets):
        commits.append((next(iter(offsets.values())).offset, list(handled)))
        await gate.wait()
        await real_commit(offsets)

    consumer.commit = held_commit

    async def handler(tp: TopicPartition, items: Sequence[Incoming]) -> None:
        handled.extend(i.event.payload.idempotency_key for i in items)  # type: ignore[union-attr,misc]

    loop = ConsumerLoop(consumer, producer, group, [topic], handler, bootstrap=kafka_bootstrap)
    tp = TopicPartition(topic, 0)
    await producer.start()
    await consumer.start()
    task = asyncio.create_task(loop.run())
    try:
        await _send(producer, topic, "first")
        await await_for("the first commit started", lambda: _async(bool(commits)), 30)
        await _send(producer, topic, "second")
        await await_for("the second record handled", lambda: _async("second" in handled), 30)
        assert commits == [(1, ["first"])]  # one commit in flight; the next one waits for it
        assert await consumer.committed(tp) is None
        gate.set()
        await await_for("both committed", lambda: _committed_past(consumer, tp, 1), 30)
        assert commits == [(1, ["first"]), (2, ["first", "second"])]
    finally:
        gate.set()
        loop.stop()
        await asyncio.wait_for(task, 10)
        await consumer.stop()
        await producer.stop()


async def _send(producer, topic: str, key: str) -> None:
    event = InventoryCommandRequested(
        source="it",
        payload=InventoryCommand(
            command="adjust", idempotency_key=key, sku=key, location="l", quantity=1
        ),
    )
    await publish_event(producer, topic, key, event, timeout_s=10)
