"""Order lifecycle events alert (ADR 0022, e): an order line without a SKU mapping
(``order.line_unmapped`` on ``orders.v1``, read by the notifier's own consumer loop) and an
order refused for stock (``order.oversold``), each once however often it is delivered, the
first of a store's (or SKU's) quiet period at once and the others in one digest after it.
Real Redis, real Kafka, a real HTTP receiver."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import TopicPartition
from integration.notifier.harness import consuming, notifier, outbox_empty, settings_for
from integration.notifier.test_alerts import _at_least, _some

from notifier.domain.rules import Rule, RuleSet
from stocksync_common.events import (
    OrderLineRef,
    OrderLineUnmapped,
    OrderOversold,
    OrderRereserved,
    OversoldLine,
    RereservedLine,
    UnmappedLine,
)
from stocksync_common.kafka import publish_event
from stocksync_common.topics import INVENTORY_CHANGED, ORDERS
from support.poll import await_for
from support.records import incoming

pytestmark = pytest.mark.integration


def unmapped(shop: str, order_id: str, title: str) -> OrderLineUnmapped:
    line = UnmappedLine(
        shop=shop, order_id=order_id, line_id="1", variant_id="77", title=title, quantity=2
    )
    return OrderLineUnmapped(source="it", shop=shop, payload=line)


async def test_unmapped_lines_alert_per_store_through_the_orders_topic(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    shop = f"unm-{uuid.uuid4().hex[:8]}.myshopify.com"
    rules = RuleSet(default=Rule(quiet_period_s=1, channels={"unmapped_line": ["slack"]}))
    settings = settings_for(kafka_bootstrap, redis_url, receiver, smtp[1])
    first, second, third = (unmapped(shop, str(n), f"Mug {n}") for n in (1, 2, 3))
    async with notifier(settings, producer, rules) as c, consuming(settings, c, ORDERS):
        for event in (first, first, second, third):  # the first delivered twice
            # one partition, so they are handled in this order (orders.v1 is keyed by order)
            await publish_event(producer, ORDERS, shop, event, timeout_s=10)
        [alert] = await await_for(
            "the first line's alert", lambda: _some(receiver.messages("/slack", "Mug 1"))
        )
        text = alert["json"]["text"]
        assert f"{shop}: an order line has no SKU mapping: Mug 1" in text
        assert "/console/mapping" in text and "Requested: 2" in text
        # the others of its quiet period: one digest when it ends
        [digest] = await await_for(
            "the digest", lambda: _some(receiver.messages("/slack", "2 more alerts")), 15
        )
        assert "Mug 2" in digest["json"]["text"] and "Mug 3" in digest["json"]["text"]
        await await_for("outboxes drained", lambda: outbox_empty(c))
        assert len(await receiver.messages("/slack", "Mug 1")) == 1


async def test_refused_orders_alert_once_each_within_the_skus_quiet_period(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    sku = f"REF-{uuid.uuid4().hex[:8]}"
    rules = RuleSet(default=Rule(quiet_period_s=1, channels={"oversell": ["slack"]}))
    settings = settings_for(kafka_bootstrap, redis_url, receiver, smtp[1])

    def refused(order_id: str, *, waiting: bool) -> OrderOversold:
        order = OrderLineRef(shop="south.myshopify.com", order_id=order_id, line_id="1")
        line = OversoldLine(sku=sku, location="wh-1", requested=1, available=0,
                            idempotency_key=order_id, order=order, waiting=waiting)  # fmt: skip
        return OrderOversold(source="it", shop="south.myshopify.com", payload=line)

    events = [refused(str(n), waiting=n == 1) for n in range(1, 5)]
    async with notifier(settings, producer, rules) as c:
        items = incoming(INVENTORY_CHANGED, [events[0], *events, events[2]])  # redeliveries
        await c.handler.handle_batch(TopicPartition(INVENTORY_CHANGED, 0), items)
        [alert] = await await_for("the first", lambda: _some(receiver.messages("/slack", sku)))
        assert "#1 line 1" in alert["json"]["text"]
        assert "Waiting: reserved by itself when stock returns" in alert["json"]["text"]
        sent = await await_for(
            "the digest", lambda: _at_least(receiver.messages("/slack", sku), 2), 15
        )
        await await_for("outboxes drained", lambda: outbox_empty(c))
        assert len(await receiver.messages("/slack", sku)) == len(sent) == 2
        digest = sent[-1]["json"]["text"]
        assert "3 more alerts" in digest and digest.count(f"{sku} oversold") == 3


async def test_a_refused_line_reserved_later_alerts_through_the_orders_topic(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    """ADR 0031: ``order.rereserved`` (stock came back for a refused line) alerts once,
    however often it is delivered; one whose units the order no longer wanted alerts
    nobody."""
    sku = f"RER-{uuid.uuid4().hex[:8]}"
    shop = "north.myshopify.com"
    rules = RuleSet(default=Rule(quiet_period_s=0, channels={"rereserved": ["slack"]}))
    settings = settings_for(kafka_bootstrap, redis_url, receiver, smtp[1])

    def served(order_id: str, held: int) -> OrderRereserved:
        line = RereservedLine(shop=shop, order_id=order_id, line_id="1", sku=sku,
                              quantity=held, released=2 - held,
                              locations={"wh-2": held} if held else {})  # fmt: skip
        return OrderRereserved(source="it", shop=shop, payload=line)

    kept, dropped = served("41", 2), served("42", 0)
    async with notifier(settings, producer, rules) as c, consuming(settings, c, ORDERS):
        for event in (kept, kept, dropped):
            await publish_event(producer, ORDERS, sku, event, timeout_s=10)
        [alert] = await await_for("the alert", lambda: _some(receiver.messages("/slack", sku)))
        text = alert["json"]["text"]
        assert f"{sku}: a refused order is reserved now (2 units" in text
        assert "#41 line 1" in text and "Location: wh-2" in text
        await await_for("outboxes drained", lambda: outbox_empty(c))
        assert len(await receiver.messages("/slack", sku)) == 1  # once; #42 none
