"""The handler's batch path on real Redis: several changes of a SKU in one batch, a crash
between the commit and the effects then the replay, and a state moved by another owner
between the load and the commit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiokafka.structs import TopicPartition
from integration.notifier.harness import NoReceiver, changed, settings_for

from notifier.adapters.state import Commit, SkuStates
from notifier.bootstrap import Container, build
from notifier.domain.alerts import Alert
from notifier.domain.crossings import SkuState
from notifier.domain.rules import Rule, RuleSet
from stocksync_common.consumer import Incoming
from stocksync_common.redis_client import connect
from stocksync_common.topics import INVENTORY_CHANGED
from support.records import Record

pytestmark = pytest.mark.integration

RULES = RuleSet(default=Rule(low_stock=5, reorder_point=3, reorder_quantity=20))
TP = TopicPartition(INVENTORY_CHANGED, 0)


class Reorders:
    """Records what would go to reorders.v1; fails the first ``failures`` publishes."""

    def __init__(self, failures: int = 0) -> None:
        self.published: list[Alert] = []
        self.failures = failures

    async def publish(self, alert: Alert) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker unreachable")
        self.published.append(alert)


@pytest.fixture
async def instance(kafka_bootstrap, redis_url, producer) -> AsyncIterator[Any]:
    """Builds notifiers (no delivery worker) on one Redis prefix: a rebuild is a restart."""
    redis = connect(redis_url)
    settings = settings_for(
        kafka_bootstrap, redis_url, NoReceiver(), 0, alert_generic_webhook_url=None, smtp_host=None
    )
    built: list[Container] = []

    async def make(reorders: Reorders) -> Container:
        c = build(settings, redis=redis, producer=producer)
        c.handler.reorders = reorders  # type: ignore[assignment]
        built.append(c)
        return c

    first = await make(Reorders())
    await first.rules.replace(RULES)
    yield make, first
    for c in built:
        await c.http.aclose()
    await redis.aclose()


async def feed(c: Container, events: list[Any]) -> None:
    items = [
        Incoming(Record(INVENTORY_CHANGED, offset=n, key=e.payload.sku.encode()), e)
        for n, e in enumerate(events)
    ]
    await c.handler.handle_batch(TP, items)


async def queued(c: Container, sku: str) -> list[tuple[str, int]]:
    [outbox] = c.alerts.outboxes.values()
    docs = [orjson.loads(r) for r in await c.redis.hvals(outbox.items_key)]
    return sorted(
        (d["alert"]["kind"], d["alert"]["version"]) for d in docs if d["alert"]["sku"] == sku
    )


def steps(sku: str) -> list[Any]:
    levels = [(8, 6), (6, 4), (4, 9), (9, 3), (3, 8), (8, 2), (2, 0)]
    return [changed(sku, v, b, a) for v, (b, a) in enumerate(levels, 1)]


EXPECTED = [
    ("low_stock", 2),
    ("low_stock", 4),
    ("low_stock", 6),
    ("out_of_stock", 7),
    ("reorder", 4),
    ("reorder", 6),
]


async def test_several_changes_of_a_sku_in_one_batch_alert_each_crossing(instance):
    _, c = instance
    sku, other = f"B-{uuid.uuid4().hex[:8]}", f"B-{uuid.uuid4().hex[:8]}"
    events = steps(sku)
    await feed(c, [*events[:4], changed(other, 1, 9, 4), *events[4:]])  # interleaved SKUs
    assert await queued(c, sku) == EXPECTED
    assert await queued(c, other) == [("low_stock", 1)]
    assert [a.version for a in c.handler.reorders.published if a.sku == sku] == [4, 6]
    state = await c.handler.states.load(sku)
    assert (state.version, state.done) == (7, 7)
    await feed(c, events)  # redelivered: nothing decided, nothing published again
    assert len(c.handler.reorders.published) == 2
    assert await c.handler.states.load(sku) == state


async def test_a_crash_after_the_commit_replays_every_effect_of_the_batch(instance):
    make, _ = instance
    crashing = await make(Reorders(failures=1))
    sku = f"C-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ConnectionError):
        await feed(crashing, steps(sku))
    stored = await crashing.handler.states.load(sku)
    assert (stored.version, stored.done) == (7, 0) and stored.pending is not None

    restarted = await make(Reorders())
    await feed(restarted, steps(sku))  # Kafka redelivers the uncommitted batch
    assert await queued(restarted, sku) == EXPECTED
    assert [a.version for a in restarted.handler.reorders.published] == [4, 6]
    assert (await restarted.handler.states.load(sku)).done == 7


async def test_a_state_moved_by_another_owner_is_not_overwritten(instance):
    _, c = instance
    sku, other = f"M-{uuid.uuid4().hex[:8]}", f"M-{uuid.uuid4().hex[:8]}"
    states: SkuStates = c.handler.states
    real_load = states.load_many
    theirs = SkuState(version=3, below={"out": False, "low": False})

    async def load_then_race(skus):
        loaded = await real_load(skus)
        # A second owner of the partition (a rebalance in flight) decides first.
        [ok] = await states.commit_many([Commit(sku, 0, theirs, True)])
        assert ok
        return loaded

    states.load_many = load_then_race  # type: ignore[method-assign]
    try:
        await feed(c, [changed(sku, 1, 6, 4), changed(sku, 2, 4, 0), changed(other, 1, 6, 4)])
    finally:
        states.load_many = real_load  # type: ignore[method-assign]
    assert await queued(c, sku) == []  # their decision stands; ours is dropped
    stored = await states.load(sku)
    assert (stored.version, stored.done) == (3, 3)
    assert await queued(c, other) == [("low_stock", 1)]  # the rest of the batch went on


async def test_a_change_that_alters_nothing_still_records_its_version(instance):
    """Why the commit of a change that moves no threshold is not skipped (ADR 0042): the
    stored version is what keeps an older change, retried late through the retry topic
    (ADR 0009), from being decided against a state that has moved past it. Without that
    write the late change would raise a stale crossing and leave the state on the wrong
    side of its thresholds; with it, it is ignored and the next crossing alerts as usual."""
    _, c = instance
    sku = f"N-{uuid.uuid4().hex[:8]}"
    await feed(c, [changed(sku, 5, 20, 19)])
    before = await c.handler.states.load(sku)
    await feed(c, [changed(sku, 7, 12, 11)])  # no threshold crossed: only the version moves
    after = await c.handler.states.load(sku)
    assert (after.version, after.done) == (7, 7)
    assert after.model_copy(update={"version": 5, "done": 5}) == before
    await feed(c, [changed(sku, 6, 19, 2)])  # v6 failed and comes back from the retry topic
    assert await queued(c, sku) == []
    assert c.handler.reorders.published == []
    assert await c.handler.states.load(sku) == after
    await feed(c, [changed(sku, 7, 12, 11)])  # a duplicate: nothing either
    assert await c.handler.states.load(sku) == after
    await feed(c, [changed(sku, 8, 11, 2)])  # a later crossing alerts as ever
    assert await queued(c, sku) == [("low_stock", 8), ("reorder", 8)]
