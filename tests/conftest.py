"""Shared fixtures. Integration and e2e tests talk to the real Kafka and Redis only."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from redis.asyncio import Redis

from stocksync_common.redis_client import connect
from stocksync_common.topics import create_topics
from support import directory_scope
from support.infra import KAFKA, REDIS, redis_host_port, require

ROOT = Path(__file__).resolve().parents[1]

# No per-example deadline: a property test checks behaviour, never speed, and a loaded
# machine (CI beside other jobs) must not turn a slow example into a failure.
settings.register_profile("stocksync", deadline=None)
settings.load_profile("stocksync")


def pytest_collection_finish(session: pytest.Session) -> None:
    directory_scope.note_collected(session.items)
    # What collection built (modules, classes, schemas, the test items) lives to the end:
    # out of every later collection, which then walks only what the tests allocate. With
    # CPython's thresholds a full collection walked all of it about twice a second, about
    # 140 ms each here (a quarter of an integration run's time). Rarer full collections as in
    # the services (settings.gc_thresholds, stocksync_common.gc_tuning).
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 50)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After the test's own teardown: a directory whose last test this was closes the
    session fixtures it registered (``support.directory_scope``)."""
    try:
        return (yield)
    finally:
        directory_scope.close_finished(item)


@pytest.fixture(scope="module", autouse=True)
def _collect_garbage_after_module(request: pytest.FixtureRequest) -> Iterator[None]:
    """A full collection after each module that talks to real infrastructure, so a Kafka or
    Redis client its tests left unclosed is reported (strict warnings: an error) in that
    module's last test, not in whichever later test the collector happens to run in. CI saw
    "Unclosed AIOKafkaConnection" fail two shopify_sync tests that open no such client; a
    collection after every test doubles the suite's time, one per module costs little."""
    yield
    if "unit" not in request.path.relative_to(ROOT).parts:
        gc.collect()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    require(KAFKA, "Kafka")
    return KAFKA


@pytest.fixture(scope="session")
def redis_url() -> str:
    require(redis_host_port(), "Redis")
    return REDIS


@pytest.fixture(scope="session")
async def topics(kafka_bootstrap: str) -> list[str]:
    return await create_topics(kafka_bootstrap, partitions=6, replication=1)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(redis_url)  # a redis+cluster:// URL: the cluster client (ADR 0029)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def state_dir() -> Iterator[Path]:
    path = ROOT / ".work" / "test" / "pytest"
    path.mkdir(parents=True, exist_ok=True)
    yield path
