"""WMS webhooks in: inventory commands, and for a shipment the ``order.shipped`` fact."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata, TopicPartition
from pydantic import ValidationError

from stocksync_common.consumer import Incoming, PoisonMessage, handling
from stocksync_common.events import (
    InventoryCommand,
    InventoryCommandRequested,
    OrderShipped,
    WarehouseShipment,
    WmsWebhookReceived,
    stable_id,
)
from stocksync_common.kafka import send_event
from stocksync_common.topics import INVENTORY_COMMANDS, ORDERS
from wms_connector.domain import commands_for, shipment_of


class RoutedLines(Protocol):
    """A routed order's line id per (SKU, location) (:class:`RedisOrderState`)."""

    async def lines_of(self, ref: str) -> dict[tuple[str, str], str]: ...


@dataclass
class WmsHandler:
    producer: AIOKafkaProducer
    routed: RoutedLines | None = None
    source: str = "wms-connector"

    async def handle_batch(self, tp: TopicPartition, items: Sequence[Incoming]) -> None:
        futures: list[asyncio.Future[RecordMetadata]] = []
        for item in items:
            event = item.event
            if not isinstance(event, WmsWebhookReceived):
                raise PoisonMessage(f"unexpected event type {event.type} on {tp.topic}")
            wms = event.payload
            lines = None
            if wms.event_type == "shipment" and wms.order_id and self.routed is not None:
                lines = await self.routed.lines_of(wms.order_id)
            try:
                commands = commands_for(wms, lines)
                shipment = shipment_of(event.payload)
            except ValidationError as exc:
                raise PoisonMessage(f"WMS event {event.payload.event_id}: {exc}") from exc
            with handling(item, f"wms-connector {event.payload.event_type}"):
                futures.extend(await self._publish(event, commands))
                if shipment is not None:
                    futures.append(await self._shipped(event, shipment))
        await asyncio.gather(*futures)

    async def _publish(
        self, event: WmsWebhookReceived, commands: list[InventoryCommand]
    ) -> list[asyncio.Future[RecordMetadata]]:
        futures = []
        for cmd in commands:
            out = InventoryCommandRequested(
                id=stable_id(cmd.idempotency_key),
                correlation_id=event.correlation_id,
                causation_id=event.id,
                source=self.source,
                payload=cmd,
            )
            futures.append(await send_event(self.producer, INVENTORY_COMMANDS, cmd.sku, out))
        return futures

    async def _shipped(
        self, event: WmsWebhookReceived, shipment: WarehouseShipment
    ) -> asyncio.Future[RecordMetadata]:
        """``order.shipped`` on orders.v1, keyed by order id; its id derives from the WMS
        event id, so a redelivered shipment carries the same id (shopify-sync dedupes)."""
        out = OrderShipped(
            id=stable_id("wms", "shipped", shipment.shipment_id),
            correlation_id=event.correlation_id,
            causation_id=event.id,
            source=self.source,
            shop=shipment.shop,
            payload=shipment,
        )
        return await send_event(self.producer, ORDERS, shipment.order_id, out)
