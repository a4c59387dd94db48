"""What each store should show, and the compare-and-set writes that get it there.

A *pending* entry is the latest quantity truth wants a store to show for one
(SKU, internal location), with the truth version it came from. Latest version wins, and a
version older than the one last applied to the store is ignored (Kafka replays).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from stocksync_common.events import SkuLevels, StockChange
from stocksync_common.stores import Store

BATCH_LIMIT = 250  # Shopify: input arrays hold at most 250 items
QUANTITY_LIMIT = 1_000_000_000
REFERENCE_URI = "stocksync://inventory-sync"
SEP = "\x1f"

ItemKey = tuple[str, str]  # (SKU, internal location id)
T = TypeVar("T")


def field_of(key: ItemKey) -> str:
    return f"{key[0]}{SEP}{key[1]}"


def key_of(field: str) -> ItemKey:
    sku, _, location = field.rpartition(SEP)
    return sku, location


@dataclass(frozen=True)
class Pending:
    version: int
    quantity: int

    def encode(self) -> str:
        return f"{self.version}:{self.quantity}"

    @classmethod
    def decode(cls, raw: str) -> Pending:
        version, _, quantity = raw.partition(":")
        return cls(int(version), int(quantity))


@dataclass(frozen=True)
class Known:
    """The truth version last applied to the store, and the store's level as last seen."""

    applied: int = 0
    level: int | None = None

    def encode(self) -> str:
        return f"{self.applied}:{'' if self.level is None else self.level}"

    @classmethod
    def decode(cls, raw: str | None) -> Known:
        if not raw:
            return cls()
        applied, _, level = raw.partition(":")
        return cls(int(applied or 0), int(level) if level else None)


def clamp(quantity: int) -> int:
    return max(0, min(QUANTITY_LIMIT, quantity))


def publish_quantity(change: StockChange, shop: str) -> int:
    """Truth, or the store's share while the SKU is low (channel allocation)."""
    if change.shares is not None:
        return clamp(change.shares.get(shop, 0))
    return clamp(change.after.available)


def desired_from_levels(levels: SkuLevels, shop: str, location: str) -> int | None:
    """The same rule as :func:`publish_quantity`, from a levels snapshot (reconciliation)."""
    if location not in levels.locations:
        return None
    if levels.shares is not None:
        return clamp(levels.shares.get(shop, 0))
    return clamp(levels.locations[location].available)


def pending_for_store(changes: Iterable[StockChange], store: Store) -> dict[ItemKey, Pending]:
    """Latest version per (SKU, location) the store maps; older changes are superseded."""
    out: dict[ItemKey, Pending] = {}
    for ch in changes:
        if ch.location not in store.locations:
            continue
        key = (ch.sku, ch.location)
        cur = out.get(key)
        if cur is None or ch.version > cur.version:
            out[key] = Pending(ch.version, publish_quantity(ch, store.shop))
    return out


@dataclass(frozen=True)
class Target:
    """A pending entry resolved to the store's inventory item and location gid."""

    key: ItemKey
    pending: Pending
    item_id: str
    location_gid: str

    @property
    def quantity(self) -> int:
        return self.pending.quantity


def quantities(targets: Sequence[Target], levels: dict[ItemKey, int]) -> list[dict[str, Any]]:
    """``InventoryQuantityInput``s: the quantity and the level last known (compare-and-set)."""
    return [
        {
            "inventoryItemId": t.item_id,
            "locationId": t.location_gid,
            "quantity": t.quantity,
            "changeFromQuantity": levels[t.key],
        }
        for t in targets
    ]


def idempotency_key(
    shop: str, items: Sequence[dict[str, Any]], salt: int = 0, versions: Sequence[int] = ()
) -> str:
    """Same write, same key; a new truth version, a new ``changeFromQuantity`` (after a
    refresh) or a new ``salt`` (after ``IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED``) makes a new
    key. The version matters: a level that goes 498 -> 496 -> 498 -> 496 writes the same
    item, quantity and compare value twice, and Shopify answers a reused key (kept for
    hours) from the first write without applying the second."""
    h = hashlib.sha256(f"{shop}|{salt}".encode())
    tagged = list(zip(items, versions, strict=True)) if versions else [(q, 0) for q in items]
    ordered = sorted(
        tagged, key=lambda qv: (str(qv[0]["inventoryItemId"]), str(qv[0]["locationId"]))
    )
    for q, version in ordered:
        h.update(
            f"|{q['inventoryItemId']}|{q['locationId']}|{q['quantity']}"
            f"|{q['changeFromQuantity']}|{version}".encode()
        )
    return h.hexdigest()


def set_variables(
    shop: str, items: list[dict[str, Any]], salt: int = 0, versions: Sequence[int] = ()
) -> dict[str, Any]:
    """The mutation's variables; ``versions`` are the truth versions behind ``items``."""
    return {
        "input": {
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": REFERENCE_URI,
            "quantities": items,
        },
        "idempotencyKey": idempotency_key(shop, items, salt, versions),
    }


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
