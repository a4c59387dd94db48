"""Root Query and Mutation objects of the simulated Admin API."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from stocksync_sim.shopify import (
    bulk,
    bulk_mutation,
    catalog,
    collections,
    jobs,
    metafields,
    publications,
    subscriptions,
)
from stocksync_sim.shopify.executor import Call, FieldError, GqlObject, Resolve
from stocksync_sim.shopify.fulfillment import (
    fulfillment_create,
    fulfillment_order_by_id,
    order_object,
)
from stocksync_sim.shopify.fulfillment_move import fulfillment_order_move
from stocksync_sim.shopify.inventory_adjust import adjust_quantities
from stocksync_sim.shopify.inventory_mutation import set_quantities
from stocksync_sim.shopify.objects import (
    connection,
    item_object,
    location_object,
    variant_object,
)
from stocksync_sim.shopify.state import QuantityWrite, StoreState, gid

_TERM = r"""(?:^|[\s(])%s:(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^\s()]+))"""


def parse_sku_query(query: object) -> set[str] | None:
    """SKUs named by ``sku:`` terms of a search query (``sku:A OR sku:"B C"``).

    Terms are OR-ed; a query without ``sku:`` terms does not filter (Shopify ignores
    filters it does not know; the simulator implements ``sku``, and ``handle`` for products).
    """
    return parse_terms(query, "sku")


def parse_terms(query: object, name: str) -> set[str] | None:
    """Values of ``name:`` terms of a search query, OR-ed (None: no such term, no filter);
    products take ``handle:`` terms, variants and inventory items ``sku:`` terms."""
    if not isinstance(query, str):
        return None
    values = {
        next(group for group in match.groups() if group is not None).replace("\\", "")
        for match in re.finditer(_TERM % re.escape(name), query)
    }
    return values or None


def _required_id(call: Call) -> str:
    value = call.args.get("id")
    if not isinstance(value, str):
        raise FieldError("Field is missing required arguments: id", "missingRequiredArguments")
    return value


@dataclass(frozen=True)
class RequestContext:
    """What resolvers need from the request: where the simulator is reached (bulk urls);
    and what they leave for the request log (the quantities written)."""

    base_url: str = "http://127.0.0.1:8090"
    bulk_delay_s: float = 0.0
    writes: list[QuantityWrite] = field(default_factory=list)


def node_object(store: StoreState, value: object, ctx: RequestContext) -> GqlObject | None:
    """``node(id:)``: the object behind any gid the simulator knows."""
    if not isinstance(value, str):
        return None
    if value in store.by_item:
        return item_object(store, store.by_item[value])
    if value in store.by_variant:
        return variant_object(store, store.by_variant[value])
    if value in store.locations:
        return location_object(store, value)
    op = store.bulk_operations.get(value)
    return bulk.bulk_object(store, op, ctx.base_url) if op is not None else None


def query_root(store: StoreState, ctx: RequestContext | None = None) -> GqlObject:
    ctx = ctx or RequestContext()

    def inventory_item(call: Call) -> GqlObject | None:
        product = store.by_item.get(_required_id(call))
        return item_object(store, product) if product else None

    def inventory_items(call: Call) -> GqlObject:
        products = store.search(parse_sku_query(call.args.get("query")))
        entries = [(product.item_number, product) for product in products]
        return connection("InventoryItem", entries, lambda p: item_object(store, p), call.args)

    def product_variant(call: Call) -> GqlObject | None:
        product = store.by_variant.get(_required_id(call))
        return variant_object(store, product) if product else None

    def product_variants(call: Call) -> GqlObject:
        products = store.search(parse_sku_query(call.args.get("query")))
        entries = [(product.variant_number, product) for product in products]
        return connection("ProductVariant", entries, lambda p: variant_object(store, p), call.args)

    def location(call: Call) -> GqlObject | None:
        location_id = _required_id(call)
        return location_object(store, location_id) if location_id in store.locations else None

    def locations(call: Call) -> GqlObject:
        entries = [(index, location) for index, location in enumerate(store.locations)]
        return connection("Location", entries, lambda loc: location_object(store, loc), call.args)

    def nodes(call: Call) -> list[GqlObject | None]:
        ids = call.args.get("ids")
        if not isinstance(ids, list):
            raise FieldError("Field is missing required arguments: ids", "missingRequiredArguments")
        return [node_object(store, value, ctx) for value in ids]

    def current_bulk(_call: Call) -> GqlObject | None:
        ops = sorted(store.bulk_operations.values(), key=lambda op: op.number)
        return bulk.bulk_object(store, ops[-1], ctx.base_url) if ops else None

    def variants_count(call: Call) -> GqlObject:
        count = len(store.search(parse_sku_query(call.args.get("query"))))
        limit = call.args.get("limit")
        precise = not isinstance(limit, int) or count <= limit
        shown = count if precise else limit
        precision = "EXACT" if precise else "AT_LEAST"
        return GqlObject("Count", {"count": shown, "precision": precision}, cost=1)

    def products(call: Call) -> GqlObject:
        handles = parse_terms(call.args.get("query"), "handle")
        entries = [
            (info.number, info.variants[0])
            for info in store.catalog()
            if handles is None or info.handle in handles
        ]
        return connection("Product", entries, lambda p: catalog.product_object(store, p), call.args)

    shop = GqlObject(
        "Shop",
        {
            "id": gid("Shop", store.shop_number),
            "name": store.shop.split(".", 1)[0],
            "myshopifyDomain": store.shop,
            "currencyCode": "USD",
        },
        ("Node",),
    )
    return GqlObject(
        "QueryRoot",
        {
            "shop": shop,
            "inventoryItem": Resolve(inventory_item),
            "inventoryItems": Resolve(inventory_items),
            "productVariant": Resolve(product_variant),
            "productVariants": Resolve(product_variants),
            "location": Resolve(location),
            "locations": Resolve(locations),
            "node": Resolve(lambda call: node_object(store, call.args.get("id"), ctx)),
            "nodes": Resolve(nodes),
            "bulkOperation": Resolve(lambda call: node_object(store, call.args.get("id"), ctx)),
            "currentBulkOperation": Resolve(current_bulk),
            "productVariantsCount": Resolve(variants_count),
            "order": Resolve(lambda call: order_object(store, call.args.get("id"))),
            "fulfillmentOrder": Resolve(
                lambda call: fulfillment_order_by_id(store, call.args.get("id"))
            ),
            "productByIdentifier": Resolve(lambda call: catalog.product_by_identifier(store, call)),
            "product": Resolve(lambda call: catalog.product_by_id(store, _required_id(call))),
            "products": Resolve(products),
            **subscriptions.query_fields(store),
            **collections.query_fields(store),
            **publications.query_fields(store),
            **jobs.query_fields(store),
        },
        cost=0,
    )


def mutation_root(store: StoreState, ctx: RequestContext | None = None) -> GqlObject:
    ctx = ctx or RequestContext()

    def run_bulk(call: Call) -> GqlObject:
        root = query_root(store, ctx)
        return bulk.run_query_mutation(store, call, root, ctx.base_url, ctx.bulk_delay_s)

    return GqlObject(
        "Mutation",
        {
            "inventorySetQuantities": Resolve(lambda call: set_quantities(store, call, ctx.writes)),
            "inventoryAdjustQuantities": Resolve(
                lambda call: adjust_quantities(store, call, ctx.writes)
            ),
            "bulkOperationRunQuery": Resolve(run_bulk),
            "fulfillmentCreate": Resolve(lambda call: fulfillment_create(store, call)),
            "fulfillmentOrderMove": Resolve(lambda call: fulfillment_order_move(store, call)),
            "productSet": Resolve(lambda call: catalog.product_set(store, call)),
            "productDelete": Resolve(lambda call: catalog.product_delete(store, call)),
            "metafieldsSet": Resolve(lambda call: metafields.metafields_set(store, call)),
            "metafieldsDelete": Resolve(lambda call: metafields.metafields_delete(store, call)),
            "stagedUploadsCreate": Resolve(
                lambda call: bulk_mutation.staged_uploads_create(store, call, ctx.base_url)
            ),
            "bulkOperationRunMutation": Resolve(
                lambda call: bulk_mutation.run_mutation(
                    store, call, lambda: mutation_root(store, ctx), ctx.base_url, ctx.bulk_delay_s
                )
            ),
            **subscriptions.mutation_fields(store),
            **collections.mutation_fields(store),
            **publications.mutation_fields(store),
        },
        cost=0,
    )
