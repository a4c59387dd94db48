"""Reduced limits in the simulated Admin API: a cut bucket, MAX_COST_EXCEEDED above what it
holds, THROTTLED when it is short, and the plan's limits restored."""

from __future__ import annotations

from unit.simulators.shopify_harness import LOC, PARENT, ShopifySim

from stocksync_sim.shopify.bucket import LeakyBucket

# 2 + first x (product 1 + inventoryItem 1 + its levels 2 + 5 x (location 1 + level 1)):
# 14 per variant.
CATALOG_PAGE = """
query CatalogPage($first: Int!) {
  productVariants(first: $first) {
    nodes {
      id sku product { id }
      inventoryItem { id inventoryLevels(first: 5) {
        nodes { location { id } quantities(names: ["available"]) { name quantity } } } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def cut(shopify: ShopifySim, rate: float = 10, maximum: float = 200) -> dict[str, float]:
    response = await shopify.client.put(
        f"/_sim/stores/{PARENT}/limits", json={"restore_rate": rate, "maximum_available": maximum}
    )
    assert response.status_code == 200, response.text
    status: dict[str, float] = response.json()
    return status


async def test_cut_limits_shrink_the_bucket_and_its_restore_rate(shopify: ShopifySim) -> None:
    assert await cut(shopify) == {
        "maximumAvailable": 200.0,
        "currentlyAvailable": 200,
        "restoreRate": 10.0,
    }
    await shopify.client.put(f"/_sim/stores/{PARENT}/bucket", json={"currently_available": 0})
    shopify.clock.advance(1.0)
    answer = await shopify.graphql("{ shop { name } }")
    assert answer["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 10 - 1
    stores = {s["shop"]: s for s in (await shopify.client.get("/_sim/stores")).json()}
    assert stores[PARENT]["limits_reduced"] is True
    restored = await shopify.client.delete(f"/_sim/stores/{PARENT}/limits")
    assert restored.json()["maximumAvailable"] == 2000.0
    assert restored.json()["restoreRate"] == 100.0
    assert restored.json()["currentlyAvailable"] == 9  # refills from there at the plan's rate


async def test_query_over_the_cut_bucket_is_max_cost_exceeded(shopify: ShopifySim) -> None:
    await shopify.seed(PARENT, [{"sku": "M-1", "quantities": {LOC: 1}}])
    await cut(shopify)
    over = await shopify.graphql(CATALOG_PAGE, {"first": 15})  # 2 + 15 x 14 = 212 > 200
    assert "data" not in over
    (error,) = over["errors"]
    assert error["message"].startswith(
        "Query cost is 212, which exceeds the single query max cost limit (200)."
    )
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["cost"] == 212
    assert error["extensions"]["maxCost"] == 200
    # Refused before it ran: nothing was charged.
    assert over["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 200
    fits = await shopify.graphql(CATALOG_PAGE, {"first": 14})  # 198
    assert fits["data"]["productVariants"]["nodes"][0]["sku"] == "M-1"


async def test_single_query_limit_stays_1000_on_a_large_bucket(shopify: ShopifySim) -> None:
    over = await shopify.graphql(CATALOG_PAGE, {"first": 72})  # 1010 > 1000, bucket 2000
    assert over["errors"][0]["extensions"]["maxCost"] == 1000


async def test_short_cut_bucket_is_throttled_not_max_cost(shopify: ShopifySim) -> None:
    await cut(shopify)
    await shopify.client.put(f"/_sim/stores/{PARENT}/bucket", json={"currently_available": 150})
    answer = await shopify.graphql(CATALOG_PAGE, {"first": 14})  # 198 > 150 available
    assert answer["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert answer["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 150


def test_bucket_cut_keeps_what_fits_and_reset_restores_the_plan() -> None:
    now = [0.0]
    bucket = LeakyBucket(2000, 100, clock=lambda: now[0])
    assert bucket.try_take(1500)
    bucket.cut(200, 10)
    assert bucket.available == 200  # the 500 left do not fit the smaller bucket
    assert bucket.reduced
    assert bucket.try_take(200)
    now[0] += 5.0
    assert bucket.available == 50
    bucket.restore()
    assert not bucket.reduced
    now[0] += 1.0
    assert bucket.available == 150
