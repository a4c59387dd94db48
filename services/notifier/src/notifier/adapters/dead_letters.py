"""Alerts a channel could not deliver go to the notifier's DLQ topic, with the reason."""

from __future__ import annotations

import time

import orjson
from aiokafka import AIOKafkaProducer

from notifier.adapters.outbox import Item
from stocksync_common.metrics import DLQ_PUBLISHED
from stocksync_common.topics import INVENTORY_CHANGED, dlq_topic


class DeadLetters:
    """Publishes to ``inventory.changed.v1.dlq.<group>`` (the group's DLQ, already created and
    watched); ``reason`` = ``delivery:<channel>`` tells these records from consumer ones."""

    def __init__(self, producer: AIOKafkaProducer, group: str, timeout_s: float = 10.0) -> None:
        self.producer = producer
        self.group = group
        self.topic = dlq_topic(INVENTORY_CHANGED, group)
        self.timeout_s = timeout_s

    async def publish(self, channel: str, item: Item, error: str) -> None:
        body = {
            "original_topic": INVENTORY_CHANGED,
            "key": item.alert.sku,
            "error": error[:4000],
            "attempts": item.attempts,
            "reason": f"delivery:{channel}",
            "channel": channel,
            "group": self.group,
            "failed_at": time.time(),
            "value": item.alert.model_dump_json(),
        }
        await self.producer.send_and_wait(
            self.topic,
            orjson.dumps(body),
            key=item.alert.sku.encode(),
            headers=[("type", b"notifier.alert"), ("alert-id", item.alert.id.encode())],
        )
        DLQ_PUBLISHED.labels(INVENTORY_CHANGED, f"delivery:{channel}").inc()
