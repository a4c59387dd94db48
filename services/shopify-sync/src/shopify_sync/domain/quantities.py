"""What each store should show, and the compare-and-set writes that get it there.

A *pending* entry is the latest quantity truth wants a store to show for one
(SKU, internal location), with the truth version it came from. Latest version wins, and a
version older than the one last applied to the store is ignored (Kafka replays).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from shopify_sync.domain.change_facts import ChangeFacts, KitPartFacts
from stocksync_common.events import SkuLevels
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


Seen = tuple[tuple[str, int], ...]  # (shop, its sales truth has applied), sorted by shop
# A kit's component under allocation, for one store: (kit SKU, units of the SKU in one kit,
# the kits the store's budget holds for the kit), sorted by kit (ADR 0040)
KitParts = tuple[tuple[str, int, int], ...]
# A kit under allocation, for one store: per allocated component (its SKU, its units in the
# kit, its direct share in the store, its kits' parts there), sorted by component
KitComponents = tuple[tuple[str, int, int, KitParts], ...]


@dataclass(frozen=True)
class Pending:
    """What truth allows one store to show for one (SKU, location), as of a truth version.

    ``available`` (the SKU's available over all locations), ``shared`` (channel allocation
    on) and ``seen`` (per shop, the units of its orders truth has applied at this location:
    a counter that only the shop's own sales and cancellations move) come with changes from
    the adjuster; an entry without them (an old record, a replayed dead letter) is written
    without the gate and with its unseen sales estimated conservatively (see
    :func:`write_plan`). ``kits`` (a kit's component under allocation): the store's part of
    its budget per kit; the store's budget is ``quantity`` plus units x part of every kit,
    and the writer raises the SKU only into room the store's kits left. ``components`` (a
    kit under allocation): its components' splits in the store, and the writer raises the
    kit only into room their budgets leave (``Writer._kit_caps``)."""

    version: int
    quantity: int
    available: int | None = None
    shared: bool = False
    seen: Seen | None = None
    kits: KitParts | None = None
    components: KitComponents | None = None

    def own_seen(self, shop: str) -> int | None:
        if self.seen is None:
            return None
        return dict(self.seen).get(shop, 0)

    def encode(self) -> str:
        linked = self.kits is not None or self.components is not None
        if self.available is None and not self.shared and self.seen is None and not linked:
            return f"{self.version}:{self.quantity}"
        seen = "-" if self.seen is None else ",".join(f"{s}={n}" for s, n in self.seen)
        available = "" if self.available is None else str(self.available)
        out = f"{self.version}:{self.quantity}:{available}:{int(self.shared)}:{seen}"
        if linked:  # last: a SKU may hold any character (JSON)
            doc = {"k": self.kits, "c": self.components}
            out += ":" + json.dumps(doc, separators=(",", ":"))
        return out

    @classmethod
    def decode(cls, raw: str) -> Pending:
        parts = raw.split(":", 5)
        if len(parts) < 5:
            return cls(int(parts[0]), int(parts[1]))
        version, quantity, available, shared, seen = parts[:5]
        linked = json.loads(parts[5]) if len(parts) > 5 else {}
        kits, comps = linked.get("k"), linked.get("c")
        return cls(
            int(version),
            int(quantity),
            int(available) if available else None,
            shared == "1",
            None if seen == "-" else seen_of(seen),
            None if kits is None else _kit_parts(kits),
            None
            if comps is None
            else tuple((str(c), int(u), int(d), _kit_parts(k)) for c, u, d, k in comps),
        )


def _kit_parts(raw: Iterable[Sequence[Any]]) -> KitParts:
    return tuple((str(k), int(u), int(n)) for k, u, n in raw)


def seen_of(raw: str | Mapping[str, int] | None) -> Seen | None:
    """``shop=n,shop=n`` (or a mapping) as a sorted tuple; None stays None (unknown)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        pairs = (item.rpartition("=") for item in raw.split(",") if item)
        return tuple(sorted((shop, int(n)) for shop, _, n in pairs))
    return tuple(sorted((shop, int(n)) for shop, n in raw.items()))


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


@dataclass(frozen=True)
class Exposure:
    """What a store could still sell of one (SKU, location) as of our last write or read
    there, its unseen sales included: ``base`` units while its own-sales counter (truth's
    ``seen`` for that shop) stood at ``seen``. Each of its sales truth applies since then
    moves the counter by one and takes one unit off; a cancellation gives it back."""

    base: int
    seen: int
    # Set while the record is a raise the gate granted and no answer confirmed yet: what
    # the store could sell without it (``Writer`` replaces a claim left by a round that
    # never sent its call, see ``unconfirmed``).
    claimed_from: int | None = None

    def unconfirmed(self) -> Exposure:
        """A claim no call confirmed: the store can sell what it could before it."""
        if self.claimed_from is None:
            return self
        return Exposure(self.claimed_from, self.seen)

    def raw(self, seen_now: int | None) -> int:
        return self.base - (0 if seen_now is None else seen_now - self.seen)

    def now(self, seen_now: int | None) -> int:
        return max(0, self.raw(seen_now))

    def unseen(self, level: int, seen_now: int | None) -> int:
        """Units the store sold (or lost) that truth has not applied: what it could sell
        minus what it shows. ``seen_now`` unknown: none of its sales counted as applied,
        which can only overstate them."""
        return max(0, self.raw(seen_now) - level)

    def encode(self) -> str:
        if self.claimed_from is None:
            return f"{self.base}:{self.seen}"
        return f"{self.base}:{self.seen}:{self.claimed_from}"

    @classmethod
    def decode(cls, raw: str) -> Exposure:
        base, _, rest = raw.partition(":")
        seen, _, claimed_from = rest.partition(":")
        return cls(int(base), int(seen or 0), int(claimed_from) if claimed_from else None)


@dataclass(frozen=True)
class Plan:
    """One write, before the allocation gate: the count to set so that the store never
    shows more than truth allows it minus its unseen sales (the write invariant)."""

    quantity: int  # what to set
    unseen: int  # the store's sales truth has not applied yet
    level: int  # what the store shows now (``changeFromQuantity``)
    seen: int  # the shop's own-sales counter these figures assume

    @property
    def before(self) -> int:
        """What the store can sell now, counting what it already sold unseen."""
        return self.level + self.unseen

    @property
    def after(self) -> int:
        return self.quantity + self.unseen

    @property
    def raises(self) -> bool:
        return self.after > self.before


def write_plan(pending: Pending, shop: str, level: int, exposure: Exposure | None) -> Plan:
    """The write invariant: set at most ``allowed - unseen``.

    ``allowed`` is the store's quantity from truth (available, or its share). ``unseen``
    is derived from what the store could sell at our last write or read (``exposure``),
    its sales truth applied since (the ``seen`` counter) and its count now: units missing
    from the count and not yet applied by truth are sales truth will see later, and a
    write must not put them back on sale. Without an exposure (the first time we meet
    the item) there is nothing to compare with: the count is taken as it is."""
    own = pending.own_seen(shop)
    if exposure is None:
        return Plan(clamp(pending.quantity), 0, level, 0 if own is None else own)
    unseen = exposure.unseen(level, own)
    seen = exposure.seen if own is None else own
    return Plan(clamp(pending.quantity - unseen), unseen, level, seen)


def grant(
    floor: int,
    want: int,
    available: int,
    others: Mapping[tuple[str, str], Exposure],
    seen: Seen | None,
    location: str,
) -> int:
    """The allocation gate: a store may be raised to ``want`` only into the room truth's
    ``available`` leaves beside what every other (shop, location) could sell now; never
    below ``floor`` (what it can sell already). ``seen`` are the shops' counters at
    ``location`` as of ``available``; records at other locations, or without counters,
    are taken as they were recorded (which can only overstate them). The Redis adapter
    runs the same rule in a script, atomically."""
    counters = None if seen is None else dict(seen)
    held = 0
    for (shop, loc), exposure in others.items():
        now = None if counters is None or loc != location else counters.get(shop, 0)
        held += exposure.now(now)
    return min(want, max(floor, available - held))


def clamp(quantity: int) -> int:
    return max(0, min(QUANTITY_LIMIT, quantity))


def publish_quantity(change: ChangeFacts, shop: str) -> int:
    """Truth, or the store's share while the SKU is low (channel allocation)."""
    if change.shares is not None:
        return clamp(change.shares.get(shop, 0))
    return clamp(change.after.available)


def desired_from_levels(levels: SkuLevels, shop: str, location: str) -> Pending | None:
    """The same rule as :func:`pending_for_store`, from a levels snapshot (reconciliation)."""
    allowed = levels.allowed(shop, location)
    if allowed is None:
        return None
    quantity = clamp(allowed)
    seen = None if levels.seen is None else seen_of(levels.seen.get(location, {}))
    return Pending(levels.version, quantity, levels.available, levels.shares is not None, seen)


def pending_for_store(changes: Iterable[ChangeFacts], store: Store) -> dict[ItemKey, Pending]:
    """Latest version per (SKU, location) the store maps; older changes are superseded."""
    out: dict[ItemKey, Pending] = {}
    for ch in changes:
        if ch.location not in store.locations:
            continue
        key = (ch.sku, ch.location)
        cur = out.get(key)
        if cur is None or ch.version > cur.version:
            out[key] = Pending(
                ch.version,
                publish_quantity(ch, store.shop),
                ch.sku_available_after,
                ch.shares is not None,
                seen_of(ch.seen),
                kit_parts_of(ch.kit_parts if ch.shares is not None else None, store.shop),
                kit_components_of(ch, store.shop),
            )
    return out


def kit_parts_of(parts: Mapping[str, KitPartFacts] | None, shop: str) -> KitParts | None:
    """The store's part of a kit component's budget per kit (None: the change says of none)."""
    if not parts:
        return None
    return tuple(
        sorted((kit, part.units, max(0, part.shares.get(shop, 0))) for kit, part in parts.items())
    )


def kit_components_of(change: ChangeFacts, shop: str) -> KitComponents | None:
    """A kit's allocated components' splits in the store (None: the change says of none)."""
    if not change.kit_components or change.shares is None:
        return None
    return tuple(
        sorted((comp, c.units, max(0, c.shares.get(shop, 0)), kit_parts_of(c.kit_parts, shop) or ())
               for comp, c in change.kit_components.items())
    )  # fmt: skip


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


def quantities(
    targets: Sequence[Target], levels: Mapping[ItemKey, int], planned: Mapping[ItemKey, int]
) -> list[dict[str, Any]]:
    """``InventoryQuantityInput``s: the planned quantity and the level last known
    (compare-and-set)."""
    return [
        {
            "inventoryItemId": t.item_id,
            "locationId": t.location_gid,
            "quantity": planned[t.key],
            "changeFromQuantity": levels[t.key],
        }
        for t in targets
    ]


def idempotency_key(
    shop: str,
    items: Sequence[dict[str, Any]],
    salt: int = 0,
    versions: Sequence[int] = (),
    call: str = "",
) -> str:
    """Same write in one push, same key; a new truth version, a new ``changeFromQuantity`` (after a
    refresh), a new ``salt`` (after ``IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED``) or a new
    ``call`` makes a new key. Shopify answers a reused key (kept for hours) from the first
    write without applying the second, so two calls must never share one: a level that goes
    498 -> 496 -> 498 -> 496 writes the same item, quantity and compare value twice (the
    version tells them apart), and so does a raise a sale undid before truth saw the sale
    (0 -> 1, sold, 0 -> 1 at the same version: only ``call``, naming the round's push, tells
    them apart). A call sent again after an unknown outcome reuses its key from its recorded
    intent, never from here."""
    h = hashlib.sha256(f"{shop}|{salt}|{call}".encode())
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
    shop: str,
    items: list[dict[str, Any]],
    salt: int = 0,
    versions: Sequence[int] = (),
    call: str = "",
) -> dict[str, Any]:
    """The mutation's variables; ``versions`` are the truth versions behind ``items``,
    ``call`` names this call (see :func:`idempotency_key`)."""
    return {
        "input": {
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": REFERENCE_URI,
            "quantities": items,
        },
        "idempotencyKey": idempotency_key(shop, items, salt, versions, call),
    }


def adjust_variables(
    shop: str,
    items: list[dict[str, Any]],
    versions: Sequence[int] = (),
    call: str = "",
) -> dict[str, Any]:
    """``inventoryAdjustQuantities``' variables for ``items`` as :func:`quantities` gives them
    (each a planned quantity and the level it was planned from): a lowering by the
    difference, without compare-and-set, so that sales the store makes meanwhile take their
    units off the result instead of refusing the call. Lowerings only: a raise without a
    compare-and-set could put back units a concurrent change took off (ADR 0044)."""
    changes = []
    for q in items:
        delta = int(q["quantity"]) - int(q["changeFromQuantity"])
        if delta >= 0:
            raise ValueError(f"an adjustment only lowers: {q}")
        changes.append(
            {
                "inventoryItemId": q["inventoryItemId"],
                "locationId": q["locationId"],
                "delta": delta,
                "changeFromQuantity": None,
            }
        )
    return {
        "input": {
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": REFERENCE_URI,
            "changes": changes,
        },
        "idempotencyKey": idempotency_key(shop, items, 0, versions, f"adjust:{call}"),
    }


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
