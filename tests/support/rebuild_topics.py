"""Helpers of the rebuild's integration tests: the test's own topics, its Redis, commands
through the real handler (tests/integration/inventory_adjuster)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from aiokafka.structs import TopicPartition

from inventory_adjuster.adapters.redis_store import RedisInventory
from inventory_adjuster.handlers import CommandHandler
from inventory_adjuster.rebuild import Report, read_to_end, rebuild
from stocksync_common.consumer import Incoming
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, decode
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
