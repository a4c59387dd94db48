"""The running system: simulators and six services as processes, on real Kafka and Redis."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack import SERVICES, Ports, Stack
from support.infra import KAFKA, PORT_SHIFT, redis_host_port


@pytest.fixture(scope="session")
def stack(topics: list[str], redis_url: str, state_dir: Path) -> Iterator[Stack]:
    ports = dataclasses.replace(
        Ports().shifted(10000 + PORT_SHIFT),
        kafka=int(KAFKA.rpartition(":")[2]),
        redis=int(redis_host_port().rpartition(":")[2]),
    )
    s = Stack(ports, state_dir / "e2e", extra_env={"STOCKSYNC_TOPIC_PARTITIONS": "6"})
    s.start()
    try:
        s.wait_healthy(90)
        s.wait_healthy(60, path="/readyz", names=SERVICES)
        yield s
    except BaseException:
        for name in s.procs:
            print(f"--- {name} ---\n{s.tail(name)}")  # noqa: T201 - shown on failure
        raise
    finally:
        s.stop()
