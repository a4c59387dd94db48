"""Routing alerts into the channel outboxes, and the recent alerts with their delivery status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis

from notifier.adapters.outbox import Outbox
from notifier.domain.alerts import Alert

RECENT_MAX = 200
STATUS_TTL_S = 7 * 24 * 3600


@dataclass
class AlertLog:
    redis: Redis
    outboxes: Mapping[str, Outbox]
    prefix: str = "notifier"
    wake: dict[str, asyncio.Event] = field(default_factory=dict)

    def status_key(self, alert_id: str) -> str:
        return f"{self.prefix}:alert:{{{alert_id}}}:status"

    @property
    def recent_key(self) -> str:
        return f"{self.prefix}:alerts:recent"

    async def dispatch(self, alert: Alert, channels: Sequence[str]) -> None:
        """Queue ``alert`` on each channel (idempotent by alert id) and remember it."""
        now = time.time()
        new = False
        for name in channels:
            if await self.outboxes[name].enqueue(alert, now):
                new = True
                await self.set_status(alert.id, name, "queued")
                if name in self.wake:
                    self.wake[name].set()
        if new:
            doc = {"alert": alert.model_dump(mode="json"), "channels": list(channels)}
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.lpush(self.recent_key, orjson.dumps(doc))
                pipe.ltrim(self.recent_key, 0, RECENT_MAX - 1)
                await pipe.execute()

    async def set_status(self, alert_id: str, channel: str, status: str) -> None:
        key = self.status_key(alert_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, channel, status)
            pipe.expire(key, STATUS_TTL_S)
            await pipe.execute()

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        """The newest alerts first, each with its status per channel."""
        raw = await self.redis.lrange(self.recent_key, 0, limit - 1)
        docs: list[dict[str, Any]] = [orjson.loads(r) for r in raw]
        async with self.redis.pipeline(transaction=False) as pipe:
            for doc in docs:
                pipe.hgetall(self.status_key(doc["alert"]["id"]))
            statuses = await pipe.execute()
        for doc, status in zip(docs, statuses, strict=True):
            doc["delivery"] = {k.decode(): v.decode() for k, v in status.items()}
        return docs
