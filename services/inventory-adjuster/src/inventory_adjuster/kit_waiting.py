"""Refused kit lines reserved when their components' stock returns (ADR 0037).

A kit reserve of an order line refused for stock waits on the kit's own list,
``inv:{kit}:waiting`` (queued by the script that records the kit's result: kit.lua or, on a
Redis Cluster, kit_record.lua), in apply.lua's entry format, so the rebuild restores it from
the ``order.oversold`` events as a plain SKU's (ADR 0031). A plain line is served inside
apply.lua; a kit spans its components' hash slots, so it is served here, after a batch moved
one of its components at the entry's location or, for a routed store's line (queued with its
route; issue #23), at one of its route's locations:

- the kit's availability at one of those locations (min over components) must cover the
  entry (a route allowing splits: their sum, by whole kits), and no line waiting on one of
  its components at that location since before the kit line (the component's own list,
  apply.lua's) may be jumped: a routed line is served over the locations of its route where
  it jumps no one, by a routed reserve (kit.lua's ROUTING: the first covering it, else split
  when allowed) into its line's kit hold;
- the entry is reserved by the kit script itself, all or nothing, with a key of its own
  (``<refused key>:waited:<attempt>``), and the script takes the entry off the list with
  the kit's result; refused (stock raced away since it was read), the entry stays with its
  attempt count one higher. A redelivered batch serves nothing twice: the entry is gone, or
  its attempt's key answers as a duplicate;
- per kit and location the order of arrival is strict: an entry that does not fit blocks
  the later ones at every location it may be served at; an entry older than the
  idempotency TTL is dropped, as apply.lua drops a plain one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from inventory_adjuster.adapters.kits import (
    Components,
    KitApplied,
    KitDefinitionChanged,
    KitLevel,
    KitStore,
    KitWait,
)
from inventory_adjuster.adapters.redis_store import as_text, waiting_key
from inventory_adjuster.kit_events import kit_placement
from stocksync_common.events import InventoryCommand, OrderLineRef, Route

WAITING_SCAN = 64  # entries looked at per list, as apply.lua's WAITING_SCAN


@dataclass(frozen=True)
class KitServed:
    """A waiting kit line reserved: the reserve applied (``cmd`` at the location the script
    placed it at first), the refused reserve's key, and the kit's level after it at each
    location it was placed at."""

    cmd: InventoryCommand
    refused_key: str
    applied: KitApplied
    levels: dict[str, KitLevel]
    routed: bool  # a routed store's line: its placement is reported (ADR 0037)


@dataclass(frozen=True)
class _Entry:
    raw: str  # exactly as the list holds it: the script finds it by value
    doc: dict[str, Any]

    @property
    def quantity(self) -> int:
        return int(self.doc["quantity"])

    @property
    def location(self) -> str:
        return str(self.doc["location"])

    @property
    def t(self) -> int:
        return int(self.doc.get("t") or 0)

    @property
    def route(self) -> Route | None:
        """A routed store's line: its route (kept on the entry since issue #23; one queued
        before, marked only ``routed``: its own location)."""
        route = self.doc.get("route")
        if route:
            return Route.model_validate(route)
        return Route(locations=[self.location]) if self.doc.get("routed") else None

    @property
    def places(self) -> list[str]:
        """Where the line may be served: its route's locations, else its own."""
        route = self.route
        return list(route.locations) if route is not None else [self.location]

    def command(self, kit: str, locations: list[str]) -> InventoryCommand:
        """The reserve serving the line; a routed store's line routed over ``locations``
        (those of its route it may be served at), into the line's kit hold, so its routed
        release and commit find it there (#23)."""
        d, route = self.doc, self.route
        return InventoryCommand(
            command="reserve",
            idempotency_key=f"{d['key']}:waited:{int(d.get('n') or 0)}",
            sku=kit,
            location=self.location,
            quantity=self.quantity,
            order=OrderLineRef(shop=d["shop"], order_id=d["order_id"], line_id=d["line_id"]),
            route=None if route is None else Route(locations=locations, split=route.split),
        )


async def serve_waiting_kits(
    kits: KitStore, moved: Iterable[tuple[str, str]], index: dict[str, list[str]]
) -> list[KitServed]:
    """Serve the waiting lines of the kits whose components ``moved`` ((SKU, location)
    pairs; ``index``: the kits of each SKU): a line whose location, or for a routed store's
    line one of its route's locations, saw a component move. One round trip when none
    waits."""
    where: dict[str, set[str]] = {}  # kit -> locations one of its components moved at
    for sku, location in moved:
        for kit in index.get(sku, ()):
            where.setdefault(kit, set()).add(location)
    waiting = await _lists(kits, sorted(where))
    candidates = {
        kit: [e for e in entries if where[kit] & set(e.places)]
        for kit, entries in waiting.items()
        if any(where[kit] & set(e.places) for e in entries)
    }
    if not candidates:
        return []
    defs = await kits.definitions(sorted(candidates))
    components = sorted({c for kit in defs for c, _ in defs[kit]})
    plain = await _lists(kits, components)  # lines waiting on the components themselves
    served: list[KitServed] = []
    for kit in sorted(defs):
        served += await _serve(kits, kit, defs[kit], candidates[kit], plain)
    return served


async def _serve(
    kits: KitStore,
    kit: str,
    parts: Components,
    entries: list[_Entry],
    plain: dict[str, list[_Entry]],
) -> list[KitServed]:
    """The entries of one kit, oldest first; one that does not fit blocks the later ones at
    every location it may be served at (its own, or its route's)."""
    out: list[KitServed] = []
    ttl_ms = kits.idem_ttl_s * 1000
    blocked: set[str] = set()
    for entry in entries:
        if time.time() * 1000 - entry.t > ttl_ms:
            await kits.redis.lrem(waiting_key(kit), 1, entry.raw)
            continue
        usable = [loc for loc in entry.places
                  if loc not in blocked and not _jumps(entry, parts, loc, plain)]  # fmt: skip
        route = entry.route
        fits = False
        if usable:
            levels = {loc: (await kits.availability([kit], loc))[kit] for loc in usable}
            room = [lv.available for lv in levels.values()]
            fits = max(room) >= entry.quantity or (
                route is not None and route.split and sum(room) >= entry.quantity
            )
        if not fits:
            blocked.update(entry.places)
            continue
        cmd = entry.command(kit, usable)
        try:
            applied = await kits.apply(cmd, None, parts, KitWait(served=entry.raw))
        except KitDefinitionChanged:
            break  # redefined since it was read: the next movement tries again
        if not isinstance(applied, KitApplied) or applied.status != "applied":
            # a duplicate was served by whoever applied it first; a refusal waits on
            blocked.update(entry.places)
            continue
        placement = kit_placement(applied)
        cmd = cmd.model_copy(update={"location": next(iter(placement))})
        after = {loc: (await kits.availability([kit], loc))[kit] for loc in placement}
        routed = route is not None
        out.append(KitServed(cmd, str(entry.doc["key"]), applied, after, routed))
    return out


def _jumps(entry: _Entry, parts: Components, location: str, plain: dict[str, list[_Entry]]) -> bool:
    """Whether serving ``entry`` would jump a line that waits on one of the kit's components
    at ``location`` since before it (a routed one: its route includes the location)."""
    for component, _ in parts:
        for other in plain.get(component, ()):  # apply.lua's entries: route or location
            route = other.doc.get("route") or {}
            places = route.get("locations") or [other.location]
            # queued in the same millisecond: which came first is unknown, so the kit line
            # waits (it never jumps; a test saw both lines queued within one millisecond)
            if other.t <= entry.t and location in places:
                return True
    return False


async def _lists(kits: KitStore, skus: list[str]) -> dict[str, list[_Entry]]:
    """The first entries of each SKU's waiting list (one pipeline); SKUs with none left out."""
    if not skus:
        return {}
    pipe = kits.redis.pipeline(transaction=False)
    for sku in skus:
        pipe.lrange(waiting_key(sku), 0, WAITING_SCAN - 1)
    rows = await pipe.execute()
    out: dict[str, list[_Entry]] = {}
    for sku, raws in zip(skus, rows, strict=True):
        entries = [_Entry(as_text(r), orjson.loads(r)) for r in raws]
        if entries:
            out[sku] = entries
    return out
