"""Events for kits: a kit command's component changes, kits re-derived after a component
moved (a kit's availability = min over components of floor(available / units)), and a
waiting kit line reserved when its components' stock came back (ADR 0037)."""

from __future__ import annotations

from typing import Any

from inventory_adjuster.adapters.kits import KitApplied, KitLevel
from stocksync_common.events import InventoryCommand, KitPart, Levels, SkuLevels, StockChange


def component_changes(cmd: InventoryCommand, applied: KitApplied) -> list[StockChange]:
    """One change per component a kit command moved, per location it moved it at (a routed
    kit line split by whole kits, or released where its kits are held: each component at
    every location of the command, in order; issue #23)."""
    out = []
    for c in applied.result.get("components", []):
        before, after = _levels(c["before"]), _levels(c["after"])
        out.append(
            StockChange(
                sku=c["sku"],
                location=c.get("location") or cmd.location,
                command=cmd.command,
                idempotency_key=f"{cmd.idempotency_key}:component:{c['sku']}",
                version=int(c["version"]),
                before=before,
                after=after,
                # component totals at this location; other locations are unchanged
                sku_available_before=before.available,
                sku_available_after=after.available,
                order=cmd.order,
                kits=[cmd.sku],
                shares=c.get("shares") or None,  # the component's own, kit parts set aside
                kit_parts=c.get("kit_parts") or None,  # its kits' parts (ADR 0040)
            )
        )
    return out


def derived_kit_change(
    kit: str, location: str, level: KitLevel, cause: InventoryCommand
) -> StockChange:
    """A kit's availability after a component moved (or the kit was defined); its version
    only grows (:meth:`KitStore.availability`), and ``seen`` counts each shop's kit sales
    truth applied, so shopify-sync never takes a store's applied kit sales for unseen ones."""
    available, version = level.available, level.version
    levels = Levels(on_hand=available, reserved=0, safety_stock=0, available=available)
    return StockChange(
        sku=kit,
        location=location,
        command=cause.command,
        idempotency_key=f"kit:{kit}:{location}:v{version}",
        version=version,
        before=levels,
        after=levels,
        sku_available_before=available,
        sku_available_after=available,
        order=cause.order,
        seen=level.seen,
        shares=level.shares,  # channel allocation: each store's share (ADR 0040)
        kit_components=level.components,  # what they came from (shopify-sync's gate)
    )


def reshared_changes(
    levels: SkuLevels, kit_parts: dict[str, KitPart] | None = None
) -> list[StockChange]:
    """A kit's component whose direct shares changed with no stock moved (its kits' parts
    of its budget moved: ADR 0040), as one change per location it is stocked at, with the
    version the share-out bumped to (a ``configure``-like change: nothing moved), and its
    kits' parts (``kit_parts``, read with the levels)."""
    return [
        StockChange(
            sku=levels.sku,
            location=location,
            command="configure",
            idempotency_key=f"reshare:{levels.sku}:{location}:v{levels.version}",
            version=levels.version,
            before=lv,
            after=lv,
            sku_available_before=levels.available,
            sku_available_after=levels.available,
            shares=levels.shares,
            kit_parts=kit_parts if levels.shares is not None else None,
            seen=(levels.seen or {}).get(location, {}),
        )
        for location, lv in sorted(levels.locations.items())
    ]


def kit_rereserved(
    cmd: InventoryCommand,
    refused_key: str,
    levels: dict[str, KitLevel],
    routed: bool,
    placement: dict[str, int] | None = None,
) -> list[StockChange]:
    """The kit line refused under ``refused_key`` now holds ``cmd.quantity`` kits (a change
    with ``rereserved``, as apply.lua's WAITING LIST says of a plain line, so order-consumer
    holds its units again and the rebuild takes it off the kit's list); a routed store's
    line says where (``routed``), so the warehouse is told of the units: one change per
    location it was placed at (``placement``: kits per location, default all at the
    command's; ``levels``: the kit's level at each), each with the whole placement."""
    placement = placement or {cmd.location: cmd.quantity}
    out = []
    for loc in placement:
        at = cmd.model_copy(update={"location": loc})
        tried = cmd.route.locations if cmd.route is not None else None
        change = kit_line_change(at, levels[loc], routed=routed, tried=tried, placement=placement)
        out.append(change.model_copy(update={"idempotency_key": refused_key, "rereserved": True}))
    return out


def kit_line_change(
    cmd: InventoryCommand,
    level: KitLevel,
    *,
    routed: bool,
    tried: list[str] | None = None,
    placement: dict[str, int] | None = None,
) -> StockChange:
    """A kit reserve of an order line as a change of the kit at the command's location: its
    levels are the kit's as the stores see them after it, the line's kits there shown
    reserved out of them; a routed store's line is placed where the kit script chose
    (``routed``: ``placement``, kits per location, default all at the command's location; a
    line split by whole kits gets one such change per location, each with the whole
    placement, as a plain split line; ``tried``: the route's locations, default that one: ADR
    0037 §3), which order-consumer takes as the line's placement."""
    placement = placement or {cmd.location: cmd.quantity}
    q, available = placement.get(cmd.location, cmd.quantity), level.available
    before = Levels(on_hand=available + q, reserved=0, safety_stock=0, available=available + q)
    after = Levels(on_hand=available + q, reserved=q, safety_stock=0, available=available)
    return StockChange(
        sku=cmd.sku,
        location=cmd.location,
        command="reserve",
        idempotency_key=cmd.idempotency_key,
        version=level.version,
        before=before,
        after=after,
        sku_available_before=available + q,
        sku_available_after=available,
        order=cmd.order,
        seen=level.seen,
        shares=level.shares,
        kit_components=level.components,
        routed=dict(placement) if routed else None,
        tried=(tried or list(placement)) if routed else None,
    )


def kit_hold_change(cmd: InventoryCommand, level: KitLevel, kits: int) -> StockChange:
    """A routed release or commit of a kit line as a change of the kit: the ``kits`` its
    order line's kit hold gave up at the command's location (``routed``; ``reserved`` from
    ``kits`` to 0, the availability unchanged in it: the kit's derived change says what the
    stores can sell). With the placements (:func:`kit_line_change`) it tells the line's hold
    story, which a rebuild restores the hold from (rebuild_holds; issue #23)."""
    available = level.available
    before = Levels(on_hand=available + kits, reserved=kits, safety_stock=0, available=available)
    after = Levels(on_hand=available, reserved=0, safety_stock=0, available=available)
    return StockChange(
        sku=cmd.sku,
        location=cmd.location,
        command=cmd.command,
        idempotency_key=cmd.idempotency_key,
        version=level.version,
        before=before,
        after=after,
        sku_available_before=available,
        sku_available_after=available,
        order=cmd.order,
        seen=level.seen,
        shares=level.shares,
        routed={cmd.location: kits},
    )


def kit_placement(applied: KitApplied) -> dict[str, int]:
    """Kits per location an applied kit command moved (kit.lua's ``allocations``; a result
    stored before it had none: all at its ``location``), in the script's order."""
    r = applied.result
    allocations = r.get("allocations") or [{"location": r["location"], "kits": r["quantity"]}]
    out: dict[str, int] = {}
    for a in allocations:
        out[str(a["location"])] = out.get(str(a["location"]), 0) + int(a["kits"])
    return out


def kit_hold_moves(applied: KitApplied, location: str) -> dict[str, int]:
    """Kits per location a routed kit command moved its line's hold by (negative: taken off),
    in order; a result stored before ``allocations``: its ``held`` at ``location``."""
    r = applied.result
    if not r.get("allocations"):
        held = int(r.get("held") or 0)
        return {location: held} if held else {}
    return {str(a["location"]): int(a["held"]) for a in r["allocations"] if int(a["held"])}


def _levels(doc: dict[str, Any]) -> Levels:
    return Levels.model_validate(doc)
