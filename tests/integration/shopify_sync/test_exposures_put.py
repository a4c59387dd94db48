"""Writing exposures (``RedisExposures.put``) on a real Redis: a push round records the
exposure of every item it wrote. On one Redis that is one script call for all of them (a
pipeline of one ``HSET`` per item cost the client about three times the CPU,
docs/profiling.md); on a Redis Cluster, where each SKU's hash is a slot of its own, one
``HSET`` each, pipelined. Either way every item reads back as written."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from redis.asyncio import Redis

from shopify_sync.adapters.exposures import PUT_LUA, RedisExposures
from shopify_sync.domain.quantities import Exposure
from stocksync_common.redis_client import is_cluster

pytestmark = pytest.mark.integration
SHOP = "a.myshopify.com"


async def loaded(redis: Redis) -> RedisExposures:
    """The adapter with its script already in Redis's cache (a first call answered NOSCRIPT
    is sent again once the script is loaded: two calls, not what these tests count)."""
    if not is_cluster(redis):
        await redis.script_load(PUT_LUA)
    return RedisExposures(redis)


class Recording:
    """The client, recording the name of every command its pipelines send."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.sent: list[str] = []

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        pipe = self.redis.pipeline(*args, **kwargs)
        queue = pipe.execute_command

        def recorded(*command: Any, **options: Any) -> Any:
            self.sent.append(str(command[0]).upper())
            return queue(*command, **options)

        pipe.execute_command = recorded  # type: ignore[method-assign]
        return pipe

    def __getattr__(self, name: str) -> Any:
        return getattr(self.redis, name)


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
