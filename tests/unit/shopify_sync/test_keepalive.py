"""A quiet store keeps its connection: a write after a minute without traffic reuses the
pooled connection instead of opening a new one (against real Shopify, a new TLS handshake
before the write). The pool's clock is moved on instead of waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import pytest

import stocksync_common.http1 as http1
from shopify_sync.bootstrap import http_client
from shopify_sync.settings import Settings

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    # the pool's keep-alive clock is the ``time`` module the lean transport imports
    monkeypatch.setattr(http1, "time", SimpleNamespace(monotonic=fake.monotonic))
    yield fake


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[int]]]:
    """An HTTP/1.1 server on a local port that counts the connections it accepted."""
    accepted: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield f"http://127.0.0.1:{port}/", accepted


async def writes_a_minute_apart(settings: Settings, url: str, clock: Clock) -> None:
    async with http_client(settings) as http:
        assert (await http.get(url)).text == "ok"
        clock.now += 60.0
        assert (await http.get(url)).text == "ok"


async def test_a_write_after_a_quiet_minute_reuses_the_connection(
    server: tuple[str, list[int]], clock: Clock
) -> None:
    url, accepted = server
    await writes_a_minute_apart(Settings(stores_file="unused.yaml"), url, clock)
    assert len(accepted) == 1


async def test_with_httpx_default_keepalive_the_second_write_reconnects(
    server: tuple[str, list[int]], clock: Clock
) -> None:
    """The rig sees the difference: with httpx's 5 s a quiet minute costs a new connection."""
    url, accepted = server
    await writes_a_minute_apart(Settings(stores_file="unused.yaml", keepalive_s=5.0), url, clock)
    assert len(accepted) == 2
