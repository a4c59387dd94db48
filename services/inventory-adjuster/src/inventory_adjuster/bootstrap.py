"""Composition root: builds the clients and wires them into handlers and the consumer loop."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from redis.asyncio import Redis

from inventory_adjuster.adapters.kits import KitStore
from inventory_adjuster.adapters.redis_store import RedisInventory
from inventory_adjuster.handlers import CommandHandler
from inventory_adjuster.rebuild import build_store
from inventory_adjuster.settings import Settings
from stocksync_common.consumer import ConsumerLoop, RetryPolicy, make_consumer
from stocksync_common.kafka import make_producer
from stocksync_common.redis_client import connect as connect_redis


@dataclass
class Container:
    settings: Settings
    redis: Redis
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer
    store: RedisInventory
    loop: ConsumerLoop


def build(settings: Settings) -> Container:
    redis = connect_redis(settings.redis_url)
    # linger 0: a batch's records are all queued before its futures are awaited together, so
    # they share produce requests anyway; lingering would only add to every hop's latency.
    producer = make_producer(settings.kafka_bootstrap_servers, settings.service_name, linger_ms=0)
    # a short fetch wait: commands sit on the sync path (order -> truth -> stores); the price
    # is about 100 empty fetches a second while idle
    consumer = make_consumer(
        settings.kafka_bootstrap_servers,
        settings.consumer_group,
        settings.service_name,
        fetch_max_wait_ms=10,
    )
    # Channel allocation splits low stock between the configured stores.
    store = build_store(settings, redis)
    kits = KitStore(
        redis,
        settings.consumer_group,
        idem_ttl_s=settings.idempotency_ttl_s,
        ledger_max_len=settings.ledger_max_len,
    )
    handler = CommandHandler(store, producer, kits)

    async def resume_from_redis(assigned: set[TopicPartition]) -> dict[TopicPartition, int]:
        """Where Redis says it is behind Kafka (it lost writes), replay from Redis' offset."""
        stored = await store.stored_offsets()
        return {
            tp: stored[f"{tp.topic}:{tp.partition}"] + 1
            for tp in assigned
            if f"{tp.topic}:{tp.partition}" in stored
        }

    loop = ConsumerLoop(
        consumer=consumer,
        producer=producer,
        group=settings.consumer_group,
        topics=[settings.commands_topic],
        handler=handler.handle_batch,
        # a fetch's partitions in one apply pipeline and one burst of sends (#19)
        handler_many=handler.handle_many,
        on_assign=resume_from_redis,
        # Truth applies in partition order (rebuild relies on it): hold through a Redis
        # outage rather than reroute (docs/decisions/0009).
        retry=RetryPolicy(hold_on_dependency=True),
    )
    return Container(settings, redis, producer, consumer, store, loop)
