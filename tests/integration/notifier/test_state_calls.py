"""The notifier's per-SKU state on a real Redis (``SkuStates``): a batch's states are loaded,
and its decisions committed, in one script call each on one Redis (a pipeline of one command
per SKU cost the client about three times the CPU, docs/profiling.md); on a Redis Cluster,
where each SKU's state is a slot of its own, one command per SKU, pipelined. Either way each
SKU's state reads back as committed, and a commit against a moved version is refused."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from notifier.adapters.state import COMMIT_MANY, LOAD_MANY, Commit, SkuStates
from notifier.domain.crossings import SkuState
from stocksync_common.redis_client import is_cluster
from support.recording_redis import Recording

pytestmark = pytest.mark.integration


async def states_on(redis: Redis) -> tuple[SkuStates, Recording]:
    """States whose scripts are already in Redis's cache (a first call answered NOSCRIPT is
    sent again once loaded: two calls, not what these tests count), recording what is sent."""
    for script in (LOAD_MANY, COMMIT_MANY):
        await redis.script_load(script)  # on a Redis Cluster: on every node
    states = SkuStates(redis, prefix=f"nt-{uuid.uuid4().hex[:8]}")
    recording = Recording(redis)
    states.redis = recording  # type: ignore[assignment]
    return states, recording


async def test_a_batch_is_loaded_and_committed_in_one_script_call_each(redis: Redis) -> None:
    states, recording = await states_on(redis)
    skus = [f"S{n}" for n in range(30)]

    loaded = await states.load_many(skus)
    assert loaded == {sku: SkuState() for sku in skus}
    commits = [
        Commit(sku, 0, SkuState(version=n + 1, below={"low": n % 2 == 0}), n % 3 == 0)
        for n, sku in enumerate(skus)
    ]
    assert await states.commit_many(commits) == [True] * len(skus)

    per_sku = is_cluster(redis)
    assert recording.sent == (["HMGET"] * 30 + ["EVALSHA"] * 30 if per_sku else ["EVALSHA"] * 2)
    again = await states.load_many(skus)
    for n, sku in enumerate(skus):
        done = n + 1 if n % 3 == 0 else 0
        assert again[sku] == SkuState(version=n + 1, below={"low": n % 2 == 0}, done=done)


async def test_a_commit_against_a_moved_version_is_refused_and_the_others_go_through(
    redis: Redis,
) -> None:
    states, _ = await states_on(redis)
    await states.commit_many([Commit("A", 0, SkuState(version=5), True)])
    results = await states.commit_many(
        [Commit("A", 3, SkuState(version=6), True), Commit("B", 0, SkuState(version=2), False)]
    )
    assert results == [False, True]
    loaded = await states.load_many(["A", "B"])
    assert (loaded["A"].version, loaded["A"].done) == (5, 5)
    assert (loaded["B"].version, loaded["B"].done) == (2, 0)
