"""Keeping the catalog mapping: discovery (a bulk operation for large catalogs, a paginated
query for small ones), lookups of SKUs not mapped yet, products/* webhooks, problems, and
reading a store's levels (for refreshes after a stale answer and for reconciliation).

Page and batch sizes fit the shop's bucket as last learned (:func:`fitted`): a read takes at
most half of the bucket (the writes of the same shop still get through between pages) and
never more than 1,000 points, so a store whose limits Shopify cut is read in smaller pages.
When a query is still too costly (``MAX_COST_EXCEEDED``, or the bucket shrank meanwhile) the
size is halved and the same page or batch tried again (ADR 0013)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from shopify_sync.adapters import metrics
from shopify_sync.adapters.bulk import BulkRunner
from shopify_sync.adapters.documents import (
    BULK_CATALOG_QUERY,
    CATALOG_PAGE,
    FIND_ITEMS_BY_SKU,
    LEVELS_BY_ITEMS,
    LEVELS_PER_ITEM,
    VARIANTS_COUNT,
    catalog_page_cost,
    find_items_cost,
    levels_by_items_cost,
)
from shopify_sync.adapters.shopify import CostExceeded, ShopifyClient
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
from shopify_sync.domain.pacing import largest_fitting
from shopify_sync.domain.quantities import ItemKey, Target
from shopify_sync.ports import CatalogState, SyncState
from stocksync_common.stores import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

# The most per query whatever the bucket (Shopify's page and input-array limit is 250); the
# bucket decides below that: 49 SKUs or variants per query under 1,000 points.
LOOKUP_MOST = 250
PAGE_MOST = 250
LEVELS_MOST = 200
READ_SHARE = 0.5  # of the bucket one read may take


async def fitted(
    client: ShopifyClient, store: Store, operation: str, cost_of: Callable[[int], float], most: int
) -> int:
    """How many items one ``operation`` may carry at this shop now."""
    budget = await client.budget(store, operation, READ_SHARE)
    return largest_fitting(budget, cost_of, most)


async def in_batches(
    client: ShopifyClient,
    store: Store,
    operation: str,
    cost_of: Callable[[int], float],
    most: int,
    items: Sequence[T],
    run: Callable[[Sequence[T]], Awaitable[None]],
) -> None:
    """``run`` over ``items`` in batches that fit the bucket (:func:`sized`)."""
    start, cap = 0, most

    async def batch(size: int) -> int:
        await run(items[start : start + size])
        return size

    while start < len(items):
        done, cap = await sized(client, store, operation, cost_of, most, batch, cap)
        start += done


Page = dict[str, Any]  # a connection: ``nodes`` and ``pageInfo``


async def sized(
    client: ShopifyClient,
    store: Store,
    operation: str,
    cost_of: Callable[[int], float],
    most: int,
    call: Callable[[int], Awaitable[T]],
    cap: int | None = None,
) -> tuple[T, int]:
    """``call(size)`` with the largest size that fits the bucket (at most ``cap``); a call
    refused as too costly is made again at half the size (one item that does not fit is
    raised). The answer, and the cap for the next call."""
    cap = most if cap is None else cap
    while True:
        size = min(cap, await fitted(client, store, operation, cost_of, most))
        try:
            return await call(size), cap
        except CostExceeded:
            if size <= 1:
                raise
            cap = size // 2


async def all_pages(
    client: ShopifyClient,
    store: Store,
    operation: str,
    cost_of: Callable[[int], float],
    most: int,
    fetch: Callable[[int, str | None], Awaitable[Page]],
    after: str | None = None,
) -> list[Any]:
    """Every node of a connection read by cursor from ``after``: ``fetch(size, after)``
    answers one page, each sized to fit the bucket (:func:`sized`)."""
    nodes: list[Any] = []
    cap = most

    async def page_after(size: int) -> Page:
        return await fetch(size, after)

    while True:
        page, cap = await sized(client, store, operation, cost_of, most, page_after, cap)
        nodes.extend(page.get("nodes") or [])
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return nodes
        after = info.get("endCursor")


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

    async def resolve(
        self, store: Store, skus: Iterable[str], read: Mapping[str, CatalogEntry] | None = None
    ) -> dict[str, CatalogEntry]:
        """The mapping of each SKU the store lists; unknown SKUs are looked up (in batches)
        unless recently found absent. ``read``: the catalog's entries of these SKUs, read
        already (a SKU missing from it is not in the catalog)."""
        wanted = list(dict.fromkeys(skus))
        if read is None:
            known = await self.catalog.entries(store.shop, wanted)
        else:
            known = {sku: entry for sku in wanted if (entry := read.get(sku)) is not None}
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

        async def look_up(part: Sequence[str]) -> None:
            known.update(await self._lookup(store, part))

        await in_batches(
            self.client, store, "FindInventoryItems", find_items_cost, LOOKUP_MOST, lookup,
            look_up,
        )  # fmt: skip
        return known

    async def _lookup(self, store: Store, skus: Sequence[str]) -> dict[str, CatalogEntry]:
        since = await self.state.stamp(store.shop)
        data = await self.client.execute(
            store,
            FIND_ITEMS_BY_SKU,
            {"first": len(skus), "query": sku_query(skus), "levels": LEVELS_PER_ITEM},
            operation="FindInventoryItems",
            cost=find_items_cost(len(skus)),
        )
        found = Discovered()
        for node in (data.get("inventoryItems") or {}).get("nodes") or []:
            entry, levels = entry_from_item(node, "lookup")
            if entry.sku in skus:
                found.add(entry.sku, entry, levels)
        await self.catalog.put(store.shop, list(found.entries.values()))
        await self.state.observed(store.shop, store_levels(store, found), since=since)
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
        async def page(size: int, after: str | None) -> Page:
            data = await self.client.execute(
                store, CATALOG_PAGE, {"first": size, "after": after, "levels": LEVELS_PER_ITEM},
                operation="CatalogPage", cost=catalog_page_cost(size),
            )  # fmt: skip
            return data.get("productVariants") or {}

        found = Discovered()
        nodes = await all_pages(
            self.client, store, "CatalogPage", catalog_page_cost, PAGE_MOST, page
        )
        for node in nodes:
            entry, levels = entry_from_variant(node, "discovered")
            found.add(entry.sku, entry, levels)
        return found

    async def discover(self, store: Store) -> dict[str, Any]:
        """Map the whole store; the summary (also kept as the catalog's meta)."""
        started = time.monotonic()
        found, method = await self.read_and_save(store)
        summary = {"method": method, "skus": len(found.entries), "at": time.time()}
        log.info(
            "catalog discovered",
            extra={"shop": store.shop, **summary, "seconds": time.monotonic() - started},
        )
        return summary

    async def read_and_save(self, store: Store) -> tuple[Discovered, str]:
        """Read the whole store and save it as the mapping; what was read and how. The stamp
        is taken before the read, so levels written while it was on its way stay."""
        since = await self.state.stamp(store.shop)
        found, method = await self.read_store(store)
        await self.save(store, found, method, since=since)
        return found, method

    async def save(self, store: Store, found: Discovered, method: str, *, since: int) -> None:
        """Replace the mapping with what a full read found; report the problems. ``since``:
        the :meth:`SyncState.stamp` taken before the read began (a level a write set while
        the read was on its way is newer than the read's)."""
        before = await self.catalog.entries(store.shop, found.entries)
        pinned = {s: e for s, e in before.items() if e.source == "import"}
        await self.catalog.put(store.shop, list(found.entries.values()), replace=True)
        await self.state.observed(store.shop, store_levels(store, found), since=since)
        unstocked = sorted(
            s
            for s, e in found.entries.items()
            if not set(e.locations) & set(store.locations.values())
        )
        problems: dict[str, Any] = {
            "duplicates": found.duplicates,
            "blank_variants": found.blank,
            "mismatched": mismatches(pinned, found.entries),
            "unstocked": unstocked,
        }
        # "missing" (SKUs truth has and the store does not list) comes from reconciliation,
        # not from a read of the store: kept, less what the store lists by now.
        noted = ((await self.catalog.meta(store.shop)).get("problems") or {}).get("missing")
        if noted is not None:
            problems["missing"] = [s for s in noted if s not in found.entries]
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
        since = await self.state.stamp(store.shop)
        for location_gid, group in by_location.items():
            ids = list(dict.fromkeys(t.item_id for t in group))
            levels = await self._levels_at(store, location_gid, ids)
            for t in group:
                out[t.key] = levels.get(t.item_id)
        await self.state.observed(store.shop, out, since=since)
        return out

    async def _levels_at(
        self, store: Store, location_gid: str, ids: Sequence[str]
    ) -> dict[str, int | None]:
        levels: dict[str, int | None] = {}

        async def read(part: Sequence[str]) -> None:
            data = await self.client.execute(
                store, LEVELS_BY_ITEMS, {"ids": list(part), "locationId": location_gid},
                operation="InventoryLevelsByItems", cost=levels_by_items_cost(len(part)),
            )  # fmt: skip
            for n in data.get("nodes") or []:
                if isinstance(n, dict) and n.get("id"):
                    levels[str(n["id"])] = available_of(n.get("inventoryLevel") or {})

        await in_batches(
            self.client, store, "InventoryLevelsByItems", levels_by_items_cost, LEVELS_MOST,
            ids, read,
        )  # fmt: skip
        return levels


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
