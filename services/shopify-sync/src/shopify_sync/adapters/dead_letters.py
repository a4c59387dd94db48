"""Changes a store can never accept go to ``<changes topic>.dlq.<group>`` with the reason.

The record has the shape of the consumer loop's dead letters (original topic, key, error,
reason, attempts, group, failed_at) plus the shop and the change as it was pending
(SKU, location, version, quantity); its ``value`` is a ``sync.change.rejected`` event with
that change, so the DLQ API's replay (to ``<topic>.retry.<group>``) hands it to this group's
own consumer, which records it as pending again for that one shop (latest version wins).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import orjson
from aiokafka import AIOKafkaProducer

from shopify_sync.domain.quantities import ItemKey, Pending
from shopify_sync.own_events import RejectedChange, SyncChangeRejected
from stocksync_common.events import encode, stable_id
from stocksync_common.topics import dlq_topic

log = logging.getLogger(__name__)


class KafkaDeadLetters:
    def __init__(self, producer: AIOKafkaProducer, topic: str, group: str) -> None:
        self.producer = producer
        self.topic = topic
        self.group = group

    async def reject(
        self, shop: str, rejected: Mapping[ItemKey, tuple[Pending, str]], reason: str
    ) -> None:
        target = dlq_topic(self.topic, self.group)
        futures = []
        for (sku, location), (pending, detail) in rejected.items():
            change = RejectedChange(
                shop=shop,
                sku=sku,
                location=location,
                version=pending.version,
                quantity=pending.quantity,
            )
            event = SyncChangeRejected(
                id=stable_id("sync.change.rejected", shop, sku, location, str(pending.version)),
                source="shopify-sync",
                shop=shop,
                payload=change,
            )
            body = {
                "original_topic": self.topic,
                "key": sku,
                "error": detail[:4000],
                "reason": reason,
                "attempts": 1,
                "group": self.group,
                "failed_at": time.time(),
                "shop": shop,
                "change": change.model_dump(),
                "value": encode(event).decode(),
            }
            futures.append(await self.producer.send(target, orjson.dumps(body), key=sku.encode()))
        for future in futures:
            await future
