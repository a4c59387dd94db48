"""Bulk catalog sync, the pure part: products from a bulk query's JSONL, the variables
lines of a ``productSet`` bulk mutation, and the mapping its result lines give."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shopify_sync.domain.catalog import CatalogEntry
from shopify_sync.domain.propagation import ProductView, from_graphql, set_input


def parse_products(lines: Iterable[bytes | str]) -> list[ProductView]:
    """Product lines, then their media, variant and metafield lines (``__parentId``)."""
    products: dict[str, dict[str, Any]] = {}
    for raw in lines:
        if not raw or not raw.strip():
            continue
        doc = json.loads(raw)
        parent = doc.pop("__parentId", None)
        if parent is None:
            doc.update(media={"nodes": []}, variants={"nodes": []}, metafields={"nodes": []})
            products[str(doc["id"])] = doc
            continue
        owner = products.get(str(parent))
        if owner is None:
            continue
        kind = "variants" if "sku" in doc else "media" if "image" in doc else "metafields"
        owner[kind]["nodes"].append(doc)
    return [from_graphql(doc) for doc in products.values()]


def bulk_line(
    view: ProductView,
    fields: Iterable[str],
    namespace: str,
    quantities: Mapping[str, int] | None,
) -> dict[str, Any]:
    """The variables of one ``ProductSetBulk`` call (metafields in the same input)."""
    chosen = set(fields)
    data = set_input(view, chosen, quantities=quantities)
    if "metafields" in chosen:
        data["metafields"] = [
            {"namespace": ns, "key": key, "type": kind, "value": value}
            for ns, key, kind, value in view.metafields
            if ns == namespace
        ]
    return {"identifier": {"handle": view.handle}, "input": data}


@dataclass
class BulkResult:
    entries: list[CatalogEntry] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def parse_results(
    lines: Iterable[bytes | str], sent: Sequence[ProductView], locations: tuple[str, ...]
) -> BulkResult:
    """Mapping entries of the written products; refused lines as errors (by handle)."""
    out = BulkResult()
    for raw in lines:
        if not raw or not raw.strip():
            continue
        doc = json.loads(raw)
        number = int(doc.get("__lineNumber", -1))
        handle = sent[number].handle if 0 <= number < len(sent) else None
        payload = ((doc.get("data") or {}).get("productSet")) or {}
        problems = payload.get("userErrors") or doc.get("errors") or []
        product = payload.get("product")
        if problems or not product:
            out.errors.append({"handle": handle, "errors": problems or "no product"})
            continue
        for variant in (product.get("variants") or {}).get("nodes") or []:
            if variant.get("sku"):
                item = str((variant.get("inventoryItem") or {}).get("id", ""))
                out.entries.append(
                    CatalogEntry(
                        str(variant["sku"]), str(product["id"]), str(variant["id"]), item,
                        locations, "sync",
                    )
                )  # fmt: skip
    return out
