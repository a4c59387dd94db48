"""Done-when: a dead channel does not block the others, and its alerts go out after it
recovers; an alert a channel never takes ends in the DLQ with the reason."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from integration.notifier.harness import Receiver, changed, feed, notifier, settings_for

from notifier.domain.rules import RuleSet
from stocksync_common.topics import INVENTORY_CHANGED, dlq_topic
from support.poll import await_for

pytestmark = pytest.mark.integration


async def _mail(mailbox, sku):
    return mailbox.about(sku) or None


def _bind(fn, *args):
    return lambda: fn(*args)


async def _some_messages(receiver, path, sku):
    return (await receiver.messages(path, sku)) or None


async def test_a_dead_channel_does_not_block_others_and_delivers_after_recovery(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    skus = [f"DEAD-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    mailbox, port = smtp
    dead = Receiver()  # nothing listens on its port yet: the generic webhook is down
    settings = settings_for(
        kafka_bootstrap, redis_url, receiver, port, alert_generic_webhook_url=f"{dead.url}/hook"
    )
    async with notifier(settings, producer, RuleSet()) as c:
        for sku in skus:
            await feed(c, changed(sku, 1, 2, 0))
        for sku in skus:
            await await_for("slack", _bind(_some_messages, receiver, "/slack", sku))
            await await_for("email", _bind(_mail, mailbox, sku))
        hook = next(w for w in c.workers if w.channel.name == "webhook")
        await await_for("the breaker open", lambda: _async(hook.breaker.state == "open" or None))
        assert await hook.outbox.depth() == 3
        await dead.start()  # the channel recovers
        try:
            for sku in skus:
                await await_for("webhook", _bind(_some_messages, dead, "/hook", sku), 15)
            await await_for("webhook outbox drained", lambda: _empty(hook.outbox))
            delivered = await dead.messages("/hook")
        finally:
            await dead.stop()
    assert sorted(m["json"]["alert"]["sku"] for m in delivered) == sorted(skus)
    for sku in skus:  # exactly once on each channel
        assert len(await receiver.messages("/slack", sku)) == 1 and len(mailbox.about(sku)) == 1


async def test_an_alert_a_channel_never_takes_goes_to_the_dlq(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    sku = f"DLQ-{uuid.uuid4().hex[:8]}"
    settings = settings_for(
        kafka_bootstrap,
        redis_url,
        receiver,
        smtp[1],
        alert_generic_webhook_url=f"{Receiver().url}/hook",  # never comes up
        delivery_max_attempts=3,
    )
    topic = dlq_topic(INVENTORY_CHANGED, settings.consumer_group)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    dlq = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await dlq.start()
    try:
        async with notifier(settings, producer, RuleSet()) as c:
            await feed(c, changed(sku, 1, 1, 0))
            record = await asyncio.wait_for(dlq.getone(), 30)
            hook = next(w for w in c.workers if w.channel.name == "webhook")
            await await_for("the outbox emptied", lambda: _empty(hook.outbox))
            recent = await await_for("the status", lambda: _dead_lettered(c, sku))
    finally:
        await dlq.stop()
    body = orjson.loads(record.value)
    assert body["reason"] == "delivery:webhook" and body["attempts"] == 3
    assert "ConnectError" in body["error"] and orjson.loads(body["value"])["sku"] == sku
    assert record.key == sku.encode()
    [mine] = [r for r in recent if r["alert"]["sku"] == sku]
    assert mine["delivery"] == {
        "slack": "delivered",
        "email": "delivered",
        "webhook": "dead-lettered",
    }


async def _dead_lettered(c, sku):
    recent = await c.alerts.recent(50)
    mine = [r for r in recent if r["alert"]["sku"] == sku]
    return recent if mine and mine[0]["delivery"].get("webhook") == "dead-lettered" else None


async def _empty(outbox):
    return await outbox.depth() == 0 or None


async def _async(value):
    return value
