"""The adjuster passes each record's partition explicitly, hashed once per key: it must be
the partition aiokafka's default partitioner picks, so a SKU's records stay on one partition
and keep their order (docs/decisions/0014-adjuster-hot-path.md)."""

from __future__ import annotations

import os
from typing import cast

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from inventory_adjuster.adapters.partitions import MAX_KEYS, partition_of
from inventory_adjuster.adapters.redis_store import RedisInventory
from inventory_adjuster.handlers import CommandHandler
from stocksync_common.topics import INVENTORY_CHANGED, INVENTORY_LEVELS

from .test_publish_batch import TP, FakeProducer, FakeStore, reserve

DEFAULT = DefaultPartitioner()


def test_the_partition_is_the_one_the_default_partitioner_picks() -> None:
    keys = [f"SKU-{i}".encode() for i in range(500)]
    keys += [os.urandom(n) for n in range(1, 40)]  # every tail length of murmur2
    keys.append("ü-ß-Ω".encode())
    for partitions in (1, 3, 12, 24):
        every = list(range(partitions))
        for key in keys:
            assert partition_of(key, partitions) == DEFAULT(key, every, every), (key, partitions)


def test_the_partitions_spread_and_are_cached() -> None:
    partition_of.cache_clear()
    picked = {partition_of(f"SPREAD-{i}".encode(), 12) for i in range(200)}
    assert picked == set(range(12))  # a hash, not a constant
    for i in range(200):
        partition_of(f"SPREAD-{i}".encode(), 12)
    info = partition_of.cache_info()
    assert (info.hits, info.misses, info.maxsize) == (200, 200, MAX_KEYS)


async def test_every_record_of_a_sku_is_sent_to_the_default_partition_of_its_key() -> None:
    producer = FakeProducer()
    handler = CommandHandler(
        cast(RedisInventory, FakeStore()), cast(AIOKafkaProducer, producer), kits=None
    )
    items = [reserve(f"SKU-{i % 7}", i, i) for i in range(35)]
    await handler.handle_batch(TP, items)
    assert len(producer.partitions) == 70  # a change and a levels record per command
    by_key: dict[tuple[str, str], set[int]] = {}
    for topic, key, partition in producer.partitions:
        by_key.setdefault((topic, key), set()).add(partition)
    every = list(range(12))
    for (_, key), partitions in by_key.items():
        assert partitions == {DEFAULT(key.encode(), every, every)}, key


async def test_without_metadata_yet_the_topic_is_described_first() -> None:
    producer = FakeProducer()
    producer.client.cluster.known = False
    handler = CommandHandler(
        cast(RedisInventory, FakeStore()), cast(AIOKafkaProducer, producer), kits=None
    )
    await handler.handle_batch(TP, [reserve("SKU-1", 1, 0)])
    assert sorted(producer.metadata_asked) == sorted([INVENTORY_CHANGED, INVENTORY_LEVELS])
    every = list(range(12))
    assert {p for _, _, p in producer.partitions} == {DEFAULT(b"SKU-1", every, every)}
