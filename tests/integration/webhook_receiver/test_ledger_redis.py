"""The delivery ledger's Lua on real Redis: claim, seen, rate, release, keep, erase."""

import uuid

import pytest

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
