"""Fakes for the order handler: a producer that keeps what it was sent, in-memory orders."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from unit.order_consumer.payloads import SHOP, STORE

from order_consumer.adapters.redis_orders import OrderRef, Snapshot, Versioned
from order_consumer.domain import OrderState
from order_consumer.handlers import OrderHandler
from stocksync_common.events import (
    Event,
    InventoryCommand,
    InventoryCommandRequested,
    OrderOversold,
    OversoldLine,
    ShopifyWebhook,
    ShopifyWebhookReceived,
    decode,
    stable_id,
)
from stocksync_common.stores import StoresConfig
from stocksync_common.topics import INVENTORY_COMMANDS, ORDERS


@dataclass
class Sent:
    topic: str
    key: str
    event: Event


@dataclass
class FakeProducer:
    sent: list[Sent] = field(default_factory=list)
    fail: bool = False

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[None]:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append(Sent(topic, key.decode(), decode(value)))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def commands(self) -> list[InventoryCommand]:
        out = []
        for s in self.sent:
            if s.topic == INVENTORY_COMMANDS:
                assert isinstance(s.event, InventoryCommandRequested)
                assert s.key == s.event.payload.sku
                assert s.event.id == stable_id(s.event.payload.idempotency_key)
                out.append(s.event.payload)
        return out

    def order_events(self) -> list[Event]:
        return [s.event for s in self.sent if s.topic == ORDERS]

    def clear(self) -> None:
        self.sent.clear()


@dataclass
class MemoryOrders:
    docs: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    skumap: dict[str, str] = field(default_factory=dict)
    before_save: list[Callable[[], None]] = field(default_factory=list)

    async def load(self, shop: str, order_id: str) -> Versioned:
        rev, doc = self.docs.get((shop, order_id), (0, ""))
        return Versioned(rev, OrderState.model_validate_json(doc) if doc else None)

    async def save(self, shop: str, order_id: str, rev: int, state: OrderState) -> bool:
        if self.before_save:
            self.before_save.pop(0)()  # another consumer gets there first
        current, _ = self.docs.get((shop, order_id), (0, ""))
        if current != rev:
            return False
        self.docs[(shop, order_id)] = (rev + 1, state.model_dump_json())
        return True

    async def sku_map(self, shop: str, variant_ids: Iterable[str]) -> dict[str, str]:
        return {v: self.skumap[v] for v in variant_ids if v in self.skumap}

    async def read(
        self, refs: Collection[OrderRef], variants: Mapping[str, Iterable[str]] | None = None
    ) -> Snapshot:
        orders = {ref: await self.load(*ref) for ref in refs}
        skumaps = {shop: await self.sku_map(shop, ids) for shop, ids in (variants or {}).items()}
        return Snapshot(orders, skumaps)

    async def save_many(
        self, saves: Mapping[OrderRef, tuple[int, OrderState]]
    ) -> dict[OrderRef, bool]:
        return {ref: await self.save(*ref, rev, state) for ref, (rev, state) in saves.items()}


def handler(orders: Any, producer: FakeProducer | None = None) -> OrderHandler:
    return OrderHandler(StoresConfig(stores=[STORE]), producer or FakeProducer(), orders)  # type: ignore[arg-type]


def webhook(
    topic: str, body: dict[str, Any], webhook_id: str, shop: str = SHOP
) -> ShopifyWebhookReceived:
    return ShopifyWebhookReceived(
        id=stable_id("shopify", shop, webhook_id),
        source="test",
        shop=shop,
        payload=ShopifyWebhook(topic=topic, shop=shop, webhook_id=webhook_id, body=body),
    )


def oversold(cmd: InventoryCommand, available: int = 0) -> OrderOversold:
    """What inventory-adjuster publishes when it refuses ``cmd`` (a ``reserve``)."""
    return OrderOversold(
        id=stable_id(cmd.idempotency_key, "oversold"),
        source="inventory-adjuster",
        shop=cmd.order.shop if cmd.order else None,
        payload=OversoldLine(
            sku=cmd.sku,
            location=cmd.location,
            requested=cmd.quantity,
            available=available,
            idempotency_key=cmd.idempotency_key,
            order=cmd.order,
        ),
    )
