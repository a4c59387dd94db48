"""``GET /inventory/{sku}`` as inventory-adjuster's route answers it, read by both of its
callers (shopify-sync's targeted reconciliation, wms-connector's reconciliation) through
``httpx`` in process: one typed answer, read the same way by each."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI

from inventory_adjuster.entrypoints.read_api import router
from shopify_sync.adapters.truth import HttpTruth as ShopifyTruth
from stocksync_common.events import Levels, SkuLevels
from wms_connector.adapters.truth import HttpTruth as WmsTruth
from wms_connector.domain.reconcile import Truth

SKU = "MUG 1 blue"  # quoted in the path by both callers


class Store:
    async def levels(self, sku: str) -> SkuLevels | None:
        if sku != SKU:
            return None
        return SkuLevels(
            sku=sku,
            version=4,
            available=5,
            locations={"WH1": Levels(on_hand=8, reserved=2, safety_stock=1, available=5)},
            partition=0,
            offset=9,
        )

    async def settings_of(self, sku: str) -> dict[str, Any]:
        return {"policy": "reject", "allocation_threshold": None, "kit_components": None}


def adjuster() -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(router)
    app.state.container = SimpleNamespace(store=Store())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://adjuster")


async def test_the_route_answers_the_contract_and_404_for_an_unknown_sku() -> None:
    async with adjuster() as http:
        doc = (await http.get("/inventory/MUG%201%20blue")).json()
        missing = await http.get("/inventory/NOPE")
    assert doc["sku"] == SKU and doc["version"] == 4 and doc["available"] == 5
    assert doc["locations"] == {
        "WH1": {"on_hand": 8, "reserved": 2, "safety_stock": 1, "available": 5}
    }
    assert doc["policy"] == "reject" and "offset" not in doc
    assert missing.status_code == 404


async def test_shopify_sync_reads_the_levels() -> None:
    async with adjuster() as http:
        found = await ShopifyTruth(http, "http://adjuster/").snapshot([SKU, "NOPE"])
    assert set(found) == {SKU}
    assert found[SKU].version == 4 and found[SKU].locations["WH1"].available == 5


async def test_wms_connector_reads_on_hand_and_reserved_per_location() -> None:
    async with adjuster() as http:
        truth = await WmsTruth(http, "http://adjuster").levels(
            [(SKU, "WH1"), (SKU, "WH9"), ("NOPE", "WH1")]
        )
    assert truth == {(SKU, "WH1"): Truth(8, 2), (SKU, "WH9"): None, ("NOPE", "WH1"): None}
