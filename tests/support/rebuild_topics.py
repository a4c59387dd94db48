"""Helpers of the rebuild's integration tests: the test's own topics, its Redis, commands
through the real handler (tests/integration/inventory_adjuster)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition
from redis.asyncio import Redis

from inventory_adjuster import handlers
from inventory_adjuster.adapters.kits import KitStore
from inventory_adjuster.adapters.redis_store import DefaultAllocation, RedisInventory
from inventory_adjuster.handlers import CommandHandler
from inventory_adjuster.rebuild import Report, main, read_to_end, rebuild
from stocksync_common.consumer import Incoming
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, decode, encode
from stocksync_common.kafka import make_producer, publish_event
from stocksync_common.redis_client import cluster_url

LOC, LOC2 = "wh-1", "wh-2"


@dataclass
class ConsumedRecord:
    """A consumed record as the consumer loop hands it over (see stocksync_common.consumer)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()


def db5(url: str) -> str:
    """Database 5 of the test Redis; a cluster has database 0 only (the rebuild's loss is a
    FLUSHDB of every master then: the cluster is the run's own)."""
    if cluster_url(url) is not None:
        return url
    return url.rsplit("/", 1)[0] + "/5"


@dataclass(frozen=True)
class Topics:
    commands: str
    levels: str
    changed: str


async def rebuild_from(
    store: RedisInventory,
    kafka: str,
    topics: Topics,
    *,
    force: bool = False,
    skus: Collection[str] | None = None,
    slots: Collection[int] | None = None,
) -> Report:
    """The rebuild from the test's own topics (``skus``, ``slots``: per SKU)."""
    return await rebuild(
        store,
        kafka,
        levels_topic=topics.levels,
        commands_topic=topics.commands,
        changed_topic=topics.changed,
        force=force,
        skus=skus,
        slots=slots,
    )


def command(sku: str, name: str, qty: int, key: str, **extra: object) -> InventoryCommandRequested:
    payload = InventoryCommand.model_validate(
        {"command": name, "idempotency_key": key, "sku": sku, "location": LOC, "quantity": qty}
        | extra
    )
    return InventoryCommandRequested(source="it", payload=payload)


async def handle_all(
    kafka: str, topic: str, handler: CommandHandler, after: dict[int, int] | None = None
) -> int:
    """What the consumer loop does with a poll: every partition's records (those after the
    offsets ``after`` gives, per partition) to the handler in one call (``handler_many``),
    each partition's in order."""
    by_partition: dict[int, list[Incoming]] = {}

    def collect(records):
        for r in records:
            if r.offset > (after or {}).get(r.partition, -1):
                by_partition.setdefault(r.partition, []).append(Incoming(r, decode(r.value)))

    await read_to_end(kafka, topic, collect)
    await handler.handle_many(
        [(TopicPartition(topic, p), items) for p, items in by_partition.items()]
    )
    return sum(len(items) for items in by_partition.values())


@dataclass
class RebuildEnv:
    """A test's adjuster: its topics and Redis, the real handler publishing to them, and the
    rebuild's command line pointed at them."""

    kafka: str
    redis_url: str
    redis: Redis
    topics: Topics
    store: RedisInventory
    handler: CommandHandler
    producer: AIOKafkaProducer

    async def handle(self, event: InventoryCommandRequested) -> None:
        """Publish one command and hand it to the handler as the consumer loop would (its
        changes and levels record are published)."""
        md = await publish_event(
            self.producer, self.topics.commands, event.payload.sku, event, timeout_s=10
        )
        record = ConsumedRecord(
            self.topics.commands, md.partition, md.offset, 0, event.payload.sku.encode(),
            encode(event),
        )  # fmt: skip
        await self.handler.handle_batch(
            TopicPartition(self.topics.commands, md.partition), [Incoming(record, event)]
        )

    async def leave(self, events: list[InventoryCommandRequested]) -> None:
        """Produce commands nobody consumes: only the rebuild sees them (the tail)."""
        for event in events:
            await publish_event(
                self.producer, self.topics.commands, event.payload.sku, event, timeout_s=10
            )

    async def cli(self, *extra: str) -> int:
        argv = [
            "--bootstrap", self.kafka, "--redis-url", self.redis_url,
            "--group", self.store.group, "--levels-topic", self.topics.levels,
            "--commands-topic", self.topics.commands, "--changed-topic", self.topics.changed,
            *extra,
        ]  # fmt: skip
        return await asyncio.to_thread(main, argv)  # main() runs its own event loop


E = TypeVar("E", bound=RebuildEnv)


@asynccontextmanager
async def rebuild_env(
    kind: type[E], kafka: str, redis_url: str, redis5: Redis, topics: Topics,
    monkeypatch: pytest.MonkeyPatch, name: str, shops: Sequence[str] = (),
) -> AsyncIterator[E]:  # fmt: skip
    """``kind`` (a :class:`RebuildEnv`) on a group of its own, the handler publishing to
    ``topics``; with ``shops``, under the default channel allocation as the service runs it
    (the rebuild's command line needs the same shops: ``STOCKSYNC_STORES_FILE``)."""
    monkeypatch.setattr(handlers, "INVENTORY_LEVELS", topics.levels)
    monkeypatch.setattr(handlers, "INVENTORY_CHANGED", topics.changed)
    group = f"it-{name}-{uuid.uuid4().hex[:8]}"
    allocation = DefaultAllocation() if shops else None
    store = RedisInventory(
        redis5, group, idem_ttl_s=3600, ledger_max_len=1000, shops=shops, allocation=allocation
    )
    kits = KitStore(
        redis5, group, idem_ttl_s=3600, ledger_max_len=1000, shops=shops, allocation=allocation
    )
    producer = make_producer(kafka, f"it-rebuild-{name}")
    await producer.start()
    try:
        handler = CommandHandler(store, producer, kits)
        yield kind(kafka, db5(redis_url), redis5, topics, store, handler, producer)
    finally:
        await producer.stop()
