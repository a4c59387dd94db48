"""The simulator's fault switches, counters, bulk operations, nodes() and product webhooks."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from unit.simulators.shopify_harness import LOC, LOC2, PARENT, PARENT_TOKEN, ShopifySim

from stocksync_sim.shopify.documents import SET_QUANTITIES

BULK_QUERY = """
{
  productVariants {
    edges {
      node {
        id
        sku
        product { id }
        inventoryItem {
          id
          inventoryLevels {
            edges { node { location { id } quantities(names: ["available"]) { name quantity } } }
          }
        }
      }
    }
  }
}
"""
RUN_BULK = """
mutation Run($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: false) {
    bulkOperation { id status }
    userErrors { code field message }
  }
}
"""
POLL = """
query Poll($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status objectCount rootObjectCount url } }
}
"""


async def post_graphql(shopify: ShopifySim, query: str, variables: Mapping[str, Any]):
    return await shopify.client.post(
        "/admin/api/2026-10/graphql.json",
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": PARENT_TOKEN},
    )


async def test_error_fault_answers_5xx_and_counts(shopify: ShopifySim) -> None:
    r = await shopify.client.post("/_sim/faults", json={"shop": PARENT, "error_rate": 1.0})
    assert r.status_code == 200
    response = await post_graphql(shopify, "{ shop { name } }", {})
    assert response.status_code == 503
    stats = (await shopify.client.get("/_sim/stats")).json()[PARENT]
    assert stats["injected_errors"] == 1 and stats["status"] == {"503": 1}
    await shopify.client.delete("/_sim/faults")
    assert (await post_graphql(shopify, "{ shop { name } }", {})).status_code == 200


async def test_timeout_after_apply_applies_and_hangs(shopify: ShopifySim) -> None:
    seeded = await shopify.seed(PARENT, [{"sku": "T", "quantities": {LOC: 5}}])
    item = seeded[0]["inventory_item_id"]
    fault = {"shop": PARENT, "timeout_rate": 1.0, "timeout_mode": "after", "hang_s": 42}
    await shopify.client.post("/_sim/faults", json=fault)
    variables = {
        "idempotencyKey": "k",
        "input": {
            "name": "available",
            "reason": "correction",
            "quantities": [
                {"inventoryItemId": item, "locationId": LOC, "quantity": 9, "changeFromQuantity": 5}
            ],
        },
    }
    await post_graphql(shopify, SET_QUANTITIES, variables)
    assert shopify.sleeps.waits == [42]
    assert (await shopify.inventory())["T"][LOC] == 9
    fault["timeout_mode"] = "before"
    await shopify.client.post("/_sim/faults", json=fault)
    response = await post_graphql(shopify, SET_QUANTITIES, {**variables, "idempotencyKey": "k2"})
    assert response.status_code == 504


async def test_throttle_storm_answers_throttled_with_an_empty_bucket(shopify: ShopifySim) -> None:
    await shopify.client.post("/_sim/faults", json={"shop": PARENT, "throttle_storm": True})
    body = (await post_graphql(shopify, "{ shop { name } }", {})).json()
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0
    assert (await shopify.client.get("/_sim/stats")).json()[PARENT]["throttled"] == 1


async def test_bulk_query_serves_jsonl_with_parent_ids(shopify: ShopifySim) -> None:
    await shopify.seed(
        PARENT,
        [{"sku": "A", "quantities": {LOC: 3, LOC2: 1}}, {"sku": "B", "quantities": {LOC: 7}}],
    )
    started = (await post_graphql(shopify, RUN_BULK, {"query": BULK_QUERY})).json()
    payload = started["data"]["bulkOperationRunQuery"]
    assert payload["userErrors"] == []
    assert started["extensions"]["cost"]["requestedQueryCost"] == 10
    op_id = payload["bulkOperation"]["id"]
    polled = (await post_graphql(shopify, POLL, {"id": op_id})).json()["data"]["node"]
    assert polled["status"] == "COMPLETED" and polled["rootObjectCount"] == "2"
    jsonl = await shopify.client.get(polled["url"].replace("http://shopify.test", ""))
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    variants = [line for line in lines if "sku" in line]
    levels = [line for line in lines if "__parentId" in line]
    assert [v["sku"] for v in variants] == ["A", "B"]
    assert "inventoryLevels" not in variants[0]["inventoryItem"]
    a_levels = {
        lv["location"]["id"]: lv["quantities"][0]["quantity"]
        for lv in levels
        if lv["__parentId"] == variants[0]["id"]
    }
    assert a_levels == {LOC: 3, LOC2: 1}


async def test_bulk_operation_runs_until_the_delay_passed(shopify: ShopifySim) -> None:
    shopify.sim.settings = dataclasses.replace(shopify.sim.settings, bulk_delay_s=5.0)
    await shopify.seed(PARENT, [{"sku": "A", "quantities": {LOC: 3}}])
    started = (await post_graphql(shopify, RUN_BULK, {"query": BULK_QUERY})).json()
    op_id = started["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
    current = "{ currentBulkOperation { id status url } }"
    running = (await post_graphql(shopify, current, {})).json()["data"]["currentBulkOperation"]
    assert running == {"id": op_id, "status": "RUNNING", "url": None}
    shopify.clock.advance(5.0)
    done = (await post_graphql(shopify, current, {})).json()["data"]["currentBulkOperation"]
    assert done["status"] == "COMPLETED" and done["url"].endswith(".jsonl")


async def test_bulk_query_without_connection_is_a_user_error(shopify: ShopifySim) -> None:
    body = (await post_graphql(shopify, RUN_BULK, {"query": "{ shop { name } }"})).json()
    errors = body["data"]["bulkOperationRunQuery"]["userErrors"]
    assert errors[0]["code"] == "INVALID"


async def test_nodes_cost_counts_every_id(shopify: ShopifySim) -> None:
    seeded = await shopify.seed(
        PARENT, [{"sku": f"N{i}", "quantities": {LOC: i}} for i in range(3)]
    )
    ids = [s["inventory_item_id"] for s in seeded]
    query = """
      query($ids: [ID!]!, $loc: ID!) {
        nodes(ids: $ids) {
          ... on InventoryItem {
            id
            inventoryLevel(locationId: $loc) { quantities(names: ["available"]) { quantity } }
          }
        }
      }
    """
    body = (await post_graphql(shopify, query, {"ids": ids, "loc": LOC})).json()
    levels = [n["inventoryLevel"]["quantities"][0]["quantity"] for n in body["data"]["nodes"]]
    assert levels == [0, 1, 2]
    assert body["extensions"]["cost"]["requestedQueryCost"] == 3 * 3


async def test_variants_count(shopify: ShopifySim) -> None:
    await shopify.seed(PARENT, [{"sku": f"C{i}", "quantities": {LOC: 1}} for i in range(4)])
    query = "{ productVariantsCount(limit: 3) { count precision } }"
    body = (await post_graphql(shopify, query, {})).json()
    assert body["data"]["productVariantsCount"] == {"count": 3, "precision": "AT_LEAST"}


async def test_product_edit_sends_signed_products_update(shopify: ShopifySim) -> None:
    await shopify.seed(PARENT, [{"sku": "OLD", "quantities": {LOC: 1}}])
    r = await shopify.client.patch(
        f"/_sim/stores/{PARENT}/products/OLD?wait=true", json={"sku": "NEW"}
    )
    assert r.status_code == 200 and r.json()["sku"] == "NEW"
    (request,) = shopify.receiver.requests
    assert request.headers["X-Shopify-Topic"] == "products/update"
    body = json.loads(request.content)
    assert body["variants"][0]["sku"] == "NEW"
    assert body["variants"][0]["inventory_item_id"] == int(
        r.json()["inventory_item_id"].split("/")[-1]
    )
    assert "NEW" in await shopify.inventory()
