"""The order of handling and committing in ``ConsumerLoop.run``: an offset is committed only
after its record was handled, sent to the retry topic or dead-lettered (ADR 0003), never at
fetch time. Each test holds the loop at the moment a wrong order would show (a handler
blocked, a reroute pending, a retry record not yet due), settles any commit in flight, and
reads what the fake broker holds as committed."""

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from aiokafka.structs import TopicPartition

from stocksync_common.consumer import FAULTS_HOLD_ENV, ConsumerLoop, PoisonMessage, RetryPolicy
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, encode
from stocksync_common.retry import ATTEMPT, NOT_BEFORE, ORIGIN
from support.poll import await_for

TP = TopicPartition("inventory.commands.v1", 3)
RETRY_TP = TopicPartition("inventory.commands.v1.retry.g", 3)
Done = tuple[TopicPartition, int]


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes
    timestamp: int = 0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def rec(tp: TopicPartition, offset: int, headers: list[tuple[str, bytes]] | None = None) -> Rec:
    """A command whose key names its own partition and offset, so a publish of it (to the
    retry topic or the DLQ) can be told apart from another record's."""
    value = encode(
        InventoryCommandRequested(
            source="t",
            payload=InventoryCommand(
                command="reserve", idempotency_key=f"k{offset}", sku="S", location="l", quantity=1
            ),
        )
    )
    key = f"{tp.topic}|{tp.partition}|{offset}".encode()
    return Rec(tp.topic, tp.partition, offset, value, key, headers=headers or [])


def done_of(key: bytes) -> Done:
    topic, partition, offset = key.decode().split("|")
    return TopicPartition(topic, int(partition)), int(offset)


class LogBroker:
    """The consumer side of a broker as lists: each fetch returns what lies past a
    partition's position (paused partitions skipped), ``seek`` moves the position back, and
    commits are logged in order with everything else that happened (``timeline``)."""

    def __init__(self, timeline: list[tuple[str, object]], *tps: TopicPartition) -> None:
        self.logs: dict[TopicPartition, list[Rec]] = {tp: [] for tp in tps}
        self.positions = dict.fromkeys(tps, 0)
        self.paused: set[TopicPartition] = set()
        self.committed: dict[TopicPartition, int] = {}
        self.fetches = 0
        self.timeline = timeline

    def append(self, *records: Rec) -> None:
        for r in records:
            self.logs[TopicPartition(r.topic, r.partition)].append(r)

    def subscribe(self, topics: object, listener: object) -> None:
        pass

    def assignment(self) -> set[TopicPartition]:
        return set(self.logs)

    def pause(self, tp: TopicPartition) -> None:
        self.paused.add(tp)

    def resume(self, tp: TopicPartition) -> None:
        self.paused.discard(tp)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    async def getmany(self, timeout_ms: int) -> dict[TopicPartition, list[Rec]]:
        self.fetches += 1
        out = {}
        for tp, log in self.logs.items():
            ahead = [r for r in log if r.offset >= self.positions[tp]]
            if ahead and tp not in self.paused:
                out[tp] = ahead
                self.positions[tp] = ahead[-1].offset + 1
        if not out:
            await asyncio.sleep(timeout_ms / 1000)  # the broker's fetch wait: nothing arrived
        return out

    async def commit(self, offsets: dict[TopicPartition, object]) -> None:
        plain = {tp: o.offset for tp, o in offsets.items()}  # type: ignore[attr-defined]
        self.timeline.append(("commit", plain))
        self.committed.update(plain)

    def highwater(self, tp: TopicPartition) -> int:
        return len(self.logs[tp])

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]


class GatedProducer:
    """Publishes to the retry topic and the DLQ complete only once ``gate`` is open;
    ``pending`` is set as soon as one is waiting."""

    def __init__(self, timeline: list[tuple[str, object]]) -> None:
        self.timeline = timeline
        self.gate = asyncio.Event()
        self.pending = asyncio.Event()
        self.sent: list[tuple[str, Done]] = []

    async def send_and_wait(
        self, topic: str, value: bytes, key: bytes | None = None, headers: object = None
    ) -> None:
        assert key is not None
        self.pending.set()
        await self.gate.wait()
        self.sent.append((topic, done_of(key)))
        self.timeline.append(("done", done_of(key)))


@dataclass
class Run:
    loop: ConsumerLoop
    broker: LogBroker
    producer: GatedProducer
    timeline: list[tuple[str, object]]
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.loop.run())

    async def stop(self) -> None:
        self.loop.stop()
        self.producer.gate.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)

    async def committed_now(self) -> dict[TopicPartition, int]:
        """What the broker holds once any commit already started has landed: a commit
        started before the handler (the wrong order) is in flight at this point."""
        await self.loop.settle_commit()
        return dict(self.broker.committed)

    def assert_every_commit_follows_its_records(self) -> None:
        """Each commit of offset ``o`` on a partition comes after every record below ``o``
        on it was handled, rerouted or dead-lettered (or, on a retry partition, is the
        offset of the record the loop holds until it is due)."""
        finished: set[Done] = set()
        for kind, what in self.timeline:
            if kind == "done":
                finished.add(what)  # type: ignore[arg-type]
            if kind == "commit":
                for tp, offset in what.items():  # type: ignore[attr-defined]
                    missing = [o for o in range(offset) if (tp, o) not in finished]
                    assert not missing, f"committed {tp}@{offset} before {missing} were done"


Handler = Callable[..., object]


def start(handler: Handler, *tps: TopicPartition) -> Run:
    timeline: list[tuple[str, object]] = []
    broker, producer = LogBroker(timeline, *tps), GatedProducer(timeline)
    loop = ConsumerLoop(
        consumer=broker,  # type: ignore[arg-type]
        producer=producer,  # type: ignore[arg-type]
        group="g",
        topics=[TP.topic],
        handler=handler,  # type: ignore[arg-type]
        retry=RetryPolicy(blips_s=(0, 0)),
        create_missing=False,
        batch_timeout_ms=5,
        lag_interval_s=3600,
    )
    run = Run(loop, broker, producer, timeline)
    run.start()
    return run


async def _now(value: object) -> object:
    return value


async def test_nothing_is_committed_past_a_record_whose_handler_is_blocked() -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def handler(tp: TopicPartition, items: list) -> None:  # type: ignore[type-arg]
        for item in items:
            if item.record.offset == 1:
                entered.set()
                await release.wait()
            run.timeline.append(("done", (tp, item.record.offset)))

    run = start(handler, TP)
    try:
        run.broker.append(rec(TP, 0))
        await await_for("offset 0 committed", lambda: _now(run.broker.committed == {TP: 1}), 5)
        run.broker.append(rec(TP, 1), rec(TP, 2))
        await asyncio.wait_for(entered.wait(), 5)
        # the batch [1, 2] is fetched and its handler blocked at offset 1
        assert await run.committed_now() == {TP: 1}
        release.set()
        await await_for("the batch committed", lambda: _now(run.broker.committed == {TP: 3}), 5)
        run.assert_every_commit_follows_its_records()
    finally:
        release.set()
        await run.stop()


RETRY, DLQ = "inventory.commands.v1.retry.g", "inventory.commands.v1.dlq.g"
CASES = {
    # a transient failure: blip retries, then the copy to the retry topic
    "rerouted to the retry topic": (TP, [], ConnectionError("down"), RETRY),
    # the last retry fails: the record goes to the DLQ
    "dead-lettered after the last retry": (
        RETRY_TP,
        [(ATTEMPT, b"4"), (NOT_BEFORE, b"0"), (ORIGIN, b"3:1:inventory.commands.v1")],
        ConnectionError("down"),
        DLQ,
    ),
    "poison, dead-lettered at once": (
        TP,
        [],
        PoisonMessage("never"),
        DLQ,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_nothing_is_committed_past_a_failed_record_until_it_was_rerouted(case: str) -> None:
    tp, headers, error, target = CASES[case]

    async def handler(tp_: TopicPartition, items: list) -> None:  # type: ignore[type-arg]
        if any(i.record.offset == 1 for i in items):
            raise error
        run.timeline.extend(("done", (tp_, i.record.offset)) for i in items)

    run = start(handler, tp)
    try:
        run.broker.append(rec(tp, 0, headers))
        await await_for("offset 0 committed", lambda: _now(run.broker.committed == {tp: 1}), 5)
        run.broker.append(*(rec(tp, n, headers) for n in (1, 2)))
        await asyncio.wait_for(run.producer.pending.wait(), 5)
        # offset 1 failed and its publish is pending: offset 1 is neither handled nor moved
        assert await run.committed_now() == {tp: 1}
        run.producer.gate.set()
        await await_for("the batch committed", lambda: _now(run.broker.committed == {tp: 3}), 5)
        assert run.producer.sent == [(target, (tp, 1))]
        run.assert_every_commit_follows_its_records()
    finally:
        await run.stop()


async def test_nothing_is_committed_past_a_retry_record_not_yet_due(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = {"ms": 1_000_000}
    monkeypatch.setattr("stocksync_common.consumer.now_ms", lambda: clock["ms"])

    def retry_rec(offset: int, due_ms: int) -> Rec:
        headers = [(ATTEMPT, b"1"), (NOT_BEFORE, str(due_ms).encode())]
        return rec(RETRY_TP, offset, [*headers, (ORIGIN, f"3:{offset}:{TP.topic}".encode())])

    async def handler(tp: TopicPartition, items: list) -> None:  # type: ignore[type-arg]
        run.timeline.extend(("done", (tp, i.record.offset)) for i in items)

    run = start(handler, RETRY_TP)
    try:
        # offset 1 is due in a minute; offset 2 (an other key's) is due already
        due = clock["ms"] + 60_000
        run.broker.append(retry_rec(0, clock["ms"] - 5), retry_rec(1, due), retry_rec(2, 0))
        await await_for("offset 0 committed", lambda: _now(run.broker.committed), 5)
        fetches = run.broker.fetches
        # the loop goes on fetching (the retry partition paused) without moving the commit
        await await_for("more fetches", lambda: _now(run.broker.fetches >= fetches + 3), 5)
        assert await run.committed_now() == {RETRY_TP: 1}
        assert ("done", (RETRY_TP, 1)) not in run.timeline
        assert run.loop.waiting == {RETRY_TP: due}
        clock["ms"] = due
        await await_for("all committed", lambda: _now(run.broker.committed == {RETRY_TP: 3}), 5)
        run.assert_every_commit_follows_its_records()
    finally:
        await run.stop()


async def test_the_helper_catches_a_commit_ahead_of_its_records() -> None:
    """The order check itself can fail: a commit logged before the record it covers."""
    run = Run(None, None, None, [("commit", {TP: 1}), ("done", (TP, 0))])  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="before \\[0\\] were done"):
        run.assert_every_commit_follows_its_records()


async def test_the_fault_hold_keeps_fetched_records_from_the_handler_while_its_file_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault suite's seam (STOCKSYNC_FAULTS_HOLD_DIR): off unless set; when set, a
    group's fetched batch waits before the handler while ``<dir>/<group>.hold`` exists, and a
    marker names what is held. The commit stays behind the held records meanwhile."""
    monkeypatch.delenv(FAULTS_HOLD_ENV, raising=False)
    idle = start(lambda tp, items: None, TP)
    await idle.stop()
    assert idle.loop.faults_hold_dir is None
    monkeypatch.setenv(FAULTS_HOLD_ENV, str(tmp_path))
    gate = tmp_path / "g.hold"
    gate.touch()

    async def handler(tp: TopicPartition, items: list) -> None:  # type: ignore[type-arg]
        run.timeline.extend(("done", (tp, i.record.offset)) for i in items)

    run = start(handler, TP)
    try:
        assert run.loop.faults_hold_dir == tmp_path
        run.broker.append(rec(TP, 0), rec(TP, 1))
        marker = tmp_path / f"g.held.{os.getpid()}.{TP.topic}.{TP.partition}"
        await await_for("the hold marker", lambda: _now(marker.exists()), 5)
        assert orjson.loads(marker.read_bytes()) == {
            "topic": TP.topic, "partition": 3, "first": 0, "last": 1
        }  # fmt: skip
        assert await run.committed_now() == {} and run.timeline == []
        gate.unlink()
        await await_for("both committed", lambda: _now(run.broker.committed == {TP: 2}), 5)
        run.assert_every_commit_follows_its_records()
    finally:
        await run.stop()
