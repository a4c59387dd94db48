"""Root Query and Mutation objects of the simulated Admin API."""

from __future__ import annotations

import re

from stocksync_sim.shopify.executor import Call, FieldError, GqlObject, Resolve
from stocksync_sim.shopify.inventory_mutation import set_quantities
from stocksync_sim.shopify.objects import (
    connection,
    item_object,
    location_object,
    variant_object,
)
from stocksync_sim.shopify.state import StoreState, gid

_SKU_TERM = re.compile(r"""(?:^|[\s(])sku:(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^\s()]+))""")


def parse_sku_query(query: object) -> set[str] | None:
    """SKUs named by ``sku:`` terms of a search query (``sku:A OR sku:"B C"``).

    Terms are OR-ed; a query without ``sku:`` terms does not filter (Shopify ignores
    filters it does not know, and the simulator only implements ``sku``).
    """
    if not isinstance(query, str):
        return None
    skus = {
        next(group for group in match.groups() if group is not None).replace("\\", "")
        for match in _SKU_TERM.finditer(query)
    }
    return skus or None


def _required_id(call: Call) -> str:
    value = call.args.get("id")
    if not isinstance(value, str):
        raise FieldError("Field is missing required arguments: id", "missingRequiredArguments")
    return value


def query_root(store: StoreState) -> GqlObject:
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
        },
        cost=0,
    )


def mutation_root(store: StoreState) -> GqlObject:
    return GqlObject(
        "Mutation",
        {"inventorySetQuantities": Resolve(lambda call: set_quantities(store, call))},
        cost=0,
    )
