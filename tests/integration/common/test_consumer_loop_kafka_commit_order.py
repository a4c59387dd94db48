"""The order of handling and committing on the real broker: while a record's handler is
blocked, its reroute is pending or its retry copy is not yet due, the group's committed
offset (read from the broker) never passes that record; once it was handled, rerouted or
dead-lettered, the offset moves past it. A commit started at fetch time (before the
handler) would be in flight at each check: ``settle_commit`` lets it land first."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stocksync_common.consumer import ConsumerLoop, Incoming, RetryPolicy, make_consumer
from stocksync_common.events import InventoryCommand, InventoryCommandRequested
from stocksync_common.kafka import make_producer, publish_event
from stocksync_common.topics import retry_topic
from support.poll import await_for

pytestmark = pytest.mark.integration

Behaviour = Callable[[str], Awaitable[None]]


@dataclass
class Loop:
    """A consumer loop on a fresh one-partition topic and group, and an admin client that
    reads the group's committed offsets from the broker."""

    loop: ConsumerLoop
    producer: AIOKafkaProducer
    admin: AIOKafkaAdminClient
    topic: str
    handled: list[str] = field(default_factory=list)

    @property
    def main(self) -> TopicPartition:
        return TopicPartition(self.topic, 0)

    @property
    def retry(self) -> TopicPartition:
        return TopicPartition(retry_topic(self.topic, self.loop.group), 0)

    async def send(self, key: str) -> int:
        event = InventoryCommandRequested(
            source="it",
            payload=InventoryCommand(
                command="adjust", idempotency_key=key, sku=key, location="l", quantity=1
            ),
        )
        md = await publish_event(self.producer, self.topic, key, event, timeout_s=10)
        return int(md.offset)

    async def committed(self, tp: TopicPartition) -> int | None:
        """The group's committed offset of ``tp`` as the broker holds it."""
        offsets = await self.admin.list_consumer_group_offsets(self.loop.group)
        meta = offsets.get(tp)
        return None if meta is None or meta.offset < 0 else int(meta.offset)

    async def committed_after_settling(self, tp: TopicPartition) -> int | None:
        await self.loop.settle_commit()
        return await self.committed(tp)

    async def reaches(self, tp: TopicPartition, offset: int) -> None:
        async def there() -> bool:
            return await self.committed(tp) == offset

        await await_for(f"{tp} committed at {offset}", there, 30)


@contextlib.asynccontextmanager
async def running(bootstrap: str, behaviour: Behaviour, policy: RetryPolicy) -> AsyncIterator[Loop]:
    run = uuid.uuid4().hex[:8]
    topic, group = f"it.order.{run}.v1", f"it-order-{run}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    producer = make_producer(bootstrap, "it")
    consumer = make_consumer(bootstrap, group, "it")
    handled: list[str] = []

    async def handler(_tp: TopicPartition, items: Sequence[Incoming]) -> None:
        for item in items:
            key = item.event.payload.sku  # type: ignore[union-attr]
            await behaviour(key)
            handled.append(key)

    loop = ConsumerLoop(
        consumer, producer, group, [topic], handler, retry=policy, bootstrap=bootstrap
    )
    await producer.start()
    await consumer.start()
    task = asyncio.create_task(loop.run())
    try:
        yield Loop(loop, producer, admin, topic, handled)
    finally:
        loop.stop()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 10)
        await consumer.stop()
        await producer.stop()
        await admin.close()


async def _now(value: object) -> object:
    return value


async def test_a_blocked_handler_holds_the_committed_offset_at_its_record(kafka_bootstrap):
    entered, release = asyncio.Event(), asyncio.Event()

    async def behaviour(key: str) -> None:
        if key == "block":
            entered.set()
            await release.wait()

    async with running(kafka_bootstrap, behaviour, RetryPolicy()) as it:
        try:
            await it.send("first")
            await it.reaches(it.main, 1)
            blocked = await it.send("block")
            await it.send("after")
            await asyncio.wait_for(entered.wait(), 30)
            assert await it.committed_after_settling(it.main) == blocked == 1
            assert it.handled == ["first"]
            release.set()
            await it.reaches(it.main, 3)
            assert it.handled == ["first", "block", "after"]
        finally:
            release.set()


async def test_a_failed_record_holds_the_commit_until_rerouted_and_its_retry_until_due(
    kafka_bootstrap,
):
    failing = {"fail"}

    async def behaviour(key: str) -> None:
        if key in failing:
            raise ConnectionError("down")

    # one retry, due 6 s after the failure: long enough to look while it waits
    policy = RetryPolicy(blips_s=(0,), delays_s=(6.0,))
    async with running(kafka_bootstrap, behaviour, policy) as it:
        gate, pending = asyncio.Event(), asyncio.Event()
        send_and_wait = it.producer.send_and_wait

        async def gated(topic: str, *args: object, **kwargs: object) -> object:
            if topic == it.retry.topic:
                pending.set()
                await gate.wait()
            return await send_and_wait(topic, *args, **kwargs)  # type: ignore[arg-type]

        it.producer.send_and_wait = gated  # type: ignore[method-assign]
        try:
            await it.send("first")
            await it.reaches(it.main, 1)
            failed = await it.send("fail")
            await it.send("after")
            # "fail" failed twice and its copy to the retry topic is held at the gate
            await asyncio.wait_for(pending.wait(), 30)
            assert await it.committed_after_settling(it.main) == failed == 1
            gate.set()
            await it.reaches(it.main, 3)
            assert it.handled == ["first", "after"]

            # the copy is fetched from the retry topic and waits, paused, until it is due
            await await_for("the retry copy held", lambda: _now(it.retry in it.loop.waiting), 30)
            # the loop commits up to the held copy (offset 0), never past it
            assert await it.committed_after_settling(it.retry) in (None, 0)
            assert it.retry in it.loop.waiting  # still not due: the look above was in time
            failing.clear()
            await it.reaches(it.retry, 1)
            assert it.handled == ["first", "after", "fail"]
        finally:
            gate.set()
