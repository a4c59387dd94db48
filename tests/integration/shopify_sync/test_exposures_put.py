"""Writing exposures (``RedisExposures.put``) on a real Redis: a push round records the
exposure of every item it wrote. On one Redis that is one script call for all of them (a
pipeline of one ``HSET`` per item cost the client about three times the CPU,
docs/profiling.md); on a Redis Cluster, where each SKU's hash is a slot of its own, one
``HSET`` each, pipelined. Either way every item reads back as written."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from shopify_sync.adapters.exposures import PUT_LUA, RedisExposures
from shopify_sync.domain.quantities import Exposure
from stocksync_common.redis_client import is_cluster
from support.recording_redis import Recording

pytestmark = pytest.mark.integration
SHOP = "a.myshopify.com"


async def loaded(redis: Redis) -> RedisExposures:
    """The adapter with its script already in Redis's cache (a first call answered NOSCRIPT
    is sent again once the script is loaded: two calls, not what these tests count)."""
    if not is_cluster(redis):
        await redis.script_load(PUT_LUA)
    return RedisExposures(redis)


async def test_every_item_is_written_in_one_script_call_on_one_redis(redis: Redis) -> None:
    run = uuid.uuid4().hex[:8]
    entries = {(f"EXP-{run}-{n}", f"wh-{n % 2}"): Exposure(n, n % 3) for n in range(40)}
    exposures = await loaded(redis)
    recording = Recording(redis)
    exposures.redis = recording  # type: ignore[assignment]

    await exposures.put(SHOP, entries)

    expected = ["HSET"] * len(entries) if is_cluster(redis) else ["EVALSHA"]
    assert recording.sent == expected
    assert await RedisExposures(redis).of(SHOP, list(entries)) == entries


async def test_items_beyond_a_calls_share_go_in_further_calls(redis: Redis) -> None:
    run = uuid.uuid4().hex[:8]
    entries = {(f"EXQ-{run}-{n}", "wh-1"): Exposure(n, 0) for n in range(2500)}
    exposures = await loaded(redis)
    recording = Recording(redis)
    exposures.redis = recording  # type: ignore[assignment]

    await exposures.put(SHOP, entries)

    expected = ["HSET"] * len(entries) if is_cluster(redis) else ["EVALSHA"] * 3
    assert recording.sent == expected
    assert await RedisExposures(redis).of(SHOP, list(entries)) == entries
