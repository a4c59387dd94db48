"""Retry topics and the DLQ on the real broker: a transient failure is retried through
``<topic>.retry.<group>`` and succeeds; an always-failing record lands in the DLQ after four
retries; a poison message goes straight there while its partition flows on."""

import asyncio
import time

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from stocksync_common.consumer import PoisonMessage, RetryPolicy
from stocksync_common.retry import ATTEMPT
from stocksync_common.topics import dlq_topic, retry_topic
from support.poll import await_for

pytestmark = pytest.mark.integration


async def _read_all(
    bootstrap: str, topic: str, want: int, timeout_s: float = 40
) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    out: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(out) < want and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for recs in batches.values():
                out.extend(recs)
    finally:
        await consumer.stop()
    return out


async def test_retry_topics_then_dlq_and_poison_straight_to_dlq(
    kafka_bootstrap, redis_url, harness
):
    fails: dict[str, int] = {"flaky": 3}
    handled: list[str] = []
    first_failure: dict[str, float] = {}

    async def behaviour(sku: str) -> None:
        if sku.endswith("poison"):
            raise PoisonMessage("cannot ever work")
        if sku.endswith("broken"):
            first_failure.setdefault(sku, time.time())
            raise RuntimeError("always broken")
        if sku.endswith("flaky") and fails["flaky"] > 0:
            fails["flaky"] -= 1
            raise RuntimeError("flaky once more")

    # blips of one try only: the flaky SKU's second failure has to go through the retry topic
    async with harness.start(
        kafka_bootstrap, redis_url, behaviour, handled, RetryPolicy(blips_s=(0,))
    ) as h:
        flaky, broken = f"{h.run}-flaky", f"{h.run}-broken"
        poison, after = f"{h.run}-poison", f"{h.run}-after"
        await h.send(flaky)
        await h.send(poison, key="same-key")
        await h.send(after, key="same-key")
        await h.send(broken)
        await await_for("poison's follower", lambda: h.seen(after), 30)
        await await_for("flaky handled", lambda: h.seen(flaky), 30)
        retried = await _read_all(kafka_bootstrap, retry_topic(h.topic, h.group), 1)
        flaky_retry = [r for r in retried if flaky.encode() in r.value]
        assert flaky_retry and dict(flaky_retry[0].headers)[ATTEMPT] == b"1"

        dead = await _read_all(kafka_bootstrap, dlq_topic(h.topic, h.group), 2)
        bodies = {orjson.loads(r.value)["key"]: orjson.loads(r.value) for r in dead}
        p = bodies["same-key"]
        assert p["reason"] == "poison" and p["attempts"] == 1
        b = bodies[broken]
        assert b["reason"] == "exhausted" and b["attempts"] == 5
        assert b["original_topic"] == h.topic and b["group"] == h.group
        assert isinstance(b["partition"], int) and isinstance(b["offset"], int)
        assert b["correlation_id"] == h.correlation[broken]
        assert b["headers"]["correlation-id"] == h.correlation[broken]
        assert "RuntimeError: always broken" in b["error"] and b["stack"]
        assert orjson.loads(b["value"])["payload"]["sku"] == broken
        # four retries after 1 + 2 + 4 + 8 s at least
        assert b["failed_at"] / 1000 - first_failure[broken] >= 14.5
        # at least once: a rebalance on a loaded machine may hand a record over twice
        # (handlers are idempotent); the poison one is never handled
        assert flaky in handled and poison not in handled


async def test_a_record_not_due_never_blocks_the_main_partition(
    kafka_bootstrap, redis_url, harness
):
    handled: list[str] = []
    fails = {"slow": 2}  # the batch try and the one-by-one try

    async def behaviour(sku: str) -> None:
        if sku.endswith("slow") and fails["slow"] > 0:
            fails["slow"] -= 1
            raise RuntimeError("retry me in a minute")

    policy = RetryPolicy(blips_s=(), delays_s=(60.0,))
    async with harness.start(kafka_bootstrap, redis_url, behaviour, handled, policy) as h:
        slow = f"{h.run}-slow"
        await h.send(slow, key="k")
        await await_for("the retry copy", lambda: _waiting(h), 30)
        for n in range(5):
            await h.send(f"{h.run}-next-{n}", key="k")
        await await_for("records after it", lambda: h.seen(f"{h.run}-next-4"), 30)
        assert slow not in handled
        assert all(tp.topic == retry_topic(h.topic, h.group) for tp in h.loop.waiting)


async def _waiting(h) -> bool:
    await asyncio.sleep(0)
    return bool(h.loop.waiting)
