"""The handler publishes a batch's records side by side, keeps each key's order, and raises
when any send fails (so the batch is retried and nothing is lost)."""

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

from inventory_adjuster.adapters.publisher import NotSent
from inventory_adjuster.adapters.redis_store import Applied, Invalid, Position, RedisInventory
from inventory_adjuster.handlers import BatchTraces, CommandHandler
from stocksync_common.consumer import Incoming, PoisonMessage
from stocksync_common.events import (
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
    """Records when each send starts and when its record is buffered. A send yields to the
    event loop ``waits(topic, key, n)`` times before its record is buffered (as a full batch
    or unknown metadata make aiokafka's ``send`` wait); acknowledgements come at once unless
    ``fail_ack`` or ``fail_buffer`` names the record's (topic, key). ``partitions`` keeps the
    partition each send asked for (``None``: aiokafka's partitioner picks)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, str, object]] = []  # (what, topic, key, event)
        self.sends: dict[tuple[str, str], int] = {}
        self.fail_ack: set[tuple[str, str]] = set()
        self.fail_buffer: set[tuple[str, str]] = set()
        self.client = FakeClient(FakeCluster())
        self.partitions: list[tuple[str, str, int | None]] = []  # (topic, key, partition)

    def waits(self, topic: str, key: str, n: int) -> int:
        return 1

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes,
        headers: list[tuple[str, bytes]],
        partition: int | None = None,
    ) -> asyncio.Future[None]:
        k = key.decode()
        self.partitions.append((topic, k, partition))
        n = self.sends[(topic, k)] = self.sends.get((topic, k), 0) + 1
        event = decode(value)
        self.log.append(("started", topic, k, event))
        for _ in range(self.waits(topic, k, n)):
            await asyncio.sleep(0)  # one turn of the loop, not a timed wait
        if (topic, k) in self.fail_buffer:
            raise KafkaTimeoutError()
        self.log.append(("buffered", topic, k, event))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if (topic, k) in self.fail_ack:
            ack.set_exception(KafkaTimeoutError())
        else:
            ack.set_result(None)
        return ack


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


async def test_every_send_of_a_batch_starts_before_the_first_is_buffered() -> None:
    producer = FakeProducer()
    items = [reserve(f"SKU-{i}", i, i) for i in range(5)]
    await handler(producer).handle_batch(TP, items)
    what = [w for w, *_ in producer.log]
    assert what.count("started") == 10  # a change and levels per command
    assert what.count("buffered") == 10
    first_done = what.index("buffered")
    assert what[:first_done] == ["started"] * 10, what


async def test_records_of_one_key_are_buffered_in_the_order_they_were_sent() -> None:
    producer = FakeProducer()
    # the first record of each key waits longest, as behind a full partition batch
    producer.waits = lambda topic, key, n: 6 if n == 1 else 0  # type: ignore[method-assign]
    items = [reserve("HOT", i, i) for i in range(4)]
    await handler(producer).handle_batch(TP, items)
    buffered = [(t, e) for w, t, _, e in producer.log if w == "buffered"]
    changes = [e.payload.version for t, e in buffered if isinstance(e, InventoryChanged)]
    levels = [e.payload.version for t, e in buffered if isinstance(e, InventoryLevelsUpdated)]
    assert changes == [2, 3, 4, 5]
    assert levels == [2, 3, 4, 5]
    assert {t for t, _ in buffered} == {INVENTORY_CHANGED, INVENTORY_LEVELS}


async def test_a_failed_acknowledgement_fails_the_batch_after_every_send_ended() -> None:
    producer = FakeProducer()
    producer.fail_ack = {(INVENTORY_CHANGED, "SKU-2")}
    items = [reserve(f"SKU-{i}", i, i) for i in range(4)]
    with pytest.raises(KafkaTimeoutError):
        await handler(producer).handle_batch(TP, items)
    assert sum(1 for w, *_ in producer.log if w == "buffered") == 8  # the others went out


async def test_a_record_not_buffered_stops_the_later_records_of_its_key() -> None:
    producer = FakeProducer()
    producer.fail_buffer = {(INVENTORY_LEVELS, "HOT")}
    items = [reserve("HOT", i, i) for i in range(3)]
    with pytest.raises((KafkaTimeoutError, NotSent)):
        await handler(producer).handle_batch(TP, items)
    levels_sent = [k for w, t, k, _ in producer.log if w == "started" and t == INVENTORY_LEVELS]
    assert levels_sent == ["HOT"]  # the second and third levels record were never sent


async def test_a_poison_command_fails_the_batch_after_the_records_before_it_were_acked() -> None:
    producer = FakeProducer()
    acked: list[asyncio.Future[None]] = []
    send = producer.send

    async def recording(
        topic: str,
        value: bytes,
        key: bytes,
        headers: list[tuple[str, bytes]],
        partition: int | None = None,
    ) -> asyncio.Future[None]:
        ack = await send(topic, value, key, headers, partition)
        acked.append(ack)
        return ack

    producer.send = recording  # type: ignore[method-assign]
    items = [reserve("A", 1, 0), reserve("B", 2, 1), reserve("BAD", 3, 2), reserve("C", 4, 3)]
    with pytest.raises(PoisonMessage):
        await handler(producer).handle_batch(TP, items)
    buffered = [(t, k) for w, t, k, _ in producer.log if w == "buffered"]
    assert sorted(buffered) == sorted(
        [(topic, sku) for sku in ("A", "B") for topic in (INVENTORY_CHANGED, INVENTORY_LEVELS)]
    )
    assert len(acked) == 4 and all(a.done() for a in acked)


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
