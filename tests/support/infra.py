"""Where the real Kafka and Redis for integration tests are (started by scripts/test.sh)."""

from __future__ import annotations

import os
import socket

import pytest

KAFKA = os.environ.get("STOCKSYNC_TEST_KAFKA", "127.0.0.1:19092")
REDIS = os.environ.get("STOCKSYNC_TEST_REDIS", "redis://127.0.0.1:16379/0")
# A redis+cluster:// URL runs the Redis-facing tests on a Redis Cluster (ADR 0029).
REDIS_CLUSTER = REDIS.partition("://")[0].endswith("+cluster")
# Added to every port a test stack listens on, so that several test runs can share a machine
# (each with its own Kafka and Redis) without their service ports colliding.
PORT_SHIFT = int(os.environ.get("STOCKSYNC_TEST_PORT_SHIFT", "0"))


def require(host_port: str, what: str) -> None:
    host, _, port = host_port.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        pytest.fail(
            f"{what} is not reachable at {host_port}: run the tests with scripts/test.sh, "
            "which starts the real broker and Redis",
            pytrace=False,
        )


def redis_host_port() -> str:
    rest = REDIS.split("//", 1)[1]
    return rest.split("/", 1)[0]
