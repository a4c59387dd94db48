"""What the order-consumer tests on Kafka run against: order-consumer and inventory-adjuster
in process (fresh groups started at the end of the shared topics), stores with no routing
(or the given routing, over locations wh-1 and wh-2), and a producer that publishes as the
edge does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiokafka import AIOKafkaProducer

from inventory_adjuster.entrypoints.app import create_app as create_adjuster
from inventory_adjuster.settings import Settings as AdjusterSettings
from order_consumer.adapters.redis_orders import RedisOrders
from order_consumer.domain import LineState, OrderState
from order_consumer.entrypoints.app import create_app as create_order_consumer
from order_consumer.settings import Settings as OrderSettings
from stocksync_common.events import (
    ComplianceRequest,
    ComplianceRequestReceived,
    InventoryCommand,
    InventoryCommandRequested,
    ShopifyWebhook,
    ShopifyWebhookReceived,
    stable_id,
)
from stocksync_common.topics import (
    COMPLIANCE,
    INVENTORY_CHANGED,
    INVENTORY_COMMANDS,
    WEBHOOKS_SHOPIFY,
)
from support.kafka_groups import start_at_end
from support.poll import await_for

SHOP = "waiting.myshopify.com"
ADMIN_TOKEN = "it-admin-token"


def stores_file(path: Path, *shops: str, routing: dict[str, Any] | None = None) -> Path:
    """A stores file of ``shops`` (default: SHOP), each a parent at location wh-1; with
    ``routing``, also at wh-2 (Shopify location 2), routed by it."""
    locations = {"wh-1": "gid://shopify/Location/1"}
    if routing is not None:
        locations["wh-2"] = "gid://shopify/Location/2"
    doc = {
        "stores": [
            {
                "shop": shop,
                "role": "parent",
                "access_token": "t",
                "webhook_secret": "s",
                "locations": locations,
                **({"routing": routing} if routing is not None else {}),
            }
            for shop in shops or (SHOP,)
        ]
    }
    path.write_text(yaml.safe_dump(doc))
    return path


@asynccontextmanager
async def services(kafka: str, redis_url: str, stores: Path) -> AsyncIterator[httpx.AsyncClient]:
    """order-consumer and inventory-adjuster with fresh groups started at the end of the
    shared topics; the adjuster's read API."""
    run = uuid.uuid4().hex[:8]
    common: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka,
        "redis_url": redis_url,
        "stores_file": str(stores),
        "topic_partitions": 6,
        "admin_token": ADMIN_TOKEN,
    }
    orders = OrderSettings(
        **common,
        consumer_group=f"it-oc-{run}",
        oversold_consumer_group=f"it-oc-oversold-{run}",
        compliance_consumer_group=f"it-oc-compliance-{run}",
    )
    adjuster = AdjusterSettings(**common, consumer_group=f"it-adj-{run}")
    await start_at_end(kafka, [orders.consumer_group], [WEBHOOKS_SHOPIFY])
    await start_at_end(kafka, [orders.oversold_consumer_group], [INVENTORY_CHANGED])
    await start_at_end(kafka, [orders.compliance_consumer_group], [COMPLIANCE])
    await start_at_end(kafka, [adjuster.consumer_group], [INVENTORY_COMMANDS])
    async with AsyncExitStack() as stack:
        read = create_adjuster(adjuster)
        for app in (read, create_order_consumer(orders)):
            await stack.enter_async_context(app.router.lifespan_context(app))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=read), base_url="http://a")
        stack.push_async_callback(client.aclose)
        yield client


def command(sku: str, name: str, n: int, location: str = "wh-1") -> InventoryCommandRequested:
    """A stock command as the warehouse or an import sends it (a fresh idempotency key)."""
    cmd = InventoryCommand(
        command=name,  # type: ignore[arg-type]
        idempotency_key=uuid.uuid4().hex,
        sku=sku,
        location=location,
        quantity=n,
    )
    return InventoryCommandRequested(source="test", payload=cmd)


class Shop:
    """Publishes as the edge does: webhooks keyed ``{shop}/{order id}``, commands by SKU."""

    def __init__(self, producer: AIOKafkaProducer, shop: str = SHOP) -> None:
        self.producer = producer
        self.shop = shop

    async def webhook(self, topic: str, oid: int, body: dict[str, Any]) -> None:
        hook_id = uuid.uuid4().hex
        event = ShopifyWebhookReceived(
            id=stable_id("shopify", self.shop, hook_id),
            source="test",
            shop=self.shop,
            payload=ShopifyWebhook(topic=topic, shop=self.shop, webhook_id=hook_id, body=body),
        )
        await self._send(WEBHOOKS_SHOPIFY, f"{self.shop}/{oid}", event)

    async def compliance(self, topic: str, *order_ids: int) -> None:
        """A compliance request as the edge publishes it (``compliance.v1``, keyed by shop)."""
        request = ComplianceRequest(
            topic=topic,  # type: ignore[arg-type]
            shop=self.shop,
            webhook_id=uuid.uuid4().hex,
            order_ids=[str(o) for o in order_ids],
        )
        event = ComplianceRequestReceived(source="test", shop=self.shop, payload=request)
        await self._send(COMPLIANCE, self.shop, event)

    async def stock(self, sku: str, name: str, n: int, location: str = "wh-1") -> None:
        await self._send(INVENTORY_COMMANDS, sku, command(sku, name, n, location))

    async def _send(self, topic: str, key: str, event: Any) -> None:
        await (await self.producer.send(topic, event.model_dump_json().encode(), key=key.encode()))


@dataclass
class Rig:
    """The running services, a producer, and what the tests read back."""

    producer: AIOKafkaProducer
    api: httpx.AsyncClient

    def shop(self, name: str = SHOP) -> Shop:
        return Shop(self.producer, name)

    async def levels(self, sku: str, location: str = "wh-1") -> tuple[int, int] | None:
        """(on_hand, reserved) at ``location``."""
        r = await self.api.get(f"/inventory/{sku}")
        if r.status_code != 200:
            return None
        lv = r.json()["locations"].get(location)
        return (lv["on_hand"], lv["reserved"]) if lv else None

    async def settled(
        self, what: str, sku: str, want: tuple[int, int], location: str = "wh-1"
    ) -> None:
        """Wait until the SKU's (on_hand, reserved) at ``location`` is ``want``."""

        async def at() -> bool:
            return await self.levels(sku, location) == want

        await await_for(what, at, 30)

    async def ledger(self, sku: str) -> list[dict[str, Any]]:
        r = await self.api.get(
            f"/inventory/{sku}/ledger", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        entries: list[dict[str, Any]] = r.json()["entries"]
        return entries


@asynccontextmanager
async def running(
    kafka: str, redis_url: str, tmp: Path, *shops: str, routing: dict[str, Any] | None = None
) -> AsyncIterator[Rig]:
    """The services for ``shops`` (default: SHOP) and a started producer."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True)
    await producer.start()
    stores = stores_file(tmp / "stores.yaml", *shops, routing=routing)
    try:
        async with services(kafka, redis_url, stores) as api:
            yield Rig(producer, api)
    finally:
        await producer.stop()


async def until_state(
    repo: RedisOrders, what: str, oid: int, ready: Callable[[OrderState], bool]
) -> OrderState:
    """Wait until the order's state in Redis is ``ready``."""

    async def matches() -> OrderState | None:
        state = (await repo.load(SHOP, str(oid))).state
        return state if state is not None and ready(state) else None

    return await await_for(what, matches, 30)


async def until_line(repo: RedisOrders, what: str, oid: int, **want: object) -> LineState:
    """Wait until the order's line 1 has these values (counters, ``tried``, ...)."""

    def ready(state: OrderState) -> bool:
        line = state.lines.get("1")
        return line is not None and all(getattr(line, k) == v for k, v in want.items())

    return (await until_state(repo, what, oid, ready)).lines["1"]
