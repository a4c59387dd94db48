"""The consumer loop with in-memory fakes: DLQ routing, retry topics, explicit commits that
never hold back the next fetch, lag sampled on a timer."""

import asyncio
import uuid
from dataclasses import dataclass, field

import orjson
from aiokafka.structs import TopicPartition
from prometheus_client import REGISTRY

from stocksync_common.consumer import (
    ConsumerLoop,
    Incoming,
    PoisonMessage,
    RetryPolicy,
    _Rebalance,
)
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, encode
from stocksync_common.retry import ATTEMPT, NOT_BEFORE, ORIGIN, now_ms
from support.poll import await_for
from support.redis_errors import cluster_unreachable

TP = TopicPartition("inventory.commands.v1", 3)


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = b"SKU"
    timestamp: int = 0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class FakeConsumer:
    def __init__(self, batches):
        self.batches = list(batches)
        self.commits = []
        self.paused = set()
        self.seeks = []

    def pause(self, tp):
        self.paused.add(tp)

    def resume(self, tp):
        self.paused.discard(tp)

    def seek(self, tp, offset):
        self.seeks.append((tp, offset))

    def assignment(self):
        return {TP}

    async def getmany(self, timeout_ms):
        return self.batches.pop(0) if self.batches else {}

    async def commit(self, offsets):
        self.commits.append({tp: o.offset for tp, o in offsets.items()})

    def highwater(self, tp):
        return 10

    async def position(self, tp):
        return 10


class FakeProducer:
    def __init__(self):
        self.sent = []
        self.headers = []

    async def send_and_wait(self, topic, value, key=None, headers=None):
        body = orjson.loads(value) if ".dlq." in topic else value
        self.sent.append((topic, body))
        self.headers.append(dict(headers or []))


def command(n: int) -> bytes:
    return encode(
        InventoryCommandRequested(
            source="t",
            payload=InventoryCommand(
                command="reserve", idempotency_key=f"k{n}", sku="SKU", location="l", quantity=1
            ),
        )
    )


def make_loop(handler, batches):
    consumer, producer = FakeConsumer(batches), FakeProducer()
    loop = ConsumerLoop(
        consumer=consumer,  # type: ignore[arg-type]
        producer=producer,  # type: ignore[arg-type]
        group="g",
        topics=[TP.topic],
        handler=handler,
        retry=RetryPolicy(blips_s=(0, 0)),
        create_missing=False,
    )
    return loop, consumer, producer


async def test_unparseable_record_goes_to_dlq_and_the_rest_is_handled():
    seen: list[int] = []

    async def handler(tp, items: list[Incoming]):
        seen.extend(i.record.offset for i in items)

    recs = [
        Rec(TP.topic, 3, 5, command(1)),
        Rec(TP.topic, 3, 6, b"{not json"),
        Rec(TP.topic, 3, 7, command(2)),
    ]
    loop, consumer, producer = make_loop(handler, [])
    await loop.process_partition(TP, recs)
    await loop._commit({TP: recs[-1].offset + 1})
    assert seen == [5, 7]
    assert len(producer.sent) == 1
    topic, body = producer.sent[0]
    assert topic == "inventory.commands.v1.dlq.g"
    assert body["offset"] == 6 and body["reason"] == "schema"
    assert body["original_topic"] == TP.topic and body["partition"] == 3
    assert consumer.commits == [{TP: 8}]


async def test_poison_in_a_batch_is_isolated_to_its_record():
    applied: list[int] = []

    async def handler(tp, items: list[Incoming]):
        if any(i.record.offset == 1 for i in items):
            if len(items) == 1:
                raise PoisonMessage("cannot ever work")
            raise PoisonMessage("batch contains poison")
        applied.extend(i.record.offset for i in items)

    loop, _, producer = make_loop(handler, [])
    await loop.process_partition(TP, [Rec(TP.topic, 3, n, command(n)) for n in range(3)])
    assert applied == [0, 2]
    assert [b["offset"] for _, b in producer.sent] == [1]
    assert producer.sent[0][1]["reason"] == "poison"
    assert "cannot ever work" in producer.sent[0][1]["error"]


async def test_transient_failure_is_retried_then_succeeds():
    calls = {"n": 0}

    async def handler(tp, items):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ConnectionError("blip")

    loop, _, producer = make_loop(handler, [])
    await loop.process_partition(TP, [Rec(TP.topic, 3, 0, command(0))])
    assert calls["n"] == 3
    assert producer.sent == []


async def test_persistent_failure_goes_to_the_retry_topic_with_attempt_and_due_time():
    async def handler(tp, items):
        raise ConnectionError("down")

    loop, _, producer = make_loop(handler, [])
    before, value = now_ms(), command(0)
    await loop.process_partition(TP, [Rec(TP.topic, 3, 7, value)])
    assert [t for t, _ in producer.sent] == ["inventory.commands.v1.retry.g"]
    assert producer.sent[0][1] == value
    headers = producer.headers[0]
    assert headers[ATTEMPT] == b"1"
    assert before + 1000 <= int(headers[NOT_BEFORE]) <= now_ms() + 1000
    assert headers[ORIGIN] == b"3:7:inventory.commands.v1"


def retry_rec(offset: int, attempt: int, due_ms: int, n: int = 0) -> Rec:
    headers = [
        (ATTEMPT, str(attempt).encode()),
        (NOT_BEFORE, str(due_ms).encode()),
        (ORIGIN, b"3:42:inventory.commands.v1"),
        ("correlation-id", b"cid-1"),
    ]
    return Rec(RETRY_TP.topic, 3, offset, command(n), headers=headers)


RETRY_TP = TopicPartition("inventory.commands.v1.retry.g", 3)


async def test_fourth_retry_failure_ends_in_dlq_with_origin_and_attempts():
    async def handler(tp, items):
        raise ConnectionError("down")

    loop, _, producer = make_loop(handler, [])
    await loop.process_partition(RETRY_TP, [retry_rec(9, 4, now_ms() - 1)])
    assert [t for t, _ in producer.sent] == ["inventory.commands.v1.dlq.g"]
    body = producer.sent[0][1]
    assert body["attempts"] == 5 and body["reason"] == "dependency:network"
    assert (body["original_topic"], body["partition"], body["offset"]) == (TP.topic, 3, 42)
    assert body["correlation_id"] == "cid-1" and body["headers"]["correlation-id"] == "cid-1"
    assert ATTEMPT not in body["headers"] and "ConnectionError: down" in body["error"]
    assert body["stack"] and body["failed_at"] > 1e12


async def test_a_retry_record_not_yet_due_pauses_its_partition_only():
    handled: list[int] = []

    async def handler(tp, items):
        handled.extend(i.record.offset for i in items)

    loop, consumer, _ = make_loop(handler, [])
    due = now_ms() + 60_000
    recs = [retry_rec(0, 1, now_ms() - 5), retry_rec(1, 1, due), retry_rec(2, 1, now_ms())]
    next_offset = await loop.process_partition(RETRY_TP, recs)
    assert handled == [0]
    assert next_offset == 1
    assert consumer.paused == {RETRY_TP} and consumer.seeks == [(RETRY_TP, 1)]
    assert loop.waiting == {RETRY_TP: due}
    loop.waiting[RETRY_TP] = now_ms() - 1
    consumer.assignment = lambda: {TP, RETRY_TP}
    loop._resume_due()
    assert consumer.paused == set() and loop.waiting == {}


async def test_a_failed_batch_stops_blip_retries_after_the_first_record_runs_out():
    calls: list[int] = []

    async def handler(tp, items):
        calls.append(len(items))
        raise ConnectionError("redis down")

    loop, _, producer = make_loop(handler, [])
    await loop.process_partition(TP, [Rec(TP.topic, 3, n, command(n)) for n in range(3)])
    # the batch, then 3 tries of the first record, then one try each for the others
    assert calls == [3, 1, 1, 1, 1, 1]
    assert [t for t, _ in producer.sent] == ["inventory.commands.v1.retry.g"] * 3


async def test_run_commits_after_each_batch_and_stops():
    handled: list[int] = []

    async def handler(tp, items):
        handled.extend(i.record.offset for i in items)
        if len(handled) >= 3:
            loop.stop()

    batches = [
        {TP: [Rec(TP.topic, 3, 0, command(0)), Rec(TP.topic, 3, 1, command(1))]},
        {TP: [Rec(TP.topic, 3, 2, command(2))]},
    ]
    loop, consumer, _ = make_loop(handler, batches)
    consumer.subscribe = lambda topics, listener: None
    await loop.run()
    assert handled == [0, 1, 2]
    assert consumer.commits == [{TP: 2}, {TP: 3}]


async def test_hold_on_dependency_retries_in_place_until_it_is_back():
    import redis.exceptions

    calls = {"n": 0}

    async def handler(tp, items):
        calls["n"] += 1
        if calls["n"] <= 5:
            raise redis.exceptions.ConnectionError("redis down")

    loop, _, producer = make_loop(handler, [])
    loop.retry = RetryPolicy(blips_s=(0,), hold_on_dependency=True, hold_s=0)
    await loop.process_partition(TP, [Rec(TP.topic, 3, 0, command(0))])
    assert calls["n"] == 6
    assert producer.sent == []  # neither rerouted nor dead-lettered: order kept


async def test_hold_on_dependency_holds_while_no_node_of_a_redis_cluster_answers():
    calls = {"n": 0}

    async def handler(tp, items):
        calls["n"] += 1
        if calls["n"] <= 5:
            raise cluster_unreachable()  # not a RedisError (ADR 0029)

    loop, _, producer = make_loop(handler, [])
    loop.retry = RetryPolicy(blips_s=(0,), hold_on_dependency=True, hold_s=0)
    await loop.process_partition(TP, [Rec(TP.topic, 3, 0, command(0))])
    assert calls["n"] == 6
    assert producer.sent == []  # neither rerouted nor dead-lettered: order kept


async def test_hold_on_dependency_still_reroutes_record_specific_failures():
    async def handler(tp, items):
        raise ValueError("this record's bug")

    loop, _, producer = make_loop(handler, [])
    loop.retry = RetryPolicy(blips_s=(0,), hold_on_dependency=True, hold_s=0)
    await loop.process_partition(TP, [Rec(TP.topic, 3, 0, command(0))])
    assert [t for t, _ in producer.sent] == ["inventory.commands.v1.retry.g"]


class SlowCommitConsumer(FakeConsumer):
    """Commits that finish only when the test releases them; every call is logged in order."""

    def __init__(self, batches, timeline):
        super().__init__(batches)
        self.timeline = timeline
        self.release = asyncio.Event()
        self.fetches = 0
        self.positions = 0
        self.subscribe = lambda topics, listener: None

    async def getmany(self, timeout_ms):
        self.fetches += 1
        self.timeline.append(("fetch", self.fetches))
        if self.batches:
            return self.batches.pop(0)
        await asyncio.sleep(timeout_ms / 1000)  # the broker's fetch wait, nothing arrived
        return {}

    async def commit(self, offsets):
        self.timeline.append(("commit-start", {tp: o.offset for tp, o in offsets.items()}))
        await self.release.wait()
        await super().commit(offsets)
        self.timeline.append(("commit-done", {tp: o.offset for tp, o in offsets.items()}))

    async def position(self, tp):
        self.positions += 1
        return 7


async def test_the_next_batch_is_fetched_and_handled_while_the_commit_is_in_flight():
    timeline: list[tuple[str, object]] = []
    handled: list[int] = []

    async def handler(tp, items):
        for i in items:
            handled.append(i.record.offset)
            timeline.append(("handled", i.record.offset))
        if handled[-1] == 3:
            loop.stop()

    batches = [{TP: [Rec(TP.topic, 3, n, command(n))]} for n in range(4)]
    consumer = SlowCommitConsumer(batches, timeline)
    loop, _, _ = make_loop(handler, [])
    loop.consumer = consumer
    loop.commit_interval_s = 0.0  # only the commit in flight holds the next one back
    task = asyncio.create_task(loop.run())
    # the first commit is held back: the loop still fetched and handled the next batch
    await await_for("batch 1 handled", lambda: _now(1 in handled), 5)
    assert [c for c in timeline if c[0].startswith("commit")] == [("commit-start", {TP: 1})]
    consumer.release.set()
    await asyncio.wait_for(task, 5)
    # the batches handled while it was in flight went out together in the next commit,
    # started after the last of them was handled and after the first commit finished
    assert consumer.commits == [{TP: 1}, {TP: 4}]
    assert timeline.index(("handled", 0)) < timeline.index(("commit-start", {TP: 1}))
    assert timeline.index(("handled", 3)) < timeline.index(("commit-start", {TP: 4}))
    assert timeline.index(("commit-done", {TP: 1})) < timeline.index(("commit-start", {TP: 4}))
    assert timeline.index(("fetch", 2)) < timeline.index(("commit-done", {TP: 1}))
    assert consumer.positions == 0  # no lag sample in front of any fetch


async def test_a_revoke_waits_for_the_commit_in_flight_and_nothing_is_committed_until_assigned():
    timeline: list[tuple[str, object]] = []
    loop, _, _ = make_loop(None, [])
    consumer = SlowCommitConsumer([], timeline)
    loop.consumer = consumer
    listener = _Rebalance(loop)
    await loop._start_commit({TP: 5})

    async def revoke():
        await listener.on_partitions_revoked({TP})
        timeline.append(("revoked", None))

    revoking = asyncio.create_task(revoke())
    await await_for("the commit under way", lambda: _now(("commit-start", {TP: 5}) in timeline))
    assert not revoking.done()
    consumer.release.set()
    await asyncio.wait_for(revoking, 5)
    assert timeline[-2:] == [("commit-done", {TP: 5}), ("revoked", None)]
    # a batch handled between the revoke and the new assignment is not committed
    await loop._start_commit({TP: 6})
    await loop.settle_commit()
    assert consumer.commits == [{TP: 5}]
    await listener.on_partitions_assigned({TP})
    await loop._start_commit({TP: 7})
    await loop.settle_commit()
    assert consumer.commits == [{TP: 5}, {TP: 7}]


async def test_a_commit_that_never_ends_is_abandoned_by_a_revoke_after_the_wait():
    loop, _, _ = make_loop(None, [])
    consumer = SlowCommitConsumer([], [])
    loop.consumer = consumer
    loop.commit_wait_s = 0.05
    await loop._start_commit({TP: 5})
    pending = loop._committing
    await _Rebalance(loop).on_partitions_revoked({TP})
    assert pending is not None
    await await_for("the commit cancelled", lambda: _now(pending.cancelled()), 5)
    assert consumer.commits == []


async def test_lag_is_sampled_on_a_timer_not_per_batch():
    group = f"g-lag-{uuid.uuid4().hex[:6]}"

    async def handler(tp, items):
        if items[-1].record.offset == 19:
            loop.stop()

    batches = [{TP: [Rec(TP.topic, 3, n, command(n))]} for n in range(20)]
    busy = SlowCommitConsumer(batches, [])
    busy.release.set()
    loop, _, _ = make_loop(handler, [])
    loop.consumer, loop.group, loop.lag_interval_s = busy, group, 3600
    await asyncio.wait_for(loop.run(), 5)
    assert busy.commits[-1] == {TP: 20} and busy.positions == 0  # twenty batches, no sample

    idle = SlowCommitConsumer([], [])
    loop, _, _ = make_loop(handler, [])
    loop.consumer, loop.group, loop.lag_interval_s, loop.batch_timeout_ms = idle, group, 0.01, 5
    task = asyncio.create_task(loop.run())
    labels = {"group": group, "topic": TP.topic, "partition": "3"}
    try:
        # no batch ever arrives, yet the gauge is kept: highwater 10 - position 7
        lag = await await_for(
            "two lag samples",
            lambda: _now(idle.positions >= 2 and REGISTRY.get_sample_value(LAG, labels)),
            5,
        )
        assert lag == 3
    finally:
        loop.stop()
        await asyncio.wait_for(task, 5)


LAG = "stocksync_consumer_lag_records"


async def _now(value):
    return value


async def test_a_commit_waits_out_the_interval_and_the_last_offsets_go_out_at_stop():
    handled: list[int] = []

    async def handler(tp, items):
        handled.extend(i.record.offset for i in items)

    batches = [{TP: [Rec(TP.topic, 3, n, command(n))]} for n in range(3)]
    consumer = SlowCommitConsumer(batches, [])
    consumer.release.set()
    loop, _, _ = make_loop(handler, [])
    loop.consumer = consumer
    loop.commit_interval_s = 3600.0
    task = asyncio.create_task(loop.run())
    await await_for("every batch handled", lambda: _now(handled == [0, 1, 2]), 5)
    await await_for("the first commit", lambda: _now(bool(consumer.commits)), 5)
    assert consumer.commits == [{TP: 1}]  # the others wait for the interval
    loop.stop()
    await asyncio.wait_for(task, 5)
    assert consumer.commits == [{TP: 1}, {TP: 3}]  # flushed when the loop stops
