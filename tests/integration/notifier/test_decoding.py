"""The notifier's own reading of inventory.changed (ADR 0042) through its real consumer
loop: a change malformed in a field the notifier uses is dead-lettered with pydantic's
reason naming the field, and the consumer goes on with the next record."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from integration.notifier.harness import changed, consuming, notifier, settings_for

from notifier.domain.rules import RuleSet
from stocksync_common.events import encode
from stocksync_common.topics import INVENTORY_CHANGED, dlq_topic
from support.poll import await_for

pytestmark = pytest.mark.integration


async def test_a_malformed_change_goes_to_the_dlq_naming_the_field(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    run = uuid.uuid4().hex[:8]
    bad, good = f"BAD-{run}", f"GOOD-{run}"
    settings = settings_for(kafka_bootstrap, redis_url, receiver, smtp[1])
    doc = orjson.loads(encode(changed(bad, 2, 1, 0)))
    doc["payload"]["version"] = "two"
    async with (
        notifier(settings, producer, RuleSet()) as c,
        consuming(settings, c, INVENTORY_CHANGED) as loop,
    ):
        await producer.send_and_wait(INVENTORY_CHANGED, orjson.dumps(doc), key=bad.encode())
        await producer.send_and_wait(
            INVENTORY_CHANGED, encode(changed(good, 2, 1, 0)), key=good.encode()
        )
        # the next record is handled: an out-of-stock alert for the good SKU
        await await_for("the good change's alert", lambda: _some(receiver.messages("/slack", good)))
        # counted once its handler returned, which is after the alert went out
        await await_for("the good record counted as processed", lambda: _counted(loop.processed))
    dlq = AIOKafkaConsumer(
        dlq_topic(INVENTORY_CHANGED, settings.consumer_group),
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
    )
    await dlq.start()
    try:
        record = await asyncio.wait_for(dlq.getone(), 30)
    finally:
        await dlq.stop()
    body = orjson.loads(record.value)
    assert record.key == bad.encode() and body["reason"] == "schema"
    assert "ValidationError" in body["error"] and "payload.version" in body["error"]
    assert await receiver.messages("/slack", bad) == []


async def _counted(processed: int) -> bool | None:
    return processed >= 1 or None


async def _some(coro):
    found = await coro
    return found or None
