"""The webhook POSTs are served in front of FastAPI by their raw handlers; FastAPI's routes
for them still document and, if reached, run the same handler; the answer goes out before
the dedupe record is written."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from starlette.types import Message
from unit.webhook_receiver.harness import (
    FakeLedger,
    FakeProducer,
    order_body,
    running_edge,
    settings,
    shopify_headers,
    stores,
)

from webhook_receiver.bootstrap import Container
from webhook_receiver.entrypoints.app import ReceiverApp, create_app
from webhook_receiver.intake import Intake


@asynccontextmanager
async def app_with_fakes(
    ledger: FakeLedger | None = None,
) -> AsyncIterator[tuple[ReceiverApp, FakeProducer, FakeLedger]]:
    producer, ledger = FakeProducer(), ledger or FakeLedger()
    s = settings()
    container = Container(s, stores(), producer, Intake(producer, ledger, 0.2, 3.0))
    app = create_app(s, build_container=lambda _s: container)
    async with app.router.lifespan_context(app):
        yield app, producer, ledger


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver")


async def test_webhook_posts_never_enter_fastapi():
    async with app_with_fakes() as (app, producer, _), client(app) as http:
        body = order_body()
        r = await http.post(
            "/webhooks/shopify", content=body, headers=shopify_headers(body, "orders/create")
        )
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert len(producer.sent) == 1
        # Starlette builds its middleware stack on the first request it serves.
        assert app.middleware_stack is None
        assert (await http.get("/healthz")).status_code == 200
        assert app.middleware_stack is not None


async def test_fastapis_route_runs_the_same_handler():
    async with app_with_fakes() as (app, producer, ledger):

        async def through_fastapi(scope: Any, receive: Any, send: Any) -> None:
            await FastAPI.__call__(app, scope, receive, send)

        async with client(through_fastapi) as http:
            body, wid = order_body(), str(uuid.uuid4())
            headers = shopify_headers(body, "orders/create", webhook_id=wid)
            first = await http.post("/webhooks/shopify", content=body, headers=headers)
            again = await http.post("/webhooks/shopify", content=body, headers=headers)
            forged = await http.post(
                "/webhooks/shopify", content=body + b" ", headers=headers | {"X-Request": "x"}
            )
    assert (first.status_code, again.json()["status"]) == (200, "duplicate")
    assert forged.status_code == 401
    assert len(producer.sent) == 1 and len(ledger.done()) == 1


async def test_other_methods_on_the_webhook_paths_are_fastapis_405():
    async with running_edge() as edge:
        for path in ("/webhooks/shopify", "/webhooks/wms"):
            assert (await edge.client.get(path)).status_code == 405
            assert (await edge.client.put(path, content=b"{}")).status_code == 405
        assert edge.producer.sent == []


class OrderedLedger(FakeLedger):
    """A fake ledger that notes its record calls in a shared log of what happened."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    async def record(self, key: str, value: str) -> None:
        self.log.append("record")
        await super().record(key, value)


async def test_the_answer_goes_out_before_the_record():
    log: list[str] = []
    async with app_with_fakes(OrderedLedger(log)) as (app, producer, ledger):
        body = order_body()
        headers = shopify_headers(body, "orders/create")
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/webhooks/shopify",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }

        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            log.append(message["type"])

        await app(scope, receive, send)
    assert log == ["http.response.start", "http.response.body", "record"]
    assert len(producer.sent) == 1 and len(ledger.done()) == 1


async def test_a_client_gone_before_its_body_gets_no_answer_and_nothing_is_claimed():
    async with app_with_fakes() as (app, producer, ledger):
        headers = shopify_headers(b"{}", "orders/create")
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/webhooks/shopify",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)

        await app(scope, receive, send)
    assert sent == [] and producer.sent == [] and ledger.calls == []


async def test_a_body_in_several_chunks_is_joined_before_the_signature_is_checked():
    async with running_edge() as edge:
        body = order_body()

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(body), 7):
                yield body[i : i + 7]

        r = await edge.client.post(
            "/webhooks/shopify", content=chunks(), headers=shopify_headers(body, "orders/create")
        )
        assert r.status_code == 200, r.text
        assert edge.producer.sent[0].event().payload.body == orjson.loads(body)
