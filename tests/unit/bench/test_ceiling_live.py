"""The load generator and the ceiling loop against the real Kafka and Redis, with tiny
numbers: what was asked is produced, every command is applied once, nothing of theirs is
left behind. No timing is judged."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from redis.asyncio import Redis

from bench import ceiling, load
from bench.prepare import wait_until
from bench.report import ROOT, with_db
from support.infra import one_redis_bench

pytestmark = pytest.mark.integration


async def read_all(bootstrap: str, topic: str, expected: int) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest")  # fmt: skip
    await consumer.start()
    records: list[Any] = []
    try:

        async def enough() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            records.extend(r for rs in batch.values() for r in rs)
            return len(records) >= expected

        await wait_until(f"{expected} records on {topic}", enough, 30, every_s=0.0)
    finally:
        await consumer.stop()
    return records


async def test_the_generator_produces_the_commands_asked_one_partition_per_sku(
    kafka_bootstrap: str,
) -> None:
    topic = f"bench.test.generator.{uuid.uuid4().hex[:8]}"
    await ceiling.create_topics(kafka_bootstrap, [topic], partitions=6)
    skus = [f"G-{i}" for i in range(13)]
    try:
        with load.CommandGenerator(kafka_bootstrap, processes=2) as gen:
            produced = await asyncio.to_thread(gen.produce, topic, skus, 300, 1.0)
            again = await asyncio.to_thread(gen.produce, topic, skus, 100, 0.5)
        assert (produced.sent, again.sent) == (300, 50)
        records = await read_all(kafka_bootstrap, topic, 350)
    finally:
        await ceiling.delete_topics(kafka_bootstrap, [topic])
    assert len(records) == 350
    every = list(range(6))
    for r in records:
        assert r.partition == DefaultPartitioner()(r.key, every, every)
    commands = [orjson.loads(r.value)["payload"] for r in records]
    assert len({c["idempotency_key"] for c in commands}) == 350  # a new key each
    assert {c["sku"] for c in commands} == set(skus)
    assert all(r.key.decode() == c["sku"] for r, c in zip(records, commands, strict=True))


@one_redis_bench
async def test_the_ceiling_loop_applies_every_command_once_and_commits_it(
    kafka_bootstrap: str, redis_url: str
) -> None:
    names = ceiling.Names(f"bench.test.ceiling.{uuid.uuid4().hex[:8]}")
    url = with_db(redis_url, 9)
    skus = [f"CE-{i}" for i in range(17)]
    await ceiling.create_topics(kafka_bootstrap, names.topics())
    log = ROOT / ".work" / "test" / "ceiling.log"
    proc = await asyncio.to_thread(ceiling.start, kafka_bootstrap, url, names, log)
    redis = Redis.from_url(url)
    try:
        with load.CommandGenerator(kafka_bootstrap, processes=2) as gen:
            produced = await asyncio.to_thread(gen.produce, names.commands, skus, 400, 1.0)

        async def applied() -> bool:
            return await ceiling.committed(kafka_bootstrap, names) >= produced.sent

        await wait_until("ceiling applied", applied, 60)
        assert await ceiling.committed(kafka_bootstrap, names) == produced.sent == 400
        assert await ceiling.on_hand(redis, names, skus) == 400
        changed = await read_all(kafka_bootstrap, names.changed, 400)
        levels = await read_all(kafka_bootstrap, names.levels, 400)
        assert len(changed) == len(levels) == 400
        versions: dict[str, list[int]] = {}
        for r in levels:
            doc = orjson.loads(r.value)
            versions.setdefault(doc["sku"], []).append(doc["version"])
        for sku, seen in versions.items():  # one partition per SKU: its versions in order
            assert seen == list(range(1, len(seen) + 1)), sku
    finally:
        await asyncio.to_thread(ceiling.stop, proc)
        dropped = await ceiling.drop_keys(redis, names)
        await ceiling.delete_topics(kafka_bootstrap, names.topics())
    assert dropped > 0 and [k async for k in redis.scan_iter(f"{names.prefix}:*")] == []
    await redis.aclose()
    assert proc.returncode == 0  # it stopped on SIGTERM, clients closed


class RecordingConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


@one_redis_bench
async def test_a_batch_delivered_again_changes_nothing(
    kafka_bootstrap: str, redis_url: str
) -> None:
    names = ceiling.Names(f"bench.test.ceiling.{uuid.uuid4().hex[:8]}")
    await ceiling.create_topics(kafka_bootstrap, names.topics(), partitions=2)
    redis = Redis.from_url(with_db(redis_url, 9), decode_responses=True)
    await redis.script_load(ceiling.APPLY)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    consumer = RecordingConsumer()
    tp = TopicPartition(names.commands, 1)

    def record(offset: int, key: str, command: str, qty: int) -> SimpleNamespace:
        payload = {"command": command, "sku": "S", "location": "wh-1", "quantity": qty,
                   "idempotency_key": key}  # fmt: skip
        return SimpleNamespace(offset=offset, value=orjson.dumps({"payload": payload}))

    batch = {tp: [record(7, "a", "adjust", 5), record(8, "b", "reserve", 2),
                  record(9, "c", "reserve", 9)]}  # fmt: skip
    try:
        loop = ceiling.Loop(consumer, producer, redis, names, 2)  # type: ignore[arg-type]
        await loop.handle(batch)
        await loop.handle(batch)
        state = await redis.hgetall(names.counters("S"))
        offsets = await redis.hgetall(f"{names.prefix}:offsets")
    finally:
        await producer.stop()
        await ceiling.drop_keys(redis, names)
        await redis.aclose()
        await ceiling.delete_topics(kafka_bootstrap, names.topics())
    # 9 > 5 - 2 available: the third is rejected; the second delivery finds every key claimed
    assert state == {"on_hand": "5", "reserved": "2", "version": "2"}
    assert offsets == {f"{names.commands}:1": "9"}
    assert consumer.commits == [{tp: 10}, {tp: 10}]
