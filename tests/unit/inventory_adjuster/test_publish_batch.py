"""The handler publishes a batch's records as one record batch per partition (the partitions
side by side), keeps each key's order, and raises when any submission or acknowledgement
fails (so the batch is retried and nothing is lost)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError
from aiokafka.structs import TopicPartition

from inventory_adjuster.adapters.partitions import partition_of
from inventory_adjuster.adapters.redis_store import Applied, Invalid, Position, RedisInventory
from inventory_adjuster.handlers import BatchTraces, CommandHandler
from stocksync_common.consumer import Incoming, PoisonMessage
from stocksync_common.events import (
    Event,
    InventoryChanged,
    InventoryCommand,
    InventoryCommandRequested,
    InventoryLevelsUpdated,
    Levels,
    OrderLineRef,
    SkuLevels,
    decode,
)
from stocksync_common.topics import INVENTORY_CHANGED, INVENTORY_COMMANDS, INVENTORY_LEVELS
from support.record_batches import FakeBatch

TP = TopicPartition(INVENTORY_COMMANDS, 0)


@dataclass
class _Record:
    key: bytes | None
    offset: int
    topic: str = INVENTORY_COMMANDS
    partition: int = 0
    timestamp: int = 0
    value: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=list)


class FakeStore:
    """Applies every command: one reserved unit more per command of a SKU; a command on
    SKU ``BAD`` is invalid."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}
        self.handled_at: list[Position | None] = []

    def handled(self, positions: Sequence[Position | None]) -> None:
        self.handled_at.extend(positions)

    async def apply_many(
        self, commands: Sequence[tuple[InventoryCommand, Position | None]]
    ) -> list[Applied | Invalid]:
        out: list[Applied | Invalid] = []
        for cmd, _ in commands:
            if cmd.sku == "BAD":
                out.append(Invalid("bad command"))
                continue
            v = self.versions[cmd.sku] = self.versions.get(cmd.sku, 1) + 1
            before = {"on_hand": 100, "reserved": v - 2, "safety_stock": 0, "available": 102 - v}
            after = {**before, "reserved": v - 1, "available": 101 - v}
            result: dict[str, Any] = {
                "status": "applied",
                "version": v,
                "before": before,
                "after": after,
                "sku_available_before": before["available"],
                "sku_available_after": after["available"],
                "shares": None,
                "moved": 0,
                "seen": {},
            }
            levels = SkuLevels(
                sku=cmd.sku,
                version=v,
                available=after["available"],
                locations={cmd.location: Levels(**after)},
            )
            out.append(Applied(status="applied", result=result, levels=levels))
        return out


class FakeCluster:
    """The producer's metadata: every topic has ``partitions`` partitions, known once
    ``known`` (before that, as before aiokafka fetched a topic's metadata, ``None``)."""

    def __init__(self, partitions: int = 12) -> None:
        self.partitions = partitions
        self.known = True

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(range(self.partitions)) if self.known else None


@dataclass
class FakeClient:
    cluster: FakeCluster


class FakeProducer:
    """Takes record batches (``create_batch``, ``send_batch``) and logs when each is
    submitted and when it is buffered. A submission yields to the event loop ``waits(topic,
    partition, n)`` times before it is buffered (as aiokafka's ``send_batch`` waits while the
    partition's earlier batch is not drained, or for unknown metadata); acknowledgements come
    at once unless ``fail_ack`` or ``fail_buffer`` names the (topic, partition) of the batch.
    ``partitions`` keeps (topic, key, partition) of every record submitted; ``capacity`` is
    the records a batch holds. A record sent on its own (``send``) fails the test."""

    def __init__(self, capacity: int = 1_000_000) -> None:
        self.log: list[tuple[str, str, int, list[Event]]] = []  # (what, topic, partition, events)
        self.submits: dict[tuple[str, int], int] = {}
        self.fail_ack: set[tuple[str, int]] = set()
        self.fail_buffer: set[tuple[str, int]] = set()
        self.client = FakeClient(FakeCluster())
        self.partitions: list[tuple[str, str, int]] = []  # (topic, key, partition)
        self.capacity = capacity
        self.metadata_asked: list[str] = []

    def waits(self, topic: str, partition: int, n: int) -> int:
        return 1

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.capacity)

    async def partitions_for(self, topic: str) -> set[int]:
        self.metadata_asked.append(topic)
        return set(range(self.client.cluster.partitions))

    async def send(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("a record sent on its own: the publisher hands over record batches")

    async def send_batch(
        self, batch: FakeBatch, topic: str, *, partition: int
    ) -> asyncio.Future[None]:
        n = self.submits[(topic, partition)] = self.submits.get((topic, partition), 0) + 1
        events = [decode(value) for _, value, _ in batch.records]
        for key, _, _ in batch.records:
            assert key is not None
            self.partitions.append((topic, key.decode(), partition))
        self.log.append(("submitted", topic, partition, events))
        for _ in range(self.waits(topic, partition, n)):
            await asyncio.sleep(0)  # one turn of the loop, not a timed wait
        if (topic, partition) in self.fail_buffer:
            raise KafkaTimeoutError()
        self.log.append(("buffered", topic, partition, events))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if (topic, partition) in self.fail_ack:
            ack.set_exception(KafkaTimeoutError())
        else:
            ack.set_result(None)
        return ack

    def buffered(self) -> list[Event]:
        """Every event buffered, in the order of the batches' buffering."""
        return [e for what, _, _, events in self.log if what == "buffered" for e in events]


def reserve(sku: str, n: int, offset: int) -> Incoming:
    event = InventoryCommandRequested(
        source="t",
        payload=InventoryCommand(
            command="reserve",
            idempotency_key=f"{sku}:order:{n}:reserve",
            sku=sku,
            location="wh-1",
            quantity=1,
            order=OrderLineRef(shop="a.myshopify.com", order_id=str(n), line_id="1"),
        ),
    )
    return Incoming(_Record(sku.encode(), offset), event)  # type: ignore[arg-type]


def handler(producer: FakeProducer) -> CommandHandler:
    return CommandHandler(
        cast(RedisInventory, FakeStore()), cast(AIOKafkaProducer, producer), kits=None
    )


def lane(topic: str, sku: str) -> tuple[str, int]:
    return topic, partition_of(sku.encode(), 12)


async def test_a_batch_is_handed_over_as_one_record_batch_per_partition() -> None:
    producer = FakeProducer()
    items = [reserve(f"SKU-{i % 40}", i, i) for i in range(120)]
    await handler(producer).handle_batch(TP, items)
    lanes = {lane(t, f"SKU-{i}") for t in (INVENTORY_CHANGED, INVENTORY_LEVELS) for i in range(40)}
    assert sorted(producer.submits) == sorted(lanes)
    assert set(producer.submits.values()) == {1}  # one batch per partition, 240 records
    assert len(producer.buffered()) == 240


async def test_every_partition_is_submitted_before_the_first_is_buffered() -> None:
    producer = FakeProducer()
    items = [reserve(f"SKU-{i}", i, i) for i in range(5)]
    await handler(producer).handle_batch(TP, items)
    what = [w for w, *_ in producer.log]
    lanes = len(producer.submits)
    assert what.count("submitted") == what.count("buffered") == lanes
    assert what[:lanes] == ["submitted"] * lanes, what


async def test_a_partition_waiting_to_be_drained_holds_back_no_other() -> None:
    producer = FakeProducer()
    slow = lane(INVENTORY_CHANGED, "SKU-0")
    producer.waits = lambda topic, partition, n: 20 if (topic, partition) == slow else 0  # type: ignore[method-assign]
    items = [reserve(f"SKU-{i}", i, i) for i in range(8)]
    await handler(producer).handle_batch(TP, items)
    buffered = [(t, p) for w, t, p, _ in producer.log if w == "buffered"]
    assert buffered[-1] == slow and len(buffered) == len(producer.submits)


async def test_records_of_one_key_are_buffered_in_the_order_they_were_sent() -> None:
    producer = FakeProducer(capacity=3)  # 6 batches of a key's records per topic
    # the first batch of each partition waits longest, as behind an earlier undrained one
    producer.waits = lambda topic, partition, n: 6 if n == 1 else 0  # type: ignore[method-assign]
    items = [reserve("HOT", i, i) for i in range(16)]
    await handler(producer).handle_batch(TP, items)
    buffered = producer.buffered()
    changes = [e.payload.version for e in buffered if isinstance(e, InventoryChanged)]
    levels = [e.payload.version for e in buffered if isinstance(e, InventoryLevelsUpdated)]
    assert changes == list(range(2, 18))
    assert levels == list(range(2, 18))
    assert producer.submits == {lane(INVENTORY_CHANGED, "HOT"): 6, lane(INVENTORY_LEVELS, "HOT"): 6}


async def test_a_failed_acknowledgement_fails_the_batch_after_every_lane_ended() -> None:
    producer = FakeProducer()
    producer.fail_ack = {lane(INVENTORY_CHANGED, "SKU-2")}
    items = [reserve(f"SKU-{i}", i, i) for i in range(4)]
    with pytest.raises(KafkaTimeoutError):
        await handler(producer).handle_batch(TP, items)
    assert len(producer.buffered()) == 8  # the others went out


async def test_a_batch_not_buffered_stops_the_later_batches_of_its_partition() -> None:
    producer = FakeProducer(capacity=1)
    producer.fail_buffer = {lane(INVENTORY_LEVELS, "HOT")}
    items = [reserve("HOT", i, i) for i in range(3)]
    with pytest.raises(KafkaTimeoutError):
        await handler(producer).handle_batch(TP, items)
    assert producer.submits[lane(INVENTORY_LEVELS, "HOT")] == 1  # the 2nd and 3rd never sent
    assert producer.submits[lane(INVENTORY_CHANGED, "HOT")] == 3


async def test_a_poison_command_fails_the_batch_after_the_records_before_it_were_acked() -> None:
    producer = FakeProducer()
    acked: list[asyncio.Future[None]] = []
    submit = producer.send_batch

    async def recording(batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[None]:
        ack = await submit(batch, topic, partition=partition)
        acked.append(ack)
        return ack

    producer.send_batch = recording  # type: ignore[method-assign]
    items = [reserve("A", 1, 0), reserve("B", 2, 1), reserve("BAD", 3, 2), reserve("C", 4, 3)]
    with pytest.raises(PoisonMessage):
        await handler(producer).handle_batch(TP, items)
    published = sorted((t, k) for t, k, _ in producer.partitions)
    assert published == sorted(
        [(topic, sku) for sku in ("A", "B") for topic in (INVENTORY_CHANGED, INVENTORY_LEVELS)]
    )
    lanes = {
        lane(topic, sku) for sku in ("A", "B") for topic in (INVENTORY_CHANGED, INVENTORY_LEVELS)
    }
    assert len(acked) == len(lanes) and all(a.done() for a in acked)  # one batch per lane


def test_a_record_of_another_trace_keeps_its_own_trace_context() -> None:
    batch_trace, other = os.urandom(16).hex(), os.urandom(16).hex()
    batch = [("traceparent", f"00-{batch_trace}-{'1' * 16}-01".encode())]
    traces = BatchTraces(batch)
    own = [
        ("traceparent", f"00-{other}-{'2' * 16}-01".encode()),
        ("tracestate", b"stocksync=1"),
        ("type", b"inventory.command"),
    ]
    assert traces.of(own) == own[:2]
    same = [("traceparent", f"00-{batch_trace}-{'3' * 16}-01".encode())]
    assert traces.of(same) == batch
    assert traces.of([]) == batch
    assert traces.of([("traceparent", b"00-not-a-trace-01")]) != batch  # kept, not linked
    assert [f"{c.trace_id:032x}" for c in traces.links()] == [other]


async def test_the_positions_of_an_applied_batch_are_noted_for_the_offsets_write() -> None:
    """ADR 0029: the handler tells the store which commands' scripts returned; the store
    writes their offsets at the head of its next pipeline."""
    store = FakeStore()
    h = CommandHandler(cast(RedisInventory, store), cast(AIOKafkaProducer, FakeProducer()))
    await h.handle_batch(TP, [reserve(f"SKU-{i}", i, 40 + i) for i in range(3)])
    assert [(p.topic, p.partition, p.offset) for p in store.handled_at if p] == [
        (TP.topic, TP.partition, 40 + i) for i in range(3)
    ]
