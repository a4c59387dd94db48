"""Which errors mean "Redis did not answer" (``unanswered``) and "Redis failed the call"
(``redis_failed``), on one Redis and on a Redis Cluster, and that a call the cluster client
refused before sending it counts as neither (docs/decisions/0029-redis-cluster.md)."""

from __future__ import annotations

from typing import Any

import pytest
from redis import exceptions as rex
from redis.exceptions import ConnectionError as RedisConnectionError

from stocksync_common.redis_client import (
    REDIS_ERRORS,
    _send_resetsafe,
    redis_failed,
    redis_failures_suppressed,
    unanswered,
)
from support.redis_errors import cluster_refusal, cluster_unreachable


def not_a_cluster() -> rex.RedisClusterException:
    """A seed node that answers but is no cluster member: a deployment error, not an outage."""
    exc = rex.RedisClusterException("Redis Cluster cannot be connected. Please provide ...")
    exc.__cause__ = rex.RedisClusterException("Cluster mode is not enabled on this node")
    return exc


def copied(exc: BaseException) -> BaseException:
    """The webhook ledger's copy of a shared batch error (``type(exc)(*args)``, caused by it)."""
    copy = type(exc)(*exc.args)
    copy.__cause__ = exc
    return copy


NO_ANSWER = [
    rex.ConnectionError("refused"),
    rex.TimeoutError("slow"),
    rex.BusyLoadingError("LOADING"),
    rex.ClusterDownError("CLUSTERDOWN"),
    rex.MasterDownError("MASTERDOWN"),
    rex.TryAgainError("TRYAGAIN"),
    rex.SlotNotCoveredError('Slot "7" is not covered by the cluster.'),
    rex.RedisClusterException("All slots are not covered after query all startup_nodes."),
    cluster_unreachable(),
    copied(cluster_unreachable()),
    ConnectionResetError(),
]
ERROR_REPLIES = [rex.ResponseError("ERR"), rex.NoScriptError("NOSCRIPT"), rex.ReadOnlyError("RO")]
REFUSED = [cluster_refusal(), copied(cluster_refusal()), not_a_cluster()]


@pytest.mark.parametrize("exc", NO_ANSWER, ids=lambda e: type(e).__name__)
def test_no_answer_on_either_client(exc: BaseException) -> None:
    assert unanswered(exc) and redis_failed(exc)


@pytest.mark.parametrize("exc", ERROR_REPLIES, ids=lambda e: type(e).__name__)
def test_an_error_reply_is_a_failure_but_an_answer(exc: BaseException) -> None:
    assert redis_failed(exc) and not unanswered(exc)


@pytest.mark.parametrize("exc", [*REFUSED, ValueError("bug")], ids=str)
def test_a_call_the_client_refused_is_neither(exc: BaseException) -> None:
    assert not unanswered(exc) and not redis_failed(exc)


def test_every_cluster_error_is_caught_by_redis_errors() -> None:
    for exc in [*NO_ANSWER[:-1], *ERROR_REPLIES, *REFUSED]:  # all but the builtin OSError
        assert isinstance(exc, REDIS_ERRORS)


def test_suppressing_failures_keeps_a_refusal_loud() -> None:
    with redis_failures_suppressed():
        raise cluster_unreachable()
    with redis_failures_suppressed():
        raise rex.ResponseError("OOM command not allowed")
    with pytest.raises(rex.RedisClusterException), redis_failures_suppressed():
        raise cluster_refusal()


class _Sends:
    """A connection's raw send: fails with each of ``errors`` in turn, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self, command: Any, check_health: bool) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


WRITER_GONE = AttributeError("'NoneType' object has no attribute 'writelines'")
CLOSED = RuntimeError("unable to perform operation on <TCPTransport closed=True>")


@pytest.mark.parametrize("error", [WRITER_GONE, CLOSED], ids=["writer-gone", "uvloop-closed"])
async def test_a_write_refused_before_a_byte_went_out_is_sent_once_more(error: Exception) -> None:
    send = _Sends(error)
    await _send_resetsafe(send, b"PING", True)
    assert send.calls == 2
    twice = _Sends(error, error)
    with pytest.raises(RedisConnectionError, match="write to a closed connection"):
        await _send_resetsafe(twice, b"PING", True)
    assert twice.calls == 2


async def test_other_attribute_errors_are_not_taken_for_a_closed_connection() -> None:
    send = _Sends(AttributeError("'Connection' object has no attribute 'bogus'"))
    with pytest.raises(AttributeError, match="bogus"):
        await _send_resetsafe(send, b"PING", True)
    assert send.calls == 1
