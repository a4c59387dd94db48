"""``productSet``'s variants: up to three options, each variant its own SKU, price and
inventory item. The input lists every variant the product keeps; an existing variant is
matched by ``id``, else by SKU, else by its option values, and the ones left unmatched are
deleted with their inventory items. A variant may have no SKU (as in Shopify: it is matched
by id or option values, and never found by SKU); a SKU belongs to one variant of the store. A
product holds at most 2,048 variants (Shopify's limit since 2025-10, ``VARIANTS_OVER_LIMIT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from stocksync_sim.shopify.state import CatalogInfo, Level, Product, StoreState

MAX_OPTIONS = 3
MAX_VARIANTS = 2048
TOO_MANY_VARIANTS = f"A product can have at most {MAX_VARIANTS} variants"
DEFAULT_OPTION = ("Title", "Default Title")


@dataclass(frozen=True)
class Row:
    """One input variant, resolved: its SKU, option values, the variant it updates."""

    sku: str
    values: tuple[str, ...]
    data: dict[str, Any]
    existing: Product | None


@dataclass(frozen=True)
class Plan:
    option_names: list[str]
    rows: list[Row]
    removed: list[Product]


def option_values(info: CatalogInfo, index: int) -> list[str]:
    """The values option ``index`` takes over the product's variants, in first-seen order."""
    return list(dict.fromkeys(v.values[index] for v in info.variants if index < len(v.values)))


def _money(value: Any) -> str | None:
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return None


def _sku(variant: dict[str, Any]) -> str:
    sku = (variant.get("inventoryItem") or {}).get("sku") or variant.get("sku")
    return str(sku) if sku else ""


def _option_names(info: CatalogInfo | None, data: dict[str, Any]) -> list[str]:
    declared = [str(o.get("name")) for o in data.get("productOptions") or []]
    if declared:
        return declared
    seen = [
        str(v.get("optionName"))
        for variant in data.get("variants") or []
        for v in variant.get("optionValues") or []
    ]
    if seen:
        return list(dict.fromkeys(seen))
    return list(info.option_names) if info else [DEFAULT_OPTION[0]]


def _values(
    names: list[str], variant: dict[str, Any], declared: dict[str, str]
) -> tuple[str, ...] | str:
    pairs = variant.get("optionValues") or []
    given = {str(v.get("optionName")): str(v.get("name")) for v in pairs}
    if not given and names == [DEFAULT_OPTION[0]]:
        return (DEFAULT_OPTION[1],)
    if not given and set(declared) == set(names):  # lenient: the declared first values
        given = dict(declared)
    missing = [n for n in names if n not in given]
    if missing or len(given) != len(names):
        return f"Each variant needs one value for each option ({', '.join(names)})"
    return tuple(given[n] for n in names)


class _Matcher:
    """Finds the existing variant an input variant updates: by ``id``, else SKU, else option
    values (each existing variant matched once). Indexed, so a product of 2,048 variants is
    planned in linear time."""

    def __init__(self, info: CatalogInfo | None) -> None:
        self.variants = list(info.variants) if info else []
        self.by_id = {v.variant_id: v for v in self.variants}
        self.by_sku = {v.sku: v for v in self.variants if v.sku}
        self.by_values: dict[tuple[str, ...], list[Product]] = {}
        for v in self.variants:
            self.by_values.setdefault(tuple(v.values), []).append(v)
        self.taken: set[int] = set()

    def match(self, variant: dict[str, Any], sku: str, values: tuple[str, ...]) -> Product | None:
        candidates = [
            self.by_id.get(str(variant.get("id"))) if variant.get("id") is not None else None,
            self.by_sku.get(sku) if sku else None,
            *self.by_values.get(values, ()),
        ]
        found = next((v for v in candidates if v is not None and id(v) not in self.taken), None)
        if found is not None:
            self.taken.add(id(found))
        return found

    def unmatched(self) -> list[Product]:
        return [v for v in self.variants if id(v) not in self.taken]


def plan_variants(store: StoreState, info: CatalogInfo | None, data: dict[str, Any]) -> Plan | str:
    """What the input's variants do to the product, or why they are refused."""
    variants: list[dict[str, Any]] = data.get("variants") or []
    if not variants:
        return "A product needs at least one variant"
    if len(variants) > MAX_VARIANTS:
        return TOO_MANY_VARIANTS
    names = _option_names(info, data)
    if len(names) > MAX_OPTIONS:
        return f"A product can have at most {MAX_OPTIONS} options"
    declared = {
        str(o.get("name")): str(((o.get("values") or [{}])[0]).get("name"))
        for o in data.get("productOptions") or []
        if o.get("values")
    }
    rows: list[Row] = []
    matcher = _Matcher(info)
    for variant in variants:
        sku = _sku(variant)
        values = _values(names, variant, declared)
        if isinstance(values, str):
            return values
        existing = matcher.match(variant, sku, values)
        other = store.products.get(sku) if sku else None
        if other is not None and other is not existing and other.info is not info:
            return f"SKU {sku} is already used"
        rows.append(Row(sku, values, variant, existing))
    skus = [r.sku for r in rows if r.sku]
    if len(set(skus)) != len(skus):
        return "Each variant needs its own SKU"
    if len({r.values for r in rows}) != len(rows):
        return "Each variant needs its own combination of option values"
    return Plan(names, rows, matcher.unmatched())


def apply_plan(store: StoreState, info: CatalogInfo, plan: Plan) -> Product:
    """Apply a checked plan; the product's first variant."""
    for gone in plan.removed:
        store.remove_variant(gone)
    info.option_names = list(plan.option_names)
    ordered: list[Product] = []
    for row in plan.rows:
        variant = row.existing
        if variant is None:
            variant = store.upsert_product(row.sku, {}, info=info)
        elif variant.sku != row.sku:
            store.resku(variant, row.sku)
        variant.values = list(row.values)
        price = _money(row.data.get("price")) if "price" in row.data else None
        if price is not None:
            variant.price = price
        for entry in row.data.get("inventoryQuantities") or []:
            location = str(entry["locationId"])
            store.locations.setdefault(location, location)
            variant.levels.setdefault(location, Level(location, 0)).set_quantity(
                "available", int(entry["quantity"])
            )
        ordered.append(variant)
    info.variants[:] = ordered
    return ordered[0]
