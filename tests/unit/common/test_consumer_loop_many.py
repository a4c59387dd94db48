"""``ConsumerLoop.handler_many``: the batches of all the partitions of one fetch handled in
one call (#19), with the guarantees of the per-partition path: each partition's records in
order, nothing committed past a record not handled, rerouted or dead-lettered, and a failed
call falling back to the per-partition handler (which isolates a poison record)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiokafka.structs import TopicPartition
from unit.common.test_consumer_loop_commit_order import (
    TP,
    GatedProducer,
    LogBroker,
    Run,
    _now,
    rec,
)

from stocksync_common.consumer import ConsumerLoop, Incoming, Parts, PoisonMessage, RetryPolicy
from stocksync_common.retry import ATTEMPT, NOT_BEFORE, ORIGIN
from support.poll import await_for

OTHER = TopicPartition(TP.topic, 7)
RETRY_TP = TopicPartition(f"{TP.topic}.retry.g", 3)
DLQ = f"{TP.topic}.dlq.g"


class Calls:
    def __init__(self) -> None:
        self.many: list[list[tuple[TopicPartition, list[int]]]] = []
        self.single: list[tuple[TopicPartition, list[int]]] = []


def start(calls: Calls, *, poison: int | None = None, block: asyncio.Event
          | None = None, entered: asyncio.Event | None = None) -> Run:  # fmt: skip
    timeline: list[tuple[str, object]] = []
    tps = (TP, OTHER, RETRY_TP)
    broker, producer = LogBroker(timeline, *tps), GatedProducer(timeline)

    def done(tp: TopicPartition, items: Sequence[Incoming]) -> None:
        timeline.extend(("done", (tp, i.record.offset)) for i in items)

    async def handle_many(parts: Parts) -> None:
        calls.many.append([(tp, [i.record.offset for i in items]) for tp, items in parts])
        if entered is not None and block is not None:
            entered.set()
            await block.wait()
        if any(i.record.offset == poison for _, items in parts for i in items):
            raise PoisonMessage("one record in this fetch can never succeed")
        for tp, items in parts:
            done(tp, items)

    async def handle(tp: TopicPartition, items: Sequence[Incoming]) -> None:
        calls.single.append((tp, [i.record.offset for i in items]))
        if any(i.record.offset == poison for i in items):
            raise PoisonMessage("never")
        done(tp, items)

    loop = ConsumerLoop(
        consumer=broker,  # type: ignore[arg-type]
        producer=producer,  # type: ignore[arg-type]
        group="g",
        topics=[TP.topic],
        handler=handle,
        handler_many=handle_many,
        retry=RetryPolicy(blips_s=(0, 0)),
        create_missing=False,
        batch_timeout_ms=5,
        lag_interval_s=3600,
    )
    run = Run(loop, broker, producer, timeline)
    run.producer.gate.set()
    run.start()
    return run


async def test_the_partitions_of_one_fetch_are_handled_in_one_call_in_order() -> None:
    calls = Calls()
    run = start(calls)
    try:
        run.broker.append(rec(TP, 0), rec(TP, 1), rec(OTHER, 0), rec(OTHER, 1), rec(OTHER, 2))
        want = {TP: 2, OTHER: 3}
        await await_for("both committed", lambda: _now(run.broker.committed == want), 5)
        assert calls.many == [[(TP, [0, 1]), (OTHER, [0, 1, 2])]]
        assert calls.single == []
        assert run.loop.processed == 5
        run.assert_every_commit_follows_its_records()
    finally:
        await run.stop()


async def test_a_fetch_of_one_partition_takes_the_per_partition_path() -> None:
    calls = Calls()
    run = start(calls)
    try:
        run.broker.append(rec(OTHER, 0))
        await await_for("committed", lambda: _now(run.broker.committed == {OTHER: 1}), 5)
        assert calls.many == [] and calls.single == [(OTHER, [0])]
    finally:
        await run.stop()


async def test_a_failed_call_falls_back_per_partition_and_isolates_the_poison() -> None:
    calls = Calls()
    run = start(calls, poison=1)
    try:
        run.broker.append(rec(TP, 0), rec(TP, 1), rec(TP, 2), rec(OTHER, 0))
        want = {TP: 3, OTHER: 1}
        await await_for("both committed", lambda: _now(run.broker.committed == want), 5)
        assert len(calls.many) == 1
        assert (OTHER, [0]) in calls.single and (TP, [0, 1, 2]) in calls.single
        assert run.producer.sent == [(DLQ, (TP, 1))]  # only the poison record
        assert ("done", (TP, 2)) in run.timeline and ("done", (OTHER, 0)) in run.timeline
        run.assert_every_commit_follows_its_records()
    finally:
        await run.stop()


async def test_nothing_is_committed_while_the_call_is_not_done() -> None:
    calls = Calls()
    entered, block = asyncio.Event(), asyncio.Event()
    run = start(calls, block=block, entered=entered)
    try:
        run.broker.append(rec(TP, 0), rec(OTHER, 0))
        await asyncio.wait_for(entered.wait(), 5)
        assert await run.committed_now() == {}
        block.set()
        want = {TP: 1, OTHER: 1}
        await await_for("both committed", lambda: _now(run.broker.committed == want), 5)
        run.assert_every_commit_follows_its_records()
    finally:
        block.set()
        await run.stop()


async def test_a_retry_record_not_yet_due_is_held_out_of_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = {"ms": 1_000_000}
    monkeypatch.setattr("stocksync_common.consumer.now_ms", lambda: clock["ms"])
    calls = Calls()
    run = start(calls)
    try:
        due = clock["ms"] + 60_000

        def retry(offset: int, at: int) -> object:
            return rec(
                RETRY_TP, offset, [(ATTEMPT, b"1"), (NOT_BEFORE, str(at).encode()),
                                   (ORIGIN, f"3:{offset}:{TP.topic}".encode())],
            )  # fmt: skip

        run.broker.append(retry(0, 0), retry(1, due), rec(TP, 0))  # type: ignore[arg-type]
        want = {RETRY_TP: 1, TP: 1}
        await await_for("the due records committed", lambda: _now(run.broker.committed == want), 5)
        assert dict(calls.many[0]) == {TP: [0], RETRY_TP: [0]}  # offset 1 not yet due
        assert run.loop.waiting == {RETRY_TP: due}
        run.assert_every_commit_follows_its_records()
    finally:
        await run.stop()
