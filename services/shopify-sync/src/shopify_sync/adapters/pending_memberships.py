"""Pending collection memberships in Redis (ADR 0021), every key of one child under its hash
tag ``{<child>}``:

- ``sync:collection-pending:{<child>}:<product handle>``: set of the collection handles the
  product belongs to in the parent, waiting for the product to reach the child;
- ``sync:collection-pending-of:{<child>}:<collection handle>``: set of the product handles
  pending for that collection (so a membership the parent dropped is forgotten too).

Sets, so collections synced at once (different partitions) never overwrite each other.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from shopify_sync.adapters.redis_state import text


def _by_product(shop: str, product: str) -> str:
    return f"sync:collection-pending:{{{shop}}}:{product}"


def _by_collection(shop: str, collection: str) -> str:
    return f"sync:collection-pending-of:{{{shop}}}:{collection}"


class RedisPendingMemberships:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def replace(self, shop: str, collection: str, products: Iterable[str]) -> None:
        """The products pending for ``collection`` are now exactly ``products``."""
        wanted = set(products)
        before = {text(p) for p in await self.redis.smembers(_by_collection(shop, collection))}
        async with self.redis.pipeline(transaction=True) as pipe:
            for product in before - wanted:
                pipe.srem(_by_product(shop, product), collection)
                pipe.srem(_by_collection(shop, collection), product)
            for product in wanted - before:
                pipe.sadd(_by_product(shop, product), collection)
                pipe.sadd(_by_collection(shop, collection), product)
            await pipe.execute()

    async def of_product(self, shop: str, product: str) -> list[str]:
        """The collections waiting for this product."""
        return sorted(text(c) for c in await self.redis.smembers(_by_product(shop, product)))

    async def of_collection(self, shop: str, collection: str) -> list[str]:
        return sorted(text(p) for p in await self.redis.smembers(_by_collection(shop, collection)))

    async def done(self, shop: str, collection: str, product: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(_by_product(shop, product), collection)
            pipe.srem(_by_collection(shop, collection), product)
            await pipe.execute()
