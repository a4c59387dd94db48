"""Keeping the catalog mapping: discovery (a bulk operation for large catalogs, a paginated
query for small ones), lookups of SKUs not mapped yet, products/* webhooks, problems, and
reading a store's levels (for refreshes after a stale answer and for reconciliation)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from shopify_sync.adapters import metrics
from shopify_sync.adapters.bulk import BulkRunner
from shopify_sync.adapters.documents import (
    BULK_CATALOG_QUERY,
    CATALOG_PAGE,
    FIND_ITEMS_BY_SKU,
    LEVELS_BY_ITEMS,
    VARIANTS_COUNT,
    catalog_page_cost,
    find_items_cost,
    largest_page,
    levels_by_items_cost,
)
from shopify_sync.adapters.shopify import ShopifyClient
from shopify_sync.domain.catalog import (
    CatalogEntry,
    Discovered,
    available_of,
    entry_from_item,
    entry_from_variant,
    gid,
    mismatches,
    parse_bulk,
    webhook_entries,
)
from shopify_sync.domain.quantities import ItemKey, Target
from shopify_sync.ports import CatalogState, SyncState
from stocksync_common.stores import Store

log = logging.getLogger(__name__)

LOOKUP_BATCH = largest_page(int(find_items_cost(1) - 2))
PAGE_SIZE = largest_page(int(catalog_page_cost(1) - 2))
LEVELS_BATCH = 200


def sku_query(skus: Iterable[str]) -> str:
    terms = []
    for sku in skus:
        escaped = sku.replace("\\", "\\\\").replace('"', '\\"')
        terms.append(f'sku:"{escaped}"')
    return " OR ".join(terms)


def store_levels(store: Store, found: Discovered) -> dict[ItemKey, int | None]:
    """Levels at the store's mapped locations (None where the item is not stocked)."""
    out: dict[ItemKey, int | None] = {}
    for sku, entry in found.entries.items():
        for location, location_gid in store.locations.items():
            level = found.levels.get((sku, location_gid))
            if level is not None or location_gid not in entry.locations:
                out[(sku, location)] = level
    return out


@dataclass
class CatalogMapping:
    client: ShopifyClient
    catalog: CatalogState
    state: SyncState
    bulk: BulkRunner
    bulk_threshold: int = 500
    absent_ttl_s: float = 300.0

    async def resolve(self, store: Store, skus: Iterable[str]) -> dict[str, CatalogEntry]:
        """The mapping of each SKU the store lists; unknown SKUs are looked up (in batches)
        unless recently found absent."""
        wanted = list(dict.fromkeys(skus))
        known = await self.catalog.entries(store.shop, wanted)
        unknown = [s for s in wanted if s not in known]
        absent = await self.catalog.absent(store.shop, unknown, self.absent_ttl_s)
        lookup = [s for s in unknown if s not in absent]
        if len(lookup) > self.bulk_threshold:
            # Many unknown SKUs (a cold start, a new store): one read of the whole catalog
            # is far cheaper than lookups by SKU (a bulk query costs 10 points).
            await self.discover(store)
            known.update(await self.catalog.entries(store.shop, lookup))
            await self.catalog.mark_absent(store.shop, [s for s in lookup if s not in known])
            return known
        for start in range(0, len(lookup), LOOKUP_BATCH):
            known.update(await self._lookup(store, lookup[start : start + LOOKUP_BATCH]))
        return known

    async def _lookup(self, store: Store, skus: Sequence[str]) -> dict[str, CatalogEntry]:
        data = await self.client.execute(
            store,
            FIND_ITEMS_BY_SKU,
            {"first": len(skus), "query": sku_query(skus), "levels": 5},
            operation="FindInventoryItems",
            cost=find_items_cost(len(skus)),
        )
        found = Discovered()
        for node in (data.get("inventoryItems") or {}).get("nodes") or []:
            entry, levels = entry_from_item(node, "lookup")
            if entry.sku in skus:
                found.add(entry.sku, entry, levels)
        await self.catalog.put(store.shop, list(found.entries.values()))
        await self.state.observed(store.shop, store_levels(store, found))
        await self.catalog.mark_absent(store.shop, [s for s in skus if s not in found.entries])
        return found.entries

    async def read_store(self, store: Store) -> tuple[Discovered, str]:
        """Every variant and level of the store: paginated when small, bulk when large."""
        data = await self.client.execute(
            store, VARIANTS_COUNT, {"limit": self.bulk_threshold + 1}, operation="VariantsCount",
            cost=1,
        )  # fmt: skip
        count = int((data.get("productVariantsCount") or {}).get("count") or 0)
        if count > self.bulk_threshold:
            return parse_bulk(await self.bulk.run(store, BULK_CATALOG_QUERY)), "bulk"
        return await self._pages(store), "paginated"

    async def _pages(self, store: Store) -> Discovered:
        found = Discovered()
        after: str | None = None
        while True:
            data = await self.client.execute(
                store,
                CATALOG_PAGE,
                {"first": PAGE_SIZE, "after": after, "levels": 5},
                operation="CatalogPage",
                cost=catalog_page_cost(PAGE_SIZE),
            )
            page: dict[str, Any] = data.get("productVariants") or {}
            for node in page.get("nodes") or []:
                entry, levels = entry_from_variant(node, "discovered")
                found.add(entry.sku, entry, levels)
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return found
            after = info.get("endCursor")

    async def discover(self, store: Store) -> dict[str, Any]:
        """Map the whole store; the summary (also kept as the catalog's meta)."""
        started = time.monotonic()
        found, method = await self.read_store(store)
        await self.save(store, found, method)
        summary = {"method": method, "skus": len(found.entries), "at": time.time()}
        log.info(
            "catalog discovered",
            extra={"shop": store.shop, **summary, "seconds": time.monotonic() - started},
        )
        return summary

    async def save(self, store: Store, found: Discovered, method: str) -> None:
        """Replace the mapping with what a full read found; report the problems."""
        before = await self.catalog.entries(store.shop, found.entries)
        pinned = {s: e for s, e in before.items() if e.source == "import"}
        await self.catalog.put(store.shop, list(found.entries.values()), replace=True)
        await self.state.observed(store.shop, store_levels(store, found))
        unstocked = sorted(
            s
            for s, e in found.entries.items()
            if not set(e.locations) & set(store.locations.values())
        )
        problems = {
            "duplicates": found.duplicates,
            "blank_variants": found.blank,
            "mismatched": mismatches(pinned, found.entries),
            "unstocked": unstocked,
        }
        for kind, items in problems.items():
            metrics.MAPPING_PROBLEMS.labels(store.shop, kind).set(len(items))
        meta = {"method": method, "skus": len(found.entries), "at": time.time()}
        await self.catalog.set_meta(store.shop, {"discovery": meta, "problems": problems})

    async def note_missing(self, store: Store, skus: Iterable[str]) -> None:
        """SKUs truth has that the store does not list (informational: a store may not sell
        everything)."""
        missing = sorted(set(skus))
        meta = await self.catalog.meta(store.shop)
        problems = meta.get("problems") or {}
        problems["missing"] = missing[:10_000]
        metrics.MAPPING_PROBLEMS.labels(store.shop, "missing").set(len(missing))
        await self.catalog.set_meta(store.shop, {"problems": problems})

    async def apply_webhook(self, store: Store, topic: str, body: Mapping[str, Any]) -> int:
        """products/create, products/update: map the product's variants (a changed SKU moves
        its mapping); products/delete: forget them. The number of SKUs touched."""
        product = str(body.get("admin_graphql_api_id") or gid("Product", body.get("id")))
        if topic == "products/delete":
            await self.catalog.swap_product_skus(store.shop, product, [])
            entries = await self.catalog.all_entries(store.shop)  # rare: a scan is fine
            gone = [e.sku for e in entries if e.product_id == product]
            await self.catalog.remove(store.shop, gone)
            return len(gone)
        fresh = webhook_entries(body)
        shown = await self.catalog.swap_product_skus(store.shop, product, [e.sku for e in fresh])
        previous = await self.catalog.skus_of_variants(store.shop, [e.variant_id for e in fresh])
        old = await self.catalog.entries(
            store.shop, [e.sku for e in fresh] + shown + list(previous.values())
        )
        dropped = [  # variants removed from the product since its last webhook
            sku for sku in shown
            if sku in old and old[sku].product_id == product and sku not in {e.sku for e in fresh}
        ]  # fmt: skip
        await self.catalog.remove(store.shop, dropped)
        fresh = [_located(e, old, previous.get(e.variant_id)) for e in fresh]
        skus = {e.sku for e in fresh}
        renamed = [sku for sku in previous.values() if sku not in skus]
        await self.catalog.remove(store.shop, renamed)
        await self.catalog.put(store.shop, fresh)
        await self.catalog.clear_absent(store.shop, skus)
        return len(renamed) + len(dropped) + len(fresh)

    async def read_levels(
        self, store: Store, targets: Sequence[Target]
    ) -> dict[ItemKey, int | None]:
        """The store's current ``available`` for each target (None: not stocked there)."""
        by_location: dict[str, list[Target]] = {}
        for t in targets:
            by_location.setdefault(t.location_gid, []).append(t)
        out: dict[ItemKey, int | None] = {}
        for location_gid, group in by_location.items():
            for start in range(0, len(group), LEVELS_BATCH):
                part = group[start : start + LEVELS_BATCH]
                ids = list(dict.fromkeys(t.item_id for t in part))
                data = await self.client.execute(
                    store, LEVELS_BY_ITEMS, {"ids": ids, "locationId": location_gid},
                    operation="InventoryLevelsByItems", cost=levels_by_items_cost(len(ids)),
                )  # fmt: skip
                levels = {
                    str(n["id"]): available_of(n.get("inventoryLevel") or {})
                    for n in data.get("nodes") or []
                    if isinstance(n, dict) and n.get("id")
                }
                for t in part:
                    out[t.key] = levels.get(t.item_id)
        await self.state.observed(store.shop, out)
        return out


def _located(
    entry: CatalogEntry, old: Mapping[str, CatalogEntry], renamed_from: str | None
) -> CatalogEntry:
    """The entry with the stocked locations known for its inventory item, under its SKU or
    the SKU it had before a rename (the item, and so its levels, stayed)."""
    for sku in (entry.sku, renamed_from):
        known = old.get(sku) if sku else None
        if known is not None and known.item_id == entry.item_id:
            return replace(entry, locations=known.locations)
    return entry
