"""The catalog mapping: SKU -> (product, variant, inventory item) per store, and the
locations each item is stocked at. Parsing of what Shopify answers (pages, bulk JSONL,
products/* webhooks) and of the CSV export/import; duplicate, missing and mismatched SKUs.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stocksync_common.stores import Store

CSV_HEADER = [
    "shop",
    "sku",
    "product_id",
    "variant_id",
    "inventory_item_id",
    "location",
    "location_id",
]


def gid(kind: str, number: object) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_number(value: str) -> str:
    return value.rsplit("/", 1)[-1].split("?", 1)[0]


@dataclass(frozen=True)
class CatalogEntry:
    sku: str
    product_id: str
    variant_id: str
    item_id: str
    locations: tuple[str, ...] = ()  # location gids the item is stocked at (when known)
    source: str = "discovered"  # discovered | lookup | webhook | import

    def encode(self) -> str:
        return json.dumps(
            {
                "p": self.product_id,
                "v": self.variant_id,
                "i": self.item_id,
                "l": list(self.locations),
                "s": self.source,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, sku: str, raw: str | bytes) -> CatalogEntry:
        doc = json.loads(raw)
        return cls(sku, doc["p"], doc["v"], doc["i"], tuple(doc.get("l") or ()), doc.get("s", ""))


@dataclass
class Discovered:
    """What one read of a store's catalog found."""

    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    levels: dict[tuple[str, str], int] = field(default_factory=dict)  # (sku, location gid)
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # sku -> variant gids
    blank: list[str] = field(default_factory=list)  # variants without a SKU

    def add(self, sku: str | None, entry: CatalogEntry, levels: Mapping[str, int]) -> None:
        if not sku:
            self.blank.append(entry.variant_id)
            return
        if sku in self.entries:
            dupes = self.duplicates.setdefault(sku, [self.entries[sku].variant_id])
            dupes.append(entry.variant_id)
            return  # the first variant keeps the SKU; the rest are reported
        self.entries[sku] = entry
        for location, quantity in levels.items():
            self.levels[(sku, location)] = quantity


def available_of(level: Mapping[str, Any]) -> int | None:
    for q in level.get("quantities") or []:
        if q.get("name") == "available" and isinstance(q.get("quantity"), int):
            return int(q["quantity"])
    return None


def _levels(nodes: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for node in nodes:
        location = (node.get("location") or {}).get("id")
        qty = available_of(node)
        if location and qty is not None:
            out[str(location)] = qty
    return out


def entry_from_variant(node: Mapping[str, Any], source: str) -> tuple[CatalogEntry, dict[str, int]]:
    """A ``ProductVariant`` node of ``CatalogPage`` (levels nested under its item)."""
    item = node.get("inventoryItem") or {}
    levels = _levels((item.get("inventoryLevels") or {}).get("nodes") or [])
    entry = CatalogEntry(
        str(node.get("sku") or ""),
        str((node.get("product") or {}).get("id", "")),
        str(node["id"]),
        str(item.get("id", "")),
        tuple(levels),
        source,
    )
    return entry, levels


def entry_from_item(node: Mapping[str, Any], source: str) -> tuple[CatalogEntry, dict[str, int]]:
    """An ``InventoryItem`` node of ``FindInventoryItems``."""
    variant = node.get("variant") or {}
    levels = _levels((node.get("inventoryLevels") or {}).get("nodes") or [])
    entry = CatalogEntry(
        str(node.get("sku") or ""),
        str((variant.get("product") or {}).get("id", "")),
        str(variant.get("id", "")),
        str(node["id"]),
        tuple(levels),
        source,
    )
    return entry, levels


def parse_bulk(lines: Iterable[bytes | str]) -> Discovered:
    """The JSONL of ``BULK_CATALOG_QUERY``: variant lines, then level lines (``__parentId``)."""
    variants: dict[str, dict[str, Any]] = {}
    levels: dict[str, list[dict[str, Any]]] = {}
    for raw in lines:
        if not raw or not raw.strip():
            continue
        doc = json.loads(raw)
        parent = doc.get("__parentId")
        if parent is None:
            variants[str(doc["id"])] = doc
        else:
            levels.setdefault(str(parent), []).append(doc)
    found = Discovered()
    for variant_id, doc in variants.items():
        doc.setdefault("inventoryItem", {})["inventoryLevels"] = {
            "nodes": levels.get(variant_id, [])
        }
        entry, stocked = entry_from_variant(doc, "discovered")
        found.add(entry.sku, entry, stocked)
    return found


def webhook_entries(body: Mapping[str, Any]) -> list[CatalogEntry]:
    """Variants of a ``products/create`` / ``products/update`` body (REST shape)."""
    product = str(body.get("admin_graphql_api_id") or gid("Product", body.get("id")))
    out: list[CatalogEntry] = []
    for variant in body.get("variants") or []:
        sku = (variant.get("sku") or "").strip()
        item = variant.get("inventory_item_id")
        if not sku or item is None:
            continue
        variant_id = str(
            variant.get("admin_graphql_api_id") or gid("ProductVariant", variant["id"])
        )
        out.append(
            CatalogEntry(sku, product, variant_id, gid("InventoryItem", item), (), "webhook")
        )
    return out


def to_csv(rows: Iterable[tuple[Store, CatalogEntry]]) -> str:
    """One row per (shop, SKU, stocked location); a SKU stocked nowhere gets one blank row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for store, e in rows:
        ids = [e.product_id, e.variant_id, e.item_id]
        if not e.locations:
            writer.writerow([store.shop, e.sku, *ids, "", ""])
        for location_gid in e.locations:
            location = store.location_for_gid(location_gid) or ""
            writer.writerow([store.shop, e.sku, *ids, location, location_gid])
    return out.getvalue()


@dataclass
class Imported:
    entries: dict[str, dict[str, CatalogEntry]] = field(default_factory=dict)  # shop -> sku
    errors: list[dict[str, Any]] = field(default_factory=list)


def _row_error(row: Mapping[str, str], stores: Mapping[str, Store]) -> str | None:
    store = stores.get(row.get("shop", ""))
    if store is None:
        return "unknown shop"
    if not row.get("sku"):
        return "missing sku"
    for name, kind in (("product_id", "Product"), ("variant_id", "ProductVariant")):
        if not row.get(name, "").startswith(f"gid://shopify/{kind}/"):
            return f"{name} is not a {kind} gid"
    if not row.get("inventory_item_id", "").startswith("gid://shopify/InventoryItem/"):
        return "inventory_item_id is not an InventoryItem gid"
    location, location_gid = row.get("location", ""), row.get("location_id", "")
    if location and store.locations.get(location) != location_gid:
        return f"location {location} is {store.locations.get(location)} in the stores file"
    return None


def parse_csv(text: str, stores: Sequence[Store]) -> Imported:
    """Rows of :data:`CSV_HEADER`; a SKU with rows naming different items is a mismatch."""
    by_shop = {s.shop: s for s in stores}
    result = Imported()
    reader = csv.DictReader(io.StringIO(text))
    missing = [h for h in CSV_HEADER if h not in (reader.fieldnames or [])]
    if missing:
        result.errors.append({"line": 1, "error": f"missing columns: {', '.join(missing)}"})
        return result
    for line, row in enumerate(reader, start=2):
        error = _row_error(row, by_shop)
        if error:
            result.errors.append({"line": line, "sku": row.get("sku"), "error": error})
            continue
        shop_entries = result.entries.setdefault(row["shop"], {})
        entry = shop_entries.get(row["sku"])
        ids = (row["product_id"], row["variant_id"], row["inventory_item_id"])
        if entry is not None and (entry.product_id, entry.variant_id, entry.item_id) != ids:
            result.errors.append({"line": line, "sku": row["sku"], "error": "mismatched ids"})
            continue
        locations = (entry.locations if entry else ()) + (
            (row["location_id"],) if row.get("location_id") else ()
        )
        shop_entries[row["sku"]] = CatalogEntry(row["sku"], *ids, locations, "import")
    return result


def mismatches(
    known: Mapping[str, CatalogEntry], found: Mapping[str, CatalogEntry]
) -> list[dict[str, str]]:
    """SKUs whose stored mapping (an import, a webhook) names another item than the store."""
    out = []
    for sku, entry in known.items():
        seen = found.get(sku)
        if seen is not None and seen.item_id != entry.item_id:
            out.append({"sku": sku, "expected": entry.item_id, "found": seen.item_id})
    return out
