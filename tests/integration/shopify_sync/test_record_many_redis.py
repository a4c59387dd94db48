"""The changes of one fetch are recorded for every shop in one pipelined round trip
(``RedisSyncState.record_many``) with the rules of ``record`` per shop: the newest version
kept, never one older than what was applied; more than a chunk of entries, and a Redis that
lost its scripts, still record everything (#19 item 3)."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from shopify_sync.adapters.redis_state import CHUNK, RedisSyncState
from shopify_sync.domain.quantities import ItemKey, Pending
from stocksync_common.redis_client import connect

pytestmark = pytest.mark.integration
A: ItemKey = ("A", "wh-1")


def _shops(n: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"many-{run}-{i}.myshopify.com" for i in range(n)]


async def test_every_shop_of_a_fetch_is_recorded_by_its_own_rules(redis: Redis) -> None:
    first, second, third = _shops(3)
    state = RedisSyncState(redis)
    await state.record(first, {A: Pending(5, 1)})
    await state.applied(first, {A: (Pending(5, 1), 1)})  # the first shop has version 5 on
    await state.record(second, {A: Pending(9, 2)})  # the second has a newer one pending
    many = {(f"S{i}", "wh-1"): Pending(3, i) for i in range(CHUNK + 5)}  # two chunks
    kept = await state.record_many(
        {first: {A: Pending(4, 7)}, second: {A: Pending(8, 7)}, third: many}
    )
    assert kept == {first: 0, second: 0, third: CHUNK + 5}
    assert await state.pending(first) == {}
    assert await state.pending(second) == {A: Pending(9, 2)}
    assert await state.pending(third) == many
    kept = await state.record_many({first: {A: Pending(6, 3)}, second: {A: Pending(10, 4)}})
    assert kept == {first: 1, second: 1}
    assert await state.pending(first) == {A: Pending(6, 3)}
    assert await state.pending(second) == {A: Pending(10, 4)}


async def test_the_shops_of_a_fetch_go_in_one_round_trip_on_one_connection(
    redis_url: str, redis: Redis
) -> None:
    """Not a call per shop on a connection each (they used to be gathered)."""
    if redis_url.startswith("redis+cluster"):
        pytest.skip("a cluster pipeline goes to each node of the shops' slots")
    name = f"many-{uuid.uuid4().hex[:8]}"
    shops = _shops(4)
    async with Redis.from_url(redis_url, client_name=name) as mine:
        kept = await RedisSyncState(mine).record_many({s: {A: Pending(1, 1)} for s in shops})
        assert kept == dict.fromkeys(shops, 1)
        clients = await redis.client_list()
        assert [c["name"] for c in clients].count(name) == 1


async def test_a_redis_that_lost_its_scripts_still_records(redis_url: str) -> None:
    shops = _shops(2)
    async with connect(redis_url) as redis:
        state = RedisSyncState(redis)
        await state.record(shops[0], {A: Pending(1, 1)})  # the script loaded once
        await redis.script_flush()  # a restarted Redis: NOSCRIPT for every call
        kept = await state.record_many({s: {A: Pending(2, 5)} for s in shops})
        assert kept == dict.fromkeys(shops, 1)
        for shop in shops:
            assert await state.pending(shop) == {A: Pending(2, 5)}
