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
        seen.extend(i.event.payload.idempotency_key for i in items)  # type: ignore[union-attr]

    loop = ConsumerLoop(
        consumer=consumer,
        producer=producer,
        group=group,
        topics=[INVENTORY_COMMANDS],
        handler=handler,
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
