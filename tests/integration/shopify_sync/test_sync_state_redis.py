"""Known levels: Redis is the durable copy, this process remembers what it wrote or read, so
a push round asks Redis only for levels it has not met."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from shopify_sync.adapters.redis_state import RedisSyncState, known_key
from shopify_sync.domain.quantities import Known, Pending, field_of

pytestmark = pytest.mark.integration


async def test_levels_written_here_are_remembered_and_misses_read_redis(redis: Redis) -> None:
    shop = f"s-{uuid.uuid4().hex[:8]}.myshopify.com"
    sold, other, unstocked = ("SKU-1", "wh-1"), ("SKU-2", "wh-1"), ("SKU-3", "wh-1")
    await redis.hset(known_key(shop), field_of(other), "4:9")
    state = RedisSyncState(redis)
    await state.applied(shop, {sold: (Pending(7, 5), 5)})
    await state.observed(shop, {unstocked: None})
    # Behind this process's back (nothing of ours writes like this): Redis now disagrees.
    await redis.hset(known_key(shop), field_of(sold), "7:99")
    known = await state.known(shop, [sold, other, unstocked])
    assert known[sold] == Known(7, 5)  # from memory: no round trip for it
    assert known[other] == Known(4, 9)  # never met here: read from Redis
    assert known[unstocked] == Known(0, None)
    await redis.hset(known_key(shop), field_of(other), "4:1")
    assert (await state.known(shop, [other]))[other] == Known(4, 9)  # remembered after the read
    # A fresh process (or one told another replica wrote) reads Redis again.
    assert (await RedisSyncState(redis).known(shop, [sold]))[sold] == Known(7, 99)
    state.forget(shop)
    assert (await state.known(shop, [sold]))[sold] == Known(7, 99)


async def test_a_level_read_from_the_store_replaces_the_remembered_one(redis: Redis) -> None:
    shop = f"s-{uuid.uuid4().hex[:8]}.myshopify.com"
    key = ("SKU-1", "wh-1")
    state = RedisSyncState(redis)
    await state.applied(shop, {key: (Pending(3, 5), 5)})
    await state.observed(shop, {key: 2})  # a stale compare-and-set, then the store was read
    assert (await state.known(shop, [key]))[key] == Known(3, 2)
    assert await redis.hget(known_key(shop), field_of(key)) == b"3:2"
    await state.observed(shop, {key: None})  # no longer stocked there: asked of Redis again
    await redis.hset(known_key(shop), field_of(key), "3:8")
    assert (await state.known(shop, [key]))[key] == Known(3, 8)


async def test_forgetting_some_keys_sends_only_those_back_to_redis(redis: Redis) -> None:
    """The writer forgets the remembered level of an item whose exposure is gone (Redis
    lost it): the level is then Redis's, or unknown, and the store is read."""
    shop = f"s-{uuid.uuid4().hex[:8]}.myshopify.com"
    lost, kept = ("SKU-1", "wh-1"), ("SKU-2", "wh-1")
    state = RedisSyncState(redis)
    await state.applied(shop, {lost: (Pending(3, 5), 5), kept: (Pending(3, 6), 6)})
    await redis.delete(known_key(shop))  # what a Redis restart without its last writes does
    state.forget(shop, [lost])
    known = await state.known(shop, [lost, kept])
    assert known[lost] == Known(0, None)  # unknown: the writer reads the store
    assert known[kept] == Known(3, 6)  # still remembered
