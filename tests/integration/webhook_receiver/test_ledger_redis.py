"""The delivery ledger's Lua on real Redis: claim, seen, rate, release, keep, erase; and its
batching of concurrent calls into pipelines."""

import asyncio
import socket
import uuid
from typing import Any

import pytest
from redis.exceptions import RedisError

from stocksync_common.redis_client import connect_bounded
from webhook_receiver.adapters.ledger import RedisLedger, Verdict, rate_key, seen_key

pytestmark = pytest.mark.integration


def shop() -> str:
    return f"ledger-{uuid.uuid4().hex[:10]}.myshopify.com"


async def test_claim_then_record_then_seen(redis):
    ledger = RedisLedger(redis, dedupe_ttl_s=48 * 3600, claim_ttl_s=5)
    s, wid = shop(), str(uuid.uuid4())
    key, rate = seen_key(s, wid), rate_key(s, 1)
    assert await ledger.begin(key, rate, "t1", 100) is Verdict.NEW
    assert (await redis.get(key)) == b"pending:t1"
    assert 0 < await redis.pttl(key) <= 5000
    assert await ledger.begin(key, rate, "t2", 100) is Verdict.IN_FLIGHT
    await ledger.record(key, "done:e:x")
    assert await ledger.begin(key, rate, "t3", 100) is Verdict.SEEN
    assert await redis.ttl(key) > 47 * 3600
    # Only the first, claiming call counted against the rate; duplicates are free.
    assert int(await redis.get(rate)) == 1


async def test_release_and_keep_touch_only_their_own_claim(redis):
    ledger = RedisLedger(redis, dedupe_ttl_s=48 * 3600, claim_ttl_s=5)
    s = shop()
    key = seen_key(s, "w")
    assert await ledger.begin(key, rate_key(s, 1), "mine", 10) is Verdict.NEW
    await ledger.release(key, "someone-else")
    assert await redis.exists(key)
    await redis.pexpire(key, 1000)
    await ledger.keep({key: "mine"})
    assert await redis.pttl(key) > 4000
    await ledger.record(key, "done:e:")
    await ledger.keep({key: "mine"})  # no longer a claim: the dedupe TTL stays
    assert await redis.ttl(key) > 47 * 3600
    await ledger.release(key, "mine")
    assert await redis.get(key) == b"done:e:"
    other = seen_key(s, "w2")
    assert await ledger.begin(other, rate_key(s, 1), "tok", 10) is Verdict.NEW
    await ledger.release(other, "tok")
    assert not await redis.exists(other)


async def test_rate_guard_per_sender_per_second(redis):
    ledger = RedisLedger(redis, dedupe_ttl_s=48 * 3600, claim_ttl_s=5)
    a, b = shop(), shop()
    verdicts = [await ledger.begin(seen_key(a, str(i)), rate_key(a, 7), "t", 3) for i in range(5)]
    assert verdicts == [Verdict.NEW] * 3 + [Verdict.RATE_LIMITED] * 2
    assert not await redis.exists(seen_key(a, "3"))  # refused deliveries are not claimed
    assert await ledger.begin(seen_key(b, "0"), rate_key(b, 7), "t", 3) is Verdict.NEW
    assert await ledger.begin(seen_key(a, "9"), rate_key(a, 8), "t", 3) is Verdict.NEW
    assert 0 < await redis.ttl(rate_key(a, 7)) <= 2


async def test_erase_sender_removes_only_that_shops_records(redis):
    ledger = RedisLedger(redis, dedupe_ttl_s=48 * 3600, claim_ttl_s=5)
    gone, kept = shop(), shop()
    for i in range(1200):
        await redis.set(seen_key(gone, str(i)), "done:x:")
    await redis.set(seen_key(kept, "1"), "done:y:")
    assert await ledger.erase_sender(gone) == 1200
    assert [k async for k in redis.scan_iter(match=seen_key(gone, "*"))] == []
    assert await redis.exists(seen_key(kept, "1"))


class CountingLedger(RedisLedger):
    """The real ledger, counting the pipelines its batcher sends."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.pipelines: list[int] = []
        send = self._batch._pipeline

        async def counted(calls: list[tuple[Any, ...]]) -> list[Any]:
            self.pipelines.append(len(calls))
            return await send(calls)

        self._batch._pipeline = counted  # type: ignore[method-assign]


async def test_concurrent_calls_share_pipelines_and_keep_their_meaning(redis):
    ledger = CountingLedger(redis, dedupe_ttl_s=48 * 3600, claim_ttl_s=5)
    s = shop()
    rate = rate_key(s, 11)
    copies = [ledger.begin(seen_key(s, "same"), rate, f"copy-{i}", 1000) for i in range(5)]
    others = [ledger.begin(seen_key(s, str(i)), rate, "t", 1000) for i in range(60)]
    verdicts = await asyncio.gather(*copies, *others)
    # Five concurrent copies of one delivery: exactly one claims it, the others must retry.
    assert sorted(v.name for v in verdicts[:5]) == ["IN_FLIGHT"] * 4 + ["NEW"]
    assert verdicts[5:] == [Verdict.NEW] * 60
    assert sum(ledger.pipelines) == 65 and len(ledger.pipelines) < 65
    await asyncio.gather(*(ledger.record(seen_key(s, str(i)), f"done:{i}:") for i in range(60)))
    assert await redis.get(seen_key(s, "59")) == b"done:59:"
    assert await ledger.begin(seen_key(s, "7"), rate, "late", 1000) is Verdict.SEEN
    assert int(await redis.get(rate)) == 61  # the claims only; copies and duplicates are free


async def test_a_lost_script_cache_is_reloaded_and_the_call_runs_once(redis):
    ledger = RedisLedger(redis, dedupe_ttl_s=48 * 3600, claim_ttl_s=5)
    s = shop()
    assert await ledger.begin(seen_key(s, "a"), rate_key(s, 1), "t", 10) is Verdict.NEW
    await redis.script_flush()  # what a Redis restart does to the scripts
    first, again = await asyncio.gather(
        ledger.begin(seen_key(s, "b"), rate_key(s, 1), "t1", 10),
        ledger.begin(seen_key(s, "b"), rate_key(s, 1), "t2", 10),
    )
    assert (first, again) == (Verdict.NEW, Verdict.IN_FLIGHT)
    assert int(await redis.get(rate_key(s, 1))) == 2


async def test_redis_gone_fails_every_waiting_call_and_none_hangs():
    port = free_port()  # nothing listens there
    redis = connect_bounded(f"redis://127.0.0.1:{port}/0", max_connections=4, timeout_s=0.5)
    ledger = RedisLedger(redis, dedupe_ttl_s=48 * 3600, claim_ttl_s=5)
    try:
        async with asyncio.timeout(10):
            results = await asyncio.gather(
                *(ledger.begin(seen_key("s", str(i)), rate_key("s", 1), "t", 10) for i in range(5)),
                ledger.record(seen_key("s", "x"), "done:x:"),
                return_exceptions=True,
            )
        assert all(isinstance(r, RedisError) for r in results), results
    finally:
        await redis.aclose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
