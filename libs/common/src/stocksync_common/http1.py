"""A lean HTTP/1.1 transport for httpx: the same client, a tenth of the CPU per request.

httpx's default transport (httpcore over anyio) costs about 350 us of CPU per request on this
project's 2-core machine; the client layer above it (URLs, headers, auth, decoding, timeouts,
the exception types every caller catches) about 90 us. This transport keeps the client layer
and speaks HTTP/1.1 itself over asyncio streams, about 40 us a request (docs/decisions/0036).
Callers keep ``httpx.AsyncClient``; only how it reaches the network changes, so every test
that hands a client its own transport is unaffected.

What it does: keep-alive connections per origin (scheme, host, port), at most
``max_connections`` in use per origin and idle ones dropped after ``keepalive_expiry``; TLS
with the system's CAs (or a given context) and SNI; request bodies sent with their length (a
streamed body is read first); responses framed by ``Content-Length``, ``chunked`` or the end of
the connection, interim 1xx responses skipped; httpx's timeouts (connect, read, write and pool,
each per operation as httpx defines them) and its exception types. A request written to a
reused connection that the server had already closed (not one byte of a response came back)
is sent once more on a new connection, as browsers and urllib3 do: the server never read it.

Not supported: HTTP/2, upgrades, waiting for ``100 Continue`` before the body, streaming a
response (a body is read whole before the response is returned; ``max_body`` bounds it if
given, none by default as with httpx's own transport). Proxies: httpx still mounts its own
transport for the proxy environment variables, so a proxied URL takes httpx's usual path.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

MAX_HEAD = 64 * 1024  # a response's status line and headers
CHUNK = 64 * 1024  # a long body is read this much per read (each read its own timeout)
DEFAULT_PORTS = {b"http": 80, b"https": 443}

T = TypeVar("T")
Origin = tuple[bytes, bytes, int]


class _ClosedBeforeResponse(Exception):  # noqa: N818 - control flow inside the transport
    """The connection ended before the first byte of a response."""


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def fresh(self, now: float, expiry: float) -> bool:
        """Still worth reusing: open, nothing unread and not idle for too long."""
        if self.writer.is_closing() or self.reader.at_eof() or now - self.idle_since > expiry:
            return False
        # Bytes waiting on an idle connection (a 408 before the server closed it, say) would
        # be read as the next request's answer.
        return not getattr(self.reader, "_buffer", b"")

    def close(self) -> None:
        self.writer.close()


@dataclass
class _Pool:
    slots: asyncio.Semaphore
    idle: deque[_Connection] = field(default_factory=deque)


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    content: bytes
    keep_alive: bool


class StreamTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio streams with keep-alive connections per origin."""

    def __init__(
        self,
        *,
        max_connections: int = 10,
        keepalive_expiry: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        max_body: int | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self._ssl = ssl_context
        self.max_body = max_body  # bytes of a response body; more is a protocol error
        self._pools: dict[Origin, _Pool] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        origin = _origin(request)
        data = await _encode(request)
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(asyncio.Semaphore(self.max_connections))
        try:
            if pool.slots.locked():
                await _within(pool.slots.acquire(), timeouts.get("pool"))
            else:
                await pool.slots.acquire()  # free now: no timer to arm and cancel
        except TimeoutError as exc:
            raise httpx.PoolTimeout("no connection free in time", request=request) from exc
        try:
            answer = await self._exchange(pool, origin, data, request, timeouts)
        finally:
            pool.slots.release()
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=httpx.ByteStream(answer.content),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason},
        )

    async def _exchange(
        self,
        pool: _Pool,
        origin: Origin,
        data: bytes,
        request: httpx.Request,
        timeouts: dict[str, float | None],
    ) -> _Answer:
        for attempt in (0, 1):
            conn, reused = await self._checkout(pool, origin, request, timeouts)
            try:
                answer = await _round_trip(conn, data, request, timeouts, self.max_body)
            except _ClosedBeforeResponse:
                conn.close()
                if reused and attempt == 0:
                    continue  # the server had closed it while idle: it never read the request
                raise httpx.RemoteProtocolError(
                    "server disconnected without sending a response", request=request
                ) from None
            except BaseException:
                conn.close()  # a half-read response (or a cancelled call) poisons the stream
                raise
            if answer.keep_alive:
                conn.idle_since = time.monotonic()
                pool.idle.append(conn)
            else:
                conn.close()
            return answer
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _checkout(
        self, pool: _Pool, origin: Origin, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> tuple[_Connection, bool]:
        now = time.monotonic()
        while pool.idle:
            conn = pool.idle.pop()  # the most recently used first: the likeliest to be open
            if conn.fresh(now, self.keepalive_expiry):
                return conn, True
            conn.close()
        return await self._connect(origin, request, timeouts.get("connect")), False

    async def _connect(
        self, origin: Origin, request: httpx.Request, wait_s: float | None
    ) -> _Connection:
        scheme, host, port = origin
        tls: ssl.SSLContext | None = None
        if scheme == b"https":
            tls = self._ssl or _default_context()
        name = host.decode("ascii")
        try:
            reader, writer = await _within(
                asyncio.open_connection(
                    name, port, ssl=tls, server_hostname=name if tls else None, limit=MAX_HEAD
                ),
                wait_s,
            )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {name}:{port}", request=request) from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"{name}:{port}: {exc}", request=request) from exc
        return _Connection(reader, writer)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            while pool.idle:
                conn = pool.idle.pop()
                conn.close()
                with contextlib.suppress(OSError, ssl.SSLError):
                    await conn.writer.wait_closed()
        self._pools.clear()


_CONTEXT: ssl.SSLContext | None = None


def _default_context() -> ssl.SSLContext:
    global _CONTEXT  # noqa: PLW0603 - one context for the process: building one reads the CA store
    if _CONTEXT is None:
        _CONTEXT = ssl.create_default_context()
    return _CONTEXT


async def _within(aw: Awaitable[T], wait_s: float | None) -> T:
    if wait_s is None:
        return await aw
    async with asyncio.timeout(wait_s):
        return await aw


def _origin(request: httpx.Request) -> Origin:
    url = request.url
    scheme = url.raw_scheme
    if scheme not in DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}", request=request)
    if not url.raw_host:
        raise httpx.UnsupportedProtocol("the URL has no host", request=request)
    return scheme, url.raw_host, url.port or DEFAULT_PORTS[scheme]


async def _encode(request: httpx.Request) -> bytes:
    """The request as written: its head, then its body (a streamed body is read whole and
    sent with its length)."""
    try:
        body = request.content
    except httpx.RequestNotRead:
        body = await request.aread()
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    has_length = False
    for name, value in request.headers.raw:
        lower = name.lower()
        if lower == b"transfer-encoding":
            continue  # the body goes with its length instead
        if lower == b"content-length":
            has_length = True
        lines.append(name + b": " + value)
    if not has_length and (body or request.method not in ("GET", "HEAD", "DELETE", "OPTIONS")):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def _round_trip(
    conn: _Connection,
    data: bytes,
    request: httpx.Request,
    timeouts: dict[str, float | None],
    max_body: int | None,
) -> _Answer:
    try:
        conn.writer.write(data)
        if conn.writer.transport.get_write_buffer_size():  # not all sent at once: wait for room
            await _within(conn.writer.drain(), timeouts.get("write"))
    except TimeoutError as exc:
        raise httpx.WriteTimeout("writing the request", request=request) from exc
    except (OSError, ssl.SSLError) as exc:
        raise _ClosedBeforeResponse from exc  # nothing of a response yet: maybe a stale one
    read = timeouts.get("read")
    try:
        status, reason, headers, version = await _read_head(conn.reader, read, request)
        body = _Body(request, max_body)
        framed = await _read_body(conn.reader, body, status, headers, read)
    except TimeoutError as exc:
        raise httpx.ReadTimeout("waiting for the response", request=request) from exc
    except (OSError, ssl.SSLError) as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
    return _Answer(status, reason, headers, body.joined(), framed and _keep_alive(version, headers))


async def _read_head(
    reader: asyncio.StreamReader, wait_s: float | None, request: httpx.Request
) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes]:
    first = True
    while True:
        try:
            raw = await _within(reader.readuntil(b"\r\n\r\n"), wait_s)
        except asyncio.IncompleteReadError as exc:
            if first and not exc.partial:
                raise _ClosedBeforeResponse from exc
            raise httpx.RemoteProtocolError("incomplete response head", request=request) from exc
        except ConnectionResetError as exc:
            if first:  # reset before any answer: the server closed it as the request arrived
                raise _ClosedBeforeResponse from exc
            raise
        except asyncio.LimitOverrunError as exc:
            raise httpx.RemoteProtocolError("response head too large", request=request) from exc
        first = False
        status, reason, headers, version = _parse_head(raw, request)
        if not 100 <= status < 200:
            return status, reason, headers, version
        # an interim response (100 Continue, 103 Early Hints): the real one follows


def _parse_head(
    raw: bytes, request: httpx.Request
) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes]:
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise httpx.RemoteProtocolError(f"bad status line {lines[0][:80]!r}", request=request)
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise httpx.RemoteProtocolError(f"bad header line {line[:80]!r}", request=request)
        headers.append((name, value.strip()))
    return int(parts[1]), parts[2] if len(parts) > 2 else b"", headers, parts[0]


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


async def _read_body(
    reader: asyncio.StreamReader,
    body: _Body,
    status: int,
    headers: list[tuple[bytes, bytes]],
    wait_s: float | None,
) -> bool:
    """Read the body into ``body``; whether its end was framed (False: the connection's end)."""
    request = body.request
    if request.method == "HEAD" or status in (204, 304):
        return True
    try:
        encoding = _header(headers, b"transfer-encoding")
        if encoding is not None and b"chunked" in encoding.lower():
            await _read_chunked(reader, body, wait_s)
            return True
        length = _header(headers, b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise httpx.RemoteProtocolError(f"bad Content-Length {length!r}", request=request)
            body.room_for(int(length))
            body.add(await _read_exactly(reader, int(length), wait_s))
            return True
        while part := await _within(reader.read(CHUNK), wait_s):
            body.add(part)
        return False
    except asyncio.IncompleteReadError as exc:
        raise httpx.RemoteProtocolError(
            "peer closed the connection in the middle of the body", request=request
        ) from exc


async def _read_exactly(reader: asyncio.StreamReader, n: int, wait_s: float | None) -> bytes:
    if len(getattr(reader, "_buffer", b"")) >= n:
        return await reader.readexactly(n)  # already here (the usual small answer): no timer
    if n <= CHUNK:
        return await _within(reader.readexactly(n), wait_s)
    parts = []
    while n:
        part = await _within(reader.readexactly(min(n, CHUNK)), wait_s)
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


@dataclass
class _Body:
    """A response body read in parts, refused once it would grow past ``limit`` bytes."""

    request: httpx.Request
    limit: int | None = None
    parts: list[bytes] = field(default_factory=list)
    size: int = 0

    def room_for(self, n: int) -> None:
        if self.limit is not None and self.size + n > self.limit:
            raise httpx.RemoteProtocolError("response body too large", request=self.request)

    def add(self, part: bytes) -> None:
        self.room_for(len(part))
        self.size += len(part)
        self.parts.append(part)

    def joined(self) -> bytes:
        return b"".join(self.parts)


async def _read_chunked(reader: asyncio.StreamReader, body: _Body, wait_s: float | None) -> None:
    while True:
        line = await _within(reader.readuntil(b"\r\n"), wait_s)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as exc:
            raise httpx.RemoteProtocolError(
                f"bad chunk size {size_text[:20]!r}", request=body.request
            ) from exc
        if size == 0:
            break
        body.room_for(size)
        body.add(await _read_exactly(reader, size, wait_s))
        if await _within(reader.readexactly(2), wait_s) != b"\r\n":
            raise httpx.RemoteProtocolError("chunk not followed by CRLF", request=body.request)
    while await _within(reader.readuntil(b"\r\n"), wait_s) != b"\r\n":
        pass  # trailers: not used


def _keep_alive(version: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
    connection = (_header(headers, b"connection") or b"").lower()
    if version == b"HTTP/1.0":
        return b"keep-alive" in connection
    return b"close" not in connection
