"""SKUs truth has and a store does not list ("missing", found by a reconciliation) stay
reported when a catalog discovery saves what it read afterwards; one the store lists by then
is no longer missing. The e2e console test found it: a discovery started by the
reconciliation's own corrections replaced the problems, and the missing SKUs vanished from
the mapping page."""

from __future__ import annotations

from unit.shopify_sync.harness import rig, store

SHOP = "child.myshopify.com"


async def test_a_discovery_keeps_the_missing_skus_a_reconciliation_noted() -> None:
    async with rig([store(SHOP, "plus")]) as r:
        await r.seed(SHOP, {"LISTED": 5, "LISTED-LATER": 1})
        await r.mapping.note_missing(r.stores[SHOP], ["UNLISTED", "LISTED-LATER"])
        await r.mapping.discover(r.stores[SHOP])
        problems = (await r.catalog.meta(SHOP))["problems"]
        assert problems["missing"] == ["UNLISTED"]  # the store lists the other one now
        assert "duplicates" in problems and "unstocked" in problems
