"""The simulators' own keep-alive HTTP/1.1 POST client for webhook deliveries.

httpx's ``AsyncClient`` over its default transport (httpcore, h11, anyio) cost about 1 ms of
CPU per delivery of the Shopify simulator, 40% of its samples at 200 orders/s (#18); this
client speaks the little HTTP/1.1 a delivery needs over asyncio streams at a fraction of that
(docs/decisions/0036, "The simulators' deliveries"). The simulators depend on no StockSync
package, so it is theirs, not ``stocksync_common.http1``: a POST with a body and headers, the
answer's status code, nothing else.

What it keeps from the client it replaces (``httpx.AsyncClient(trust_env=False,
limits=delivery_limits(n))``): keep-alive connections per origin (scheme, host, port), at most
``max_connections`` kept idle in all, an idle one dropped after ``keepalive_expiry`` seconds;
``timeout`` for connecting, for writing the request and for the answer; answers framed by
``Content-Length``, ``chunked`` or the connection's end, interim 1xx answers skipped; a
connection the receiver closes (``Connection: close``, an end of the connection, a restart) not
reused; TLS with the system's CAs for an ``https`` URL; no redirects followed, no proxies; and
httpx's exception types (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``,
``WriteTimeout``, ``ReadError``, ``RemoteProtocolError``, ``UnsupportedProtocol``), so a failed
attempt is recorded as before. One difference: a request written to a reused connection that
the receiver had closed while it was idle (not one byte of an answer came back, so the receiver
never read it) is sent once more on a new connection, as browsers and urllib3 do, instead of
failing that attempt with ``RemoteProtocolError``.

The number of POSTs in flight is the Deliverer's to bound (its semaphore), not this client's.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from urllib.parse import urlsplit

import httpx

MAX_HEAD = 64 * 1024  # an answer's status line and headers
DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


@dataclass(frozen=True)
class Answer:
    """What a POST got back: the status code (the Deliverer needs no more) and the body."""

    status_code: int
    content: bytes


@dataclass(frozen=True)
class _Target:
    origin: Origin
    head: bytes  # request line and Host header


class _ClosedBeforeAnswer(Exception):  # noqa: N818 - control flow inside the client
    """The connection ended before the first byte of an answer."""


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def fresh(self, now: float, expiry: float) -> bool:
        """Worth reusing: open, nothing unread and not idle for too long."""
        if self.writer.is_closing() or self.reader.at_eof() or now - self.idle_since > expiry:
            return False
        return not getattr(self.reader, "_buffer", b"")  # a stray answer would be misread

    def close(self) -> None:
        self.writer.close()


@lru_cache(maxsize=1024)
def _target(url: str) -> _Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"unsupported scheme {parts.scheme!r} in {url!r}")
    host = parts.hostname
    if not host:
        raise httpx.UnsupportedProtocol(f"no host in {url!r}")
    port = parts.port or DEFAULT_PORTS[scheme]
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None and parts.port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    head = f"POST {path} HTTP/1.1\r\nHost: {netloc}\r\nAccept: */*\r\n".encode()
    return _Target((scheme, host, port), head)


class WebhookClient:
    """POSTs over keep-alive HTTP/1.1 connections; ``post`` answers like ``httpx.AsyncClient``'s
    for the parts the Deliverer uses (``status_code``) and raises httpx's exception types."""

    def __init__(self, *, max_connections: int = 8, keepalive_expiry: float = 5.0) -> None:
        self.max_connections = max_connections  # idle connections kept, all origins together
        self.keepalive_expiry = keepalive_expiry
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._idle_count = 0
        self._tls: ssl.SSLContext | None = None

    async def __aenter__(self) -> WebhookClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def post(
        self,
        url: str,
        *,
        content: bytes,
        headers: dict[str, str],
        timeout: float | None,  # noqa: ASYNC109 - httpx.AsyncClient.post's keyword
    ) -> Answer:
        """One POST of ``content`` with ``headers``; ``timeout`` bounds connecting, writing and
        waiting for the answer, each on its own, as httpx's single timeout value does."""
        target = _target(url)
        lines = [target.head]
        for name, value in headers.items():
            if name.lower() in ("content-length", "transfer-encoding", "host"):
                continue
            lines.append(f"{name}: {value}\r\n".encode())
        lines.append(b"Content-Length: %d\r\n\r\n" % len(content))
        lines.append(content)
        data = b"".join(lines)
        for attempt in (0, 1):
            conn, reused = await self._checkout(target.origin, wait_s=timeout)
            try:
                status, body, keep = await _exchange(conn, data, wait_s=timeout)
            except _ClosedBeforeAnswer:
                conn.close()
                if reused and attempt == 0:
                    continue  # closed while idle: the receiver never read the request
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response."
                ) from None
            except BaseException:
                conn.close()  # a half-read answer (or a cancelled call) poisons the stream
                raise
            self._checkin(target.origin, conn, keep)
            return Answer(status, body)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _checkout(self, origin: Origin, wait_s: float | None) -> tuple[_Connection, bool]:
        idle = self._idle.get(origin)
        if idle:
            now = time.monotonic()
            while idle:
                conn = idle.pop()  # the most recently used: the likeliest to be open
                self._idle_count -= 1
                if conn.fresh(now, self.keepalive_expiry):
                    return conn, True
                conn.close()
        return await self._connect(origin, wait_s), False

    def _checkin(self, origin: Origin, conn: _Connection, keep: bool) -> None:
        if not keep or self._idle_count >= self.max_connections:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._idle.setdefault(origin, deque()).append(conn)
        self._idle_count += 1

    async def _connect(self, origin: Origin, wait_s: float | None) -> _Connection:
        scheme, host, port = origin
        tls: ssl.SSLContext | None = None
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        try:
            async with asyncio.timeout(wait_s):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=tls, server_hostname=host if tls else None, limit=MAX_HEAD
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port}") from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"{host}:{port}: {exc}") from exc
        return _Connection(reader, writer)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            while idle:
                conn = idle.pop()
                conn.close()
                with contextlib.suppress(OSError, ssl.SSLError):
                    await conn.writer.wait_closed()
        self._idle.clear()
        self._idle_count = 0


async def _exchange(
    conn: _Connection, data: bytes, wait_s: float | None
) -> tuple[int, bytes, bool]:
    """Write the request, read the answer: its status, body and whether the connection stays."""
    try:
        conn.writer.write(data)
        if conn.writer.transport.get_write_buffer_size():  # not all sent at once: wait for room
            async with asyncio.timeout(wait_s):
                await conn.writer.drain()
    except TimeoutError as exc:
        raise httpx.WriteTimeout("writing the request") from exc
    except (OSError, ssl.SSLError) as exc:
        raise _ClosedBeforeAnswer from exc
    try:
        async with asyncio.timeout(wait_s):
            status, headers, version = await _read_head(conn.reader)
            body, framed = await _read_body(conn.reader, status, headers)
    except TimeoutError as exc:
        raise httpx.ReadTimeout("waiting for the answer") from exc
    except asyncio.IncompleteReadError as exc:
        raise httpx.RemoteProtocolError("peer closed the connection mid-answer") from exc
    except asyncio.LimitOverrunError as exc:
        raise httpx.RemoteProtocolError("answer line too long") from exc
    except (OSError, ssl.SSLError) as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
    return status, body, framed and _keep_alive(version, headers)


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    first = True
    while True:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if first and not exc.partial:
                raise _ClosedBeforeAnswer from exc
            raise httpx.RemoteProtocolError("incomplete answer head") from exc
        except ConnectionResetError as exc:
            if first:  # reset before any answer: closed as the request arrived
                raise _ClosedBeforeAnswer from exc
            raise
        except asyncio.LimitOverrunError as exc:
            raise httpx.RemoteProtocolError("answer head too large") from exc
        first = False
        lines = raw[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise httpx.RemoteProtocolError(f"bad status line {lines[0][:80]!r}")
        status = int(parts[1])
        if 100 <= status < 200:
            continue  # an interim answer (100 Continue, 103 Early Hints): the real one follows
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                raise httpx.RemoteProtocolError(f"bad header line {line[:80]!r}")
            headers[name.lower()] = value.strip()
        return status, headers, parts[0]


async def _read_body(
    reader: asyncio.StreamReader, status: int, headers: dict[bytes, bytes]
) -> tuple[bytes, bool]:
    """The body, and whether its end was framed (False: the connection's end)."""
    if status in (204, 304):
        return b"", True
    encoding = headers.get(b"transfer-encoding")
    if encoding is not None and b"chunked" in encoding.lower():
        return await _read_chunked(reader), True
    length = headers.get(b"content-length")
    if length is not None:
        if not length.isdigit():
            raise httpx.RemoteProtocolError(f"bad Content-Length {length!r}")
        return await reader.readexactly(int(length)), True
    return await reader.read(), False


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as exc:
            raise httpx.RemoteProtocolError(f"bad chunk size {size_text[:20]!r}") from exc
        if size == 0:
            break
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise httpx.RemoteProtocolError("chunk not followed by CRLF")
    while await reader.readuntil(b"\r\n") != b"\r\n":
        pass  # trailers: not used
    return b"".join(parts)


def _keep_alive(version: bytes, headers: dict[bytes, bytes]) -> bool:
    connection = headers.get(b"connection", b"").lower()
    if version == b"HTTP/1.0":
        return b"keep-alive" in connection
    return b"close" not in connection
