"""Push truth to every store that lists the SKU: coalesced, batched, compare-and-set."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.structs import TopicPartition
from prometheus_client import Counter, Histogram

from shopify_sync.adapters.catalog import Catalog
from shopify_sync.adapters.documents import SET_QUANTITIES
from shopify_sync.adapters.shopify import ShopifyClient, ShopifyError
from stocksync_common.consumer import Incoming, handling
from stocksync_common.events import InventoryChanged, StockChange
from stocksync_common.stores import Store, StoresConfig

log = logging.getLogger(__name__)

BATCH_LIMIT = 250
PUSHED = Counter("stocksync_shopify_quantities_pushed_total", "Quantities set, per shop.", ["shop"])
STALE = Counter(
    "stocksync_shopify_stale_total", "CHANGE_FROM_QUANTITY_STALE answers, per shop.", ["shop"]
)
PUSH_SECONDS = Histogram(
    "stocksync_shopify_push_seconds",
    "Time to push one coalesced batch to one shop.",
    ["shop"],
    buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


@dataclass(frozen=True)
class Target:
    sku: str
    item_id: str
    location_gid: str
    quantity: int
    version: int


def coalesce(items: Sequence[Incoming]) -> list[StockChange]:
    """Latest version per (SKU, location); older changes in the batch are superseded."""
    latest: dict[tuple[str, str], StockChange] = {}
    for item in items:
        if not isinstance(item.event, InventoryChanged):
            continue
        ch = item.event.payload
        cur = latest.get((ch.sku, ch.location))
        if cur is None or ch.version > cur.version:
            latest[(ch.sku, ch.location)] = ch
    return list(latest.values())


def publish_quantity(change: StockChange, shop: str) -> int:
    """Truth, or the store's share while the SKU is low (channel allocation)."""
    if change.shares is not None:
        return max(0, change.shares.get(shop, 0))
    return max(0, change.after.available)


def idempotency_key(shop: str, quantities: Sequence[dict[str, object]]) -> str:
    """Same write, same key; a retry after a refresh (new ``changeFromQuantity``) gets a new one."""
    h = hashlib.sha256(shop.encode())
    for q in sorted(quantities, key=lambda q: (str(q["inventoryItemId"]), str(q["locationId"]))):
        h.update(
            f"|{q['inventoryItemId']}|{q['locationId']}|{q['quantity']}|{q['changeFromQuantity']}".encode()
        )
    return h.hexdigest()


@dataclass
class InventoryPusher:
    stores: StoresConfig
    client: ShopifyClient
    catalog: Catalog
    max_stale_retries: int = 3

    async def handle_batch(self, _tp: TopicPartition, items: Sequence[Incoming]) -> None:
        changes = coalesce(items)
        if not changes:
            return
        # One span per coalesced batch, continuing the trace of its newest change.
        with handling(items[-1], "shopify-sync push"):
            await asyncio.gather(*(self.sync_store(s, changes) for s in self.stores.stores))

    async def sync_store(self, store: Store, changes: Sequence[StockChange]) -> None:
        targets: list[Target] = []
        for ch in changes:
            gid = store.locations.get(ch.location)
            if gid is None:
                continue
            item_id = await self.catalog.item_for(store, ch.sku, gid)
            if item_id is not None:
                targets.append(
                    Target(ch.sku, item_id, gid, publish_quantity(ch, store.shop), ch.version)
                )
        for start in range(0, len(targets), BATCH_LIMIT):
            await self.push(store, targets[start : start + BATCH_LIMIT])

    async def push(self, store: Store, targets: Sequence[Target]) -> None:
        for _ in range(self.max_stale_retries + 1):
            pending = [
                t
                for t in targets
                if self.catalog.known_level(store.shop, t.item_id, t.location_gid) != t.quantity
            ]
            if not pending:
                return
            with PUSH_SECONDS.labels(store.shop).time():
                errors = await self._set(store, pending)
            if not errors:
                for t in pending:
                    self.catalog.remember(store.shop, t.item_id, t.location_gid, t.quantity)
                PUSHED.labels(store.shop).inc(len(pending))
                return
            if all(e.get("code") == "CHANGE_FROM_QUANTITY_STALE" for e in errors):
                # A sale raced the push: re-read the store's levels, then set again.
                STALE.labels(store.shop).inc()
                for t in pending:
                    await self.catalog.refresh(store, t.sku, t.location_gid)
                continue
            raise ShopifyError(f"{store.shop} refused the update: {errors}")
        raise ShopifyError(f"{store.shop}: levels kept changing under us")

    async def _set(self, store: Store, targets: Sequence[Target]) -> list[dict[str, str]]:
        quantities: list[dict[str, object]] = []
        for t in targets:
            known = self.catalog.known_level(store.shop, t.item_id, t.location_gid)
            quantities.append(
                {
                    "inventoryItemId": t.item_id,
                    "locationId": t.location_gid,
                    "quantity": t.quantity,
                    "changeFromQuantity": known,
                }
            )
        variables = {
            "input": {
                "name": "available",
                "reason": "correction",
                "referenceDocumentUri": "stocksync://inventory-sync",
                "quantities": quantities,
            },
            "idempotencyKey": idempotency_key(store.shop, quantities),
        }
        data = await self.client.execute(store, SET_QUANTITIES, variables, cost_hint=10)
        result = data.get("inventorySetQuantities") or {}
        errors: list[dict[str, str]] = result.get("userErrors") or []
        return errors
