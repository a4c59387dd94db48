"""Catalog writes and reads: ``productSet``, ``productDelete``, ``metafieldsSet``,
``metafieldsDelete`` and ``productByIdentifier`` over products of one or more variants (up
to three options; each variant its own SKU, price and inventory item).

Every write that changes a product queues a ``products/*`` webhook on the store's outbox;
the endpoint sends them after answering (as Shopify does, asynchronously). The fault
switch ``fail_mutations`` makes the named mutations fail with ``INTERNAL_SERVER_ERROR``
(a failure mid-way through a multi-step sync).
"""

from __future__ import annotations

from typing import Any

from stocksync_sim.shopify.catalog_variants import (
    TOO_MANY_VARIANTS,
    Plan,
    apply_plan,
    option_values,
    plan_variants,
)
from stocksync_sim.shopify.executor import Call, FieldError, GqlObject, Resolve
from stocksync_sim.shopify.objects import NODE, connection, variant_object
from stocksync_sim.shopify.state import CatalogInfo, Product, StoreState, gid

INTERNAL = "Internal error. Looks like something went wrong on our end."


def check_fault(store: StoreState, mutation: str) -> None:
    if store.faults.fails(mutation):
        store.stats.injected_errors += 1
        raise FieldError(INTERNAL, "INTERNAL_SERVER_ERROR")


def _current(store: StoreState, info: CatalogInfo | None, key: str) -> CatalogInfo | None:
    """The indexed product when it still exists under that key (handles can change)."""
    if info is None or not info.variants:
        return None
    if store.by_variant.get(info.variants[0].variant_id) is not info.variants[0]:
        return None
    ok = key == f"h:{info.handle}" or key == f"i:{gid('Product', info.number)}"
    return info if ok else None


def find_product(
    store: StoreState, *, handle: Any = None, product_id: Any = None
) -> Product | None:
    """The first variant of the product with that id or handle."""
    keys = [f"i:{product_id}"] if product_id is not None else []
    keys += [f"h:{handle}"] if handle is not None else []
    for key in keys:
        info = _current(store, store.catalog_index.get(key), key)
        if info is not None:
            return info.variants[0]
    return None


def _image(url: str, index: int, product: Product) -> GqlObject:
    image = GqlObject("Image", {"url": url, "altText": None}, cost=0)
    media_id = gid("MediaImage", f"{product.product_number}{index:03d}")
    return GqlObject(
        "MediaImage",
        {"id": media_id, "image": image, "mediaContentType": "IMAGE", "alt": None},
        ("Media", "Node"),
    )


def metafield_object(product: Product, key: tuple[str, str], index: int) -> GqlObject:
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
    info = product.info

    def variants(call: Call) -> GqlObject:
        entries = [(v.variant_number, v) for v in info.variants or [product]]
        return connection("ProductVariant", entries, lambda v: variant_object(store, v), call.args)

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
            "Metafield", entries, lambda k: metafield_object(product, k, keys.index(k)), call.args
        )

    options = [
        GqlObject(
            "ProductOption",
            {
                "id": gid("ProductOption", f"{info.number}{i}"),
                "name": name,
                "position": i + 1,
                "values": option_values(info, i),
            },
            NODE,
        )  # fmt: skip
        for i, name in enumerate(info.option_names)
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
            "createdAt": info.created_at,
            "updatedAt": product.updated_at,
            "options": Resolve(lambda _call: options),
            "variants": Resolve(variants),
            "media": Resolve(media),
            "metafields": Resolve(metafields),
        },
        (*NODE, "LegacyInteroperability"),
    )


def user_error(message: str, field: list[str], code: str | None = None) -> GqlObject:
    fields: dict[str, Any] = {"message": message, "field": field}
    if code is not None:
        fields["code"] = code
    return GqlObject("UserError", fields, cost=0)


def apply_fields(product: Product, data: dict[str, Any]) -> None:
    """The product-level fields of a ``ProductSetInput`` (shared by all its variants)."""
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


def product_set(store: StoreState, call: Call) -> GqlObject:
    """``productSet(identifier:, input:, synchronous:)``: the product's fields, and when
    ``variants`` is given its whole variant list (variants not listed are deleted)."""
    check_fault(store, "productSet")
    data: dict[str, Any] = call.args.get("input") or {}
    ident: dict[str, Any] = call.args.get("identifier") or {}
    handle = ident.get("handle") or data.get("handle")
    product = find_product(store, handle=handle, product_id=ident.get("id") or data.get("id"))
    created = product is None
    variants = data.get("variants")
    plan: Plan | None = None
    if variants is not None or created:
        planned = plan_variants(store, product.info if product else None, data)
        if isinstance(planned, str):
            code = "VARIANTS_OVER_LIMIT" if planned == TOO_MANY_VARIANTS else "INVALID"
            error = user_error(planned, ["input", "variants"], code)
            return _set_payload(store, None, [error])
        plan = planned
    if product is None:
        assert plan is not None  # noqa: S101 - planned above for a new product
        number = store.next_id()
        first = plan.rows[0].sku or f"product-{number}"
        info = CatalogInfo(number, str(data.get("title") or first),
                           handle=str(handle or first.lower()))  # fmt: skip
        product = apply_plan(store, info, plan)
    elif plan is not None:
        product = apply_plan(store, product.info, plan)
    apply_fields(product, data)
    store.index(product.info)
    product.touch()
    store.outbox.append(("products/create" if created else "products/update", product))
    return _set_payload(store, product, [])


def product_delete(store: StoreState, call: Call) -> GqlObject:
    """``productDelete(input: {id})``: the product and every variant."""
    check_fault(store, "productDelete")
    product_id = (call.args.get("input") or {}).get("id")
    product = find_product(store, product_id=product_id)
    errors: list[GqlObject] = []
    if product is None:
        errors.append(user_error("Product does not exist", ["id"]))
    else:
        for variant in list(product.info.variants):
            store.remove_variant(variant)
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


def product_by_id(store: StoreState, product_id: str) -> GqlObject | None:
    """``product(id:)``."""
    product = find_product(store, product_id=product_id)
    return product_object(store, product) if product else None


def product_by_identifier(store: StoreState, call: Call) -> GqlObject | None:
    ident: dict[str, Any] = call.args.get("identifier") or {}
    product = find_product(store, handle=ident.get("handle"), product_id=ident.get("id"))
    return product_object(store, product) if product else None
