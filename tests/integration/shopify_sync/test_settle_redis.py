"""A write's records in one script call (``adapters.settle.RedisSettler``) on a real Redis:
the same records the two waits it replaces leave (exposures first, then the levels, pending
entries and the intent), in one round trip, and the exposure cache serves what it wrote.
One Redis only: on a Redis Cluster the writer keeps its two waits (no settler)."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from shopify_sync.adapters.exposures import CachedExposures, RedisExposures
from shopify_sync.adapters.intents import RedisIntents
from shopify_sync.adapters.redis_state import RedisSyncState
from shopify_sync.adapters.settle import SETTLE_LUA, RedisSettler
from shopify_sync.domain.intents import Intent
from shopify_sync.domain.quantities import Exposure, ItemKey, Pending
from stocksync_common.redis_client import is_cluster

pytestmark = pytest.mark.integration


def intent(key: str) -> Intent:
    return Intent({"idempotencyKey": key}, {}, {}, {})


async def seeded(redis: Redis, shop: str, keys: list[ItemKey]) -> None:
    """``keys[0]`` and ``keys[1]`` written as Pending(2, ...) while ``keys[1]`` got a newer
    change meanwhile; ``keys[2]`` held back by the gate; two writes in doubt."""
    state, intents = RedisSyncState(redis), RedisIntents(redis)
    await state.observed(shop, {keys[0]: 9})
    await state.record(
        shop, {keys[0]: Pending(2, 5), keys[1]: Pending(3, 4), keys[2]: Pending(2, 8)}
    )
    for key in ("written", "other"):
        await intents.put(shop, intent(key))


async def test_a_settle_leaves_what_the_two_waits_leave_in_one_round_trip(
    redis: Redis, sends: list[int]
) -> None:
    if is_cluster(redis):
        pytest.skip("one Redis only: a Redis Cluster keeps the two waits")
    run = uuid.uuid4().hex[:8]
    keys: list[ItemKey] = [(f"SET-{run}-{n}", "wh-1") for n in range(3)]
    waits, settler = f"waits-{run}.myshopify.com", f"settler-{run}.myshopify.com"
    exposures = {keys[0]: Exposure(5, 1), keys[1]: Exposure(6, 0), keys[2]: Exposure(7, 0, 3)}
    applied = {keys[0]: (Pending(2, 5), 5), keys[1]: (Pending(2, 6), 6)}
    observed: dict[ItemKey, int | None] = {keys[2]: 7}
    state, intents = RedisSyncState(redis), RedisIntents(redis)
    await seeded(redis, waits, keys)
    await seeded(redis, settler, keys)
    before = {shop: await state.stamp(shop) for shop in (waits, settler)}

    await RedisExposures(redis).put(waits, exposures)  # the two waits, as the writer did
    await state.applied(waits, applied)
    await state.observed(waits, observed)
    await intents.drop(waits, ["written"])
    cache = CachedExposures(RedisExposures(redis))
    await redis.script_load(SETTLE_LUA)  # a first call answered NOSCRIPT is not what is counted
    sent = sends[0]
    await RedisSettler(redis, cache).settle(settler, exposures, applied, observed, ["written"])
    assert sends[0] - sent == 1

    for shop in (waits, settler):
        assert await state.pending(shop) == {keys[1]: Pending(3, 4), keys[2]: Pending(2, 8)}
        assert await RedisExposures(redis).of(shop, keys) == exposures
        assert list(await intents.all(shop)) == ["other"]
        # levels a read began to take before the write are older: they never overwrite it
        await state.observed(shop, dict.fromkeys(keys, 0), since=before[shop])
    assert await state.known(settler, keys) == await state.known(waits, keys)
    assert [k.level for k in (await state.known(settler, keys)).values()] == [5, 6, 7]
    assert [k.applied for k in (await state.known(settler, keys)).values()] == [2, 2, 0]
    sent = sends[0]
    assert await cache.of(settler, keys) == exposures  # served from memory
    assert sends[0] == sent


async def test_a_settle_larger_than_one_call_drops_the_intent_in_its_last(redis: Redis) -> None:
    if is_cluster(redis):
        pytest.skip("one Redis only: a Redis Cluster keeps the two waits")
    run = uuid.uuid4().hex[:8]
    shop = f"settle-{run}.myshopify.com"
    keys: list[ItemKey] = [(f"SEB-{run}-{n}", "wh-1") for n in range(1200)]
    state, intents = RedisSyncState(redis), RedisIntents(redis)
    await state.record(shop, {k: Pending(1, n) for n, k in enumerate(keys)})
    await intents.put(shop, intent("written"))

    await RedisSettler(redis).settle(
        shop,
        {k: Exposure(n, 0) for n, k in enumerate(keys)},
        {k: (Pending(1, n), n) for n, k in enumerate(keys)},
        {},
        ["written"],
    )

    assert await state.pending(shop) == {}
    assert await intents.all(shop) == {}
    assert [k.level for k in (await state.known(shop, keys)).values()] == list(range(1200))


async def test_a_failed_settle_leaves_the_cache_to_read_redis_again(redis: Redis) -> None:
    if is_cluster(redis):
        pytest.skip("one Redis only: a Redis Cluster keeps the two waits")
    run = uuid.uuid4().hex[:8]
    shop, key = f"settle-{run}.myshopify.com", (f"SEF-{run}", "wh-1")
    cache = CachedExposures(RedisExposures(redis))
    await cache.put(shop, {key: Exposure(4, 0)})
    await redis.set(f"sync:known:{{{shop}}}", "not a hash")  # the script fails on it

    with pytest.raises(Exception, match="WRONGTYPE"):
        await RedisSettler(redis, cache).settle(
            shop, {key: Exposure(3, 0)}, {key: (Pending(1, 3), 3)}, {}, []
        )

    # exposures go first (as with the two waits): Redis holds the new one, and the cache,
    # which cannot know, reads it again instead of serving the old one
    assert await cache.of(shop, [key]) == {key: Exposure(3, 0)}
