"""What the receiver notes of each delivery it parks on ``webhooks.parked.v1`` (a Shopify
topic StockSync does not handle): a count per Shopify topic, and the newest deliveries in
summary, in Redis for the ops console. The records themselves stay on the topic; the
receiver's Kafka user may not read it (it reads its own dead letters only), so it notes
them as it parks them, after the answer.

- ``webhook:parked:count``: hash Shopify topic -> deliveries parked since the note began.
- ``webhook:parked:recent``: list of the newest ``KEEP`` summaries (JSON), newest first:
  shop, Shopify topic, webhook id, when, the record's size; never the body.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from redis.asyncio import Redis

COUNT_KEY = "webhook:parked:count"
RECENT_KEY = "webhook:parked:recent"
KEEP = 200


class ParkedNotes(Protocol):
    async def note(self, shop: str, topic: str, webhook_id: str, record_bytes: int) -> None: ...

    async def recent(self, limit: int) -> dict[str, Any]:
        """``counts`` per Shopify topic and the newest ``limit`` summaries (``recent``)."""


class RedisParked:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def note(self, shop: str, topic: str, webhook_id: str, record_bytes: int) -> None:
        doc = {"at": time.time(), "shop": shop, "shopify_topic": topic,
               "webhook_id": webhook_id, "record_bytes": record_bytes}  # fmt: skip
        # Not a MULTI: the two keys are two slots on a Redis Cluster (ADR 0029); the count and
        # the recent list are notes for the console, not a pair read together.
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(COUNT_KEY, topic, 1)
            pipe.lpush(RECENT_KEY, json.dumps(doc))
            pipe.ltrim(RECENT_KEY, 0, KEEP - 1)
            await pipe.execute()

    async def recent(self, limit: int) -> dict[str, Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(COUNT_KEY)
            pipe.lrange(RECENT_KEY, 0, limit - 1)
            counts, recent = await pipe.execute()
        return {
            "counts": {_text(k): int(v) for k, v in counts.items()},
            "recent": [json.loads(raw) for raw in recent],
        }


class MemoryParked:
    """The same notes in this process only (a container built without Redis: tests)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.notes: list[dict[str, Any]] = []

    async def note(self, shop: str, topic: str, webhook_id: str, record_bytes: int) -> None:
        self.counts[topic] = self.counts.get(topic, 0) + 1
        doc = {"at": time.time(), "shop": shop, "shopify_topic": topic,
               "webhook_id": webhook_id, "record_bytes": record_bytes}  # fmt: skip
        self.notes = [doc, *self.notes][:KEEP]

    async def recent(self, limit: int) -> dict[str, Any]:
        return {"counts": dict(self.counts), "recent": self.notes[:limit]}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
