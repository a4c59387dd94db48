"""Read API: levels and ledger per SKU."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from inventory_adjuster.adapters.kits import kit_levels
from inventory_adjuster.entrypoints.deps import AdminDep, ContainerDep
from stocksync_common.inventory_view import InventoryView

router = APIRouter(prefix="/inventory", tags=["inventory"])
PAGE, MAX_PAGE = 100, 1000


@router.get("/{sku}")
async def get_inventory(sku: str, c: ContainerDep) -> InventoryView:
    """Levels per location, the version, the SKU's total available, and its settings; a
    kit's levels are its availability (the minimum over its components), what the stores
    show."""
    levels = await c.store.levels(sku)
    if levels is None:
        raise HTTPException(404, f"unknown SKU {sku!r}")
    settings = await c.store.settings_of(sku)
    components = settings.get("kit_components")
    if isinstance(components, dict) and components and c.handler.kits is not None:
        levels = await kit_levels(c.handler.kits, c.store, sku, components) or levels
    return InventoryView.of(levels, settings)


@router.get("/{sku}/ledger")
async def get_ledger(
    sku: str,
    c: ContainerDep,
    _who: AdminDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE,
    before: Annotated[str | None, Query(pattern=r"^\d{1,20}-\d{1,20}$")] = None,
) -> dict[str, Any]:
    """The commands applied to the SKU, oldest first: a page of at most ``limit``, the newest
    ones or those before the entry id ``before``; ``next`` is the ``before`` of the page of
    older entries (None: this page reaches the oldest). Admin token required: the ledger
    names orders and who changed stock."""
    entries = await c.store.ledger(sku, count=limit + 1, before=before)
    page = entries[-limit:]
    return {"sku": sku, "entries": page, "next": page[0]["id"] if len(entries) > limit else None}
