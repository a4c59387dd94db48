"""``inventoryAdjustQuantities`` as Shopify 2026-04+ documents it: a delta per change,
``changeFromQuantity`` required but nullable (``null`` skips the compare-and-set, so a delta
composes with sales made meanwhile), ``@idempotent`` required, all or nothing, counts that
may go below zero, and every change in the write log with its delta."""

from __future__ import annotations

from typing import Any

import pytest
from unit.simulators.shopify_harness import LOC, PARENT, ShopifySim, running_shopify

from stocksync_sim.shopify.documents import ADJUST_QUANTITIES
from support.shopify_schema import schema_available, schema_path
from support.sim_writes import compare_and_set_violations


def change(item: str, delta: int, change_from: int | None = None, **more: Any) -> dict[str, Any]:
    return {"inventoryItemId": item, "locationId": LOC, "delta": delta,
            "changeFromQuantity": change_from, **more}  # fmt: skip


def adjust_input(*changes: dict[str, Any], name: str = "available") -> dict[str, Any]:
    return {"name": name, "reason": "correction", "changes": list(changes)}


async def adjust(shopify: ShopifySim, key: str, data: dict[str, Any]) -> dict[str, Any]:
    body = await shopify.graphql(ADJUST_QUANTITIES, {"idempotencyKey": key, "input": data})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["inventoryAdjustQuantities"]
    return result


async def items(shopify: ShopifySim, **counts: int) -> list[str]:
    seeded = await shopify.seed(
        PARENT, [{"sku": sku, "quantities": {LOC: n}} for sku, n in counts.items()]
    )
    return [p["inventory_item_id"] for p in seeded]


async def test_a_delta_composes_with_what_the_store_sold_meanwhile(shopify: ShopifySim) -> None:
    [a] = await items(shopify, A=10)
    await shopify.seed(PARENT, [{"sku": "A", "quantities": {LOC: 9}}])  # a sale
    result = await adjust(shopify, "k1", adjust_input(change(a, -5)))
    assert result["userErrors"] == []
    changes = result["inventoryAdjustmentGroup"]["changes"]
    assert {(c["name"], c["delta"], c["quantityAfterChange"]) for c in changes} == {
        ("available", -5, 4),
        ("on_hand", -5, 4),
    }
    assert await shopify.inventory() == {"A": {LOC: 4}}


async def test_a_count_may_go_below_zero(shopify: ShopifySim) -> None:
    [a] = await items(shopify, A=1)
    assert (await adjust(shopify, "k1", adjust_input(change(a, -3))))["userErrors"] == []
    assert await shopify.inventory() == {"A": {LOC: -2}}


async def test_a_compare_value_is_checked_when_given(shopify: ShopifySim) -> None:
    [a] = await items(shopify, A=10)
    stale = await adjust(shopify, "k1", adjust_input(change(a, -1, 11)))
    assert [e["code"] for e in stale["userErrors"]] == ["CHANGE_FROM_QUANTITY_STALE"]
    assert stale["userErrors"][0]["field"] == ["input", "changes", "0", "changeFromQuantity"]
    assert (await adjust(shopify, "k2", adjust_input(change(a, -1, 10))))["userErrors"] == []
    assert await shopify.inventory() == {"A": {LOC: 9}}


async def test_one_bad_change_refuses_the_whole_call(shopify: ShopifySim) -> None:
    a, b = await items(shopify, A=10, B=5)
    unknown = "gid://shopify/InventoryItem/999999"
    result = await adjust(shopify, "k1", adjust_input(change(a, -1), change(unknown, -1)))
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
        ("INVALID_INVENTORY_ITEM", ["input", "changes", "1", "inventoryItemId"])
    ]
    assert result["inventoryAdjustmentGroup"] is None
    ledger = change(b, -1, ledgerDocumentUri="app://x/1")
    result = await adjust(shopify, "k2", adjust_input(change(a, -1), ledger))
    assert [e["code"] for e in result["userErrors"]] == ["INVALID_AVAILABLE_DOCUMENT"]
    result = await adjust(shopify, "k3", adjust_input(change(a, -1), name="damaged"))
    assert [e["code"] for e in result["userErrors"]] == ["INVALID_QUANTITY_NAME"]
    assert await shopify.inventory() == {"A": {LOC: 10}, "B": {LOC: 5}}


async def test_a_key_seen_before_answers_the_first_result(shopify: ShopifySim) -> None:
    [a] = await items(shopify, A=10)
    first = await adjust(shopify, "k1", adjust_input(change(a, -2)))
    again = await adjust(shopify, "k1", adjust_input(change(a, -2)))
    assert again == first and await shopify.inventory() == {"A": {LOC: 8}}
    other = await adjust(shopify, "k1", adjust_input(change(a, -3)))
    assert [e["code"] for e in other["userErrors"]] == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]
    assert await shopify.inventory() == {"A": {LOC: 8}}


async def test_the_directive_and_the_compare_field_are_required(shopify: ShopifySim) -> None:
    [a] = await items(shopify, A=10)
    without_key = ADJUST_QUANTITIES.replace(" @idempotent(key: $idempotencyKey)", "")
    without_key = without_key.replace(", $idempotencyKey: String!", "")
    body = await shopify.graphql(without_key, {"input": adjust_input(change(a, -1))})
    assert "@idempotent directive is required" in body["errors"][0]["message"]
    bare = {"inventoryItemId": a, "locationId": LOC, "delta": -1}
    body = await shopify.graphql(
        ADJUST_QUANTITIES, {"idempotencyKey": "k", "input": adjust_input(bare)}
    )
    assert "changeFromQuantity" in body["errors"][0]["message"]
    assert await shopify.inventory() == {"A": {LOC: 10}}


async def test_each_change_is_in_the_write_log_with_its_delta(shopify: ShopifySim) -> None:
    [a] = await items(shopify, A=10)
    await adjust(shopify, "k1", adjust_input(change(a, -4)))
    await adjust(shopify, "k2", adjust_input(change(a, 2)))  # a raise without compare-and-set
    r = await shopify.client.get("/_sim/storefront/writes")
    logged = r.json()
    assert [(w["ok"], w["skus"]) for w in logged] == [(True, ["A"]), (True, ["A"])]
    assert [w["quantities"][0] for w in logged] == [
        {"sku": "A", "location_id": LOC, "name": "available", "store_count": 10,
         "change_from": None, "quantity": 6, "outcome": "applied", "delta": -4},
        {"sku": "A", "location_id": LOC, "name": "available", "store_count": 6,
         "change_from": None, "quantity": 8, "outcome": "applied", "delta": 2},
    ]  # fmt: skip
    # a relative lowering needs no compare-and-set; a relative raise is reported
    assert [q["delta"] for q in compare_and_set_violations(logged)] == [2]


@pytest.mark.skipif(
    not schema_available(), reason=f"{schema_path()} missing: run scripts/fetch-shopify-packages.sh"
)
async def test_the_document_and_its_variables_validate_against_the_schema() -> None:
    async with running_shopify(validation="on") as shopify:
        [a] = await items(shopify, A=5)
        result = await adjust(shopify, "k", adjust_input(change(a, -1)))
        assert result["userErrors"] == []
        assert await shopify.inventory() == {"A": {LOC: 4}}
