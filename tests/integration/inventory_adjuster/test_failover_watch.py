"""inventory-adjuster's failover watch on a real Redis Cluster (ADR 0029): it looks when it
starts, then only when the cluster's configuration epoch grew, and reports the SKUs behind
their levels records. ``CLUSTER BUMPEPOCH`` stands in for a failover's new epoch."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from inventory_adjuster.adapters.redis_store import RedisInventory, state_key
from inventory_adjuster.failover_watch import SKUS_BEHIND, FailoverWatch
from inventory_adjuster.handlers import CommandHandler
from inventory_adjuster.rebuild import Detection
from stocksync_common.kafka import make_producer, publish_event
from support.infra import REDIS_CLUSTER
from support.rebuild_topics import Topics, command, handle_all

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not REDIS_CLUSTER, reason="a Redis Cluster's epoch (ADR 0029)"),
]


async def bump_epoch(cluster: RedisCluster) -> None:
    """Make the cluster's current epoch grow, as a failover does. A node whose config epoch
    is already the greatest answers ``STILL`` and bumps nothing, so ask node after node."""
    for node in cluster.get_primaries():
        answer = await cluster.execute_command("CLUSTER BUMPEPOCH", target_nodes=node)
        if str(answer.decode() if isinstance(answer, bytes) else answer).startswith("BUMPED"):
            return
    raise AssertionError("no master bumped the epoch")


async def next_check(watch: FailoverWatch, timeout_s: float = 20.0) -> Detection:
    """Poll until the watch runs its detection (the new epoch reaches the node it asks)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = await watch.check()
        if found is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"the watch did not look within {timeout_s}s")


async def test_the_watch_looks_after_a_new_epoch_and_reports_the_skus_behind(
    kafka_bootstrap: str, redis5: Redis, handler_topics: Topics
) -> None:
    topics3 = handler_topics
    run = uuid.uuid4().hex[:8]
    skus = [f"FW-{x}-{run}" for x in "abc"]
    store = RedisInventory(redis5, f"it-watch-{run}", idem_ttl_s=3600, ledger_max_len=1000)
    producer = make_producer(kafka_bootstrap, "it-watch")
    await producer.start()
    try:
        for sku in skus:
            event = command(sku, "set_on_hand", 3, f"{sku}:count")
            await publish_event(producer, topics3.commands, sku, event, timeout_s=10)
        await handle_all(kafka_bootstrap, topics3.commands, CommandHandler(store, producer))
    finally:
        await producer.stop()
    watch = FailoverWatch(store, kafka_bootstrap, interval_s=0.1, levels_topic=topics3.levels)

    first = await watch.check()  # at start: a failover while the adjuster was down
    assert first is not None and first.checked == len(skus) and first.lost == []
    assert await watch.check() is None  # same epoch: nothing to look at

    await redis5.delete(state_key(skus[1]))  # what the failover lost
    await bump_epoch(redis5)  # type: ignore[arg-type]
    found = await next_check(watch)
    assert found.lost == [skus[1]] and found.reasons[skus[1]] == "no state in Redis"
    assert SKUS_BEHIND._value.get() == 1  # type: ignore[attr-defined]
