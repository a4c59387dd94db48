"""Warehouse shipments to Shopify fulfilments (and, for ``order.routed``, fulfillment orders
moved to where routing placed the units: :mod:`shopify_sync.fulfillment_mover`).

``order.shipped`` (from wms-connector, on orders.v1) names the order, the shipped SKUs and
the tracking. The order's open fulfillment orders are read (all of them with all their
lines, a page at a time: :mod:`shopify_sync.fulfillment_orders`), the shipped units matched to
their lines by SKU, and one ``fulfillmentCreate`` carries the tracking. Idempotent by the
shipment id: a Redis marker is set once Shopify accepted it, and a shipment whose units are
already fulfilled (nothing remaining) creates nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.structs import TopicPartition
from redis.asyncio import Redis

from shopify_sync.adapters.fulfillment_documents import FULFILLMENT_CREATE, FULFILLMENT_CREATE_COST
from shopify_sync.adapters.shopify import ShopifyClient
from shopify_sync.fulfillment_mover import FulfillmentOrderMover
from shopify_sync.fulfillment_orders import every_fulfillment_order
from stocksync_common.consumer import Incoming, PoisonMessage, handling
from stocksync_common.events import OrderRouted, OrderShipped, WarehouseShipment
from stocksync_common.stores import Store, StoresConfig

log = logging.getLogger(__name__)
OPEN = frozenset({"OPEN", "IN_PROGRESS"})
MARKER_TTL_S = 90 * 24 * 3600


def plan_fulfillment(
    fulfillment_orders: list[dict[str, Any]], shipped: dict[str, int]
) -> list[dict[str, Any]]:
    """``lineItemsByFulfillmentOrder`` taking each shipped SKU's units from open lines."""
    left = dict(shipped)
    groups = []
    for fo in fulfillment_orders:
        if fo.get("status") not in OPEN:
            continue
        items = []
        for line in (fo.get("lineItems") or {}).get("nodes") or []:
            sku, remaining = line.get("sku"), int(line.get("remainingQuantity") or 0)
            take = min(left.get(sku, 0), remaining) if sku else 0
            if take > 0:
                items.append({"id": line["id"], "quantity": take})
                left[sku] -= take
        if items:
            groups.append({"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": items})
    return groups


def shipped_units(shipment: WarehouseShipment) -> dict[str, int]:
    units: dict[str, int] = {}
    for line in shipment.lines:
        if line.sku:
            units[line.sku] = units.get(line.sku, 0) + line.quantity
    return units


@dataclass
class FulfillmentHandler:
    stores: StoresConfig
    client: ShopifyClient
    redis: Redis
    # order.routed: fulfillment orders moved to where routing placed the units (ADR 0035)
    mover: FulfillmentOrderMover | None = None

    async def handle_batch(self, _tp: TopicPartition, items: Sequence[Incoming]) -> None:
        for item in items:
            event = item.event
            if isinstance(event, OrderShipped):
                with handling(item, "shopify-sync fulfillment"):
                    await self.fulfil(event.payload)
            elif isinstance(event, OrderRouted) and self.mover is not None:
                with handling(item, "shopify-sync fulfillment order move"):
                    await self.mover.on_routed(event.payload)

    async def fulfil(self, shipment: WarehouseShipment) -> str | None:
        """The fulfillment id created, or None when there was nothing (left) to do."""
        store = self.stores.by_shop(shipment.shop)
        if store is None:
            log.warning("shipment for an unknown shop", extra={"shop": shipment.shop})
            return None
        marker = f"sync:fulfilled:{{{shipment.shop}}}:{shipment.shipment_id}"
        if await self.redis.exists(marker):
            return None
        fulfillment_orders = await every_fulfillment_order(self.client, store, shipment.order_id)
        groups = plan_fulfillment(fulfillment_orders, shipped_units(shipment))
        if not groups:
            log.info("nothing left to fulfil", extra={"order": shipment.order_id})
            await self.redis.set(marker, "nothing", ex=MARKER_TTL_S)
            return None
        fulfillment_id = await self._create(store, shipment, groups)
        await self.redis.set(marker, fulfillment_id, ex=MARKER_TTL_S)
        log.info("fulfilment created", extra={"order": shipment.order_id, "id": fulfillment_id})
        return fulfillment_id

    async def _create(
        self, store: Store, shipment: WarehouseShipment, groups: list[dict[str, Any]]
    ) -> str:
        tracking = {
            k: v
            for k, v in {
                "number": shipment.tracking_number,
                "company": shipment.carrier,
                "url": shipment.tracking_url,
            }.items()
            if v
        }
        fulfillment: dict[str, Any] = {
            "lineItemsByFulfillmentOrder": groups,
            "notifyCustomer": True,
        }
        if tracking:
            fulfillment["trackingInfo"] = tracking
        data = await self.client.execute(
            store, FULFILLMENT_CREATE, {"fulfillment": fulfillment},
            operation="CreateFulfillment", cost=FULFILLMENT_CREATE_COST,
        )  # fmt: skip
        payload = data.get("fulfillmentCreate") or {}
        errors = payload.get("userErrors") or []
        if errors or not payload.get("fulfillment"):
            raise PoisonMessage(f"fulfillmentCreate refused on {store.shop}: {errors}")
        return str(payload["fulfillment"]["id"])
