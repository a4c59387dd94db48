"""A service's producer knows the partitions of every topic it publishes to once the service
has started, on the real broker: its first record does not wait for a metadata round trip
(the first sale after a start was the slowest of every idle flash-sale series)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from stocksync_common.kafka import make_producer
from stocksync_common.ops import Health
from stocksync_common.runtime import Service, running, warm_producer
from stocksync_common.settings import CommonSettings
from stocksync_common.topics import ensure_topics

pytestmark = pytest.mark.integration


@dataclass
class Box:
    producer: AIOKafkaProducer


async def fresh_topics(bootstrap: str, n: int) -> list[str]:
    names = [f"warm-{uuid.uuid4().hex[:10]}" for _ in range(n)]
    await ensure_topics(bootstrap, dict.fromkeys(names, 3), 1)
    return names


async def test_a_started_service_knows_the_partitions_of_what_it_publishes(
    kafka_bootstrap: str,
) -> None:
    published, other = await fresh_topics(kafka_bootstrap, 2)
    box = Box(make_producer(kafka_bootstrap, "warm-test"))
    service = Service(
        settings=CommonSettings(admin_token="tok", kafka_bootstrap_servers=kafka_bootstrap),
        build=lambda: box,
        producer=lambda b: b.producer,
        produces=(published,),
    )
    async with running(service, Health(), FastAPI()):
        cluster = box.producer.client.cluster
        assert cluster.partitions_for_topic(published) == {0, 1, 2}
        assert cluster.partitions_for_topic(other) is None  # only what it publishes to


async def test_a_topic_missing_at_start_is_left_to_the_first_send(kafka_bootstrap: str) -> None:
    producer = make_producer(kafka_bootstrap, "warm-test")
    await producer.start()
    try:
        missing = f"warm-missing-{uuid.uuid4().hex[:10]}"
        await warm_producer(producer, [missing], timeout_s=0.5)  # returns, raises nothing
        assert producer.client.cluster.partitions_for_topic(missing) is None
    finally:
        await producer.stop()
