"""Webhook deliveries over real sockets, through the Deliverer, with either client it is given;
and the Shopify and WMS simulator apps delivering with their own client (#18, item 4).

Every case runs twice: with ``httpx.AsyncClient`` over httpx's default transport (the client
the simulators used until #18, item 4) and with the simulators' own ``WebhookClient``. Both
must deliver the same way: headers and body as built, connections kept and reused, a receiver
that closes or restarts reconnected to, chunked, sized and unframed answers, 1xx skipped,
retries after a 5xx, timeouts, refusals and malformed answers recorded with httpx's names.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import httpx
import pytest
from unit.simulators.shopify_harness import LOC, PARENT, PARENT_SECRET, Sleeps, store_configs

from stocksync_sim.delivery import (
    MAX_IN_FLIGHT,
    Deliverer,
    Delivery,
    PostClient,
    RetryPolicy,
    delivery_limits,
)
from stocksync_sim.shopify.app import create_app as create_shopify
from stocksync_sim.shopify.runtime import SimSettings, Simulator
from stocksync_sim.wms.app import WmsSettings, WmsSim
from stocksync_sim.wms.app import create_app as create_wms

Reply = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]  # True: keep the connection
ClientFactory = Callable[[], AbstractAsyncContextManager[PostClient]]

HEADERS = {
    "Content-Type": "application/json",
    "User-Agent": "Shopify-Captain-Hook",
    "X-Shopify-Topic": "orders/create",
    "X-Shopify-Hmac-Sha256": "c2lnbmF0dXJl",
    "X-Shopify-Shop-Domain": "parent.myshopify.com",
    "X-Shopify-Webhook-Id": "0b6c1a9e-2f37-4a55-9d5e-0d6c4f1f3a11",
    "X-Shopify-Triggered-At": "2026-12-07T04:30:00.123456Z",
}


@dataclass
class Receiver:
    """A webhook endpoint on a real socket: reads each request, lets ``reply`` answer it."""

    reply: Reply
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    open: int = 0
    peak: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.append(task)
        self.connections += 1
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                if not await self.reply(request, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the teardown ended a held answer
        finally:
            self.open -= 1
            writer.close()


@dataclass
class Receivers:
    servers: list[tuple[asyncio.Server, Receiver]] = field(default_factory=list)

    async def start(self, reply: Reply, port: int = 0) -> tuple[Receiver, int]:
        receiver = Receiver(reply)
        server = await asyncio.start_server(receiver.handle, "127.0.0.1", port)
        self.servers.append((server, receiver))
        return receiver, server.sockets[0].getsockname()[1]

    async def stop(self, receiver: Receiver) -> None:
        for server, started in self.servers:
            if started is receiver:
                server.close()
                for task in receiver.tasks:
                    task.cancel()
                await asyncio.gather(*receiver.tasks, return_exceptions=True)
                await server.wait_closed()


@pytest.fixture
async def receivers() -> AsyncIterator[Receivers]:
    running = Receivers()
    yield running
    for _server, receiver in running.servers:
        await running.stop(receiver)


def httpx_default() -> AbstractAsyncContextManager[PostClient]:
    """The client the simulators' apps built before #18 item 4."""
    return httpx.AsyncClient(trust_env=False, limits=delivery_limits(MAX_IN_FLIGHT))


def own_client() -> AbstractAsyncContextManager[PostClient]:
    from stocksync_sim.webhook_client import WebhookClient

    return WebhookClient(max_connections=MAX_IN_FLIGHT)


@pytest.fixture(params=[httpx_default, own_client], ids=["httpx", "own"])
def make_client(request: pytest.FixtureRequest) -> ClientFactory:
    factory: ClientFactory = request.param
    return factory


def answer(
    status: bytes = b"200 OK", body: bytes = b'{"ok":true}', *extra: bytes, keep: bool = True
) -> Reply:
    async def reply(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        head = b"HTTP/1.1 " + status + b"\r\n" + b"".join(h + b"\r\n" for h in extra)
        writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        return keep

    return reply


def scripted(*replies: Reply) -> Reply:
    """Each request answered by the next reply; the last one answers the rest."""
    queue = list(replies)

    async def reply(request: bytes, writer: asyncio.StreamWriter) -> bool:
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        return await step(request, writer)

    return reply


def delivery(port: int, n: int = 0, path: str = "/webhooks/shopify") -> Delivery:
    body = b'{"id":%d,"line_items":[{"sku":"SKU-1","quantity":1}]}' % n
    return Delivery(f"d{n}", f"http://127.0.0.1:{port}{path}", dict(HEADERS), body)


async def eventually(check: Callable[[], bool], deadline_s: float = 5.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def codes(d: Delivery) -> list[int | None]:
    return [a.status_code for a in d.attempts]


async def test_signed_headers_and_body_arrive_over_one_kept_connection(
    receivers: Receivers, make_client: ClientFactory
) -> None:
    receiver, port = await receivers.start(answer())
    sent = [delivery(port, n) for n in range(10)]
    async with make_client() as client:
        deliverer = Deliverer(client, RetryPolicy(), Sleeps())
        for d in sent:
            await deliverer.send(d, wait_first=True)
    assert [codes(d) for d in sent] == [[200]] * 10
    assert {d.status for d in sent} == {"delivered"}
    assert receiver.connections == 1
    for d, raw in zip(sent, receiver.requests, strict=True):
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        assert lines[0] == b"POST /webhooks/shopify HTTP/1.1"
        got = {
            k.decode().lower(): v.strip().decode()
            for k, _, v in (x.partition(b":") for x in lines[1:])
        }
        assert got["host"] == f"127.0.0.1:{port}"
        assert got["content-length"] == str(len(d.body))
        for name, value in HEADERS.items():
            assert got[name.lower()] == value
        assert body == d.body


async def test_a_receiver_that_closes_after_each_answer(
    receivers: Receivers, make_client: ClientFactory
) -> None:
    receiver, port = await receivers.start(
        answer(b"200 OK", b"ok", b"Connection: close", keep=False)
    )
    sent = [delivery(port, n) for n in range(5)]
    async with make_client() as client:
        deliverer = Deliverer(client, RetryPolicy(), Sleeps())
        for d in sent:
            await deliverer.send(d, wait_first=True)
    assert [codes(d) for d in sent] == [[200]] * 5
    assert receiver.connections == 5


async def test_a_receiver_that_drops_idle_connections_and_restarts(
    receivers: Receivers, make_client: ClientFactory
) -> None:
    # answers, then closes without saying so: the kept connection is dead when next used
    receiver, port = await receivers.start(answer(keep=False))
    async with make_client() as client:
        deliverer = Deliverer(client, RetryPolicy(), Sleeps())
        first, second = delivery(port, 1), delivery(port, 2)
        await deliverer.send(first, wait_first=True)
        await eventually(lambda: receiver.open == 0)
        await deliverer.send(second, wait_first=True)
        assert receiver.connections == 2

        # a restart on the same port: the connection kept from before is gone with it
        restarted_answer = answer()
        await receivers.stop(receiver)
        restarted, same_port = await receivers.start(restarted_answer, port)
        assert same_port == port
        third = delivery(port, 3)
        await deliverer.send(third, wait_first=True)
    assert [codes(d) for d in (first, second, third)] == [[200], [200], [200]]
    assert restarted.connections == 1


async def test_chunked_sized_and_unframed_answers(
    receivers: Receivers, make_client: ClientFactory
) -> None:
    async def chunked(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        await writer.drain()
        return True

    async def interim_then_sized(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"
        )
        await writer.drain()
        return True

    async def unframed(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end")
        await writer.drain()
        return False  # the body ends with the connection

    receiver, port = await receivers.start(
        scripted(chunked, interim_then_sized, unframed, answer())
    )
    sent = [delivery(port, n) for n in range(4)]
    async with make_client() as client:
        deliverer = Deliverer(client, RetryPolicy(), Sleeps())
        for d in sent:
            await deliverer.send(d, wait_first=True)
    assert [codes(d) for d in sent] == [[200], [202], [200], [200]]
    assert receiver.connections == 2  # kept across the framed answers, new after the unframed


async def test_a_5xx_is_retried_on_the_policy_schedule(
    receivers: Receivers, make_client: ClientFactory
) -> None:
    _receiver, port = await receivers.start(
        scripted(answer(b"503 Service Unavailable"), answer(b"500 Oops"), answer())
    )
    policy = RetryPolicy(max_attempts=4, window_seconds=7.0)
    sleeps = Sleeps()
    d = delivery(port)
    async with make_client() as client:
        deliverer = Deliverer(client, policy, sleeps)
        await deliverer.send(d)
        await deliverer.drain()
    assert codes(d) == [503, 500, 200]
    assert d.status == "delivered"
    assert sleeps.waits == policy.delays()[:2]
    assert all(a.error is None for a in d.attempts)


async def test_an_answer_later_than_the_timeout_is_a_read_timeout(
    receivers: Receivers, make_client: ClientFactory
) -> None:
    async def never(_request: bytes, _writer: asyncio.StreamWriter) -> bool:
        await asyncio.Event().wait()
        return False

    receiver, port = await receivers.start(scripted(never, answer()))
    d = delivery(port)
    async with make_client() as client:
        deliverer = Deliverer(client, RetryPolicy(max_attempts=2, timeout_seconds=0.2), Sleeps())
        await deliverer.send(d)
        await deliverer.drain()
    timed_out, retried = d.attempts
    assert timed_out.status_code is None and timed_out.error is not None
    assert timed_out.error.startswith("ReadTimeout")
    assert 150 <= timed_out.duration_ms < 3000
    assert retried.status_code == 200 and d.status == "delivered"
    assert receiver.connections == 2  # the timed-out connection is not reused


async def test_a_refused_connection_and_a_malformed_answer_are_recorded_errors(
    receivers: Receivers, make_client: ClientFactory
) -> None:
    _closed, closed_port = await receivers.start(answer())
    await receivers.stop(_closed)
    _garbled, port = await receivers.start(scripted(_raw(b"NOT HTTP AT ALL\r\n\r\n")))
    refused, garbled = delivery(closed_port, 1), delivery(port, 2)
    async with make_client() as client:
        deliverer = Deliverer(client, RetryPolicy(max_attempts=2), Sleeps())
        for d in (refused, garbled):
            await deliverer.send(d)
        await deliverer.drain()
    assert refused.status == garbled.status == "failed"
    assert [a.error.split(":")[0] for a in refused.attempts if a.error] == ["ConnectError"] * 2
    assert [a.error.split(":")[0] for a in garbled.attempts if a.error] == [
        "RemoteProtocolError"
    ] * 2


def _raw(data: bytes) -> Reply:
    async def reply(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(data)
        await writer.drain()
        return False

    return reply


async def test_posts_in_flight_stay_bounded_over_real_connections(
    receivers: Receivers, make_client: ClientFactory
) -> None:
    gate = asyncio.Event()
    held = 0

    async def gated(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal held
        held += 1
        await gate.wait()
        return await answer()(_request, writer)

    receiver, port = await receivers.start(gated)
    sent = [delivery(port, n) for n in range(40)]
    async with make_client() as client:
        deliverer = Deliverer(client, RetryPolicy(), Sleeps())
        for d in sent:
            await deliverer.send(d)
        await eventually(lambda: held == MAX_IN_FLIGHT)
        for _ in range(50):  # a while longer: no ninth request arrives while the gate holds
            await asyncio.sleep(0)
        assert held == MAX_IN_FLIGHT
        gate.set()
        await deliverer.drain()
    assert {d.status for d in sent} == {"delivered"}
    assert receiver.peak == MAX_IN_FLIGHT
    assert receiver.connections == MAX_IN_FLIGHT  # each one reused for the backlog
    assert sorted(r.partition(b"\r\n\r\n")[2] for r in receiver.requests) == sorted(
        d.body for d in sent
    )


async def test_the_shopify_app_delivers_sales_with_its_own_client(receivers: Receivers) -> None:
    from stocksync_sim.webhook_client import WebhookClient

    receiver, port = await receivers.start(answer())
    settings = SimSettings(
        stores=store_configs(), webhook_url=f"http://127.0.0.1:{port}/webhooks/shopify"
    )
    app = create_shopify(settings)  # no transport given: what the simulator runs with
    async with app.router.lifespan_context(app):
        sim: Simulator = app.state.sim
        assert isinstance(sim.require_deliverer().client, WebhookClient)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://shopify.test"
        ) as http:
            seeded = await http.post(
                f"/_sim/stores/{PARENT}/products", json=[{"sku": "A", "quantities": {LOC: 5}}]
            )
            assert seeded.status_code == 201
            sale = {"line_items": [{"sku": "A", "quantity": 2}]}
            placed = await http.post(
                f"/_sim/stores/{PARENT}/orders", json=sale, params={"wait": "true"}
            )
            assert placed.status_code == 201, placed.text
    [request] = receiver.requests
    head, _, body = request.partition(b"\r\n\r\n")
    signature = base64.b64encode(hmac.new(PARENT_SECRET.encode(), body, hashlib.sha256).digest())
    assert b"\r\nX-Shopify-Hmac-Sha256: " + signature + b"\r\n" in head + b"\r\n"
    assert b"\r\nX-Shopify-Topic: orders/create\r\n" in head


async def test_the_wms_app_delivers_events_with_its_own_client(receivers: Receivers) -> None:
    from stocksync_sim.webhook_client import WebhookClient

    receiver, port = await receivers.start(answer())
    settings = WmsSettings(f"http://127.0.0.1:{port}/webhooks/wms", "wms-secret")
    app = create_wms(settings)
    async with app.router.lifespan_context(app):
        sim: WmsSim = app.state.sim
        assert isinstance(sim.require_deliverer().client, WebhookClient)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://wms.test"
        ) as http:
            event = {"event_type": "receipt", "lines": [{"sku": "A", "quantity": 10}]}
            posted = await http.post("/_sim/events", json=event, params={"wait": "true"})
            assert posted.status_code == 201, posted.text
            listed = (await http.get("/_sim/events")).json()
    [request] = receiver.requests
    head, _, body = request.partition(b"\r\n\r\n")
    signature = hmac.new(b"wms-secret", body, hashlib.sha256).hexdigest().encode()
    assert b"\r\nX-WMS-Signature: " + signature + b"\r\n" in head + b"\r\n"
    assert [e["status"] for e in listed] == ["delivered"]
