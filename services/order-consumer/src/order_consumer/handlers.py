"""Shopify order webhooks to inventory commands and order events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata, TopicPartition
from prometheus_client import Counter

from order_consumer.domain import BadOrder, line_commands, parse_order
from stocksync_common.consumer import Incoming, PoisonMessage, handling
from stocksync_common.events import (
    CommandName,
    InventoryCommandRequested,
    OrderReceived,
    ShopifyWebhookReceived,
    stable_id,
)
from stocksync_common.kafka import send_event
from stocksync_common.stores import StoresConfig
from stocksync_common.topics import INVENTORY_COMMANDS, ORDERS

log = logging.getLogger(__name__)

ORDERS_SEEN = Counter("stocksync_orders_total", "Order webhooks handled, by topic.", ["topic"])
UNMAPPED = Counter("stocksync_unmapped_lines_total", "Order lines with no SKU mapping.", ["shop"])

# Webhook topic -> inventory command for each line.
LINE_COMMAND: dict[str, CommandName] = {"orders/create": "reserve", "orders/cancelled": "release"}


@dataclass
class OrderHandler:
    stores: StoresConfig
    producer: AIOKafkaProducer
    source: str = "order-consumer"

    async def handle_batch(self, tp: TopicPartition, items: Sequence[Incoming]) -> None:
        futures: list[asyncio.Future[RecordMetadata]] = []
        for item in items:
            if not isinstance(item.event, ShopifyWebhookReceived):
                raise PoisonMessage(f"unexpected event type {item.event.type} on {tp.topic}")
            with handling(item, f"order-consumer {item.event.payload.topic}"):
                futures.extend(await self.handle_webhook(item.event))
        await asyncio.gather(*futures)

    async def handle_webhook(
        self, event: ShopifyWebhookReceived
    ) -> list[asyncio.Future[RecordMetadata]]:
        hook = event.payload
        command = LINE_COMMAND.get(hook.topic)
        if command is None:
            return []
        store = self.stores.by_shop(hook.shop)
        if store is None:
            raise PoisonMessage(f"shop {hook.shop} is not configured")
        try:
            order = parse_order(store, hook.body)
        except BadOrder as exc:
            raise PoisonMessage(str(exc)) from exc
        ORDERS_SEEN.labels(hook.topic).inc()
        if order.unmapped_lines:
            UNMAPPED.labels(hook.shop).inc(len(order.unmapped_lines))
            log.warning("order lines without SKU", extra={"lines": order.unmapped_lines})
        meta = {
            "correlation_id": event.correlation_id,
            "causation_id": event.id,
            "source": self.source,
            "shop": hook.shop,
        }
        out = []
        for cmd in line_commands(order, command):
            cmd_event = InventoryCommandRequested(
                id=stable_id(cmd.idempotency_key), payload=cmd, **meta
            )
            out.append(await send_event(self.producer, INVENTORY_COMMANDS, cmd.sku, cmd_event))
        if hook.topic == "orders/create":
            received = OrderReceived(
                id=stable_id("order", hook.shop, order.order_id), payload=order, **meta
            )
            out.append(await send_event(self.producer, ORDERS, order.order_id, received))
        return out
