"""Catalog writes and reads: ``productSet``, ``productDelete``, ``metafieldsSet`` and
``productByIdentifier`` over the simulator's one-variant products.

Every write that changes a product queues a ``products/*`` webhook on the store's outbox;
the endpoint sends them after answering (as Shopify does, asynchronously). The fault
switch ``fail_mutations`` makes the named mutations fail with ``INTERNAL_SERVER_ERROR``
(a failure mid-way through a multi-step sync).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from stocksync_sim.shopify.executor import Call, FieldError, GqlObject, Resolve
from stocksync_sim.shopify.objects import NODE, connection, variant_object
from stocksync_sim.shopify.state import Level, Product, StoreState, gid

INTERNAL = "Internal error. Looks like something went wrong on our end."


def check_fault(store: StoreState, mutation: str) -> None:
    if mutation in store.faults.spec.fail_mutations:
        store.stats.injected_errors += 1
        raise FieldError(INTERNAL, "INTERNAL_SERVER_ERROR")


def _index(store: StoreState, product: Product) -> None:
    store.catalog_index[f"h:{product.product_handle}"] = product
    store.catalog_index[f"i:{product.product_id}"] = product


def _current(store: StoreState, product: Product | None, key: str) -> bool:
    if product is None or store.products.get(product.sku) is not product:
        return False
    return key == f"h:{product.product_handle}" or key == f"i:{product.product_id}"


def find_product(
    store: StoreState, *, handle: Any = None, product_id: Any = None
) -> Product | None:
    """By id or handle; an index rebuilt when products changed behind its back."""
    keys = [f"i:{product_id}"] if product_id is not None else []
    keys += [f"h:{handle}"] if handle is not None else []
    for key in keys:
        product = store.catalog_index.get(key)
        if _current(store, product, key):
            return product
    if len(store.catalog_index) != 2 * len(store.products):
        store.catalog_index.clear()
        for product in store.products.values():
            _index(store, product)
        for key in keys:
            product = store.catalog_index.get(key)
            if _current(store, product, key):
                return product
    return None


def _image(url: str, index: int, product: Product) -> GqlObject:
    image = GqlObject("Image", {"url": url, "altText": None}, cost=0)
    media_id = gid("MediaImage", f"{product.product_number}{index:03d}")
    return GqlObject(
        "MediaImage",
        {"id": media_id, "image": image, "mediaContentType": "IMAGE", "alt": None},
        ("Media", "Node"),
    )


def _metafield(product: Product, key: tuple[str, str], index: int) -> GqlObject:
    kind, value = product.metafields[key]
    return GqlObject(
        "Metafield",
        {
            "id": gid("Metafield", f"{product.product_number}{index:03d}"),
            "namespace": key[0],
            "key": key[1],
            "type": kind,
            "value": value,
        },
        NODE,
    )


def product_object(store: StoreState, product: Product) -> GqlObject:
    def variants(call: Call) -> GqlObject:
        entries = [(product.variant_number, product)]
        return connection("ProductVariant", entries, lambda p: variant_object(store, p), call.args)

    def media(call: Call) -> GqlObject:
        entries = list(enumerate(product.images))
        return connection(
            "Media", entries, lambda item: _image(item, product.images.index(item), product),
            call.args,
        )  # fmt: skip

    def metafields(call: Call) -> GqlObject:
        namespace = call.args.get("namespace")
        keys = [k for k in product.metafields if namespace is None or k[0] == namespace]
        entries = list(enumerate(keys))
        return connection(
            "Metafield", entries, lambda k: _metafield(product, k, keys.index(k)), call.args
        )

    options = [
        GqlObject(
            "ProductOption",
            {
                "id": gid("ProductOption", f"{product.product_number}{i}"),
                "name": name,
                "position": i + 1,
                "values": [value],
            },
            NODE,
        )  # fmt: skip
        for i, (name, value) in enumerate(product.options)
    ]
    return GqlObject(
        "Product",
        {
            "id": product.product_id,
            "legacyResourceId": str(product.product_number),
            "handle": product.product_handle,
            "title": product.title,
            "descriptionHtml": product.description_html,
            "vendor": product.vendor,
            "productType": product.product_type,
            "status": product.status,
            "tags": list(product.tags),
            "createdAt": product.created_at,
            "updatedAt": product.updated_at,
            "options": Resolve(lambda _call: options),
            "variants": Resolve(variants),
            "media": Resolve(media),
            "metafields": Resolve(metafields),
        },
        (*NODE, "LegacyInteroperability"),
    )


def _user_error(message: str, field: list[str], code: str | None = None) -> GqlObject:
    fields: dict[str, Any] = {"message": message, "field": field}
    if code is not None:
        fields["code"] = code
    return GqlObject("UserError", fields, cost=0)


def _money(value: Any) -> str | None:
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return None


def _variant_sku(variant: dict[str, Any]) -> str | None:
    sku = (variant.get("inventoryItem") or {}).get("sku") or variant.get("sku")
    return str(sku) if sku else None


def apply_fields(product: Product, data: dict[str, Any]) -> None:
    simple = {
        "title": "title", "descriptionHtml": "description_html", "vendor": "vendor",
        "productType": "product_type", "status": "status", "handle": "handle",
    }  # fmt: skip
    for name, attr in simple.items():
        if name in data and data[name] is not None:
            setattr(product, attr, str(data[name]))
    if "tags" in data:
        product.tags = [str(t) for t in data["tags"] or []]
    if "files" in data:
        product.images = [str(f.get("originalSource")) for f in data["files"] or []]
    for field in data.get("metafields") or []:
        product.metafields[(field["namespace"], field["key"])] = (field["type"], field["value"])


def _apply_variant(store: StoreState, product: Product, variant: dict[str, Any]) -> None:
    sku = _variant_sku(variant)
    if sku and sku != product.sku:
        store.rename(product.sku, sku)
    price = _money(variant.get("price")) if "price" in variant else None
    if price is not None:
        product.price = price
    values = variant.get("optionValues") or []
    if values:
        product.options = [(str(v.get("optionName")), str(v.get("name"))) for v in values]
    for entry in variant.get("inventoryQuantities") or []:
        location = str(entry["locationId"])
        store.locations.setdefault(location, location)
        product.levels.setdefault(location, Level(location, 0)).set_quantity(
            "available", int(entry["quantity"])
        )


def _set_payload(store: StoreState, product: Product | None, errors: list[GqlObject]) -> GqlObject:
    return GqlObject(
        "ProductSetPayload",
        {
            "product": product_object(store, product) if product else None,
            "productSetOperation": None,
            "userErrors": errors,
        },
        cost=0,
    )


def _refuse(store: StoreState, message: str) -> GqlObject:
    return _set_payload(store, None, [_user_error(message, ["input", "variants"], "INVALID")])


def product_set(store: StoreState, call: Call) -> GqlObject:
    """``productSet(identifier:, input:, synchronous:)`` for one-variant products."""
    check_fault(store, "productSet")
    data: dict[str, Any] = call.args.get("input") or {}
    ident: dict[str, Any] = call.args.get("identifier") or {}
    variants = data.get("variants")
    if variants is not None and len(variants) != 1:
        return _refuse(store, "The simulator models one variant per product")
    handle = ident.get("handle") or data.get("handle")
    product = find_product(store, handle=handle, product_id=ident.get("id") or data.get("id"))
    created = product is None
    sku = _variant_sku(variants[0]) if variants else None
    if product is None:
        if not sku or sku in store.products:
            return _refuse(store, "A new product needs one variant with a SKU not used yet")
        product = store.upsert_product(sku, {}, data.get("title"))
        product.handle = str(handle or sku.lower())
    elif sku and sku != product.sku and sku in store.products:
        return _refuse(store, f"SKU {sku} is already used")
    apply_fields(product, data)
    if variants:
        _apply_variant(store, product, variants[0])
    _index(store, product)
    product.touch()
    store.outbox.append(("products/create" if created else "products/update", product))
    return _set_payload(store, product, [])


def _remove(store: StoreState, product: Product) -> None:
    store.products.pop(product.sku, None)
    store.by_item.pop(product.inventory_item_id, None)
    store.by_variant.pop(product.variant_id, None)


def product_delete(store: StoreState, call: Call) -> GqlObject:
    """``productDelete(input: {id})``."""
    check_fault(store, "productDelete")
    product_id = (call.args.get("input") or {}).get("id")
    product = find_product(store, product_id=product_id)
    errors: list[GqlObject] = []
    if product is None:
        errors.append(_user_error("Product does not exist", ["id"]))
    else:
        _remove(store, product)
        store.outbox.append(("products/delete", product))
    shop = GqlObject("Shop", {"id": gid("Shop", store.shop_number), "myshopifyDomain": store.shop})
    return GqlObject(
        "ProductDeletePayload",
        {
            "deletedProductId": product.product_id if product else None,
            "productDeleteOperation": None,
            "shop": shop,
            "userErrors": errors,
        },
        cost=0,
    )


def metafields_set(store: StoreState, call: Call) -> GqlObject:
    """``metafieldsSet(metafields:)`` on products (all or nothing, like Shopify)."""
    check_fault(store, "metafieldsSet")
    inputs: list[dict[str, Any]] = call.args.get("metafields") or []
    owners = [find_product(store, product_id=m.get("ownerId")) for m in inputs]
    missing = [i for i, owner in enumerate(owners) if owner is None]
    if missing:
        errors = [_user_error("Owner does not exist", ["metafields", str(i), "ownerId"], "INVALID")
                  for i in missing]  # fmt: skip
        return GqlObject("MetafieldsSetPayload", {"metafields": [], "userErrors": errors}, cost=0)
    out: list[GqlObject] = []
    for entry, owner in zip(inputs, owners, strict=True):
        assert owner is not None  # noqa: S101 - checked above
        key = (str(entry.get("namespace") or "$app"), str(entry["key"]))
        owner.metafields[key] = (str(entry.get("type") or "single_line_text_field"), entry["value"])
        owner.touch()
        out.append(_metafield(owner, key, list(owner.metafields).index(key)))
    return GqlObject("MetafieldsSetPayload", {"metafields": out, "userErrors": []}, cost=0)


def product_by_identifier(store: StoreState, call: Call) -> GqlObject | None:
    ident: dict[str, Any] = call.args.get("identifier") or {}
    product = find_product(store, handle=ident.get("handle"), product_id=ident.get("id"))
    return product_object(store, product) if product else None
