"""Events for kits: a kit command's component changes, and kits re-derived after a component
moved (a kit's availability = min over components of floor(available / units))."""

from __future__ import annotations

from typing import Any

from inventory_adjuster.adapters.kits import KitApplied, KitLevel
from stocksync_common.events import InventoryCommand, Levels, StockChange


def component_changes(cmd: InventoryCommand, applied: KitApplied) -> list[StockChange]:
    """One change per component a kit command moved."""
    out = []
    for c in applied.result.get("components", []):
        before, after = _levels(c["before"]), _levels(c["after"])
        out.append(
            StockChange(
                sku=c["sku"],
                location=cmd.location,
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
    )


def _levels(doc: dict[str, Any]) -> Levels:
    return Levels.model_validate(doc)
