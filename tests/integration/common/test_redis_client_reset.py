"""A pooled Redis connection whose peer reset it, on the real redis-server under uvloop (the
services' loop): the next command goes out on a fresh connection instead of failing with
uvloop's RuntimeError. The fault suite's Redis partition found the failure."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
import uvloop
from redis.asyncio import Redis
from redis.cluster import RedisCluster

from stocksync_common.redis_client import cluster_url, connect, connect_bounded
from support.infra import sync_redis

pytestmark = pytest.mark.integration
KEY = "stocksync:test:reset"


class Forwarder:
    """A TCP forwarder to redis-server that can reset every connection it carries."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.client_socks: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.client_socks.append(writer)
        up_reader, up_writer = await asyncio.open_connection(*self.target)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def reset_all(self) -> None:
        """Close every carried connection with an RST (SO_LINGER 0), as the fault proxy does."""
        for writer in self.client_socks:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                linger = struct.pack("ii", 1, 0)
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            writer.transport.abort()
        self.client_socks.clear()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.reset_all()
            await self.server.wait_closed()


async def _pooled_transport_closed(client: Redis, deadline_s: float = 5.0) -> None:
    """Wait until the idle pooled connection's transport saw the reset."""
    pool: Any = client.connection_pool
    conns = list(getattr(pool, "_available_connections", []))
    assert conns, "the ping left no idle pooled connection"
    t0 = time.monotonic()
    while not all(c._writer is None or c._writer.transport.is_closing() for c in conns):
        assert time.monotonic() - t0 < deadline_s, "the reset never reached the client"
        await asyncio.sleep(0.01)


async def _after_reset(make: Callable[[str], Redis], target: tuple[str, int]) -> Any:
    """Ping once, reset the connection under the client, then SET: its result or error."""
    fwd = Forwarder(target)
    await fwd.start()
    client = make(f"redis://127.0.0.1:{fwd.port}/0")
    try:
        assert await client.ping()
        fwd.reset_all()
        await _pooled_transport_closed(client)
        try:
            return await client.set(KEY, "1")
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            return exc
    finally:
        await client.aclose()
        await fwd.stop()


def _run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    return uvloop.run(coro_fn())  # type: ignore[arg-type]


def _target(redis_url: str) -> tuple[str, int]:
    """The redis-server the forwarder carries to. What is under test is the connection class
    (the cluster client discovers its nodes' own addresses, which no forwarder sits on), so
    the clients here are single-node ones, and on a Redis Cluster they talk to the master that
    serves ``KEY``'s slot (the URL's node may be a replica after a failover: MOVED)."""
    if cluster_url(redis_url) is not None:
        with sync_redis(redis_url) as cluster:
            node = cast(RedisCluster, cluster).get_node_from_key(KEY)
        return node.host, node.port
    parts = urlsplit(redis_url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def test_plain_redis_py_under_uvloop_fails_on_a_reset_connection(redis_url: str) -> None:
    """The control: without the connection class the failure is real (else this test file
    proves nothing). The plain ``Redis.from_url`` client is the point here, not an oversight."""
    outcome = _run(lambda: _after_reset(Redis.from_url, _target(redis_url)))
    assert isinstance(outcome, RuntimeError), outcome


def test_connect_retries_on_a_fresh_connection_after_a_reset(redis_url: str) -> None:
    outcome = _run(lambda: _after_reset(connect, _target(redis_url)))
    assert outcome is True


def test_the_bounded_pool_also_retries_after_a_reset(redis_url: str) -> None:
    outcome = _run(
        lambda: _after_reset(
            lambda url: connect_bounded(url, max_connections=4, timeout_s=2.0), _target(redis_url)
        )
    )
    assert outcome is True


def test_a_cluster_client_builds_every_node_connection_resetsafe(redis_url: str) -> None:
    """redis-py's cluster client takes no connection class: without ours its connections
    met the same closed writes unguarded (the cluster suite's one failure of 2026-12-07, an
    ``AttributeError`` on a writer another task had closed while the connection was set up)."""
    if cluster_url(redis_url) is None:
        pytest.skip("the cluster client only: single-node clients are covered above")

    async def classes() -> set[str]:
        client = connect(redis_url)
        try:
            for n in range(20):  # keys over several slots: connections to every master
                await client.set(f"{KEY}:{n}", "1")
            cluster = cast(Any, client)
            return {
                type(conn).__name__ for node in cluster.get_nodes() for conn in node._connections
            }
        finally:
            await client.aclose()

    assert _run(classes) == {"ResetSafeConnection"}
