"""The simulated Admin GraphQL API: auth, compare-and-set, idempotency, cost and throttling."""

from __future__ import annotations

from typing import Any

from unit.simulators.shopify_harness import (
    CHILD,
    CHILD_TOKEN,
    LOC,
    LOC2,
    PARENT,
    PARENT_TOKEN,
    ShopifySim,
)

from stocksync_sim.shopify.documents import INVENTORY_ITEMS_BY_SKU, SET_QUANTITIES

SET_WITHOUT_IDEMPOTENT = """
mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) { userErrors { field message code } }
}
"""


def set_input(
    item: str, quantity: int, change_from: int | None, location: str = LOC
) -> dict[str, Any]:
    return {
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "gid://stocksync/InventoryChange/1",
        "quantities": [
            {
                "inventoryItemId": item,
                "locationId": location,
                "quantity": quantity,
                "changeFromQuantity": change_from,
            }
        ],
    }


async def seed_one(shopify: ShopifySim, sku: str = "SKU-1", available: int = 5) -> str:
    seeded = await shopify.seed(PARENT, [{"sku": sku, "quantities": {LOC: available}}])
    item_id: str = seeded[0]["inventory_item_id"]
    assert item_id.startswith("gid://shopify/InventoryItem/")
    return item_id


async def test_missing_or_wrong_token_is_401_with_shopify_error(shopify: ShopifySim) -> None:
    expected = {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    url = "/admin/api/2026-10/graphql.json"
    body = {"query": "{ shop { name } }"}
    missing = await shopify.client.post(url, json=body)
    wrong = await shopify.client.post(url, json=body, headers={"X-Shopify-Access-Token": "nope"})
    other_shop = await shopify.client.post(
        f"/shops/{CHILD}{url}", json=body, headers={"X-Shopify-Access-Token": PARENT_TOKEN}
    )
    for response in (missing, wrong, other_shop):
        assert response.status_code == 401
        assert response.json() == expected


async def test_token_selects_the_store(shopify: ShopifySim) -> None:
    await seed_one(shopify)
    variables = {"query": "sku:SKU-1", "first": 5, "locationId": LOC}
    parent = await shopify.graphql(INVENTORY_ITEMS_BY_SKU, variables, token=PARENT_TOKEN)
    child = await shopify.graphql(INVENTORY_ITEMS_BY_SKU, variables, token=CHILD_TOKEN)
    assert [node["sku"] for node in parent["data"]["inventoryItems"]["nodes"]] == ["SKU-1"]
    assert child["data"]["inventoryItems"]["nodes"] == []
    prefixed = await shopify.client.post(
        f"/shops/{PARENT}/admin/api/2026-10/graphql.json",
        json={"query": "{ shop { myshopifyDomain } }"},
        headers={"X-Shopify-Access-Token": PARENT_TOKEN},
    )
    assert prefixed.json()["data"]["shop"]["myshopifyDomain"] == PARENT


async def test_inventory_items_by_sku_returns_available(shopify: ShopifySim) -> None:
    await shopify.seed(
        PARENT,
        [
            {"sku": "A", "quantities": {LOC: 4, LOC2: 1}},
            {"sku": "B", "quantities": {LOC: 9}},
            {"sku": "C", "quantities": {LOC: 2}},
        ],
    )
    query = """
      query($q: String!) {
        inventoryItems(first: 10, query: $q) {
          nodes {
            sku
            inventoryLevel(locationId: "gid://shopify/Location/1") {
              quantities(names: ["available"]) { name quantity }
            }
          }
        }
      }
    """
    body = await shopify.graphql(query, {"q": "sku:A OR sku:'C'"})
    nodes = body["data"]["inventoryItems"]["nodes"]
    assert [(n["sku"], n["inventoryLevel"]["quantities"]) for n in nodes] == [
        ("A", [{"name": "available", "quantity": 4}]),
        ("C", [{"name": "available", "quantity": 2}]),
    ]


async def test_connections_paginate_with_cursors(shopify: ShopifySim) -> None:
    await shopify.seed(PARENT, [{"sku": f"P{i}", "quantities": {LOC: i}} for i in range(5)])
    query = """
      query($after: String) {
        productVariants(first: 2, after: $after) {
          nodes { sku inventoryItem { id } }
          pageInfo { hasNextPage endCursor }
        }
      }
    """
    seen: list[str] = []
    after = None
    for _ in range(5):
        page = (await shopify.graphql(query, {"after": after}))["data"]["productVariants"]
        seen += [node["sku"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["P0", "P1", "P2", "P3", "P4"]


async def test_set_quantities_applies_absolute_set(shopify: ShopifySim) -> None:
    item = await seed_one(shopify, available=5)
    body = await shopify.graphql(
        SET_QUANTITIES, {"idempotencyKey": "k-1", "input": set_input(item, 8, 5)}
    )
    payload = body["data"]["inventorySetQuantities"]
    assert payload["userErrors"] == []
    changes = payload["inventoryAdjustmentGroup"]["changes"]
    assert {"name": "available", "delta": 3, "quantityAfterChange": 8} == {
        key: changes[0][key] for key in ("name", "delta", "quantityAfterChange")
    }
    assert await shopify.inventory() == {"SKU-1": {LOC: 8}}


async def test_stale_change_from_quantity_applies_nothing(shopify: ShopifySim) -> None:
    seeded = await shopify.seed(
        PARENT, [{"sku": "A", "quantities": {LOC: 5}}, {"sku": "B", "quantities": {LOC: 7}}]
    )
    a, b = (product["inventory_item_id"] for product in seeded)
    data = set_input(a, 1, 5)
    data["quantities"].append(
        {"inventoryItemId": b, "locationId": LOC, "quantity": 2, "changeFromQuantity": 6}
    )
    body = await shopify.graphql(SET_QUANTITIES, {"idempotencyKey": "k-stale", "input": data})
    payload = body["data"]["inventorySetQuantities"]
    assert payload["inventoryAdjustmentGroup"] is None
    assert payload["userErrors"] == [
        {
            "field": ["input", "quantities", "1", "changeFromQuantity"],
            "message": "The changeFromQuantity value does not match persisted value.",
            "code": "CHANGE_FROM_QUANTITY_STALE",
        }
    ]
    assert await shopify.inventory() == {"A": {LOC: 5}, "B": {LOC: 7}}


async def test_null_change_from_quantity_skips_the_check(shopify: ShopifySim) -> None:
    item = await seed_one(shopify, available=5)
    body = await shopify.graphql(
        SET_QUANTITIES, {"idempotencyKey": "k-null", "input": set_input(item, 0, None)}
    )
    assert body["data"]["inventorySetQuantities"]["userErrors"] == []
    assert await shopify.inventory() == {"SKU-1": {LOC: 0}}


async def test_replayed_idempotency_key_returns_first_result_without_applying(
    shopify: ShopifySim,
) -> None:
    item = await seed_one(shopify, available=5)
    variables = {"idempotencyKey": "k-replay", "input": set_input(item, 8, 5)}
    first = await shopify.graphql(SET_QUANTITIES, variables)
    # A sale (here: a reseed) moves the level; a replay must not set it back to 8.
    await shopify.seed(PARENT, [{"sku": "SKU-1", "quantities": {LOC: 3}}])
    replay = await shopify.graphql(SET_QUANTITIES, variables)
    assert replay["data"] == first["data"]
    assert first["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"]["id"]
    assert await shopify.inventory() == {"SKU-1": {LOC: 3}}


async def test_reused_key_with_other_parameters_is_a_mismatch(shopify: ShopifySim) -> None:
    item = await seed_one(shopify, available=5)
    await shopify.graphql(SET_QUANTITIES, {"idempotencyKey": "k", "input": set_input(item, 8, 5)})
    body = await shopify.graphql(
        SET_QUANTITIES, {"idempotencyKey": "k", "input": set_input(item, 9, 8)}
    )
    errors = body["data"]["inventorySetQuantities"]["userErrors"]
    assert [error["code"] for error in errors] == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]
    assert await shopify.inventory() == {"SKU-1": {LOC: 8}}


async def test_missing_idempotent_directive_is_refused(shopify: ShopifySim) -> None:
    item = await seed_one(shopify, available=5)
    body = await shopify.graphql(SET_WITHOUT_IDEMPOTENT, {"input": set_input(item, 8, 5)})
    assert body["data"] == {"inventorySetQuantities": None}
    [error] = body["errors"]
    assert error["message"] == (
        "The @idempotent directive is required for this mutation but was not provided."
    )
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["path"] == ["inventorySetQuantities"]
    assert await shopify.inventory() == {"SKU-1": {LOC: 5}}


async def test_missing_change_from_quantity_is_refused(shopify: ShopifySim) -> None:
    item = await seed_one(shopify, available=5)
    data = set_input(item, 8, 5)
    del data["quantities"][0]["changeFromQuantity"]
    body = await shopify.graphql(SET_QUANTITIES, {"idempotencyKey": "k-m", "input": data})
    assert body["data"] == {"inventorySetQuantities": None}
    assert body["errors"][0]["message"] == (
        "InventoryQuantityInput must include the following argument: changeFromQuantity."
    )
    assert await shopify.inventory() == {"SKU-1": {LOC: 5}}


async def test_literal_arguments_and_directive_key_work_without_variables(
    shopify: ShopifySim,
) -> None:
    item = await seed_one(shopify, available=5)
    document = f"""
      mutation {{
        inventorySetQuantities(input: {{
          name: "available", reason: "correction",
          quantities: [{{inventoryItemId: "{item}", locationId: "{LOC}",
                         quantity: 6, changeFromQuantity: 5}}]
        }}) @idempotent(key: "literal-key") {{ userErrors {{ code }} }}
      }}
    """
    body = await shopify.graphql(document)
    assert body["data"]["inventorySetQuantities"]["userErrors"] == []
    assert await shopify.inventory() == {"SKU-1": {LOC: 6}}


async def test_unknown_item_location_and_name_are_user_errors(shopify: ShopifySim) -> None:
    item = await seed_one(shopify, available=5)
    data = set_input("gid://shopify/InventoryItem/999999", 1, 0)
    data["quantities"].append(
        {"inventoryItemId": item, "locationId": LOC2, "quantity": 1, "changeFromQuantity": 0}
    )
    data["name"] = "incoming"
    body = await shopify.graphql(SET_QUANTITIES, {"idempotencyKey": "k-bad", "input": data})
    codes = [e["code"] for e in body["data"]["inventorySetQuantities"]["userErrors"]]
    assert codes == ["INVALID_NAME", "INVALID_INVENTORY_ITEM", "INVALID_LOCATION"]


async def test_every_response_carries_cost_extensions(shopify: ShopifySim) -> None:
    item = await seed_one(shopify, available=5)
    query = await shopify.graphql(
        INVENTORY_ITEMS_BY_SKU, {"query": "sku:SKU-1", "first": 10, "locationId": LOC}
    )
    mutation = await shopify.graphql(
        SET_QUANTITIES, {"idempotencyKey": "k-cost", "input": set_input(item, 1, 5)}
    )
    child = await shopify.graphql("{ shop { name } }", token=CHILD_TOKEN)
    query_cost = query["extensions"]["cost"]
    assert query_cost["requestedQueryCost"] == 2 + 10 * 2
    assert 0 < query_cost["actualQueryCost"] <= query_cost["requestedQueryCost"]
    assert mutation["extensions"]["cost"]["requestedQueryCost"] == 10
    assert mutation["extensions"]["cost"]["actualQueryCost"] == 10
    # standard plan: 100/s, bucket 2000; what was requested but not used is refunded.
    spent = query_cost["actualQueryCost"] + 10
    assert mutation["extensions"]["cost"]["throttleStatus"] == {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 2000 - spent,
        "restoreRate": 100.0,
    }
    assert child["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 20000.0


async def test_throttled_when_the_bucket_is_short(shopify: ShopifySim) -> None:
    item = await seed_one(shopify, available=0)
    response = await shopify.client.put(
        f"/_sim/stores/{PARENT}/bucket", json={"currently_available": 25}
    )
    assert response.json()["currentlyAvailable"] == 25
    results = [
        await shopify.graphql(
            SET_QUANTITIES, {"idempotencyKey": f"k-{n}", "input": set_input(item, n + 1, n)}
        )
        for n in range(3)
    ]
    assert [r["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] for r in results] == [
        15,
        5,
        5,
    ]
    throttled = results[2]
    assert "data" not in throttled
    assert throttled["errors"][0]["message"] == "Throttled"
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled["extensions"]["cost"]["requestedQueryCost"] == 10
    assert await shopify.inventory() == {"SKU-1": {LOC: 2}}
    # The bucket restores at 100 points per second.
    shopify.clock.advance(0.05)
    again = await shopify.graphql(
        SET_QUANTITIES, {"idempotencyKey": "k-2", "input": set_input(item, 3, 2)}
    )
    assert again["data"]["inventorySetQuantities"]["userErrors"] == []
    assert again["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0


async def test_requests_are_recorded(shopify: ShopifySim) -> None:
    await shopify.graphql("query Q($n: Int!) { locations(first: $n) { nodes { id } } }", {"n": 3})
    await shopify.graphql("{ shop { name } }", token=CHILD_TOKEN)
    recorded = (await shopify.client.get("/_sim/requests", params={"shop": PARENT})).json()
    assert len(recorded) == 1
    assert recorded[0]["operation_name"] is None
    assert recorded[0]["variables"] == {"n": 3}
    assert recorded[0]["response"]["data"]["locations"]["nodes"] == [{"id": LOC}, {"id": LOC2}]
    assert (await shopify.client.delete("/_sim/requests")).status_code == 204
    assert (await shopify.client.get("/_sim/requests")).json() == []
