"""One way to open Redis for every service: bounded socket timeouts and a connection class
that survives a pooled socket the peer already reset.

Why the class: under uvloop (uvicorn's loop when installed), writing to a transport the
peer already reset raises ``RuntimeError("unable to perform operation on <TCPTransport
closed=True ...>")`` instead of an ``OSError``. redis-py drops the connection but passes the
``RuntimeError`` on, so callers that handle ``RedisError`` see an unexpected exception. The
fault suite's Redis partition found it: a shop's push lane died on one. Here the command is
sent again once on a fresh connection (uvloop refused before writing anything, so this
cannot run it twice); if that fails too, the caller gets a ``ConnectionError``. redis-py's
own retry stays off: after a lost reply a command may already have run.

Why the timeouts: without ``socket_timeout`` a black-holed Redis blocks a call forever.

TLS and ACL users come from the URL (``rediss://user:password@host:port/0``) and the CA file
(``STOCKSYNC_REDIS_CA_FILE``); the TLS connection gets the same resend-once behaviour. The
URL may be a ``SecretStr`` (settings keep it as one: the password lives in it).

Redis Cluster: a URL whose scheme ends in ``+cluster`` (``redis+cluster://host:port/0``,
``rediss+cluster://user:password@host:port/0``) opens redis-py's cluster client
(``redis.asyncio.cluster.RedisCluster``) on that node, which finds the others itself
(docs/decisions/0029-redis-cluster.md). The cluster client has the commands, pipelines and
scripts the services use, so it is handed out under the ``Redis`` type; its connections are
redis-py's own (the resend-once class above is not plugged in), and only database 0 exists.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection, SSLConnection, parse_url
from redis.commands.core import AsyncScript
from redis.exceptions import (
    ClusterDownError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, KeyT

from stocksync_common.settings import CommonSettings

DEFAULT_TIMEOUT_S = 10.0


def _closed_transport(exc: Exception) -> bool:
    """Whether ``exc`` is a write refused before a byte went out: a transport uvloop had
    closed (``RuntimeError``), or a connection another task disconnected between redis-py's
    "is it connected" check and its write (its writer already ``None``: an
    ``AttributeError``; seen with the cluster client while it set up a connection)."""
    text = str(exc)
    if isinstance(exc, AttributeError):
        return "'NoneType' object has no attribute 'writelines'" in text
    return "handler is closed" in text or "closed=True" in text


Send = Callable[[bytes | str | Iterable[bytes], bool], Awaitable[None]]


async def _send_resetsafe(
    send: Send, command: bytes | str | Iterable[bytes], check_health: bool
) -> None:
    if not isinstance(command, str | bytes):
        command = list(command)  # it may be sent twice
    try:
        await send(command, check_health)
        return
    except (RuntimeError, AttributeError) as exc:
        if not _closed_transport(exc):
            raise
        # refused before writing a byte; redis-py dropped the connection.
        first = exc
    try:
        await send(command, check_health)
    except (RuntimeError, AttributeError) as exc:
        if not _closed_transport(exc):
            raise
        raise RedisConnectionError(f"write to a closed connection: {exc}") from first


class ResetSafeConnection(Connection):
    """A TCP connection that resends a command once on a fresh socket when the pooled one
    was already closed under it (nothing was written, so resending cannot apply anything
    twice), and otherwise reports that as a ``ConnectionError``."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        await _send_resetsafe(super().send_packed_command, command, check_health)


class ResetSafeSSLConnection(SSLConnection):
    """:class:`ResetSafeConnection`'s behaviour over TLS (``rediss://``)."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        await _send_resetsafe(super().send_packed_command, command, check_health)


def _pool_options(
    url: str | SecretStr, ca_file: str | None, timeout_s: float | None
) -> dict[str, Any]:
    """The pool's keyword arguments for ``url``: the URL's own (host, db, user, password,
    TLS), our connection classes, the CA file for TLS, the timeouts."""
    text = url.get_secret_value() if isinstance(url, SecretStr) else url
    options: dict[str, Any] = {"connection_class": ResetSafeConnection}
    if timeout_s is not None:
        options["socket_timeout"] = timeout_s
        options["socket_connect_timeout"] = timeout_s
    options.update(parse_url(text))  # unix:// keeps redis-py's socket-file class
    if options["connection_class"] is SSLConnection:
        options["connection_class"] = ResetSafeSSLConnection
        if ca_file:
            options["ssl_ca_certs"] = ca_file
    return options


# Errors that mean Redis did not answer, on one node or a cluster. The cluster client's own
# are not all ``ConnectionError``s: no node reachable is a ``RedisClusterException`` (not
# even a ``RedisError``), a master lost and not yet replaced ``ClusterDownError`` or
# ``TryAgainError`` (docs/decisions/0029-redis-cluster.md). Catch with it, then ask
# :func:`unanswered`: the cluster client raises its base ``RedisClusterException`` for a call
# it refuses before sending too (keys in two slots, no key), which is a programming error.
UNANSWERED: tuple[type[Exception], ...] = (
    RedisConnectionError, RedisTimeoutError, ClusterDownError, TryAgainError,
    RedisClusterException, OSError,
)  # fmt: skip

# Every error redis-py raises of its own, on either client: an error reply, no answer, or a
# call the cluster client refused. Catch with it, then ask :func:`redis_failed`.
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, RedisClusterException)

# The cluster client's words when no node gave it the slots (the cause, when there is one,
# says why) or the nodes it reached do not serve every slot.
_NO_NODE_ANSWERED = ("Redis Cluster cannot be connected", "All slots are not covered")


def unanswered(exc: BaseException) -> bool:
    """Whether ``exc`` means Redis did not answer: one of :data:`UNANSWERED`, but of the
    cluster client's own ``RedisClusterException``s only a slot no node serves and no node
    reachable; not a call it refused before sending, nor a seed node that answered but is no
    cluster member ("Cluster mode is not enabled", the cause of its "cannot be connected")."""
    if isinstance(exc, SlotNotCoveredError):
        return True
    if isinstance(exc, RedisClusterException):
        if not str(exc).startswith(_NO_NODE_ANSWERED):
            return False
        return exc.__cause__ is None or unanswered(exc.__cause__)
    return isinstance(exc, UNANSWERED)


def redis_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is Redis failing a call (an error reply, or :func:`unanswered`), which
    a caller may answer with "try again later"; False for a call the cluster client refused
    before sending it, which must stay loud."""
    return isinstance(exc, RedisError) or unanswered(exc)


@contextlib.contextmanager
def redis_failures_suppressed() -> Iterator[None]:
    """``contextlib.suppress`` of :func:`redis_failed` errors (best-effort writes)."""
    try:
        yield
    except REDIS_ERRORS as exc:
        if not redis_failed(exc):
            raise


CLUSTER_SUFFIX = "+cluster"


def cluster_url(url: str | SecretStr) -> str | None:
    """The plain node URL of a ``redis+cluster://`` (or ``rediss+cluster://``) URL; None for
    a single-node URL."""
    text = url.get_secret_value() if isinstance(url, SecretStr) else url
    parts = urlsplit(text)
    if not parts.scheme.endswith(CLUSTER_SUFFIX):
        return None
    return urlunsplit(parts._replace(scheme=parts.scheme.removesuffix(CLUSTER_SUFFIX)))


def _connect_cluster(
    node_url: str, ca_file: str | None, timeout_s: float | None, max_connections: int | None
) -> Redis:
    """redis-py's cluster client, seeded with one node of the cluster."""
    options: dict[str, Any] = {}
    if timeout_s is not None:
        options.update(socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    if ca_file and node_url.startswith("rediss:"):
        options["ssl_ca_certs"] = ca_file
    if max_connections is not None:
        options["max_connections"] = max_connections
    cluster = RedisCluster.from_url(node_url, **options)
    # redis-py's cluster client takes no connection class: every node it creates later is
    # built from these keyword arguments, and the seed node exists already.
    safe = (
        ResetSafeSSLConnection
        if cluster.connection_kwargs.get("connection_class") is SSLConnection
        else ResetSafeConnection
    )
    cluster.connection_kwargs["connection_class"] = safe
    for node in cluster.nodes_manager.startup_nodes.values():
        node.connection_class = safe
    # The same command surface as Redis for everything the services call (ADR 0029).
    return cast(Redis, cluster)


def is_cluster(redis: Redis) -> bool:
    """Whether ``redis`` is the cluster client (:func:`connect` of a ``+cluster`` URL)."""
    return isinstance(redis, RedisCluster)


def connect(
    url: str | SecretStr, *, ca_file: str | None = None, timeout_s: float | None = DEFAULT_TIMEOUT_S
) -> Redis:
    """A client for ``url`` with redis-py's default (unbounded) pool; ``timeout_s=None``
    waits on the socket forever (bulk jobs whose scripts may run long)."""
    node_url = cluster_url(url)
    if node_url is not None:
        return _connect_cluster(node_url, ca_file, timeout_s, None)
    return Redis.from_pool(ConnectionPool(**_pool_options(url, ca_file, timeout_s)))


def connect_bounded(
    url: str | SecretStr, *, max_connections: int, timeout_s: float, ca_file: str | None = None
) -> Redis:
    """A client whose pool holds at most ``max_connections``: a burst waits up to
    ``timeout_s`` for a free one instead of failing or opening hundreds at once (on a
    cluster: at most ``max_connections`` per node)."""
    node_url = cluster_url(url)
    if node_url is not None:
        return _connect_cluster(node_url, ca_file, timeout_s, max_connections)
    pool = BlockingConnectionPool(
        **_pool_options(url, ca_file, timeout_s), max_connections=max_connections, timeout=timeout_s
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes both


def pipeline_evalsha(
    pipe: Pipeline, sha: str, keys: Sequence[KeyT], args: Sequence[EncodableT]
) -> None:
    """Queue an EVALSHA on a pipeline of either client: redis-py's cluster pipeline refuses
    ``evalsha()`` by name, but routes the raw command by its keys (which must share a slot)."""
    pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args)


async def run_script_many(
    redis: Redis, script: AsyncScript, calls: Sequence[tuple[Sequence[KeyT], Sequence[Any]]]
) -> list[Any]:
    """Each ``(keys, args)`` call of ``script`` in one pipeline, on either client (the
    cluster pipeline refuses ``Script(client=pipe)``); the calls Redis answered NOSCRIPT (so
    did not run) run once more after the script is loaded. The first error reply is raised."""

    async def run(todo: Sequence[tuple[Sequence[KeyT], Sequence[Any]]]) -> list[Any]:
        pipe = redis.pipeline(transaction=False)
        for keys, args in todo:
            pipeline_evalsha(pipe, script.sha, keys, args)
        return list(await pipe.execute(raise_on_error=False))

    results = await run(calls) if calls else []
    missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
    if missing:
        await redis.script_load(script.script)
        for i, reply in zip(missing, await run([calls[i] for i in missing]), strict=True):
            results[i] = reply
    for reply in results:
        if isinstance(reply, Exception):
            raise reply
    return results


def merged_calls(
    calls: Sequence[tuple[Sequence[KeyT], Sequence[Any]]], most: int
) -> list[tuple[list[KeyT], list[Any]]]:
    """Per-item calls of a script that loops over its items, merged into calls of up to
    ``most`` items each, keys and arguments concatenated in order. For one Redis only: a
    Redis Cluster needs every key of a call in one slot. One call for many items costs the
    client a fraction of a pipeline of one command per item (docs/profiling.md, sixteenth
    session); ``most`` bounds how long one call holds Redis."""
    return [
        ([k for keys, _ in part for k in keys], [a for _, args in part for a in args])
        for part in (calls[start : start + most] for start in range(0, len(calls), most))
    ]


def connect_settings(
    settings: CommonSettings, *, timeout_s: float | None = DEFAULT_TIMEOUT_S
) -> Redis:
    """:func:`connect` to the settings' Redis (``STOCKSYNC_REDIS_URL``, its CA file)."""
    return connect(settings.redis_url, ca_file=settings.redis_ca_file, timeout_s=timeout_s)
