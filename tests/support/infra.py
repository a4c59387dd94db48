"""Where the real Kafka and Redis for integration tests are (started by scripts/test.sh)."""

from __future__ import annotations

import os
import socket

import pytest
import redis
from redis.cluster import RedisCluster

from stocksync_common.redis_client import cluster_url

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


def sync_redis(url: str) -> redis.Redis | RedisCluster:
    """A blocking client for a test's own look at Redis: redis-py's cluster client for a
    ``redis+cluster://`` URL (it reaches every master), its plain one otherwise."""
    node = cluster_url(url)
    if node is not None:
        return RedisCluster.from_url(node)
    return redis.Redis.from_url(url)


def own_database_url(db: int) -> str:
    """A Redis URL for a test module's own database: ``db`` on one Redis; on a cluster the
    one database there is (ADR 0029), which the module empties as it would its own."""
    return REDIS if REDIS_CLUSTER else f"redis://{redis_host_port()}/{db}"


# A bench of one Redis (a database of its own on it): on a Redis Cluster its tests are
# skipped, by this name (scripts/test.sh says so). Only the knee runs on a cluster
# (bench.knee --redis-url redis+cluster://...; its ceiling stays on one node).
one_redis_bench = pytest.mark.skipif(
    REDIS_CLUSTER,
    reason="a bench of one Redis (its own database there); the knee alone runs on a cluster",
)
