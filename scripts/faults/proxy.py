"""An asyncio TCP proxy whose routes can be broken on command, with an HTTP control API.

Each route listens on a port and forwards to an upstream. Modes:

- ``pass``: forward both ways;
- ``latency``: forward, each chunk delayed ``latency_ms``;
- ``drop``: accept, then close at once (a clean FIN);
- ``reset``: accept, then abort with an RST (SO_LINGER 0);
- ``blackhole``: accept and read, never forward, never answer.

Switching a route to ``drop``/``reset`` severs its open connections the same way;
``blackhole`` stalls them (a partition: bytes wait, and flow again intact on heal).
Counters per route prove each injector fired. Control API (JSON, one request per connection):

    GET  /routes                 -> {name: {listen, upstream, mode, latency_ms, counters}}
    POST /routes/<name>          {"mode": "reset", "latency_ms": 0} -> the route
    POST /heal                   every route back to ``pass``

Run: ``python -m faults.proxy --control PORT --route NAME=LISTEN:HOST:PORT ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, cast

Mode = Literal["pass", "latency", "drop", "reset", "blackhole"]
MODES: tuple[Mode, ...] = ("pass", "latency", "drop", "reset", "blackhole")
CHUNK = 65536


@dataclass(eq=False)
class Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    peer: asyncio.StreamWriter | None = None


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class Route:
    name: str
    listen: int
    upstream_host: str
    upstream_port: int
    mode: Mode = "pass"
    latency_ms: float = 0.0
    counters: Counter[str] = field(default_factory=Counter)
    conns: set[Conn] = field(default_factory=set)
    flowing: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.flowing.set()

    def to_json(self) -> dict[str, Any]:
        return {
            "listen": self.listen,
            "upstream": f"{self.upstream_host}:{self.upstream_port}",
            "mode": self.mode,
            "latency_ms": self.latency_ms,
            "open": len(self.conns),
            "counters": dict(self.counters),
        }

    def set_mode(self, mode: Mode, latency_ms: float = 0.0) -> None:
        self.mode, self.latency_ms = mode, latency_ms
        self.counters[f"set_{mode}"] += 1
        if mode == "blackhole":
            self.flowing.clear()
        else:
            self.flowing.set()
        if mode in ("drop", "reset"):
            for conn in list(self.conns):
                self.counters[f"severed_{mode}"] += 1
                self.close(conn, rst=mode == "reset")

    def close(self, conn: Conn, *, rst: bool) -> None:
        self.conns.discard(conn)
        for w in (conn.writer, conn.peer):
            if w is None:
                continue
            if rst:
                reset(w)
            else:
                w.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counters["accepted"] += 1
        conn = Conn(reader, writer)
        if self.mode == "drop":
            self.counters["dropped"] += 1
            writer.close()
            return
        if self.mode == "reset":
            self.counters["reset"] += 1
            reset(writer)
            return
        self.conns.add(conn)
        try:
            if self.mode == "blackhole":
                self.counters["blackholed"] += 1
                await self.swallow(reader)
                return
            try:
                up_r, up_w = await asyncio.open_connection(self.upstream_host, self.upstream_port)
            except OSError:
                self.counters["upstream_refused"] += 1
                writer.close()
                return
            conn.peer = up_w
            self.counters["forwarded"] += 1
            await asyncio.gather(self.pump(reader, up_w, "up"), self.pump(up_r, writer, "down"))
        finally:
            self.close(conn, rst=False)

    async def swallow(self, reader: asyncio.StreamReader) -> None:
        while await reader.read(CHUNK):
            self.counters["bytes_blackholed"] += 1

    async def pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, way: str) -> None:
        try:
            while data := await src.read(CHUNK):
                if not self.flowing.is_set():
                    self.counters["stalled"] += 1
                    await self.flowing.wait()
                if self.mode == "latency" and self.latency_ms > 0:
                    self.counters["delayed"] += 1
                    await asyncio.sleep(self.latency_ms / 1000.0)
                dst.write(data)
                await dst.drain()
                self.counters[f"bytes_{way}"] += len(data)
        except (ConnectionError, OSError):
            self.counters["conn_errors"] += 1
        finally:
            if not dst.is_closing():
                with contextlib.suppress(OSError, RuntimeError):
                    dst.write_eof()


@dataclass
class Proxy:
    routes: dict[str, Route]

    async def control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body = await self.answer(reader)
        except (ValueError, KeyError) as exc:
            status, body = 400, {"error": str(exc)}
        data = json.dumps(body).encode()
        head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode() + data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def answer(self, reader: asyncio.StreamReader) -> tuple[int, Any]:
        method, path, _ = (await reader.readline()).decode().split(" ", 2)
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        raw = await reader.readexactly(length) if length else b"{}"
        if method == "GET" and path == "/routes":
            return 200, {name: r.to_json() for name, r in self.routes.items()}
        if method == "POST" and path == "/heal":
            for each in self.routes.values():
                each.set_mode("pass")
            return 200, {"healed": sorted(self.routes)}
        if method == "POST" and path.startswith("/routes/"):
            route = self.routes.get(path.removeprefix("/routes/"))
            if route is None:
                return 404, {"error": f"no route {path}"}
            doc = json.loads(raw)
            mode = doc.get("mode", "pass")
            if mode not in MODES:
                raise ValueError(f"mode must be one of {MODES}")
            route.set_mode(cast(Mode, mode), float(doc.get("latency_ms", 0.0)))
            return 200, route.to_json()
        return 404, {"error": "not found"}


def parse_route(spec: str) -> Route:
    """``NAME=LISTEN:HOST:PORT``."""
    name, _, rest = spec.partition("=")
    listen, host, port = rest.split(":")
    return Route(name, int(listen), host, int(port))


async def serve(control_port: int, routes: list[Route], host: str = "127.0.0.1") -> None:
    proxy = Proxy({r.name: r for r in routes})
    servers = [await asyncio.start_server(proxy.control, host, control_port)]
    for route in routes:
        servers.append(await asyncio.start_server(route.handle, host, route.listen))
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--control", type=int, required=True, help="control API port")
    parser.add_argument("--route", action="append", default=[], help="NAME=LISTEN:HOST:PORT")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.control, [parse_route(s) for s in args.route]))


if __name__ == "__main__":
    main()
