"""Read API: levels and ledger per SKU."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from inventory_adjuster.entrypoints.deps import ContainerDep

router = APIRouter(prefix="/inventory", tags=["inventory"])


@router.get("/{sku}")
async def get_inventory(sku: str, c: ContainerDep) -> dict[str, Any]:
    """Levels per location, the version, and the SKU's total available."""
    levels = await c.store.levels(sku)
    if levels is None:
        raise HTTPException(404, f"unknown SKU {sku!r}")
    doc = levels.model_dump(exclude={"partition", "offset"})
    doc.update(await c.store.settings_of(sku))
    return doc


@router.get("/{sku}/ledger")
async def get_ledger(sku: str, c: ContainerDep) -> dict[str, Any]:
    """The applied commands for the SKU, newest last."""
    return {"sku": sku, "entries": await c.store.ledger(sku)}
