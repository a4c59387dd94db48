"""Retry topics: where a transient failure waits before its group tries the record again.

A record that failed with a transient error is copied to ``<topic>.retry.<group>`` with its
original key, value and headers plus three of ours: the attempt number, the time before which
it must not be retried (epoch ms) and where it came from. After the last delay it goes to
``<topic>.dlq.<group>`` instead. Only the failing group reads its retry topic, so a retry never
re-runs another group's handler.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from stocksync_common.redis_client import unanswered
from stocksync_common.topics import retry_topic

ATTEMPT = "x-stocksync-attempt"
NOT_BEFORE = "x-stocksync-not-before"
ORIGIN = "x-stocksync-origin"
REPLAY_OF = "x-stocksync-replay-of"
OURS = frozenset({ATTEMPT, NOT_BEFORE, ORIGIN})
RETRY_MARK = ".retry."


class DependencyUnavailable(Exception):  # noqa: N818 - the domain's word for it
    """Raised (or wrapped) by a handler when a dependency it needs is down.

    The record is retried like any transient failure and, if the dependency stays down, lands
    in the DLQ with reason ``dependency:<name>``; it is replayed automatically once the
    dependency's health check passes again."""

    def __init__(self, name: str, detail: str = "") -> None:
        super().__init__(f"{name} unavailable{': ' + detail if detail else ''}")
        self.name = name


@dataclass(frozen=True)
class Origin:
    """Where a record was first consumed: the DLQ record names this, not the retry copy."""

    topic: str
    partition: int
    offset: int

    def header(self) -> bytes:
        return f"{self.partition}:{self.offset}:{self.topic}".encode()

    @classmethod
    def parse(cls, raw: bytes) -> Origin:
        partition, offset, topic = raw.decode().split(":", 2)
        return cls(topic, int(partition), int(offset))


@dataclass(frozen=True)
class RetrySchedule:
    """Delays before each retry through the retry topic (attempt 1 is the first failure)."""

    delays_s: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)

    def delay_after(self, attempts: int) -> float | None:
        """Seconds to wait after ``attempts`` failed tries, or None: dead-letter it."""
        if attempts < 1 or attempts > len(self.delays_s):
            return None
        return self.delays_s[attempts - 1]


def is_retry_topic(topic: str) -> bool:
    return RETRY_MARK in topic


def header(headers: Sequence[tuple[str, bytes]], name: str) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def attempts_of(headers: Sequence[tuple[str, bytes]]) -> int:
    """Failed tries so far; 0 for a record that never failed (or was replayed)."""
    raw = header(headers, ATTEMPT)
    return int(raw) if raw else 0


def not_before_ms(headers: Sequence[tuple[str, bytes]]) -> int:
    raw = header(headers, NOT_BEFORE)
    return int(raw) if raw else 0


def origin_of(
    topic: str, partition: int, offset: int, headers: Sequence[tuple[str, bytes]]
) -> Origin:
    raw = header(headers, ORIGIN)
    return Origin.parse(raw) if raw else Origin(topic, partition, offset)


def retry_headers(
    headers: Sequence[tuple[str, bytes]], origin: Origin, attempts: int, due_ms: int
) -> list[tuple[str, bytes]]:
    """The original headers (ours replaced) plus attempt, not-before and origin."""
    kept = [(k, v) for k, v in headers if k not in OURS]
    return [
        *kept,
        (ATTEMPT, str(attempts).encode()),
        (NOT_BEFORE, str(due_ms).encode()),
        (ORIGIN, origin.header()),
    ]


def retry_target(origin_topic: str, group: str) -> str:
    return retry_topic(origin_topic, group)


def now_ms() -> int:
    return int(time.time() * 1000)


def classify(exc: BaseException) -> str:
    """The DLQ reason for a transient failure that ran out of retries."""
    dep = exc if isinstance(exc, DependencyUnavailable) else None
    cause = exc.__cause__
    if dep is None and isinstance(cause, DependencyUnavailable):
        dep = cause
    if dep is not None:
        return f"dependency:{dep.name}"
    if _is_connection_error(exc):
        return f"dependency:{_guess_dependency(exc)}"
    return "exhausted"


def _is_connection_error(exc: BaseException) -> bool:
    """Builtin or library connection/timeout errors (redis' and aiokafka's are not builtins),
    and Redis not answering on a cluster too: a master lost and not yet replaced (CLUSTERDOWN,
    MASTERDOWN, TRYAGAIN), no node reachable (the cluster client's own error, not a
    ``RedisError``: docs/decisions/0029-redis-cluster.md)."""
    names = ("ConnectionError", "TimeoutError", "ClusterDownError", "MasterDownError",
             "TryAgainError")  # fmt: skip
    return (
        isinstance(exc, OSError)
        or any(c.__name__.endswith(names) for c in type(exc).__mro__)
        or unanswered(exc)
    )


def _guess_dependency(exc: BaseException) -> str:
    module = type(exc).__module__
    if module.startswith("redis"):
        return "redis"
    if module.startswith(("aiokafka", "kafka")):
        return "kafka"
    return "network"
