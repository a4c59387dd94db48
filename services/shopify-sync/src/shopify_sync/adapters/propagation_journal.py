"""Propagation state in Redis (every key of one shop under its hash tag ``{<shop>}``):

- ``sync:catalog-journal:{<child>}``: hash handle -> JSON step journal of a child sync in
  flight (deleted when it completed or was rolled back; what is left after a crash is
  rolled back and redone on start);
- ``sync:catalog-wrote:{<child>}``: hash handle -> fingerprint of what we last wrote
  (recognises the child's webhook echoing our own write);
- ``sync:catalog-applied:{<parent>}``: hash product or collection gid -> ``updated_at`` of
  the newest parent webhook applied (older ones are stale);
- ``sync:catalog-handles:{<parent>}``: hash product or collection gid -> handle (a
  products/delete or collections/delete body carries only the id; the catalog sync deletes
  in the children the collections recorded here that the parent no longer has);
- the child's ``sync:catalog-applied:{<child>}`` also holds, per ``collection:<handle>``,
  the ``updatedAt`` of the child's collection last compared with the parent's.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from shopify_sync.adapters.redis_state import text


def _key(kind: str, shop: str) -> str:
    return f"sync:catalog-{kind}:{{{shop}}}"


class RedisPropagationState:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def journal_put(self, shop: str, handle: str, entry: dict[str, Any]) -> None:
        await self.redis.hset(_key("journal", shop), handle, json.dumps(entry))

    async def journal_done(self, shop: str, handle: str) -> None:
        await self.redis.hdel(_key("journal", shop), handle)

    async def journal_open(self, shop: str) -> dict[str, dict[str, Any]]:
        raw: dict[Any, Any] = await self.redis.hgetall(_key("journal", shop))
        return {text(k): json.loads(v) for k, v in raw.items()}

    async def wrote(self, shop: str, handle: str) -> str | None:
        value = await self.redis.hget(_key("wrote", shop), handle)
        return None if value is None else text(value)

    async def set_wrote(self, shop: str, handle: str, fingerprint: str) -> None:
        await self.redis.hset(_key("wrote", shop), handle, fingerprint)

    async def applied_at(self, shop: str, product_id: str) -> str | None:
        value = await self.redis.hget(_key("applied", shop), product_id)
        return None if value is None else text(value)

    async def set_applied_at(self, shop: str, product_id: str, updated_at: str) -> None:
        await self.redis.hset(_key("applied", shop), product_id, updated_at)

    async def handle_of(self, shop: str, product_id: str) -> str | None:
        value = await self.redis.hget(_key("handles", shop), product_id)
        return None if value is None else text(value)

    async def set_handle(self, shop: str, product_id: str, handle: str) -> None:
        await self.redis.hset(_key("handles", shop), product_id, handle)

    async def recorded_handles(self, shop: str) -> dict[str, str]:
        raw: dict[Any, Any] = await self.redis.hgetall(_key("handles", shop))
        return {text(k): text(v) for k, v in raw.items()}

    async def forget_handle(self, shop: str, product_id: str) -> None:
        await self.redis.hdel(_key("handles", shop), product_id)
