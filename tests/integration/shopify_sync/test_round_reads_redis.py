"""A push round's first reads in one script call (``adapters.round_reads``) on a real Redis
(one Redis or a Redis Cluster: the shop's keys share a slot): the pending changes, the
levels last seen of their items and the catalog entries of their SKUs, as the three reads
it replaces give them, in one round trip."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from shopify_sync.adapters.redis_catalog import RedisCatalog
from shopify_sync.adapters.redis_state import RedisSyncState
from shopify_sync.adapters.round_reads import READ_LUA, RedisRoundReads
from shopify_sync.domain.catalog import CatalogEntry
from shopify_sync.domain.quantities import ItemKey, Known, Pending

pytestmark = pytest.mark.integration


def entry(sku: str, n: int) -> CatalogEntry:
    return CatalogEntry(
        sku, f"gid://shopify/Product/{n}", f"gid://shopify/ProductVariant/{n}",
        f"gid://shopify/InventoryItem/{n}", ("gid://shopify/Location/1",),
    )  # fmt: skip


async def test_the_round_reads_what_the_three_reads_give_in_one_round_trip(
    redis: Redis, sends: list[int]
) -> None:
    run = uuid.uuid4().hex[:8]
    shop = f"reads-{run}.myshopify.com"
    mapped, unmapped = f"RR-{run}-A", f"RR-{run}-B"
    keys: list[ItemKey] = [(mapped, "wh-1"), (mapped, "wh-2"), (unmapped, "wh-1")]
    state, catalog = RedisSyncState(redis), RedisCatalog(redis)
    await catalog.put(shop, [entry(mapped, 1)])
    await state.observed(shop, {keys[0]: 7, keys[2]: None})
    await state.applied(shop, {keys[0]: (Pending(1, 7), 7)})
    await state.record(
        shop, {keys[0]: Pending(2, 6), keys[1]: Pending(2, 3), keys[2]: Pending(5, 1)}
    )
    reads = RedisRoundReads(redis)
    await redis.script_load(READ_LUA)  # a first call answered NOSCRIPT is not what is counted

    sent = sends[0]
    read = await reads.pending_round(shop)
    assert sends[0] - sent == 1

    assert read.pending == await state.pending(shop)
    assert read.known == await state.known(shop, keys)
    assert read.known == {keys[0]: Known(1, 7), keys[1]: Known(), keys[2]: Known()}
    assert read.entries == await catalog.entries(shop, [mapped, unmapped])
    assert read.entries == {mapped: entry(mapped, 1)}


async def test_a_long_pending_map_is_read_whole(redis: Redis) -> None:
    run = uuid.uuid4().hex[:8]
    shop = f"reads-{run}.myshopify.com"
    skus = [f"RL-{run}-{n}" for n in range(2500)]
    state, catalog = RedisSyncState(redis), RedisCatalog(redis)
    await catalog.put(shop, [entry(sku, n) for n, sku in enumerate(skus) if n % 2 == 0])
    await state.observed(shop, {(sku, "wh-1"): n for n, sku in enumerate(skus) if n % 3 == 0})
    await state.record(shop, {(sku, "wh-1"): Pending(1, n) for n, sku in enumerate(skus)})

    read = await RedisRoundReads(redis).pending_round(shop)

    assert len(read.pending) == 2500
    assert read.pending[(skus[1234], "wh-1")] == Pending(1, 1234)
    assert [read.known[(s, "wh-1")].level for s in skus[:4]] == [0, None, None, 3]
    assert sorted(read.entries) == sorted(skus[::2])


async def test_a_shop_with_nothing_pending_reads_nothing(redis: Redis) -> None:
    read = await RedisRoundReads(redis).pending_round(f"empty-{uuid.uuid4().hex[:8]}.myshopify.com")
    assert (read.pending, read.known, read.entries) == ({}, {}, {})
