"""The running system: simulators and six services as processes, on real Kafka and Redis."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack import SERVICES, Ports, Stack
from support.directory_scope import closed_after
from support.infra import KAFKA, PORT_SHIFT, own_database_url, redis_host_port, sync_redis

E2E_REDIS_DB = 3


@pytest.fixture(scope="session")
def stack(topics: list[str], redis_url: str, state_dir: Path) -> Iterator[Stack]:
    ports = dataclasses.replace(
        Ports().shifted(10000 + PORT_SHIFT),
        kafka=int(KAFKA.rpartition(":")[2]),
        redis=int(redis_host_port().rpartition(":")[2]),
    )
    # each test run's own state dir (scripts/test.sh sets it), so concurrent runs never share logs
    base = Path(os.environ.get("STOCKSYNC_TEST_STATE_DIR") or state_dir)
    # Every process exports its spans as JSON lines here (tests/e2e/test_tracing.py reads
    # them): one stack for all e2e tests, since two stacks on one broker would share groups.
    spans = base / "e2e" / "spans"
    # A Redis database of its own, emptied first: what integration tests left in database 0
    # (thousands of SKUs of truth) never shows up in the e2e stack's pages and reports.
    # On a Redis Cluster, database 0 only (ADR 0029): every master emptied, this run's own.
    e2e_redis = own_database_url(E2E_REDIS_DB)
    with sync_redis(e2e_redis) as client:
        client.flushdb()
    env = {
        "STOCKSYNC_TOPIC_PARTITIONS": "6",
        "STOCKSYNC_OTEL_EXPORTER": f"jsonl:{spans}",
        "STOCKSYNC_REDIS_URL": e2e_redis,
    }
    s = Stack(ports, base / "e2e", extra_env=env)
    with closed_after(Path(__file__).parent) as exits:  # stopped after the last e2e test
        exits.callback(s.stop)
        s.start()
        try:
            s.wait_healthy(90)
            s.wait_healthy(60, path="/readyz", names=SERVICES)
        except BaseException:
            for name in s.procs:
                print(f"--- {name} ---\n{s.tail(name)}")  # noqa: T201 - shown on failure
            raise
        yield s


@pytest.fixture(scope="session")
def spans_dir(stack: Stack) -> Path:
    """Where the e2e stack's processes write their spans (one JSON object per line)."""
    path = stack.extra_env["STOCKSYNC_OTEL_EXPORTER"].removeprefix("jsonl:")
    return Path(path)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain HTTP client for the e2e tests' calls to the services and simulators."""
    with httpx.Client(timeout=10) as client:
        yield client
