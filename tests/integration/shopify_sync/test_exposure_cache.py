"""The exposures cache in front of Redis (``CachedExposures``), on a real Redis.

A push round reads the exposure of every item it writes; the cache answers for what this
replica wrote while it held the store's lane lease. It must never answer with a value
another replica has replaced: the lease tells it (``on_change``) whenever holding was not
continuous, and the cache forgets that store.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from redis.asyncio import Redis

from shopify_sync.adapters.exposures import CachedExposures, RedisExposures
from shopify_sync.adapters.lease import Lease
from shopify_sync.domain.quantities import Exposure, ItemKey, Pending, seen_of
from shopify_sync.ports import Claim

pytestmark = pytest.mark.integration
SHOP, OTHER = "a.myshopify.com", "b.myshopify.com"


class Counting(RedisExposures):
    """The Redis adapter, counting the items it was asked to read."""

    def __init__(self, redis: Redis) -> None:
        super().__init__(redis)
        self.reads = 0

    async def of(self, shop: str, keys: Sequence[ItemKey]) -> dict[ItemKey, Exposure]:
        self.reads += len(keys)
        return await super().of(shop, keys)


def item() -> ItemKey:
    return (f"EXC-{uuid.uuid4().hex[:10]}", "wh-1")


async def test_what_was_written_is_served_without_reading_redis_again(redis: Redis) -> None:
    inner = Counting(redis)
    cache = CachedExposures(inner)
    put, claimed, unknown = item(), item(), item()
    await cache.put(SHOP, {put: Exposure(7, 2)})
    pending = Pending(1, 5, 9, True, seen_of({SHOP: 4}))
    assert await cache.claim(SHOP, [Claim(claimed, 0, 5, 4, pending)]) == [5]

    got = await cache.of(SHOP, [put, claimed, unknown])

    assert got == {put: Exposure(7, 2), claimed: Exposure(5, 4, claimed_from=0)}
    assert inner.reads == 1  # only the item never written here
    assert await RedisExposures(redis).of(SHOP, [put, claimed]) == got  # Redis holds them too


async def test_a_second_read_of_an_item_read_once_stays_in_memory(redis: Redis) -> None:
    key = item()
    await RedisExposures(redis).put(SHOP, {key: Exposure(3, 1)})
    inner = Counting(redis)
    cache = CachedExposures(inner)
    assert await cache.of(SHOP, [key]) == {key: Exposure(3, 1)}
    assert await cache.of(SHOP, [key]) == {key: Exposure(3, 1)}
    assert inner.reads == 1


async def test_another_replicas_write_is_read_after_the_lease_changed_hands(
    redis: Redis,
) -> None:
    """Replica A caches its write; the lease lapses, B takes it, writes and leaves; A takes
    the lease again afresh and must read B's write, not its own older one."""
    shop = f"lease-{uuid.uuid4().hex[:8]}.myshopify.com"
    key, lease_key = item(), f"sync:lane:{{{shop}}}"
    now = [0.0]
    a_cache = CachedExposures(RedisExposures(redis))
    a = Lease(redis, lease_key, "a", 10.0, clock=lambda: now[0],
              on_change=lambda: a_cache.forget(shop))  # fmt: skip
    b = Lease(redis, lease_key, "b", 10.0)
    assert await a.hold()
    await a_cache.put(shop, {key: Exposure(9, 0)})

    await redis.delete(lease_key)  # A's lease lapsed (A stalled past its TTL)
    now[0] = 11.0
    assert await b.hold()
    await RedisExposures(redis).put(shop, {key: Exposure(2, 5)})  # B wrote
    await b.release()

    assert await a.hold()  # taken afresh, not renewed
    assert await a_cache.of(shop, [key]) == {key: Exposure(2, 5)}


async def test_a_refused_lease_forgets_and_a_renewal_keeps(redis: Redis) -> None:
    shop = f"lease-{uuid.uuid4().hex[:8]}.myshopify.com"
    lease_key, changes = f"sync:lane:{{{shop}}}", []
    now = [0.0]
    a = Lease(redis, lease_key, "a", 10.0, clock=lambda: now[0],
              on_change=lambda: changes.append("a"))  # fmt: skip
    assert await a.hold() and changes == ["a"]  # taken afresh at start
    now[0] = 5.0  # a third used: renewed in Redis, held all along
    assert await a.hold() and changes == ["a"]

    await redis.set(lease_key, "b")  # another owner has it
    now[0] = 20.0
    assert not await a.hold()
    assert changes == ["a", "a"]


async def test_forget_drops_one_store_only(redis: Redis) -> None:
    inner = Counting(redis)
    cache = CachedExposures(inner)
    key = item()
    await cache.put(SHOP, {key: Exposure(1, 0)})
    await cache.put(OTHER, {key: Exposure(2, 0)})
    cache.forget(SHOP)
    assert await cache.of(OTHER, [key]) == {key: Exposure(2, 0)}
    assert inner.reads == 0
    assert await cache.of(SHOP, [key]) == {key: Exposure(1, 0)}
    assert inner.reads == 1


async def test_the_oldest_written_go_first_beyond_the_bound(redis: Redis) -> None:
    inner = Counting(redis)
    cache = CachedExposures(inner, max_entries=2)
    first, second, third = item(), item(), item()
    for n, key in enumerate((first, second, third)):
        await cache.put(SHOP, {key: Exposure(n, 0)})
    assert await cache.of(SHOP, [second, third]) == {second: Exposure(1, 0), third: Exposure(2, 0)}
    assert inner.reads == 0
    assert await cache.of(SHOP, [first]) == {first: Exposure(0, 0)}
    assert inner.reads == 1
