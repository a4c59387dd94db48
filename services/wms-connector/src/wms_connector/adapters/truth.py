"""Truth as inventory-adjuster's read API tells it: ``GET /inventory/{sku}``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from stocksync_common.inventory_view import InventoryView
from wms_connector.domain.reconcile import Place, Truth


@dataclass
class HttpTruth:
    http: httpx.AsyncClient
    base_url: str
    concurrency: int = 8

    async def _sku(self, sku: str) -> dict[str, Truth]:
        resp = await self.http.get(f"{self.base_url.rstrip('/')}/inventory/{quote(sku, safe='')}")
        if resp.status_code == 404:
            return {}
        resp.raise_for_status()
        view = InventoryView.model_validate_json(resp.content)
        return {loc: Truth(lv.on_hand, lv.reserved) for loc, lv in view.locations.items()}

    async def levels(self, places: list[Place]) -> dict[Place, Truth | None]:
        """Truth at each place (None where the SKU or location is unknown)."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(sku: str) -> tuple[str, dict[str, Truth]]:
            async with gate:
                return sku, await self._sku(sku)

        found = dict(await asyncio.gather(*(one(s) for s in sorted({p[0] for p in places}))))
        return {(sku, loc): found[sku].get(loc) for sku, loc in places}
