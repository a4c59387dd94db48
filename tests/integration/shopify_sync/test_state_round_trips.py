"""shopify-sync's Redis bookkeeping in as few round trips as the rules allow, on a real
Redis: the changes of one consumed batch for every store go out as one pipeline of EVALSHA
calls (no SCRIPT EXISTS in front of it), the allocation gate's claims likewise, and a Redis
that lost its script cache is answered by loading the script and resending only those."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis

from shopify_sync.adapters.exposures import RedisExposures
from shopify_sync.adapters.redis_state import RedisSyncState
from shopify_sync.domain.quantities import Pending
from shopify_sync.ports import Claim

pytestmark = pytest.mark.integration
COMMAND = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n")


class Counting:
    """Counts the commands a Redis connection pool sends (MONITOR-free: wraps the pool)."""

    def __init__(self, redis: Redis) -> None:
        self.names: list[str] = []
        pool = redis.connection_pool
        make = pool.make_connection
        names = self.names

        def counted() -> Any:
            conn = make()
            send = conn.send_packed_command

            async def send_packed(command: Any, check_health: bool = True) -> None:
                text = b"".join(bytes(p) for p in command) if isinstance(command, list) else command
                # each command is a RESP array: "*<n>\r\n$<len>\r\n<NAME>\r\n..."
                names.extend(m.decode().upper() for m in COMMAND.findall(bytes(text)))
                await send(command, check_health)

            conn.send_packed_command = send_packed  # type: ignore[method-assign]
            return conn

        pool.make_connection = counted  # type: ignore[method-assign]


def shops() -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"{name}-{tag}.myshopify.com" for name in ("a", "b", "c")]


async def test_one_batch_for_every_store_is_one_pipeline_of_evalsha(redis_url: str) -> None:
    async with Redis.from_url(redis_url) as redis:
        counting = Counting(redis)
        state = RedisSyncState(redis)
        a, b, c = shops()
        await state.record(a, {("W", "wh-1"): Pending(1, 1)})  # the script is loaded
        counting.names.clear()
        kept = await state.record_many(
            {
                a: {("X", "wh-1"): Pending(2, 5), ("W", "wh-1"): Pending(1, 1)},
                b: {("X", "wh-1"): Pending(2, 5)},
                c: {},
            }
        )
        assert kept == {a: 1, b: 1, c: 0}
        assert counting.names == ["EVALSHA", "EVALSHA"]
        want = {("W", "wh-1"): Pending(1, 1), ("X", "wh-1"): Pending(2, 5)}
        assert await state.pending(a) == want


async def test_a_lost_script_cache_is_loaded_and_only_those_calls_resent(redis_url: str) -> None:
    async with Redis.from_url(redis_url) as redis:
        state = RedisSyncState(redis)
        a, b, _ = shops()
        await redis.script_flush()
        kept = await state.record_many({a: {("X", "wh-1"): Pending(3, 5)}, b: {}})
        assert kept == {a: 1, b: 0}
        assert await state.pending(a) == {("X", "wh-1"): Pending(3, 5)}


async def test_claims_go_out_without_a_script_exists_round_trip(redis_url: str) -> None:
    async with Redis.from_url(redis_url) as redis:
        counting = Counting(redis)
        exposures = RedisExposures(redis)
        a, _, _ = shops()
        sku = f"CL-{uuid.uuid4().hex[:8]}"
        claim = Claim((sku, "wh-1"), 1, 4, 0, Pending(1, 4, 10, True, ()))
        assert await exposures.claim(a, [claim]) == [4]  # loads the script if need be
        counting.names.clear()
        assert await exposures.claim(a, [claim, claim]) == [4, 4]
        assert counting.names == ["EVALSHA", "EVALSHA"]
