"""The consumer loop with in-memory fakes: DLQ routing, retries, explicit commits."""

from dataclasses import dataclass, field

import orjson
from aiokafka.structs import TopicPartition

from stocksync_common.consumer import ConsumerLoop, Incoming, PoisonMessage, RetryPolicy
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, encode

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

    async def send_and_wait(self, topic, value, key=None, headers=None):
        self.sent.append((topic, orjson.loads(value)))


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
        retry=RetryPolicy(delays_s=(0, 0)),
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


async def test_persistent_failure_ends_in_dlq_with_attempt_count():
    async def handler(tp, items):
        raise ConnectionError("down")

    loop, _, producer = make_loop(handler, [])
    await loop.process_partition(TP, [Rec(TP.topic, 3, 0, command(0))])
    assert len(producer.sent) == 1
    body = producer.sent[0][1]
    assert body["reason"] == "exhausted" and body["attempts"] == 3
    assert "ConnectionError: down" in body["error"]


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
