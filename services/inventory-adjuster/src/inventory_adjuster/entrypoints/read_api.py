"""Read API: levels and ledger per SKU."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from inventory_adjuster.entrypoints.deps import ContainerDep
from stocksync_common.inventory_view import InventoryView

router = APIRouter(prefix="/inventory", tags=["inventory"])


@router.get("/{sku}")
async def get_inventory(sku: str, c: ContainerDep) -> InventoryView:
    """Levels per location, the version, the SKU's total available, and its settings."""
    levels = await c.store.levels(sku)
    if levels is None:
        raise HTTPException(404, f"unknown SKU {sku!r}")
    return InventoryView.of(levels, await c.store.settings_of(sku))


@router.get("/{sku}/ledger")
async def get_ledger(sku: str, c: ContainerDep) -> dict[str, Any]:
    """The applied commands for the SKU, newest last."""
    return {"sku": sku, "entries": await c.store.ledger(sku)}
