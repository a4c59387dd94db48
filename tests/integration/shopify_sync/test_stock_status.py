"""``GET /status/stock/{sku}`` (admin token): per store what it showed when shopify-sync
last wrote or read each location of the SKU, the truth version applied there, and a change
waiting to be pushed. Real Kafka and Redis, the simulator failing on request."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from integration.shopify_sync.conftest import ADMIN, SyncFactory, change

from support.poll import await_for

pytestmark = pytest.mark.integration


async def test_each_store_shows_its_last_seen_count_and_what_waits(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(["standard"]) as s:
        (shop,) = s.shops
        sku = f"SEEN-{uuid.uuid4().hex[:6]}"

        async def status(of: str = sku) -> dict[str, Any]:
            r = await s.admin.get(f"/status/stock/{of}", headers=ADMIN)
            assert r.status_code == 200, r.text
            (store,) = r.json()["stores"]
            assert store["shop"] == shop and store["role"] == "child"
            return dict(store)

        await s.seed(shop, {sku: 0})
        await s.publish_changes([change(sku, 1, 5)])
        await s.converged(shop, {sku: 5})
        seen = {"wh-1": {"shows": 5, "applied_version": 1, "pending": None}}

        async def recorded() -> bool:
            # the store shows 5 as soon as the call is answered; shopify-sync records it a
            # moment after (the answer's bookkeeping), so the status follows
            return bool((await status())["locations"] == seen)

        await await_for("the write recorded", recorded)
        store = await status()
        assert store["mapped"] is True
        assert store["locations"] == seen

        # The store fails every call: the next change waits, the count last seen stays.
        assert (await s.sim.post("/_sim/faults", json={"shop": shop, "error_rate": 1.0})).is_success
        try:
            await s.publish_changes([change(sku, 2, 3)])

            async def waiting() -> bool:
                return (await status())["locations"]["wh-1"]["pending"] is not None

            await await_for("the change waiting for the store", waiting)
            wh1 = (await status())["locations"]["wh-1"]
            waits = {"quantity": 3, "version": 2}
            assert wh1 == {"shows": 5, "applied_version": 1, "pending": waits}
        finally:
            await s.sim.delete("/_sim/faults")

        unknown = await status("NEVER-LISTED")
        assert unknown["mapped"] is False
        never = {"shows": None, "applied_version": 0, "pending": None}
        assert unknown["locations"]["wh-1"] == never
        refused = await s.admin.get(f"/status/stock/{sku}")
        assert refused.status_code == 401
