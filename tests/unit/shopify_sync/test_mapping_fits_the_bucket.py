"""Catalog mapping at reduced limits (#17), against the simulator on a fake clock: a store cut
to 10 points/s and a 200-point bucket is looked up, paged through and read in queries that
fit the bucket; a cut that comes while the client still believes the old bucket costs one
refused query, then the sizes shrink."""

from __future__ import annotations

from typing import Any

from unit.shopify_sync.harness import LOC_GID, rig, store

from shopify_sync.adapters.documents import SHOP_PROBE
from shopify_sync.domain.quantities import Pending, Target

SHOP = "cut.myshopify.com"
SKUS = [f"C{i:03d}" for i in range(30)]


def answers_of(log: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [
        a for a in log
        if any((e.get("extensions") or {}).get("code") == code
               for e in (a["response"].get("errors") or []) if isinstance(e, dict))
    ]  # fmt: skip


def requested(answer: dict[str, Any]) -> int:
    return int(answer["response"]["extensions"]["cost"]["requestedQueryCost"])


async def test_a_cut_store_is_mapped_and_read_in_queries_that_fit() -> None:
    async with rig([store(SHOP, "standard")]) as r:
        shop = r.stores[SHOP]
        await r.seed(SHOP, dict.fromkeys(SKUS, 3))
        # The bucket is known: 2,000 points.
        await r.client.execute(shop, SHOP_PROBE, {}, operation="ShopProbe", cost=1)
        cut = await r.http.put(
            f"/_sim/stores/{SHOP}/limits", json={"restore_rate": 10, "maximum_available": 200}
        )
        assert cut.status_code == 200

        mapped = await r.mapping.resolve(shop, SKUS)
        assert sorted(mapped) == SKUS
        found, method = await r.mapping.read_store(shop)
        assert (method, len(found.entries)) == ("paginated", len(SKUS))
        targets = [
            Target((sku, "wh-1"), Pending(1, 3), mapped[sku].item_id, LOC_GID) for sku in SKUS
        ]
        levels = await r.mapping.read_levels(shop, targets)
        assert set(levels.values()) == {3}

        log = (await r.http.get("/_sim/requests", params={"shop": SHOP})).json()
        refused = answers_of(log, "MAX_COST_EXCEEDED")
        # Only the first lookup was sized for the old bucket; everything since fits.
        assert len(refused) == 1, [requested(a) for a in refused]
        assert log.index(refused[0]) == 1  # after the probe
        later = [a for a in log[2:] if a["operation_name"] != "ShopProbe"]
        assert later and all(requested(a) <= 200 for a in later)
        assert answers_of(log, "THROTTLED") == []
        # Several smaller queries where one used to do: 30 SKUs, 4 per lookup.
        lookups = [a for a in log if a["operation_name"] == "FindInventoryItems"]
        assert len(lookups) >= 30 // 4


async def test_limits_restored_bring_the_large_pages_back() -> None:
    async with rig([store(SHOP, "standard")]) as r:
        shop = r.stores[SHOP]
        await r.seed(SHOP, dict.fromkeys(SKUS, 1))
        await r.http.put(
            f"/_sim/stores/{SHOP}/limits", json={"restore_rate": 10, "maximum_available": 200}
        )
        await r.mapping.read_store(shop)
        await r.http.delete(f"/_sim/stores/{SHOP}/limits")
        r.clock.now += 60  # the bucket refills
        await r.http.delete("/_sim/requests")
        await r.mapping.read_store(shop)
        log = (await r.http.get("/_sim/requests", params={"shop": SHOP})).json()
        pages = [a for a in log if a["operation_name"] == "CatalogPage"]
        # The first answer after the restore teaches the large bucket back: one page again.
        assert pages[-1]["variables"]["first"] == 49
