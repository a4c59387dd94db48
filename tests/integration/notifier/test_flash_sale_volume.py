"""The alerts a flash sale raises with default rules (issue #18), through the real handler
on real Redis: a catalog imported (every SKU's first stock), then hot SKUs selling down to
zero among cold ones selling a unit at a time, fed as the consumer loop's batches. What the
merchant expects: one out-of-stock alert per hot SKU, nothing for the import or cold SKUs."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import orjson
import pytest
from aiokafka.structs import TopicPartition
from integration.notifier.harness import NoReceiver, changed, settings_for

from notifier.bootstrap import build
from stocksync_common.consumer import Incoming
from stocksync_common.redis_client import connect
from stocksync_common.topics import INVENTORY_CHANGED
from support.records import Record

pytestmark = pytest.mark.integration

COLD, HOT, HOT_STOCK, COLD_STOCK, BATCH = 200, 4, 6, 50, 100


async def test_a_flash_sale_alerts_once_per_hot_sku_sold_out(kafka_bootstrap, redis_url, producer):
    run = uuid.uuid4().hex[:8]
    hot = [f"HOT-{run}-{i}" for i in range(HOT)]
    cold = [f"COLD-{run}-{i}" for i in range(COLD)]
    stock = {**dict.fromkeys(hot, HOT_STOCK), **dict.fromkeys(cold, COLD_STOCK)}
    # The import: each SKU's first command, from nothing to its stock.
    events = [changed(s, 1, 0, n, command="set_on_hand") for s, n in stock.items()]
    # The sale: hot SKUs sell out, a unit at a time, among cold sales (three per cold SKU).
    for unit in range(HOT_STOCK):
        for s in hot:
            events.append(changed(s, 2 + unit, HOT_STOCK - unit, HOT_STOCK - unit - 1))
    for unit in range(3):
        events += [changed(s, 2 + unit, COLD_STOCK - unit, COLD_STOCK - unit - 1) for s in cold]

    sent = await _alerts_queued(kafka_bootstrap, redis_url, producer, events)

    assert Counter(kind for kind, _ in sent) == {"out_of_stock": HOT}
    assert sorted(sku for _, sku in sent) == sorted(hot)


async def _alerts_queued(
    kafka: str, redis_url: str, producer: Any, events: list[Any]
) -> list[tuple[str, str]]:
    """Feed ``events`` in batches to a notifier with one Slack channel (no delivery worker
    running) and return the (kind, sku) of every alert its outbox then holds."""
    settings = settings_for(
        kafka, redis_url, NoReceiver(), 0, alert_generic_webhook_url=None, smtp_host=None
    )
    redis = connect(redis_url)
    c = build(settings, redis=redis, producer=producer)
    try:
        tp = TopicPartition(INVENTORY_CHANGED, 0)
        items = [
            Incoming(Record(INVENTORY_CHANGED, offset=n, key=e.payload.sku.encode()), e)
            for n, e in enumerate(events)
        ]
        for i in range(0, len(items), BATCH):
            await c.handler.handle_batch(tp, items[i : i + BATCH])
        [outbox] = c.alerts.outboxes.values()
        raw = await redis.hvals(outbox.items_key)
        return [(d["alert"]["kind"], d["alert"]["sku"]) for d in map(orjson.loads, raw)]
    finally:
        await c.http.aclose()
        await redis.aclose()
