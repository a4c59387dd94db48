"""The issue's attacks against webhook-receiver and ops-console running as real processes
(started as the e2e tests start them: scripts/stack.py), over HTTP, on the real Kafka and
Redis (#22). The receiver runs as in production (``STOCKSYNC_ENVIRONMENT=production``, its
own 32-character-plus secrets); the console as locally.

Each attack asserts the refusal and that nothing reached Kafka or Redis: the test's shop
is a domain of its own, so any record or key naming it since the test began came from it.
Spoofed ``X-Forwarded-For`` headers are sent from 127.0.0.1, which uvicorn would believe by
default: the throttles must still count them on the peer (no trusted proxy is configured).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from stack import DEMO_ADMIN, Ports, Stack
from stocksync_common.topics import (
    COMPLIANCE,
    WEBHOOKS_PARKED,
    WEBHOOKS_SHOPIFY,
    WEBHOOKS_WMS,
    dlq_topic,
)
from support.infra import KAFKA, own_database_url, redis_host_port, sync_redis

pytestmark = pytest.mark.integration
RUN = uuid.uuid4().hex[:8]
SHOP = f"sec-{RUN}.myshopify.com"
SECRET = secrets.token_urlsafe(36)  # the store's webhook secret (production: 32+)
ADMIN_TOKEN = secrets.token_urlsafe(36)
MAX_BODY = 64 * 1024
REDIS_DB = 6  # a database of this file's own
RECEIVER_TOPICS = (WEBHOOKS_SHOPIFY, WEBHOOKS_WMS, WEBHOOKS_PARKED, COMPLIANCE)
RECEIVER_DLQ = dlq_topic(WEBHOOKS_SHOPIFY, "webhook-receiver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Running:
    receiver: str
    console: str
    redis_url: str


@pytest.fixture(scope="module")
def running(topics: list[str], state_dir: Path) -> Iterator[Running]:
    """webhook-receiver (production settings) and ops-console as processes, ports free ones."""
    del topics  # the topics must exist before the receiver publishes
    ports = dataclasses.replace(
        Ports(),
        kafka=int(KAFKA.rpartition(":")[2]),
        redis=int(redis_host_port().rpartition(":")[2]),
    )
    own = {"webhook_receiver": _free_port(), "ops_console": _free_port()}
    ports = dataclasses.replace(ports, services={**ports.services, **own})
    redis_url = own_database_url(REDIS_DB)
    with sync_redis(redis_url) as client:
        client.flushdb()
    common = {"STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS": KAFKA, "STOCKSYNC_REDIS_URL": redis_url}
    receiver = Stack(
        ports,
        state_dir / f"security-{RUN}" / "receiver",
        extra_env={
            **common,
            "STOCKSYNC_ENVIRONMENT": "production",
            "STOCKSYNC_ALLOW_INSECURE_TRANSPORT": "true",  # the local pair is plaintext
            "STOCKSYNC_ADMIN_TOKEN": ADMIN_TOKEN,
            "STOCKSYNC_WMS_WEBHOOK_SECRET": secrets.token_urlsafe(36),
            "STOCKSYNC_MAX_BODY_BYTES": str(MAX_BODY),
        },
    )
    console = Stack(ports, state_dir / f"security-{RUN}" / "console", extra_env=common)
    receiver.log_dir.mkdir(parents=True, exist_ok=True)
    stores = [{"shop": SHOP, "role": "parent", "access_token": "env:SEC_UNUSED_TOKEN",
               "webhook_secret": SECRET}]  # fmt: skip
    try:
        receiver.stores_file.write_text(yaml.safe_dump({"stores": stores}))
        receiver.start_one("webhook-receiver")
        console.start(["ops-console"])
        receiver.wait_healthy(90, "/readyz")
        console.wait_healthy(90)
        yield Running(receiver.url("webhook-receiver"), console.url("ops-console"), redis_url)
    except BaseException:
        for s, name in ((receiver, "webhook-receiver"), (console, "ops-console")):
            print(f"--- {name} ---\n{s.tail(name)}")  # noqa: T201 - shown on failure
        raise
    finally:
        receiver.stop()
        console.stop()


def stamp(delta: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")


def signed(body: bytes, topic: str = "orders/create", **overrides: str) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": stamp(),
        "X-Shopify-API-Version": "2026-07",
        **overrides,
    }


def order_body() -> bytes:
    oid = uuid.uuid4().int % 10**15
    return orjson.dumps({"id": oid, "line_items": [{"id": oid + 1, "sku": "TEE", "quantity": 1}]})


class Broker:
    """The receiver's topics from the offsets they had when made: what since names the shop."""

    def __init__(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
        self.start: dict[TopicPartition, int] = {}

    async def __aenter__(self) -> Broker:
        await self.consumer.start()
        tps = [
            TopicPartition(t, p)
            for t in (*RECEIVER_TOPICS, RECEIVER_DLQ)
            for p in self.consumer.partitions_for_topic(t) or await self._partitions(t)
        ]
        self.consumer.assign(tps)
        self.start = await self.consumer.end_offsets(tps)
        return self

    async def _partitions(self, topic: str) -> set[int]:
        await self.consumer._client.force_metadata_update()  # noqa: SLF001 - one lookup
        return self.consumer.partitions_for_topic(topic) or set()

    async def __aexit__(self, *_exc: object) -> None:
        await self.consumer.stop()

    async def naming_the_shop(self) -> dict[str, list[bytes]]:
        """Every record since the start that names the shop, by topic."""
        ends = await self.consumer.end_offsets(list(self.start))
        found: dict[str, list[bytes]] = {}
        for tp, begin in self.start.items():
            if ends[tp] <= begin:
                continue
            self.consumer.seek(tp, begin)
            seen = begin
            while seen < ends[tp]:
                batch = await self.consumer.getmany(tp, timeout_ms=2000)
                records = batch.get(tp, [])
                if not records:
                    break
                for r in records:
                    seen = r.offset + 1
                    raw = (r.key or b"") + (r.value or b"")
                    raw += b"".join(v for _, v in r.headers)
                    if SHOP.encode() in raw:
                        found.setdefault(tp.topic, []).append(r.value or b"")
        return found


def shop_keys(redis_url: str) -> list[bytes]:
    with sync_redis(redis_url) as client:
        return list(client.scan_iter(match=f"*{SHOP}*", count=1000))


async def test_forged_stale_and_oversized_deliveries_are_refused_and_leave_nothing(
    running: Running,
) -> None:
    async with Broker() as broker, httpx.AsyncClient(base_url=running.receiver) as http:
        body = order_body()
        forged = signed(body, **{"X-Shopify-Hmac-Sha256": base64.b64encode(b"x" * 32).decode()})
        assert (
            await http.post("/webhooks/shopify", content=body, headers=forged)
        ).status_code == 401
        wrong_key = hmac.new(b"guessed-secret", body, hashlib.sha256).digest()
        forged = signed(body, **{"X-Shopify-Hmac-Sha256": base64.b64encode(wrong_key).decode()})
        assert (
            await http.post("/webhooks/shopify", content=body, headers=forged)
        ).status_code == 401
        stale = signed(body, **{"X-Shopify-Triggered-At": stamp(-timedelta(days=3))})
        r = await http.post("/webhooks/shopify", content=body, headers=stale)
        assert r.status_code == 400
        big = orjson.dumps({"id": 1, "note": "x" * MAX_BODY})
        r = await http.post("/webhooks/shopify", content=big, headers=signed(big))
        assert r.status_code == 413
        assert await broker.naming_the_shop() == {}
        assert shop_keys(running.redis_url) == []


async def test_a_relabelled_order_body_erases_nothing_and_a_replay_applies_once(
    running: Running,
) -> None:
    async with Broker() as broker, httpx.AsyncClient(base_url=running.receiver) as http:
        body = order_body()
        headers = signed(body)
        assert (
            await http.post("/webhooks/shopify", content=body, headers=headers)
        ).status_code == 200
        keys = sorted(shop_keys(running.redis_url))
        assert keys  # the delivery's ledger record, which a shop/redact would erase
        # the captured signed body relabelled shop/redact under a fresh webhook id
        relabelled = {**headers, "X-Shopify-Topic": "shop/redact",
                      "X-Shopify-Webhook-Id": str(uuid.uuid4())}  # fmt: skip
        r = await http.post("/webhooks/shopify", content=body, headers=relabelled)
        assert r.status_code == 400 and "not a shop/redact request" in r.text
        # the same delivery sent again, as captured: a duplicate, published once
        again = await http.post("/webhooks/shopify", content=body, headers=headers)
        assert again.status_code == 200
        found = await broker.naming_the_shop()
        assert len(found.get(WEBHOOKS_SHOPIFY, [])) == 1  # the real delivery, once
        assert COMPLIANCE not in found  # no erasure requested downstream
        [kept] = found[RECEIVER_DLQ]  # the relabelled body kept with its reason, not applied
        assert b"not a shop/redact request" in kept
        assert sorted(shop_keys(running.redis_url)) == keys  # nothing erased, nothing added


async def test_the_receiver_does_not_describe_itself_and_admin_routes_need_the_token(
    running: Running,
) -> None:
    async with httpx.AsyncClient(base_url=running.receiver) as http:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await http.get(path)).status_code == 404
        assert (await http.get("/admin/parked")).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert (await http.get("/admin/parked", headers=wrong)).status_code == 401
        right = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert (await http.get("/admin/parked", headers=right)).status_code == 200
        # the DLQ API is not mounted on the internet-facing receiver in production
        assert (await http.get("/admin/dlq", headers=right)).status_code == 404


async def test_a_token_guesser_rotating_x_forwarded_for_is_still_throttled(
    running: Running,
) -> None:
    async with httpx.AsyncClient(base_url=running.receiver) as http:
        codes = []
        for i in range(60):  # the peer's cap is 50 failures (other tests here add theirs)
            spoofed = {"Authorization": f"Bearer guess-{i}", "X-Forwarded-For": f"203.0.113.{i}"}
            codes.append((await http.get("/admin/parked", headers=spoofed)).status_code)
            if codes[-1] != 401:
                break
        assert codes[-1] == 429 and len(codes) <= 51  # one address, whatever the header said
        # the right token from the same peer waits too: the guesser gets no answer from it
        right = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Forwarded-For": "198.51.100.1"}
        assert (await http.get("/admin/parked", headers=right)).status_code == 429


async def test_console_logins_with_rotating_x_forwarded_for_are_throttled_by_peer(
    running: Running,
) -> None:
    name, password = DEMO_ADMIN
    async with httpx.AsyncClient(base_url=running.console) as http:
        codes = []
        for i in range(21):  # 20 failures from one address refuse every login from it
            form = {"user": f"nobody-{i}", "password": "wrong password!", "next": "/stores"}
            spoofed = {"X-Forwarded-For": f"203.0.113.{i}"}
            codes.append((await http.post("/login", data=form, headers=spoofed)).status_code)
        assert codes[:20] == [401] * 20 and codes[20] == 429
        form = {"user": name, "password": password, "next": "/stores"}
        r = await http.post("/login", data=form, headers={"X-Forwarded-For": "198.51.100.2"})
        assert r.status_code == 429 and "stocksync_console" not in r.cookies
        # an API call with no or a wrong token gets nothing (a wrong one 401, or 429: the
        # bearer counters of this address are shared with the receiver's, in the one Redis)
        assert (await http.get("/api/users")).status_code == 401
        wrong = {"Authorization": "Bearer sst_0000000000000000_" + "A" * 43}
        assert (await http.get("/api/users", headers=wrong)).status_code in (401, 429)
    with sync_redis(running.redis_url) as client:
        assert list(client.scan_iter(match="console:session:*")) == []
