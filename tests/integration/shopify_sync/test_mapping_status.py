"""``GET /mapping/problems`` counts the mapping as it is now, not as the last discovery found
it: SKUs a store lists after its discovery (looked up by SKU as changes arrive) are counted
before any reconciliation reads the whole catalog again. Real Kafka and Redis."""

from __future__ import annotations

from typing import Any

import pytest
from integration.shopify_sync.conftest import ADMIN, SyncFactory, change

from support.poll import await_for

pytestmark = pytest.mark.integration


async def _problems(s: Any, shop: str) -> dict[str, Any]:
    doc: dict[str, Any] = (await s.admin.get("/mapping/problems", headers=ADMIN)).json()
    return dict(doc.get(shop) or {})


async def test_the_mapped_count_follows_the_mapping_without_a_reconciliation(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(["standard"]) as s:
        (shop,) = s.shops

        async def discovered() -> bool:
            return (await _problems(s, shop)).get("discovery") is not None

        await await_for("the empty store mapped at start", discovered)
        assert (await _problems(s, shop))["mapped"] == 0
        truth = {f"MAPPED-{i}": i + 1 for i in range(3)}
        await s.seed(shop, dict.fromkeys(truth, 0))
        await s.publish_changes([change(sku, 1, n) for sku, n in truth.items()])
        await s.converged(shop, truth)

        answer = await _problems(s, shop)
        assert answer["discovery"]["skus"] == 0  # what the discovery at start found
        assert answer["mapped"] == len(truth)  # what the mapping holds now
