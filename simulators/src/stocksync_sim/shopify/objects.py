"""GraphQL object trees for the simulator's state (InventoryItem, ProductVariant, ...)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from stocksync_sim.shopify.executor import Call, FieldError, GqlObject, Resolve
from stocksync_sim.shopify.state import QUANTITY_NAMES, Product, StoreState, gid, gid_number

T = TypeVar("T")
NODE = ("Node",)


def location_object(store: StoreState, location_id: str) -> GqlObject:
    return GqlObject(
        "Location",
        {
            "id": location_id,
            "legacyResourceId": gid_number(location_id),
            "name": store.locations.get(location_id, location_id),
            "isActive": True,
        },
        NODE,
    )


def _quantities(product: Product, location_id: str, call: Call) -> list[Any]:
    names = call.args.get("names")
    if not isinstance(names, list):
        raise FieldError(
            "Field 'quantities' is missing required arguments: names", "missingRequiredArguments"
        )
    level = product.levels[location_id]
    unknown = [name for name in names if name not in QUANTITY_NAMES]
    if unknown:
        raise FieldError(f"Invalid quantity names: {', '.join(map(str, unknown))}", "BAD_REQUEST")
    return [
        GqlObject(
            "InventoryQuantity",
            {
                "id": f"{level_id(product, location_id)}&name={name}",
                "name": name,
                "quantity": level.quantity(name),
                "updatedAt": level.updated_at,
            },
            NODE,
            cost=0,
        )
        for name in names
    ]


def level_id(product: Product, location_id: str) -> str:
    location_number = gid_number(location_id)
    return gid("InventoryLevel", f"{location_number}?inventory_item_id={product.item_number}")


def level_object(store: StoreState, product: Product, location_id: str) -> GqlObject | None:
    level = product.levels.get(location_id)
    if level is None:
        return None
    return GqlObject(
        "InventoryLevel",
        {
            "id": level_id(product, location_id),
            "updatedAt": level.updated_at,
            "canDeactivate": True,
            "location": location_object(store, location_id),
            "item": Resolve(lambda _call: item_object(store, product)),
            "quantities": Resolve(lambda call: _quantities(product, location_id, call)),
        },
        NODE,
    )


def item_object(store: StoreState, product: Product) -> GqlObject:
    def levels(call: Call) -> GqlObject:
        entries = [(index, location) for index, location in enumerate(product.levels)]
        return connection(
            "InventoryLevel",
            entries,
            lambda location: level_object(store, product, location),
            call.args,
        )

    return GqlObject(
        "InventoryItem",
        {
            "id": product.inventory_item_id,
            "legacyResourceId": str(product.item_number),
            "sku": product.sku or None,  # a variant may have no SKU
            "tracked": True,
            "requiresShipping": True,
            "createdAt": product.created_at,
            "updatedAt": product.created_at,
            "inventoryLevel": Resolve(
                lambda call: level_object(store, product, str(call.args.get("locationId")))
            ),
            "inventoryLevels": Resolve(levels),
            "variant": Resolve(lambda _call: variant_object(store, product)),
        },
        (*NODE, "LegacyInteroperability"),
    )


def variant_object(store: StoreState, product: Product) -> GqlObject:
    return GqlObject(
        "ProductVariant",
        {
            "id": product.variant_id,
            "legacyResourceId": str(product.variant_number),
            "sku": product.sku or None,  # a variant may have no SKU
            "title": product.variant_title,
            "displayName": f"{product.title} - {product.variant_title}",
            "position": product.position,
            "price": product.price,
            "inventoryQuantity": sum(level.available for level in product.levels.values()),
            "inventoryItem": Resolve(lambda _call: item_object(store, product)),
            "selectedOptions": [
                GqlObject("SelectedOption", {"name": name, "value": value}, cost=0)
                for name, value in product.options
            ],
            "product": GqlObject(
                "Product",
                {
                    "id": product.product_id,
                    "title": product.title,
                    "handle": product.product_handle,
                },
                NODE,
            ),
        },
        (*NODE, "LegacyInteroperability"),
    )


def encode_cursor(key: int) -> str:
    raw = json.dumps({"last_id": key, "last_value": key}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cursor: Any) -> int:
    try:
        value = json.loads(base64.b64decode(str(cursor), validate=True))["last_id"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise FieldError(
            f"Invalid cursor for current pagination sort: {cursor}", "BAD_REQUEST"
        ) from None
    if not isinstance(value, int):
        raise FieldError(f"Invalid cursor for current pagination sort: {cursor}", "BAD_REQUEST")
    return value


def connection(
    name: str,
    entries: list[tuple[int, T]],
    build: Callable[[T], GqlObject | None],
    args: dict[str, Any],
) -> GqlObject:
    """A Relay connection over ``(sort key, item)`` pairs with first/last/after/before."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise FieldError("you must provide one of first or last", "BAD_REQUEST")
    ordered = list(reversed(entries)) if args.get("reverse") else list(entries)
    keys = [key for key, _ in ordered]
    start, end = 0, len(ordered)
    if args.get("after") is not None:
        after = decode_cursor(args["after"])
        start = keys.index(after) + 1 if after in keys else start
    if args.get("before") is not None:
        before = decode_cursor(args["before"])
        end = keys.index(before) if before in keys else end
    window = ordered[start:end]
    has_next, has_previous = end < len(ordered), start > 0
    if isinstance(first, int):
        has_next = has_next or len(window) > first
        window = window[: max(first, 0)]
    if isinstance(last, int):
        has_previous = has_previous or len(window) > last
        window = window[len(window) - max(last, 0) :] if last > 0 else []
    built = [(key, build(item)) for key, item in window]
    page = [(key, obj) for key, obj in built if obj is not None]
    edges = [
        GqlObject(f"{name}Edge", {"cursor": encode_cursor(key), "node": obj}, cost=0)
        for key, obj in page
    ]
    page_info = GqlObject(
        "PageInfo",
        {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": encode_cursor(page[0][0]) if page else None,
            "endCursor": encode_cursor(page[-1][0]) if page else None,
        },
        cost=0,
    )
    return GqlObject(
        f"{name}Connection",
        {"edges": edges, "nodes": [obj for _, obj in page], "pageInfo": page_info},
        cost=2,
    )
