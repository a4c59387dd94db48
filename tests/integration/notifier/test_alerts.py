"""Done-when: once per crossing across restarts; the right channels; oversell at once;
one reorder event per crossing. Real Redis, real Kafka, real SMTP and HTTP receivers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from integration.notifier.harness import (
    SECRET,
    changed,
    consuming,
    feed,
    notifier,
    outbox_empty,
    settings_for,
)

from notifier.domain.rules import Rule, RuleSet
from stocksync_common.events import (
    OrderLineRef,
    OrderOversold,
    OversoldLine,
    ReorderRequested,
    decode,
    stable_id,
)
from stocksync_common.kafka import publish_event
from stocksync_common.topics import INVENTORY_CHANGED, REORDERS
from support.poll import await_for

pytestmark = pytest.mark.integration


def sku_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_low_stock_alerts_exactly_once_per_crossing_across_restarts(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    sku = sku_id("LOW")
    rules = RuleSet(default=Rule(low_stock=5, channels={"low_stock": ["slack"]}))
    settings = settings_for(kafka_bootstrap, redis_url, receiver, smtp[1])
    first = [changed(sku, 1, 8, 6), changed(sku, 2, 6, 4), changed(sku, 3, 4, 3)]

    # Instance A consumes from the real topic through the real consumer loop.
    async with (
        notifier(settings, producer, rules) as a,
        consuming(settings, a, INVENTORY_CHANGED) as loop,
    ):
        for event in first:
            await publish_event(producer, INVENTORY_CHANGED, sku, event, timeout_s=10)
        await await_for("one slack alert", lambda: _some(receiver.messages("/slack", sku)))
        await await_for("all consumed", lambda: _async(loop.processed >= 3 or None))

    # Instance B (a restart): Kafka redelivers the same changes, then the level moves on.
    async with notifier(settings, producer) as b:
        await feed(b, *first)
        await feed(b, changed(sku, 4, 3, 2))
        await await_for("outboxes drained", lambda: outbox_empty(b))
        assert len(await receiver.messages("/slack", sku)) == 1
        # Back above the threshold re-arms; falling through again alerts a second time.
        await feed(b, changed(sku, 5, 2, 9), changed(sku, 6, 9, 5), changed(sku, 7, 5, 1))
        found = await await_for(
            "the second crossing", lambda: _at_least(receiver.messages("/slack", sku), 2)
        )
        await await_for("outboxes drained", lambda: outbox_empty(b))
    assert len(await receiver.messages("/slack", sku)) == 2
    assert all(f"{sku} is low" in m["json"]["text"] for m in found)
    assert await receiver.messages("/hook", sku) == [] and smtp[0].about(sku) == []


async def test_out_of_stock_and_back_in_stock_go_to_their_channels(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    sku = sku_id("OOS")
    mailbox, port = smtp
    routes = {"out_of_stock": ["email", "webhook"], "back_in_stock": ["slack"]}
    rules = RuleSet(default=Rule(channels=routes))
    settings = settings_for(kafka_bootstrap, redis_url, receiver, port)
    async with notifier(settings, producer, rules) as c:
        await feed(c, changed(sku, 1, 1, 0), changed(sku, 2, 0, 0), changed(sku, 3, 0, 12))
        await await_for("the email", lambda: _async(mailbox.about(sku) or None))
        await await_for("the webhook", lambda: _some(receiver.messages("/hook", sku)))
        await await_for("slack", lambda: _some(receiver.messages("/slack", sku)))
        await await_for("outboxes drained", lambda: outbox_empty(c))
        recent = await c.alerts.recent(50)

    [mail] = mailbox.about(sku)
    assert "is out of stock" in mail["Subject"] and mail["To"] == "ops@example.test"
    body = mail.get_payload()
    assert "Store: north.myshopify.com" in body and "Order: north.myshopify.com #o-1" in body
    assert f"https://ops.example.test/console/inventory/{sku}" in body
    [hook] = await receiver.messages("/hook", sku)
    assert hook["json"]["alert"]["kind"] == "out_of_stock"
    raw = json.dumps(hook["json"], separators=(",", ":")).encode()
    ts = hook["headers"]["x-stocksync-timestamp"]
    mac = hmac.new(SECRET.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
    assert hook["headers"]["x-stocksync-signature"] == f"sha256={mac}"
    [slack] = await receiver.messages("/slack", sku)
    assert f"{sku} is back in stock: 12 available" in slack["json"]["text"]
    mine = [r for r in recent if r["alert"]["sku"] == sku]
    assert {r["alert"]["kind"]: r["delivery"] for r in mine} == {
        "out_of_stock": {"email": "delivered", "webhook": "delivered"},
        "back_in_stock": {"slack": "delivered"},
    }


async def test_an_import_of_a_sku_never_seen_is_not_back_in_stock(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    sku = sku_id("IMPORTED")
    settings = settings_for(kafka_bootstrap, redis_url, receiver, smtp[1])
    async with notifier(settings, producer) as c:
        # The notifier missed the SKU's creation; the first it sees is an import from 0.
        await feed(c, changed(sku, 3, 0, 25, command="set_on_hand"))
        await feed(c, changed(sku, 4, 25, 0), changed(sku, 5, 0, 6, command="adjust"))
        await await_for("the restock's alert", lambda: _some(receiver.messages("/slack", sku)))
        await await_for("outboxes drained", lambda: outbox_empty(c))
        recent = await c.alerts.recent(50)
    mine = [(r["alert"]["kind"], r["alert"]["version"]) for r in recent if r["alert"]["sku"] == sku]
    assert sorted(mine) == [("back_in_stock", 5), ("out_of_stock", 4)]


async def test_an_oversell_alerts_at_once(kafka_bootstrap, redis_url, receiver, smtp, producer):
    sku = sku_id("OVS")
    rules = RuleSet(default=Rule(quiet_period_s=3600, channels={"oversell": ["slack"]}))
    settings = settings_for(kafka_bootstrap, redis_url, receiver, smtp[1])
    order = OrderLineRef(shop="south.myshopify.com", order_id="5001", line_id="2")
    event = OrderOversold(
        source="it",
        shop="south.myshopify.com",
        payload=OversoldLine(
            sku=sku, location="wh-1", requested=3, available=1, idempotency_key="k", order=order
        ),
    )
    async with notifier(settings, producer, rules) as c:
        await feed(c, event)
        [msg] = await await_for(
            "the oversell alert", lambda: _some(receiver.messages("/slack", sku)), 5
        )
        await feed(c, event)  # redelivered: not alerted again
        await await_for("outboxes drained", lambda: outbox_empty(c))
        assert len(await receiver.messages("/slack", sku)) == 1
    text = msg["json"]["text"]
    assert f"{sku} oversold" in text and "Requested: 3" in text and "#5001 line 2" in text


async def test_a_reorder_trigger_emits_its_event_once_per_crossing(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    sku = sku_id("RO")
    rules = RuleSet(default=Rule(reorder_point=3, reorder_quantity=24, channels={"reorder": []}))
    settings = settings_for(kafka_bootstrap, redis_url, receiver, smtp[1])
    reader = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        parts = [TopicPartition(REORDERS, p) for p in await producer.partitions_for(REORDERS)]
        reader.assign(parts)
        await reader.seek_to_end(*parts)
        for tp in parts:  # pin the start positions before anything is published
            await reader.position(tp)
        crossing = [changed(sku, 1, 5, 3)]
        async with notifier(settings, producer, rules) as a:
            await feed(a, *crossing, changed(sku, 2, 3, 2))
        async with notifier(settings, producer) as b:  # restart; Kafka redelivers
            await feed(b, *crossing, changed(sku, 2, 3, 2), changed(sku, 3, 2, 1))
            await feed(b, changed(sku, 4, 1, 10), changed(sku, 5, 10, 0))  # second crossing
        events = await _reorders_until(reader, sku, version=5)
    finally:
        await reader.stop()
    assert [(e.payload.version, e.payload.quantity, e.payload.available) for e in events] == [
        (1, 24, 3),
        (5, 24, 0),
    ]
    assert events[0].id == stable_id("reorder", sku, "1")
    assert all(e.payload.reorder_point == 3 for e in events)


async def _reorders_until(reader, sku, version) -> list[ReorderRequested]:
    found: list[ReorderRequested] = []
    while not any(e.payload.version == version for e in found):
        batches = await asyncio.wait_for(reader.getmany(timeout_ms=500), 30)
        for records in batches.values():
            for r in records:
                event = decode(r.value)
                if r.key == sku.encode() and isinstance(event, ReorderRequested):
                    found.append(event)
    return found


async def _some(coro):
    """None while the list is empty: ``await_for`` waits for a truthy answer."""
    found = await coro
    return found or None


async def _async(value):
    return value


async def _at_least(coro, n):
    found = await coro
    return found if len(found) >= n else None
