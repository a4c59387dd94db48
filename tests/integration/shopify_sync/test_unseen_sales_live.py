"""The flash-sale issue's trace on the real Kafka and Redis, against the simulator: a store
that sold twenty units truth has not applied yet must not be raised over them when truth
moves for another reason (another store's sale). The sync before this change re-read the
level on the stale answer and sent the old target again: 29 set from 10. It now lowers the
store by the difference from the level read again (ADR 0044): 10 -> 9."""

from __future__ import annotations

from typing import Any

import pytest
from integration.shopify_sync.conftest import SyncFactory, change

from support.poll import await_for
from support.sim_writes import quantities

pytestmark = pytest.mark.integration
SKU = "UNSEEN"
OTHER = "other.myshopify.com"


async def test_a_store_is_never_raised_over_its_unseen_sales(sync_stack: SyncFactory) -> None:
    async with sync_stack(["plus"]) as s:
        (shop,) = s.shops
        key = (SKU, "wh-1")

        async def applied(version: int) -> bool:
            known = await s.container.state.known(shop, [key])
            return bool(known[key].applied >= version)

        await s.seed(shop, {SKU: 30})
        await s.publish_changes([change(SKU, 1, 30, seen={shop: 0})])
        await await_for("version 1 applied", lambda: applied(1), 30)
        sale = await s.sim.post(
            f"/_sim/stores/{shop}/orders", json={"line_items": [{"sku": SKU, "quantity": 20}]}
        )
        assert sale.status_code == 201  # twenty units the sync and truth have not seen
        # another store sold one: truth 29, this shop's counter still 0
        await s.publish_changes([change(SKU, 2, 29, seen={shop: 0, OTHER: 1})])
        await await_for("version 2 applied", lambda: applied(2), 30)
        assert (await s.inventory(shop))[SKU] == 9
        writes: list[dict[str, Any]] = (await s.sim.get("/_sim/storefront/writes")).json()
        applied_writes = [
            (q["quantity"], q["change_from"], q.get("delta"))
            for q in quantities(writes, {SKU})
            if q["outcome"] == "applied"
        ]
        assert applied_writes == [(9, None, -1)]  # the count it met: 10
        # truth applies the twenty: 9 everywhere, nothing more to write
        await s.publish_changes([change(SKU, 3, 9, seen={shop: 20, OTHER: 1})])
        await await_for("version 3 applied", lambda: applied(3), 30)
        assert (await s.inventory(shop))[SKU] == 9
        await s.assert_compare_and_set()
