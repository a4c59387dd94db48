"""Writes in doubt (``domain.intents``): :class:`RedisIntents` (the service's) keeps them
in ``sync:intent:{<shop>}``, field ``<idempotency key>`` -> ``Intent.encode()``;
:class:`LocalIntents` keeps them in memory (the unit tests' rigs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from shopify_sync.domain.intents import Intent


def intents_key(shop: str) -> str:
    return f"sync:intent:{{{shop}}}"


class RedisIntents:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def put(self, shop: str, intent: Intent) -> None:
        await self.redis.hset(intents_key(shop), intent.key, intent.encode())

    async def drop(self, shop: str, keys: Sequence[str]) -> None:
        if keys:
            await self.redis.hdel(intents_key(shop), *keys)

    async def all(self, shop: str) -> dict[str, Intent]:
        raw: dict[Any, Any] = await self.redis.hgetall(intents_key(shop))
        return {
            (k.decode() if isinstance(k, bytes) else str(k)): Intent.decode(v)
            for k, v in raw.items()
        }


class LocalIntents:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Intent]] = {}

    async def put(self, shop: str, intent: Intent) -> None:
        self.records.setdefault(shop, {})[intent.key] = intent

    async def drop(self, shop: str, keys: Sequence[str]) -> None:
        mine = self.records.get(shop, {})
        for key in keys:
            mine.pop(key, None)

    async def all(self, shop: str) -> dict[str, Intent]:
        return dict(self.records.get(shop, {}))
