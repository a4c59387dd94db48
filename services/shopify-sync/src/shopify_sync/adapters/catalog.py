"""Which inventory item a SKU is in each store, and the level last known there.

Looked up lazily by SKU and cached; a store that does not list a SKU is remembered too.
(The full mapping, bulk discovery and CSV import are a later step.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shopify_sync.adapters.documents import FIND_ITEMS_BY_SKU
from shopify_sync.adapters.shopify import ShopifyClient
from stocksync_common.stores import Store


def sku_query(sku: str) -> str:
    escaped = sku.replace("\\", "\\\\").replace('"', '\\"')
    return f'sku:"{escaped}"'


@dataclass
class Catalog:
    client: ShopifyClient
    items: dict[tuple[str, str], str | None] = field(default_factory=dict)
    levels: dict[tuple[str, str, str], int] = field(default_factory=dict)

    async def item_for(self, store: Store, sku: str, location_gid: str) -> str | None:
        key = (store.shop, sku)
        if key not in self.items:
            await self.refresh(store, sku, location_gid)
        return self.items[key]

    async def refresh(self, store: Store, sku: str, location_gid: str) -> None:
        data = await self.client.execute(
            store,
            FIND_ITEMS_BY_SKU,
            {"first": 5, "query": sku_query(sku), "locationId": location_gid},
            cost_hint=8,
        )
        nodes = [
            n for n in (data.get("inventoryItems") or {}).get("nodes", []) if n.get("sku") == sku
        ]
        if not nodes:
            self.items[(store.shop, sku)] = None
            return
        node = nodes[0]
        self.items[(store.shop, sku)] = node["id"]
        qty = _available(node.get("inventoryLevel"))
        if qty is not None:
            self.levels[(store.shop, node["id"], location_gid)] = qty

    def known_level(self, shop: str, item_id: str, location_gid: str) -> int | None:
        return self.levels.get((shop, item_id, location_gid))

    def remember(self, shop: str, item_id: str, location_gid: str, qty: int) -> None:
        self.levels[(shop, item_id, location_gid)] = qty


def _available(level: dict[str, Any] | None) -> int | None:
    if not level:
        return None
    for q in level.get("quantities") or []:
        if q.get("name") == "available":
            return int(q["quantity"])
    return None
