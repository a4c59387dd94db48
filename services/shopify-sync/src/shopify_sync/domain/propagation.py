"""Parent-to-child catalog propagation, the pure part: one view of a product whether it
comes from the Admin API (GraphQL) or from a products/* webhook (REST shape), the fields a
child lets the parent own, the ``productSet`` / ``metafieldsSet`` inputs that write exactly
those, and the fingerprint that recognises our own write echoed back by a child's webhook.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from stocksync_common.stores import Store

CATALOG_FIELDS = frozenset(
    {
        "title", "description", "vendor", "product_type", "status", "tags", "images",
        "price", "metafields",
    }
)  # fmt: skip
# Fields a products/* webhook carries (metafields are not in it).
ECHO_FIELDS = CATALOG_FIELDS - {"metafields"}


@dataclass(frozen=True)
class VariantView:
    sku: str
    price: str
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ProductView:
    handle: str
    product_id: str = ""
    title: str = ""
    description: str = ""
    vendor: str = ""
    product_type: str = ""
    status: str = "active"
    tags: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    variants: tuple[VariantView, ...] = ()
    metafields: tuple[tuple[str, str, str, str], ...] = ()  # namespace, key, type, value
    updated_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ProductView:
        variants = tuple(
            VariantView(v["sku"], v["price"], tuple(tuple(o) for o in v["options"]))
            for v in doc.get("variants") or []
        )
        return cls(
            **{
                k: v
                for k, v in doc.items()
                if k not in ("variants", "metafields", "tags", "images")
            },
            tags=tuple(doc.get("tags") or ()),
            images=tuple(doc.get("images") or ()),
            variants=variants,
            metafields=tuple(tuple(m) for m in doc.get("metafields") or ()),
        )


def money(value: object) -> str:
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return ""


def _tags(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value or [])  # type: ignore[call-overload]
    return tuple(sorted({str(t).strip() for t in items if str(t).strip()}))


def from_graphql(node: Mapping[str, Any]) -> ProductView:
    """A ``Product`` as ``PRODUCT_FOR_SYNC`` reads it."""
    variants = tuple(
        VariantView(
            str(v.get("sku") or ""),
            money(v.get("price")),
            tuple((str(o["name"]), str(o["value"])) for o in v.get("selectedOptions") or []),
        )
        for v in (node.get("variants") or {}).get("nodes") or []
    )
    images = tuple(
        str((m.get("image") or {}).get("url"))
        for m in (node.get("media") or {}).get("nodes") or []
        if (m or {}).get("image")
    )
    metafields = tuple(
        sorted(
            (str(m["namespace"]), str(m["key"]), str(m["type"]), str(m["value"]))
            for m in (node.get("metafields") or {}).get("nodes") or []
        )
    )
    return ProductView(
        handle=str(node.get("handle") or ""),
        product_id=str(node.get("id") or ""),
        title=str(node.get("title") or ""),
        description=str(node.get("descriptionHtml") or ""),
        vendor=str(node.get("vendor") or ""),
        product_type=str(node.get("productType") or ""),
        status=str(node.get("status") or "ACTIVE").lower(),
        tags=_tags(node.get("tags")),
        images=images,
        variants=variants,
        metafields=metafields,
        updated_at=str(node.get("updatedAt") or ""),
    )


def from_webhook(body: Mapping[str, Any]) -> ProductView:
    """A ``products/create`` / ``products/update`` body (REST shape)."""
    names = [str(o.get("name")) for o in sorted(body.get("options") or [], key=_position)]
    variants = tuple(
        VariantView(
            str(v.get("sku") or ""),
            money(v.get("price")),
            tuple(
                (name, str(v.get(f"option{i + 1}")))
                for i, name in enumerate(names[:3])
                if v.get(f"option{i + 1}") is not None
            ),
        )
        for v in sorted(body.get("variants") or [], key=_position)
    )
    return ProductView(
        handle=str(body.get("handle") or ""),
        product_id=str(body.get("admin_graphql_api_id") or ""),
        title=str(body.get("title") or ""),
        description=str(body.get("body_html") or ""),
        vendor=str(body.get("vendor") or ""),
        product_type=str(body.get("product_type") or ""),
        status=str(body.get("status") or "active").lower(),
        tags=_tags(body.get("tags")),
        images=tuple(str(i.get("src")) for i in sorted(body.get("images") or [], key=_position)),
        variants=variants,
        updated_at=str(body.get("updated_at") or ""),
    )


def _position(item: Mapping[str, Any]) -> int:
    return int(item.get("position") or 0)


def parent_owned(child: Store) -> frozenset[str]:
    """The fields the parent writes in this child (everything not kept by the child)."""
    return CATALOG_FIELDS - set(child.child_owned_fields)


def fingerprint(view: ProductView, fields: Iterable[str]) -> str:
    """A hash of what the given fields show (and the SKUs): equal for our write and for the
    child's webhook that echoes it."""
    chosen = sorted(set(fields) & ECHO_FIELDS)
    doc: dict[str, Any] = {"handle": view.handle, "skus": [v.sku for v in view.variants]}
    for name in chosen:
        if name == "price":
            doc[name] = [v.price for v in view.variants]
        else:
            doc[name] = getattr(view, name)
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def set_input(
    view: ProductView,
    fields: Iterable[str],
    *,
    quantities: Mapping[str, int] | None = None,
    new_skus: Collection[str] | None = None,
) -> dict[str, Any]:
    """``ProductSetInput`` writing ``fields`` of ``view`` (SKUs and options always; every
    variant listed, so a variant the view lacks is deleted). ``quantities`` (location gid ->
    available) stock the variants whose SKU is in ``new_skus`` (all when None), which also
    get their price even where the child keeps prices: a variant is created whole."""
    chosen = set(fields)
    data: dict[str, Any] = {"handle": view.handle}
    plain = {
        "title": "title", "description": "descriptionHtml", "vendor": "vendor",
        "product_type": "productType",
    }  # fmt: skip
    for name, key in plain.items():
        if name in chosen:
            data[key] = getattr(view, name)
    if "status" in chosen:
        data["status"] = view.status.upper()
    if "tags" in chosen:
        data["tags"] = list(view.tags)
    if "images" in chosen:
        data["files"] = [{"originalSource": url, "contentType": "IMAGE"} for url in view.images]
    option_names = list(dict.fromkeys(n for v in view.variants for n, _ in v.options))
    if option_names:
        data["productOptions"] = [
            {"name": name, "values": [{"name": value} for value in _values(view, name)]}
            for name in option_names
        ]
    variants = []
    for v in view.variants:
        stock = quantities if new_skus is None or v.sku in new_skus else None
        variants.append(_variant(v, "price" in chosen or stock is not None, stock))
    data["variants"] = variants
    return data


def _values(view: ProductView, name: str) -> list[str]:
    return list(dict.fromkeys(value for v in view.variants for n, value in v.options if n == name))


def _variant(
    variant: VariantView, with_price: bool, quantities: Mapping[str, int] | None
) -> dict[str, Any]:
    item: dict[str, Any] = {"sku": variant.sku} if variant.sku else {}  # a SKU-less variant
    out: dict[str, Any] = {
        "optionValues": [{"optionName": n, "name": value} for n, value in variant.options],
        "inventoryItem": {**item, "tracked": True},
    }
    if with_price and variant.price:
        out["price"] = variant.price
    if quantities:
        out["inventoryQuantities"] = [
            {"locationId": location, "name": "available", "quantity": quantity}
            for location, quantity in quantities.items()
        ]
    return out


def metafield_inputs(view: ProductView, owner_id: str, namespace: str) -> list[dict[str, Any]]:
    """``MetafieldsSetInput`` for the view's metafields in ``namespace``."""
    return [
        {"ownerId": owner_id, "namespace": ns, "key": key, "type": kind, "value": value}
        for ns, key, kind, value in view.metafields
        if ns == namespace
    ]


def metafield_keys(view: ProductView, namespace: str) -> list[tuple[str, str]]:
    return [(ns, key) for ns, key, _, _ in view.metafields if ns == namespace]


def metafield_ids(keys: Iterable[Sequence[str]], owner_id: str) -> list[dict[str, str]]:
    """``MetafieldIdentifierInput`` for ``(namespace, key)`` pairs of one owner."""
    return [{"ownerId": owner_id, "namespace": ns, "key": key} for ns, key in keys]


def removed_metafields(
    before: ProductView, after: ProductView, namespace: str
) -> list[tuple[str, str]]:
    """Keys in ``namespace`` that ``before`` shows and ``after`` no longer has."""
    kept = set(metafield_keys(after, namespace))
    return [k for k in metafield_keys(before, namespace) if k not in kept]


def older(updated_at: str, than: str | None) -> bool:
    """True when ``updated_at`` is strictly before ``than`` (unparsable: never older)."""
    if not than or not updated_at:
        return False
    try:
        return _parse(updated_at) < _parse(than)
    except ValueError:
        return False


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
