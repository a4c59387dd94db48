"""What the simulator records for the tests and the bench to judge a sync by: every
``inventorySetQuantities`` quantity with the store's count at that moment, and every sale a
store refused with the stock the other stores still showed."""

from __future__ import annotations

from typing import Any

from unit.simulators.shopify_harness import CHILD, CHILD_TOKEN, LOC, PARENT, ShopifySim

from stocksync_sim.shopify.documents import SET_QUANTITIES

CHILD_LOC = "gid://shopify/Location/9"


def quantity(item: str, to: int, change_from: int | None) -> dict[str, Any]:
    return {"inventoryItemId": item, "locationId": LOC, "quantity": to,
            "changeFromQuantity": change_from}  # fmt: skip


async def set_quantities(shopify: ShopifySim, key: str, *quantities: dict[str, Any]) -> None:
    data = {"name": "available", "reason": "correction", "quantities": list(quantities)}
    body = await shopify.graphql(SET_QUANTITIES, {"idempotencyKey": key, "input": data})
    assert "errors" not in body, body


async def writes(shopify: ShopifySim, **params: str) -> list[dict[str, Any]]:
    r = await shopify.client.get("/_sim/storefront/writes", params=params)
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out


async def test_each_quantity_is_logged_with_the_store_count_it_met(shopify: ShopifySim) -> None:
    a, b = (
        p["inventory_item_id"]
        for p in await shopify.seed(
            PARENT, [{"sku": "A", "quantities": {LOC: 5}}, {"sku": "B", "quantities": {LOC: 7}}]
        )
    )
    await set_quantities(shopify, "k1", quantity(a, 3, 5))  # applied: 5 -> 3
    await set_quantities(shopify, "k2", quantity(a, 9, 5), quantity(b, 2, 7))  # A stale: is 3
    await set_quantities(shopify, "k3", quantity(a, 4, None))  # applied, no compare-and-set
    await set_quantities(shopify, "k1", quantity(a, 3, 5))  # a replay: the first answer again
    logged = [(w["ok"], w["quantities"]) for w in await writes(shopify)]

    def entry(sku: str, count: int, change_from: int | None, to: int, outcome: str) -> Any:
        return {"sku": sku, "location_id": LOC, "name": "available", "store_count": count,
                "change_from": change_from, "quantity": to, "outcome": outcome}  # fmt: skip

    assert logged == [
        (True, [entry("A", 5, 5, 3, "applied")]),
        (False, [entry("A", 3, 5, 9, "stale"), entry("B", 7, 7, 2, "not_applied")]),
        (True, [entry("A", 3, None, 4, "applied")]),
        (True, [entry("A", 4, 5, 3, "replayed")]),
    ]
    assert await shopify.inventory() == {"A": {LOC: 4}, "B": {LOC: 7}}
    # the same records on the request log, and a filter by shop
    requests = (await shopify.client.get("/_sim/requests")).json()
    assert [r["writes"] for r in requests] == [q for _ok, q in logged]
    assert await writes(shopify, shop=CHILD) == []
    assert len(await writes(shopify, shop=PARENT)) == 4


async def test_unknown_items_are_logged_as_invalid_without_a_count(shopify: ShopifySim) -> None:
    await shopify.seed(CHILD, [{"sku": "A", "quantities": {CHILD_LOC: 1}}])
    data = {"name": "available", "reason": "correction",
            "quantities": [quantity("gid://shopify/InventoryItem/999999", 1, 0)]}  # fmt: skip
    variables = {"idempotencyKey": "k-unknown", "input": data}
    await shopify.graphql(SET_QUANTITIES, variables, token=CHILD_TOKEN)
    [write] = await writes(shopify)
    assert write["shop"] == CHILD and write["ok"] is False
    assert write["quantities"] == [
        {"sku": None, "location_id": LOC, "name": "available", "store_count": None,
         "change_from": 0, "quantity": 1, "outcome": "invalid"}
    ]  # fmt: skip


async def sell(shopify: ShopifySim, shop: str, quantity: int = 1) -> dict[str, int]:
    sale = {"shop": shop, "sku": "HOT", "quantity": quantity}
    r = await shopify.client.post("/_sim/storefront/sell", json={"sales": [sale]})
    assert r.status_code == 200, r.text
    out: dict[str, int] = r.json()
    return out


async def test_a_refusal_records_the_stock_other_stores_still_showed(shopify: ShopifySim) -> None:
    await shopify.seed(PARENT, [{"sku": "HOT", "quantities": {LOC: 0}}])
    await shopify.seed(CHILD, [{"sku": "HOT", "quantities": {CHILD_LOC: 4}}])
    assert await sell(shopify, PARENT) == {"sold": 0, "refused": 1}  # the child still has 4
    assert await sell(shopify, CHILD) == {"sold": 1, "refused": 0}
    assert await sell(shopify, CHILD, quantity=5) == {"sold": 0, "refused": 1}  # none elsewhere
    book = (await shopify.client.get("/_sim/storefront/sales")).json()
    refusals = [{k: v for k, v in r.items() if k != "at"} for r in book["refusals"]]
    assert refusals == [
        {"shop": PARENT, "sku": "HOT", "quantity": 1, "own": 0, "elsewhere": 4},
        {"shop": CHILD, "sku": "HOT", "quantity": 5, "own": 3, "elsewhere": 0},
    ]
    assert all(isinstance(r["at"], float) for r in book["refusals"])
    assert book["refused"] == {PARENT: 1, CHILD: 1}
    assert (await shopify.client.delete("/_sim/storefront/sales")).status_code == 204
    assert (await shopify.client.get("/_sim/storefront/sales")).json()["refusals"] == []
