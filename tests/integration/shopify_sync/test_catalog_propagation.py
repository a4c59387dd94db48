"""Catalog propagation through shopify-sync's catalog consumer, on the real Kafka and Redis:
a parent edit appears in two child stores, a child-owned field survives, an injected
failure never leaves a child half synced, and a crash journal left in Redis is rolled back
and redone."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from integration.shopify_sync.conftest import LOC, Sync, SyncFactory

from shopify_sync.adapters.propagation_journal import RedisPropagationState
from stocksync_common.events import ShopifyWebhook, ShopifyWebhookReceived, encode
from support.poll import await_for

pytestmark = pytest.mark.integration
ROLES = [
    {"role": "parent"},
    {"role": "child", "child_owned_fields": ["price"]},
    {"role": "child"},
]
PLANS = ["plus", "standard", "standard"]
SHIRT: dict[str, Any] = {
    "title": "Shirt",
    "vendor": "Acme",
    "tags": ["summer"],
    "metafields": [
        {"namespace": "catalog", "key": "fabric", "type": "single_line_text_field",
         "value": "cotton"},
    ],
}  # fmt: skip


async def seed(s: Sync, shop: str, sku: str, price: str = "20.00", **catalog: Any) -> None:
    body = [{"sku": sku, "price": price, "quantities": {LOC: 3}, "catalog": catalog}]
    r = await s.sim.post(f"/_sim/stores/{shop}/products", json=body)
    assert r.status_code == 201, r.text


async def product(s: Sync, shop: str, sku: str) -> dict[str, Any] | None:
    r = await s.sim.get(f"/_sim/stores/{shop}/products/{sku}/payload")
    return r.json() if r.status_code == 200 else None


async def metafields(s: Sync, shop: str, handle: str) -> dict[str, str]:
    c = s.container
    assert c.propagator is not None
    store = c.stores.by_shop(shop)
    assert store is not None
    node = await c.propagator.read(store, {"handle": handle}, "catalog")
    return {m["key"]: m["value"] for m in (node or {}).get("metafields", {}).get("nodes", [])}


async def publish_edit(s: Sync, topic: str, sku: str) -> None:
    parent = s.shops[0]
    body = await product(s, parent, sku)
    assert body is not None
    event = ShopifyWebhookReceived(
        source="test",
        shop=parent,
        payload=ShopifyWebhook(topic=topic, shop=parent, webhook_id=str(uuid.uuid4()), body=body),
    )
    key = f"{parent}/{body['id']}".encode()
    await s.producer.send_and_wait(s.settings.webhooks_topic, encode(event), key=key)


async def test_parent_edit_reaches_two_children_and_child_price_survives(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, keeps_price, follows = s.shops
        await seed(s, parent, "SHIRT-1", **SHIRT)
        await publish_edit(s, "products/create", "SHIRT-1")

        async def created() -> bool:
            bodies = [await product(s, shop, "SHIRT-1") for shop in (keeps_price, follows)]
            return all(b is not None and b["title"] == "Shirt" for b in bodies)

        await await_for("product in both children", created, 60)
        for shop in (keeps_price, follows):  # set after the product: polled, not raced

            async def metafields_set(shop: str = shop) -> bool:
                return await metafields(s, shop, "shirt-1") == {"fabric": "cotton"}

            await await_for(f"{shop} shows the metafield", metafields_set, 30)

        await seed(s, keeps_price, "SHIRT-1", price="25.00")  # the child's own price
        await seed(s, parent, "SHIRT-1", price="30.00", title="Shirt v2")
        await publish_edit(s, "products/update", "SHIRT-1")

        async def updated() -> bool:
            bodies = [await product(s, shop, "SHIRT-1") for shop in (keeps_price, follows)]
            return all(b is not None and b["title"] == "Shirt v2" for b in bodies)

        await await_for("edit in both children", updated, 60)
        kept, followed = (
            await product(s, keeps_price, "SHIRT-1"),
            await product(s, follows, "SHIRT-1"),
        )
        assert kept is not None and kept["variants"][0]["price"] == "25.00"
        assert followed is not None and followed["variants"][0]["price"] == "30.00"

        async def journal_empty() -> bool:  # the title shows before the later steps end
            key = f"sync:catalog-journal:{{{keeps_price}}}"
            return bool(await s.container.redis.hgetall(key) == {})

        await await_for("the child's sync done (its journal empty)", journal_empty, 30)


async def test_injected_failure_never_leaves_a_child_half_synced(sync_stack: SyncFactory) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, good, faulty = s.shops
        await seed(s, parent, "SHIRT-2", **SHIRT)
        r = await s.sim.post(
            "/_sim/faults", json={"shop": faulty, "fail_mutations": ["metafieldsSet"]}
        )
        assert r.status_code == 200
        await publish_edit(s, "products/create", "SHIRT-2")

        async def good_done() -> bool:
            return await metafields(s, good, "shirt-2") == {"fabric": "cotton"}

        await await_for("healthy child synced", good_done, 60)
        sampled_until = time.monotonic() + 3.0
        while time.monotonic() < sampled_until:  # the faulty child: absent, never half
            body = await product(s, faulty, "SHIRT-2")
            if body is not None:
                assert await metafields(s, faulty, "shirt-2") in ({}, {"fabric": "cotton"})
            await asyncio.sleep(0.05)
        r = await s.sim.delete("/_sim/faults", params={"shop": faulty})
        assert r.status_code in (200, 204)
        await publish_edit(s, "products/update", "SHIRT-2")  # the merchant's next edit

        async def faulty_done() -> bool:
            return await metafields(s, faulty, "shirt-2") == {"fabric": "cotton"}

        await await_for("faulty child completed once healed", faulty_done, 60)


async def test_crash_journal_in_redis_is_rolled_back_and_redone(sync_stack: SyncFactory) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, child, _ = s.shops
        await seed(s, parent, "SHIRT-3", **SHIRT)
        parent_body = await product(s, parent, "SHIRT-3")
        assert parent_body is not None
        await seed(s, child, "SHIRT-3", title="half written")  # productSet done, then crash
        state = RedisPropagationState(s.container.redis)
        entry = {
            "op": "crashed", "handle": "shirt-3", "created": True, "snapshot": None,
            "steps": ["product_set"], "parent_product": parent_body["admin_graphql_api_id"],
        }  # fmt: skip
        await state.journal_put(child, "shirt-3", entry)
        assert s.container.propagator is not None
        assert await s.container.propagator.recover() == 1
        body = await product(s, child, "SHIRT-3")
        assert body is not None and body["title"] == "Shirt"
        assert await metafields(s, child, "shirt-3") == {"fabric": "cotton"}
        assert await state.journal_open(child) == {}
