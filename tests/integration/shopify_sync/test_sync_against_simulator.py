"""shopify-sync end to end against the simulator, on the real Kafka and Redis.

- a catalog pushed to three stores on different plans: no THROTTLED answer;
- one store's 5xx outage: its circuit opens, the others keep syncing, and after recovery it
  converges to truth with nothing lost;
- a sale racing a push: the store ends equal to truth;
- reconciliation finds injected drift, fixes it through the write path, reports the rate;
- in every one, each quantity the store applied was a compare-and-set against its count at
  that moment (the simulator's write log).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest
from integration.shopify_sync.conftest import ADMIN, LOC, SyncFactory, change, levels

from stocksync_common.breaker import State
from support.poll import await_for

pytestmark = pytest.mark.integration
PLANS = ["standard", "advanced", "plus"]
FULL = int(os.environ.get("STOCKSYNC_FULL_SYNC_SKUS", "2000"))


async def test_catalog_to_three_plans_without_throttled(sync_stack: SyncFactory) -> None:
    async with sync_stack(PLANS) as s:
        stale = {f"F{i:05d}": 0 for i in range(FULL)}
        truth = {sku: (i * 7) % 23 + 1 for i, sku in enumerate(stale)}
        for shop in s.shops:
            await s.seed(shop, stale)
        started = time.monotonic()
        await s.publish_changes([change(sku, 1, n) for sku, n in truth.items()])
        for shop in s.shops:
            await s.converged(shop, truth, timeout_s=120)
        elapsed = time.monotonic() - started
        stats = await s.stats()
        for shop in s.shops:
            assert stats[shop]["throttled"] == 0, stats[shop]
            assert stats[shop]["quantities_set"] == FULL
            # batched: about FULL / 250 writes, not one per SKU
            assert stats[shop]["mutations"] <= FULL // 250 + 2 * 6
        await s.assert_compare_and_set()
        print(f"{FULL} SKUs x 3 stores in {elapsed:.1f}s")  # noqa: T201 - shown with -s


async def test_outage_opens_one_circuit_and_nothing_is_lost(sync_stack: SyncFactory) -> None:
    fast = {"retry_backoff_s": (0.05, 0.1, 0.2, 0.4), "breaker_failures": 3, "breaker_open_s": 0.5}
    async with sync_stack(PLANS, **fast) as s:
        down, others = s.shops[0], s.shops[1:]
        stock = {f"O{i:03d}": 0 for i in range(50)}
        for shop in s.shops:
            await s.seed(shop, stock)
        r = await s.sim.post("/_sim/faults", json={"shop": down, "error_rate": 1.0})
        assert r.status_code == 200
        first = {sku: i % 5 + 1 for i, sku in enumerate(stock)}
        await s.publish_changes([change(sku, 1, n) for sku, n in first.items()])
        for shop in others:
            await s.converged(shop, first)
        client = s.container.client
        await await_for("circuit open", lambda: _async(client.circuit(down) == State.OPEN), 30)
        # More changes while it is down: kept, latest version per item.
        second = {sku: n + 10 for sku, n in first.items() if int(sku[1:]) % 2 == 0}
        await s.publish_changes([change(sku, 2, n) for sku, n in second.items()])
        truth = {**first, **second}
        for shop in others:
            await s.converged(shop, truth)
        assert await s.container.state.pending_count(down) == len(stock)
        circuits = (await s.admin.get("/circuits", headers=ADMIN)).json()
        assert circuits[down]["circuit"] in ("open", "half_open")
        await s.sim.delete("/_sim/faults")
        await s.converged(down, truth, timeout_s=30)
        assert client.circuit(down) == State.CLOSED
        assert (await s.stats())[down]["throttled"] == 0
        await s.assert_compare_and_set()


async def test_a_sale_racing_a_push_ends_equal_to_truth(sync_stack: SyncFactory) -> None:
    async with sync_stack(["plus"]) as s:
        (shop,) = s.shops
        await s.seed(shop, {"RACE": 10})
        await s.publish_changes([change("RACE", 1, 10)])
        await s.converged(shop, {"RACE": 10})
        await s.container.mapping.resolve(s.container.stores.stores[0], ["RACE"])
        # Every write now takes 300 ms in the store: a sale lands while one is in flight.
        await s.sim.post("/_sim/faults", json={"shop": shop, "latency_ms": 300})
        await s.publish_changes([change("RACE", 2, 8)])  # e.g. a WMS adjustment: 10 -> 8
        await asyncio.sleep(0.1)  # noqa: ASYNC110 - lets the push get in flight, not a sync point
        sale = await s.sim.post(
            f"/_sim/stores/{shop}/orders", json={"line_items": [{"sku": "RACE", "quantity": 3}]}
        )
        assert sale.status_code == 201
        # The order reaches truth (order-consumer -> adjuster): 8 - 3 = 5.
        await s.publish_changes([change("RACE", 3, 5)])
        await s.converged(shop, {"RACE": 5})
        await s.sim.delete("/_sim/faults")
        stale = (await s.stats())[shop]
        assert stale["throttled"] == 0
        await s.assert_compare_and_set()


async def test_reconciliation_finds_and_fixes_drift(sync_stack: SyncFactory) -> None:
    async with sync_stack(["standard", "plus"], bulk_threshold=20) as s:
        truth = {f"R{i:03d}": i % 9 + 1 for i in range(60)}
        for shop in s.shops:
            await s.seed(shop, truth)
        await s.publish_levels([levels(sku, 4, n) for sku, n in truth.items()])
        drifted = s.shops[0]
        await s.seed(drifted, {"R001": 99, "R002": 0, "R003": 42})  # edits made in the admin
        r = await s.admin.post("/reconcile", headers=ADMIN)
        assert r.status_code == 202
        job = await _job(s, r.json()["job_id"])
        result = job["result"]
        assert result["stores"][drifted]["mismatched"] == 3
        assert result["stores"][drifted]["compared"] == 60
        assert result["stores"][drifted]["mismatch_rate"] == pytest.approx(0.05)
        assert result["stores"][s.shops[1]]["mismatched"] == 0
        await s.converged(drifted, truth)
        again = await _job(s, (await s.admin.post("/reconcile", headers=ADMIN)).json()["job_id"])
        assert again["result"]["mismatched"] == 0
        assert (await s.admin.post("/reconcile")).status_code == 401
        await s.assert_compare_and_set()


async def test_mapping_follows_products_webhooks_and_round_trips_csv(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(["plus"]) as s:
        (shop,) = s.shops
        await s.seed(shop, {"MAP-1": 1, "MAP-2": 2})
        await s.publish_changes([change("MAP-1", 1, 4)])
        await s.converged(shop, {"MAP-1": 4})
        products = (await s.sim.get(f"/_sim/stores/{shop}/products")).json()
        one = next(p for p in products if p["sku"] == "MAP-1")
        variant = one["variant_id"].rsplit("/", 1)[1]
        redis = s.container.redis
        assert await redis.hget(f"skumap:{{{shop}}}", f"variant:{variant}") == b"MAP-1"
        await _products_webhook(s, shop, one, new_sku="MAP-1B")
        await await_for(
            "skumap follows the rename",
            lambda: _eq(redis.hget(f"skumap:{{{shop}}}", f"variant:{variant}"), b"MAP-1B"),
        )
        csv = (await s.admin.get("/mapping/export", headers=ADMIN)).text
        assert "MAP-1B" in csv and LOC in csv
        r = await s.admin.post(
            "/mapping/import", content=csv + f"{shop},X,bad,bad,bad,,\n", headers=ADMIN
        )
        assert r.json()["imported"] >= 1 and r.json()["rejected"] == 1
        problems = (await s.admin.get("/mapping/problems", headers=ADMIN)).json()
        assert problems[shop]["discovery"]["method"] == "paginated"
        await s.assert_compare_and_set()


async def _products_webhook(s, shop: str, product: dict[str, Any], new_sku: str) -> None:
    from stocksync_common.events import ShopifyWebhook, ShopifyWebhookReceived, encode

    body = {
        "id": int(product["product_id"].rsplit("/", 1)[1]),
        "admin_graphql_api_id": product["product_id"],
        "variants": [{"id": int(product["variant_id"].rsplit("/", 1)[1]),
                      "admin_graphql_api_id": product["variant_id"], "sku": new_sku,
                      "inventory_item_id": int(product["inventory_item_id"].rsplit("/", 1)[1])}],
    }  # fmt: skip
    hook = ShopifyWebhookReceived(
        source="test", shop=shop,
        payload=ShopifyWebhook(topic="products/update", shop=shop, webhook_id="w1", body=body),
    )  # fmt: skip
    await s.producer.send_and_wait(
        s.settings.webhooks_topic, encode(hook), key=f"{shop}/1".encode()
    )


async def _job(s, job_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        doc = (await s.admin.get(f"/jobs/{job_id}", headers=ADMIN)).json()
        assert doc["status"] != "failed", doc
        return doc if doc["status"] == "done" else None

    return await await_for(f"job {job_id}", done, 60)


async def _async(value: bool) -> bool:
    return value


async def _eq(awaitable, expected) -> bool:
    return bool(await awaitable == expected)
