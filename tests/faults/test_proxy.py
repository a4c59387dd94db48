"""The fault proxy on its own: each mode does what it says and its counters prove it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from faults.proxy import Route, serve

from support.infra import PORT_SHIFT

pytestmark = pytest.mark.faults

UPSTREAM, LISTEN, CONTROL = 32140 + PORT_SHIFT, 32141 + PORT_SHIFT, 32142 + PORT_SHIFT


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def route() -> AsyncIterator[Route]:
    upstream = await asyncio.start_server(_echo, "127.0.0.1", UPSTREAM)
    r = Route("echo", LISTEN, "127.0.0.1", UPSTREAM)
    task = asyncio.create_task(serve(CONTROL, [r]))
    for _ in range(200):  # until the proxy listens and has finished with the probe
        with contextlib.suppress(OSError):
            if not r.counters["accepted"]:
                _, w = await asyncio.open_connection("127.0.0.1", LISTEN)
                w.close()
        if r.counters["accepted"] and not r.conns:
            break
        await asyncio.sleep(0.02)
    r.counters.clear()
    yield r
    r.set_mode("drop")  # closes what is still open before the server goes
    await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    upstream.close()
    await upstream.wait_closed()


async def _roundtrip(payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", LISTEN)
    try:
        if payload:
            writer.write(payload)
            await writer.drain()
        return await asyncio.wait_for(reader.read(1024), 2)
    finally:
        writer.close()


async def test_pass_and_latency_forward_both_ways(route: Route) -> None:
    assert await _roundtrip(b"ping") == b"ping"
    route.set_mode("latency", 20)
    assert await _roundtrip(b"slow") == b"slow"
    assert route.counters["forwarded"] == 2
    assert route.counters["delayed"] >= 1


async def test_drop_closes_and_reset_sends_rst(route: Route) -> None:
    route.set_mode("drop")
    assert await _roundtrip(b"") == b""  # end of stream, nothing forwarded
    route.set_mode("reset")
    with pytest.raises(ConnectionResetError):
        await _roundtrip(b"x")
    assert route.counters["dropped"] == 1
    assert route.counters["reset"] == 1


async def test_reset_severs_open_connections(route: Route) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", LISTEN)
    writer.write(b"a")
    assert await asyncio.wait_for(reader.read(10), 2) == b"a"
    route.set_mode("reset")
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(10), 2)
    writer.close()
    assert route.counters["severed_reset"] == 1


async def test_blackhole_stalls_open_connections_and_heal_delivers_intact(route: Route) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", LISTEN)
    writer.write(b"a")
    assert await asyncio.wait_for(reader.read(10), 2) == b"a"
    route.set_mode("blackhole")
    writer.write(b"held")
    await writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(10), 0.3)
    route.set_mode("pass")
    assert await asyncio.wait_for(reader.read(10), 2) == b"held"
    writer.close()
    assert route.counters["stalled"] >= 1
