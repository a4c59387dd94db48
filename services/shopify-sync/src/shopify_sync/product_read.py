"""Reading one product whole, however big: up to 2,048 variants, and any number of images
and metafields (catalog propagation, ADR 0011).

The first query (``ProductForSync``) takes the product's fields and a first page of each
connection, all three the same size, the largest that fits the bucket as learned (ADR 0013:
a read takes at most half of it, never more than 1,000 points). Each connection that has
more is then read page by page by cursor (``Product*Page``), each page sized to the bucket
the same way. A query refused as too costly is asked again at half the size. Every call
takes its own turn at the store's catalog gate, so inventory writes get through between
the pages of a big product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopify_sync.adapters.documents import (
    MEDIA_NODE_COST,
    METAFIELD_NODE_COST,
    PRODUCT_FOR_SYNC,
    PRODUCT_MEDIA_PAGE,
    PRODUCT_METAFIELDS_PAGE,
    PRODUCT_VARIANTS_PAGE,
    VARIANT_NODE_COST,
    product_read_cost,
)
from shopify_sync.adapters.shopify import ShopifyClient
from shopify_sync.catalog_gate import CatalogGate
from shopify_sync.connection_pages import PAGE_MOST, PageQuery, complete
from shopify_sync.mapping import sized
from stocksync_common.stores import Store

# connection -> its page query (a single product's variants may go to 2,048, but pages of
# at most 250 keep each answer small and the bucket shared)
PAGES = {
    "variants": PageQuery(PRODUCT_VARIANTS_PAGE, "ProductVariantsPage", VARIANT_NODE_COST,
                          "product"),
    "media": PageQuery(PRODUCT_MEDIA_PAGE, "ProductMediaPage", MEDIA_NODE_COST, "product"),
    "metafields": PageQuery(PRODUCT_METAFIELDS_PAGE, "ProductMetafieldsPage",
                            METAFIELD_NODE_COST, "product", ("id", "namespace")),
}  # fmt: skip


@dataclass
class ProductReader:
    client: ShopifyClient
    gate: CatalogGate

    async def read(
        self, store: Store, identifier: dict[str, str], namespace: str
    ) -> dict[str, Any] | None:
        """The product as ``ProductForSync`` shapes it, every connection complete (its
        ``nodes`` hold every node); None when the store has no such product."""
        node = await self._first(store, identifier, namespace)
        if node is None:
            return None
        context = {"id": str(node["id"]), "namespace": namespace}
        await complete(self.client, self.gate, store, node, PAGES, context)
        return node

    async def head(
        self, store: Store, identifier: dict[str, str], namespace: str
    ) -> dict[str, Any] | None:
        """The product's fields with one node of each connection (enough to know it exists
        and its id: a delete never reads 2,048 variants first)."""
        return await self._first(store, identifier, namespace, most=1)

    async def _first(
        self, store: Store, identifier: dict[str, str], namespace: str, most: int = PAGE_MOST
    ) -> dict[str, Any] | None:
        async def first(size: int) -> dict[str, Any]:
            variables = {"identifier": identifier, "namespace": namespace, "variants": size,
                         "media": size, "metafields": size}  # fmt: skip
            async with self.gate.turn(store.shop):
                return await self.client.execute(
                    store, PRODUCT_FOR_SYNC, variables, operation="ProductForSync",
                    cost=product_read_cost(size),
                )  # fmt: skip

        data, _ = await sized(self.client, store, "ProductForSync", product_read_cost, most, first)
        node = data.get("productByIdentifier")
        return node if isinstance(node, dict) else None
