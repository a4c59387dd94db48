"""Admin jobs on shopify-sync, on the real Redis: a catalog sync through bulk mutations and
staged uploads (mapping filled, no THROTTLED), a job that resumes after its runner stopped
without redoing the chunks it finished, and a CSV mapping import job."""

from __future__ import annotations

from typing import Any

import pytest
from integration.shopify_sync.conftest import ADMIN, LOC, Sync, SyncFactory

from support.poll import await_for

pytestmark = pytest.mark.integration
ROLES = [{"role": "parent"}, {"role": "child", "child_owned_fields": ["price"]}, {"role": "child"}]
PLANS = ["plus", "standard", "advanced"]


async def seed_parent(s: Sync, count: int) -> None:
    body = [
        {"sku": f"CAT-{i:05d}", "price": "12.50", "quantities": {LOC: 4},
         "catalog": {"title": f"Item {i}", "tags": ["bulk"], "metafields": [
             {"namespace": "catalog", "key": "n", "type": "number_integer", "value": str(i)}]}}
        for i in range(count)
    ]  # fmt: skip
    for start in range(0, count, 1000):
        r = await s.sim.post(f"/_sim/stores/{s.shops[0]}/products", json=body[start : start + 1000])
        assert r.status_code == 201, r.text


async def job(s: Sync, job_id: str) -> dict[str, Any]:
    r = await s.admin.get(f"/jobs/{job_id}", headers=ADMIN)
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def finished(s: Sync, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        doc = await job(s, job_id)
        return doc if doc["status"] in ("done", "failed") else None

    return await await_for(f"job {job_id} ended", ended, timeout_s)


async def test_catalog_sync_job_writes_children_through_bulk_mutations(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES, catalog_sync_chunk=200) as s:
        await seed_parent(s, 500)
        r = await s.admin.post("/jobs/catalog-sync", headers=ADMIN, json={})
        assert r.status_code == 202, r.text
        doc = await finished(s, r.json()["job_id"])
        assert doc["status"] == "done", doc
        for child in s.shops[1:]:
            assert doc["progress"]["counts"][child] == {"written": 500, "created": 500, "errors": 0}
            assert doc["progress"]["chunks_done"][child] == 3
            listed = (await s.sim.get(f"/_sim/stores/{child}/products")).json()
            assert len(listed) == 500
            mapped = await s.container.catalog.all_entries(child)
            assert len(mapped) == 500 and all(e.item_id for e in mapped)
            runs = await s.sim.get("/_sim/requests", params={"shop": child,
                                   "operation_name": "RunBulkMutation"})  # fmt: skip
            assert len(runs.json()) == 3  # 3 bulk mutations, not 500 calls
        stats = await s.stats()
        assert all(stats[shop]["throttled"] == 0 for shop in s.shops)


async def test_a_stopped_job_resumes_from_its_progress(sync_stack: SyncFactory) -> None:
    async with sync_stack(PLANS, store_extra=ROLES, catalog_sync_chunk=50, job_lease_ttl_s=2) as s:
        await seed_parent(s, 400)
        slow = {"shop": s.shops[1], "latency_ms": 150}  # time to stop the job mid-way
        assert (await s.sim.post("/_sim/faults", json=slow)).status_code == 200
        runner = s.container.runner
        assert runner is not None
        job_id = await runner.submit("catalog-sync", {"shops": [s.shops[1]]})

        async def some_done() -> bool:
            doc = await job(s, job_id)
            done: int = (doc.get("progress") or {}).get("chunks_done", {}).get(s.shops[1], 0)
            return done >= 2

        await await_for("two chunks done", some_done, 60)
        await runner.stop()  # the replica goes away mid-job
        stopped = await job(s, job_id)
        assert stopped["status"] == "running"
        done_before = stopped["progress"]["chunks_done"][s.shops[1]]
        assert await runner.resume() == 1
        doc = await finished(s, job_id)
        assert doc["status"] == "done" and doc["resumed"] is True
        assert doc["progress"]["chunks_done"][s.shops[1]] == 8
        runs = await s.sim.get("/_sim/requests", params={"shop": s.shops[1],
                               "operation_name": "RunBulkMutation"})  # fmt: skip
        assert len(runs.json()) <= 8 + 1  # at most the chunk in flight was sent twice
        assert done_before < 8


async def test_mapping_import_job(sync_stack: SyncFactory) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        child = s.shops[1]
        csv = (
            "shop,sku,product_id,variant_id,inventory_item_id,location,location_id\n"
            f"{child},IMP-1,gid://shopify/Product/1,gid://shopify/ProductVariant/2,"
            f"gid://shopify/InventoryItem/3,wh-1,{LOC}\n"
            f"{child},IMP-2,not-a-gid,gid://shopify/ProductVariant/5,"
            "gid://shopify/InventoryItem/6,,\n"
        )
        r = await s.admin.post("/jobs/mapping-import", headers=ADMIN, content=csv)
        assert r.status_code == 202, r.text
        doc = await finished(s, r.json()["job_id"])
        assert doc["status"] == "done", doc
        assert doc["progress"]["imported"] == 1 and doc["progress"]["rejected"] == 1
        entries = await s.container.catalog.entries(child, ["IMP-1", "IMP-2"])
        assert list(entries) == ["IMP-1"]
        assert (await s.admin.post("/jobs/mapping-import", content=csv)).status_code == 401
