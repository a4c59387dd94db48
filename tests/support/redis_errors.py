"""The errors redis-py's cluster client raises of its own (``RedisClusterException``, not a
``RedisError``), built without a cluster for unit tests (docs/decisions/0029-redis-cluster.md)."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException

# A call the client refuses before sending it: a programming error, never "Redis is down".
CROSS_SLOT = "EVALSHA - all keys must map to the same key slot"


def cluster_unreachable() -> RedisClusterException:
    """What the cluster client raises when no node of the cluster answers (its words, and the
    last node's connection error as the cause)."""
    exc = RedisClusterException(
        "Redis Cluster cannot be connected. Please provide at least one reachable node: "
        "Error 111 connecting to 127.0.0.1:7001. Connect call failed ('127.0.0.1', 7001)."
    )
    exc.__cause__ = RedisConnectionError("Error 111 connecting to 127.0.0.1:7001.")
    return exc


def cluster_refusal() -> RedisClusterException:
    return RedisClusterException(CROSS_SLOT)
