"""Initial and full catalog sync of the children from the parent, at scale.

The parent is read with one bulk query (JSONL); each child too (which handles it has
already). Each child is then written in chunks, each chunk one bulk mutation of
``productSet`` lines uploaded through a staged upload: a handful of calls per chunk
whatever its size, so 10,000 products stay far inside the bucket. New products get every
field (and a level of 0 at the child's locations, for inventory sync to fill); existing ones
only the fields the parent owns. The SKU mapping is filled from each chunk's result. The
job's progress records the chunks done per child, so a resumed job goes on from there.
Then every parent collection is synced to every child (ADR 0021: one collection at a time,
not bulk), which also adds the products that arrived to the collections waiting for them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shopify_sync.adapters.bulk import BulkRunner
from shopify_sync.adapters.documents import BULK_PRODUCTS_QUERY, PRODUCT_SET_BULK
from shopify_sync.adapters.shopify import CircuitOpen, TransientError
from shopify_sync.collection_propagator import CollectionPropagator
from shopify_sync.domain.bulk_products import bulk_line, parse_products, parse_results
from shopify_sync.domain.propagation import (
    CATALOG_FIELDS,
    ProductView,
    fingerprint,
    parent_owned,
)
from shopify_sync.ports import CatalogState, PropagationState
from stocksync_common.stores import Store, StoresConfig

log = logging.getLogger(__name__)
Report = Callable[[dict[str, Any]], Awaitable[None]]


def products_query(namespace: str) -> str:
    return BULK_PRODUCTS_QUERY.replace(
        'namespace: "catalog"', f"namespace: {json.dumps(namespace)}"
    )


@dataclass
class CatalogSync:
    stores: StoresConfig
    bulk: BulkRunner
    catalog: CatalogState
    state: PropagationState
    chunk: int = 2500
    collections: CollectionPropagator | None = None  # None: collections not synced
    backoff_s: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)

    async def read(self, store: Store, namespace: str) -> list[ProductView]:
        lines = await self._retrying(lambda: self.bulk.run(store, products_query(namespace)))
        return parse_products(lines)

    async def _retrying(self, call: Callable[[], Awaitable[list[bytes]]]) -> list[bytes]:
        """Transient failures (a timeout, a 5xx, an open circuit) wait and try again; a
        bulk mutation sent twice is harmless (productSet by handle is idempotent)."""
        for delay in (*self.backoff_s, None):
            try:
                return await call()
            except (TransientError, CircuitOpen):
                if delay is None:
                    raise
                log.warning("catalog sync step failed; retrying", extra={"in_s": delay})
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def run(
        self, shops: Sequence[str] | None, progress: dict[str, Any], report: Report
    ) -> dict[str, Any]:
        """Sync the chosen children (all by default); ``progress`` is resumed from."""
        parent = next((s for s in self.stores.stores if s.role == "parent"), None)
        if parent is None:
            raise ValueError("no parent store in the stores file")
        children = [
            s for s in self.stores.stores if s.role == "child" and (not shops or s.shop in shops)
        ]
        views = await self.read(parent, parent.catalog_metafield_namespace)
        progress.setdefault("chunks_done", {})
        progress.setdefault("counts", {})
        progress["products"] = len(views)
        progress.setdefault("errors", [])
        await report(progress)
        lock = asyncio.Lock()  # children run together; progress reports one at a time
        await asyncio.gather(*(self._child(c, views, progress, report, lock) for c in children))
        if self.collections is not None:
            refused: list[dict[str, Any]] = []
            removed: list[str] = []
            progress["collections"] = await self.collections.sync_all(children, refused, removed)
            progress["collections_deleted"] = removed
            progress["errors"] = (progress["errors"] + refused)[:100]
            await report(progress)
        return progress

    async def _child(
        self,
        child: Store,
        views: list[ProductView],
        progress: dict[str, Any],
        report: Report,
        lock: asyncio.Lock,
    ) -> None:
        namespace = child.catalog_metafield_namespace
        existing = {v.handle for v in await self.read(child, namespace)}
        owned = parent_owned(child)
        locations = tuple(child.locations.values())
        counts = progress["counts"].setdefault(
            child.shop, {"written": 0, "created": 0, "errors": 0}
        )
        chunks = range(progress["chunks_done"].get(child.shop, 0), -(-len(views) // self.chunk))
        for index in chunks:
            part = views[index * self.chunk : (index + 1) * self.chunk]
            lines = [
                bulk_line(v, owned, namespace, None)
                if v.handle in existing
                else bulk_line(v, CATALOG_FIELDS, namespace, dict.fromkeys(locations, 0))
                for v in part
            ]
            answer = await self._retrying(
                lambda lines=lines: self.bulk.run_mutation(child, PRODUCT_SET_BULK, lines)  # type: ignore[misc]
            )
            result = parse_results(answer, part, locations)
            await self.catalog.put(child.shop, result.entries)
            for view in part:
                await self.state.set_wrote(child.shop, view.handle, fingerprint(view, owned))
            async with lock:
                counts["written"] += len(part) - len(result.errors)
                counts["created"] += sum(1 for v in part if v.handle not in existing)
                counts["errors"] += len(result.errors)
                progress["errors"] = (progress["errors"] + result.errors)[:100]
                progress["chunks_done"][child.shop] = index + 1
                await report(progress)
