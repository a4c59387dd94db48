"""The lean HTTP/1.1 transport against a real socket server in the test's own loop.

Each test scripts what the server answers (raw bytes, so framing, closes and bad answers can
be shown) and checks what httpx's client returns or raises through ``StreamTransport``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from stocksync_common.http1 import StreamTransport

Answer = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]  # True: keep the connection


@dataclass
class Server:
    """Reads requests (head and Content-Length body) and lets ``answer`` reply to each."""

    answer: Answer
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    peak: int = 0
    _open: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.append(task)
        self.connections += 1
        self._open += 1
        self.peak = max(self.peak, self._open)
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                if not await self.answer(head + body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the fixture's teardown ended a waiting handler
        finally:
            self._open -= 1
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[tuple[Server, str]]]]:
    servers: list[tuple[asyncio.Server, Server]] = []

    async def start(answer: Answer, tls: ssl.SSLContext | None = None) -> tuple[Server, str]:
        server = Server(answer)
        s = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
        servers.append((s, server))
        port = s.sockets[0].getsockname()[1]
        return server, f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    yield start
    for s, server in servers:
        s.close()
        for task in server.tasks:
            task.cancel()  # handlers still waiting on a test's gate or on the next request
        await asyncio.gather(*server.tasks, return_exceptions=True)
        await s.wait_closed()


def reply(body: bytes, *headers: bytes, status: bytes = b"200 OK") -> bytes:
    head = b"HTTP/1.1 " + status + b"\r\n" + b"".join(h + b"\r\n" for h in headers)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def ok_json(payload: object) -> Answer:
    async def answer(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(json.dumps(payload).encode(), b"Content-Type: application/json"))
        await writer.drain()
        return True

    return answer


def client(**kwargs: object) -> httpx.AsyncClient:
    timeout = kwargs.pop("timeout", 5.0)
    return httpx.AsyncClient(transport=StreamTransport(**kwargs), timeout=timeout)  # type: ignore[arg-type]


async def test_posts_json_and_reuses_one_connection(serve) -> None:  # type: ignore[no-untyped-def]
    server, base = await serve(ok_json({"data": {"ok": True}}))
    async with client() as http:
        for n in range(5):
            resp = await http.post(f"{base}/graphql.json?x=1", json={"n": n}, headers={"X-T": "t"})
            assert resp.status_code == 200
            assert resp.json() == {"data": {"ok": True}}
            assert resp.reason_phrase == "OK"
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /graphql.json?x=1 HTTP/1.1\r\n")
    assert b"\r\nX-T: t\r\n" in first.replace(b"x-t", b"X-T")
    assert first.endswith(b'{"n":0}')


async def test_chunked_response_with_extensions_and_trailers(serve) -> None:  # type: ignore[no-untyped-def]
    async def answer(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
        )
        await writer.drain()
        return True

    server, base = await serve(answer)
    async with client() as http:
        assert (await http.get(base)).text == "hello world"
        assert (await http.get(base)).text == "hello world"
    assert server.connections == 1  # the chunked body's end was found: the connection kept


async def test_connection_close_and_body_to_end(serve) -> None:  # type: ignore[no-untyped-def]
    async def answer(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        await writer.drain()
        return False  # the server closes after it

    server, base = await serve(answer)
    async with client() as http:
        assert (await http.get(base)).text == "until the end"
        assert (await http.get(base)).text == "until the end"
    assert server.connections == 2


async def test_gzip_answer_is_decoded_by_the_client(serve) -> None:  # type: ignore[no-untyped-def]
    async def answer(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(gzip.compress(b'{"a": 1}'), b"Content-Encoding: gzip"))
        await writer.drain()
        return True

    _server, base = await serve(answer)
    async with client() as http:
        assert (await http.get(base)).json() == {"a": 1}


async def test_interim_100_response_is_skipped(serve) -> None:  # type: ignore[no-untyped-def]
    async def answer(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + reply(b"done", status=b"201 Created"))
        await writer.drain()
        return True

    _server, base = await serve(answer)
    async with client() as http:
        resp = await http.post(base, content=b"x")
    assert (resp.status_code, resp.text) == (201, "done")


async def test_a_connection_the_server_closed_while_idle_is_replaced(serve) -> None:  # type: ignore[no-untyped-def]
    server, base = await serve(ok_json({"n": 1}))
    async with client() as http:
        await http.get(base)
        for writer in server.writers:
            writer.close()  # the server's idle timeout
        resp = await http.get(base)
    assert resp.json() == {"n": 1}
    assert server.connections == 2


async def test_a_stale_connection_that_looks_open_is_retried_once(serve) -> None:  # type: ignore[no-untyped-def]
    """The server reads the second request and hangs up without a byte: it never handled it
    as far as HTTP can tell, so the request goes once more on a new connection."""
    calls = 0

    async def answer(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal calls
        calls += 1
        if calls == 2:
            return False  # close without answering
        writer.write(reply(b"ok"))
        await writer.drain()
        return True

    server, base = await serve(answer)
    async with client() as http:
        await http.get(base)
        assert (await http.get(base)).text == "ok"
    assert (calls, server.connections) == (3, 2)


async def test_a_new_connection_closed_without_answer_is_an_error(serve) -> None:  # type: ignore[no-untyped-def]
    async def answer(_request: bytes, _writer: asyncio.StreamWriter) -> bool:
        return False

    server, base = await serve(answer)
    async with client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await http.get(base)
    assert server.connections == 1  # not retried: a fresh connection was not stale


async def test_read_timeout_raises_httpx_read_timeout(serve) -> None:  # type: ignore[no-untyped-def]
    never = asyncio.Event()

    async def answer(_request: bytes, _writer: asyncio.StreamWriter) -> bool:
        await never.wait()
        return False

    _server, base = await serve(answer)
    async with client(timeout=httpx.Timeout(5.0, read=0.2)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(base)


async def test_connect_refused_raises_connect_error() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize(
    "raw",
    [
        b"NOT-HTTP\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    ],
)
async def test_malformed_answers_are_protocol_errors(serve, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    async def answer(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(raw)
        await writer.drain()
        return False

    _server, base = await serve(answer)
    async with client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(base)


async def test_at_most_max_connections_per_origin(serve) -> None:  # type: ignore[no-untyped-def]
    gate = asyncio.Event()
    waiting = 0

    async def answer(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal waiting
        waiting += 1
        await gate.wait()
        writer.write(reply(b"ok"))
        await writer.drain()
        return True

    server, base = await serve(answer)
    async with client(max_connections=2) as http:
        calls = [asyncio.create_task(http.get(base)) for _ in range(6)]
        deadline = asyncio.get_running_loop().time() + 5
        while waiting < 2 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert waiting == 2  # the other four wait for a connection, not for the server
        gate.set()
        assert [r.text for r in await asyncio.gather(*calls)] == ["ok"] * 6
    assert server.peak == 2


async def test_pool_timeout_when_every_connection_is_busy(serve) -> None:  # type: ignore[no-untyped-def]
    gate = asyncio.Event()

    async def answer(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        await gate.wait()
        writer.write(reply(b"ok"))
        await writer.drain()
        return True

    server, base = await serve(answer)
    async with client(max_connections=1, timeout=httpx.Timeout(5.0, pool=0.1)) as http:
        first = asyncio.create_task(http.get(base))
        deadline = asyncio.get_running_loop().time() + 5
        while not server.requests and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        with pytest.raises(httpx.PoolTimeout):
            await http.get(base)
        gate.set()
        assert (await first).text == "ok"


async def test_a_cancelled_call_does_not_leave_its_connection_in_the_pool(serve) -> None:  # type: ignore[no-untyped-def]
    calls = 0

    async def answer(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.2)  # answers late, after the caller gave up
        writer.write(reply(b"answer %d" % calls))
        await writer.drain()
        return True

    server, base = await serve(answer)
    async with client() as http:
        call = asyncio.create_task(http.get(base))
        deadline = asyncio.get_running_loop().time() + 5
        while not calls and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        # the late first answer must never be read as the second call's
        assert (await http.get(base)).text == "answer 2"
    assert server.connections == 2


async def test_streamed_request_body_is_sent_with_its_length(serve) -> None:  # type: ignore[no-untyped-def]
    server, base = await serve(ok_json({}))

    async def parts() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b"cd"

    async with client() as http:
        await http.post(base, content=parts())
    assert b"Content-Length: 4\r\n" in server.requests[0]
    assert b"chunked" not in server.requests[0].lower()
    assert server.requests[0].endswith(b"abcd")


async def test_unsupported_scheme() -> None:
    async with client() as http:
        with pytest.raises(httpx.UnsupportedProtocol):
            await http.get("ftp://127.0.0.1/")


async def test_https_with_a_given_ca(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(  # noqa: S603 - fixed arguments
        [  # noqa: S607 - openssl from PATH, as scripts/infra/tls.sh uses it
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    _server, base = await serve(ok_json({"tls": True}), tls=server_tls)
    trusting = ssl.create_default_context(cafile=str(cert))
    async with client(ssl_context=trusting) as http:
        assert (await http.get(base)).json() == {"tls": True}
    async with client() as http:  # the system's CAs do not know the test's certificate
        with pytest.raises(httpx.ConnectError):
            await http.get(base)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n" + b"x" * 20,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 20,
    ],
)
async def test_a_body_past_a_given_limit_is_refused(serve, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    async def answer(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(raw)
        await writer.drain()
        return False

    _server, base = await serve(answer)
    async with client(max_body=10) as http:
        with pytest.raises(httpx.RemoteProtocolError, match="too large"):
            await http.get(base)


async def test_without_a_limit_a_large_body_is_read_whole(serve) -> None:  # type: ignore[no-untyped-def]
    """A bulk operation's result file can be large: as with httpx's own transport, no limit
    unless one is given."""
    big = b"x" * (3 * 1024 * 1024 + 7)

    async def answer(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(big))
        await writer.drain()
        return True

    _server, base = await serve(answer)
    async with client() as http:
        assert (await http.get(base)).content == big
