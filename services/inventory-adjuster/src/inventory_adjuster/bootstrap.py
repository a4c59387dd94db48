"""Composition root: builds the clients and wires them into the handler, and the service as
the runtime runs it (the commands consumer)."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition
from redis.asyncio import Redis

from inventory_adjuster.adapters.kits import KitStore
from inventory_adjuster.adapters.redis_store import RedisInventory
from inventory_adjuster.failover_watch import FailoverWatch
from inventory_adjuster.handlers import CommandHandler
from inventory_adjuster.rebuild import build_store
from inventory_adjuster.settings import Settings
from stocksync_common import wiring
from stocksync_common.consumer import AssignHook, RetryPolicy
from stocksync_common.kafka import producer_from
from stocksync_common.redis_client import connect_settings, is_cluster
from stocksync_common.redis_keys import RedisKeys
from stocksync_common.runtime import Consumer, Service, Task, registrar
from stocksync_common.topics import INVENTORY_CHANGED, INVENTORY_LEVELS


@dataclass
class Container:
    settings: Settings
    redis: Redis
    producer: AIOKafkaProducer
    store: RedisInventory
    handler: CommandHandler
    watch: FailoverWatch | None = None  # on a Redis Cluster only


def build(settings: Settings) -> Container:
    redis = connect_settings(settings)
    # linger 0: a batch's records are all queued before its futures are awaited together, so
    # they share produce requests anyway; lingering would only add to every hop's latency.
    producer = producer_from(settings, linger_ms=0)
    # Channel allocation splits low stock between the configured stores.
    store = build_store(settings, redis)
    kits = KitStore(
        redis,
        settings.consumer_group,
        idem_ttl_s=settings.idempotency_ttl_s,
        ledger_max_len=settings.ledger_max_len,
        shops=store.shops,  # a kit command shares out its components as plain ones (ADR 0040)
        allocation=store.allocation,
        hold_ttl_s=store.hold_ttl_s,  # a routed kit line's hold lives as a plain line's
    )
    handler = CommandHandler(store, producer, kits)
    watch = None
    if is_cluster(redis) and settings.failover_check_s > 0:
        watch = FailoverWatch(
            store,
            settings.kafka_bootstrap_servers,
            interval_s=settings.failover_check_s,
            security=settings.kafka_security,
        )
    return Container(settings, redis, producer, store, handler, watch)


def tasks(c: Container) -> list[Task]:
    """The failover watch, on a Redis Cluster (its errors are logged and retried: it only
    reports, the service does not depend on it)."""
    if c.watch is None:
        return []
    return [Task("failover-watch", c.watch.run, c.watch.stop, supervised=False)]


def resume_from_redis(store: RedisInventory) -> AssignHook:
    """Where Redis says it is behind Kafka (it lost writes), replay from Redis' offset."""

    async def resume(assigned: set[TopicPartition]) -> dict[TopicPartition, int]:
        stored = await store.stored_offsets()
        return {
            tp: stored[f"{tp.topic}:{tp.partition}"] + 1
            for tp in assigned
            if f"{tp.topic}:{tp.partition}" in stored
        }

    return resume


def service(settings: Settings) -> Service[Container]:
    """inventory-adjuster as the runtime runs it."""
    commands = Consumer[Container](
        settings.consumer_group,
        (settings.commands_topic,),
        lambda c: c.handler.handle_batch,
        # a fetch's partitions in one apply pipeline and one burst of sends (#19)
        handler_many=lambda c: c.handler.handle_many,
        on_assign=lambda c: resume_from_redis(c.store),
        # Truth applies in partition order (rebuild relies on it): hold through a Redis
        # outage rather than reroute (docs/decisions/0009).
        retry=RetryPolicy(hold_on_dependency=True),
        # on the sync path (order -> truth -> stores): the broker answers at the first command
        # (fetch_min_bytes 1); the default fetch wait only paces idle polling
    )
    return Service(
        settings=settings,
        build=lambda: build(settings),
        consumers=[commands],
        tasks=tasks,
        producer=wiring.producer,
        # changes and levels from the script; commands from the stock import
        produces=(INVENTORY_CHANGED, INVENTORY_LEVELS, settings.commands_topic),
        # stocksync-inventory-rebuild (run in the adjuster's pod) reads them without a group
        reads=(INVENTORY_LEVELS, INVENTORY_CHANGED),
        # truth (adapters/redis_store.py, kits.py), import jobs (entrypoints/admin.py)
        redis_keys=RedisKeys(
            writes=("inv:*", "offsets:*", "jobs:*", "kit-defs", "kit-index"), scripts=True
        ),
        checks=wiring.redis_ready,
        closers=wiring.close_redis,
    )


# The groups it registers (entry point ``stocksync.groups``), named by default.
groups = registrar(service, Settings)
