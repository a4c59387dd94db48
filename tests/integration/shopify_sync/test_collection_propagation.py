"""Collection propagation through shopify-sync's catalog consumers on the real Kafka and
Redis, against the Shopify simulator (ADR 0021): a custom collection whose third product
reaches the child only later ends with all three there; a smart collection's rules arrive and
the child's own computed membership matches the parent's; a child-owned title survives a
parent update; a write failing midway is rolled back."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from integration.shopify_sync.conftest import ADMIN, LOC, Sync, SyncFactory

from shopify_sync.adapters.pending_memberships import RedisPendingMemberships
from shopify_sync.adapters.shopify import TransientError
from shopify_sync.collection_propagator import CollectionPropagator
from shopify_sync.domain.collections import CollectionView
from stocksync_common.events import ShopifyWebhook, ShopifyWebhookReceived, encode
from stocksync_common.stores import Store
from support.poll import await_for

pytestmark = pytest.mark.integration
ROLES = [
    {"role": "parent"},
    {"role": "child", "child_owned_fields": ["collection_title"]},
    {"role": "child"},
]
PLANS = ["plus", "standard", "standard"]
READ = """
query Read($handle: String!) {
  collectionByHandle(handle: $handle) {
    id title descriptionHtml sortOrder image { url }
    ruleSet { appliedDisjunctively rules { column relation condition } }
    products(first: 50) { nodes { id handle } }
  }
}
"""
CREATE = """
mutation Create($input: CollectionInput!) {
  collectionCreate(input: $input) { collection { id handle } userErrors { field message } }
}
"""
UPDATE = """
mutation Update($input: CollectionInput!) {
  collectionUpdate(input: $input) { collection { id } userErrors { field message } }
}
"""
PRODUCT = "query P($h: String!) { productByIdentifier(identifier: {handle: $h}) { id } }"


async def gql(s: Sync, shop: str, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The merchant (or anyone holding the token) calling the store's Admin API."""
    r = await s.sim.post(
        "/admin/api/2026-10/graphql.json",
        json={"query": document, "variables": variables},
        headers={"X-Shopify-Access-Token": f"tok-{shop}"},
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def seed(s: Sync, shop: str, sku: str, price: str = "20.00", **catalog: Any) -> str:
    body = [{"sku": sku, "price": price, "quantities": {LOC: 3}, "catalog": catalog}]
    r = await s.sim.post(f"/_sim/stores/{shop}/products", json=body)
    assert r.status_code == 201, r.text
    data = await gql(s, shop, PRODUCT, {"h": sku.lower()})
    return str(data["productByIdentifier"]["id"])


async def collection(s: Sync, shop: str, handle: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await gql(s, shop, READ, {"handle": handle}))[
        "collectionByHandle"
    ]
    return found


async def members(s: Sync, shop: str, handle: str) -> set[str] | None:
    found = await collection(s, shop, handle)
    return None if found is None else {p["handle"] for p in found["products"]["nodes"]}


async def create(s: Sync, shop: str, data: dict[str, Any]) -> str:
    answer = (await gql(s, shop, CREATE, {"input": data}))["collectionCreate"]
    assert answer["userErrors"] == [], answer
    return str(answer["collection"]["handle"])


async def parent_view(
    s: Sync, child: str, handle: str
) -> tuple[CollectionPropagator, Store, CollectionView]:
    """The propagator, ``child``'s store and the parent's collection ``handle`` as read now:
    what a test hands ``sync_child`` itself."""
    collections = s.container.collections
    store = s.container.stores.by_shop(child)
    assert collections is not None and store is not None
    view = await collections.read(s.container.stores.stores[0], {"handle": handle})
    assert view is not None
    return collections, store, view


SWAP = """
mutation Swap($id: ID!, $add: [ID!]!, $drop: [ID!]!) {
  collectionAddProducts(id: $id, productIds: $add) { userErrors { message } }
  collectionRemoveProducts(id: $id, productIds: $drop) { job { id } userErrors { message } }
}
"""
JOB = "query J($id: ID!) { job(id: $id) { done } }"


async def swap(s: Sync, shop: str, collection_id: str, add: list[str], drop: list[str]) -> None:
    """The merchant adds ``add`` and removes ``drop``; the removal runs as a job that
    Shopify finishes in the background (polled here as the admin does: ADR 0038)."""
    answer = await gql(s, shop, SWAP, {"id": collection_id, "add": add, "drop": drop})
    removed = answer["collectionRemoveProducts"]
    assert answer["collectionAddProducts"]["userErrors"] == removed["userErrors"] == [], answer
    job = removed["job"]["id"]

    async def done() -> bool:
        return bool((await gql(s, shop, JOB, {"id": job}))["job"]["done"])

    await await_for("the removal's job done", done, 30)


async def publish(s: Sync, shop: str, topic: str, body: dict[str, Any]) -> None:
    """A webhook as webhook-receiver publishes it to ``webhooks.shopify.v1``."""
    event = ShopifyWebhookReceived(
        source="test",
        shop=shop,
        payload=ShopifyWebhook(topic=topic, shop=shop, webhook_id=str(uuid.uuid4()), body=body),
    )
    key = f"{shop}/{body['id']}".encode()
    await s.producer.send_and_wait(s.settings.webhooks_topic, encode(event), key=key)


async def publish_collection(s: Sync, topic: str, handle: str) -> None:
    parent = s.shops[0]
    r = await s.sim.get(f"/_sim/stores/{parent}/collections/{handle}/payload")
    assert r.status_code == 200, r.text
    await publish(s, parent, topic, r.json())


async def publish_product(s: Sync, topic: str, sku: str) -> None:
    parent = s.shops[0]
    r = await s.sim.get(f"/_sim/stores/{parent}/products/{sku}/payload")
    assert r.status_code == 200, r.text
    await publish(s, parent, topic, r.json())


async def catalog_sync(s: Sync) -> dict[str, Any]:
    """Run the catalog-sync job to its end; the job's document (it must have succeeded)."""
    r = await s.admin.post("/jobs/catalog-sync", headers=ADMIN, json={})
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]

    async def ended() -> dict[str, Any] | None:
        doc: dict[str, Any] = (await s.admin.get(f"/jobs/{job_id}", headers=ADMIN)).json()
        return doc if doc["status"] in ("done", "failed") else None

    doc = await await_for("catalog sync job ended", ended, 120)
    assert doc["status"] == "done", doc
    return doc


def propagator(s: Sync) -> CollectionPropagator:
    found = s.container.collections
    assert found is not None
    return found


async def test_custom_collection_gets_a_product_that_reaches_the_child_later(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, first, second = s.shops
        ids = [await seed(s, parent, sku) for sku in ("CAP-A", "CAP-B", "CAP-C")]
        for child in (first, second):  # the third product is not in the children yet
            await seed(s, child, "CAP-A")
            await seed(s, child, "CAP-B")
        image = {"src": "https://cdn.example.test/caps.png"}
        handle = await create(
            s, parent, {"title": "Caps", "sortOrder": "ALPHA_ASC", "image": image, "products": ids}
        )
        await publish_collection(s, "collections/create", handle)

        async def two_in_each() -> bool:
            return all([await members(s, c, handle) == {"cap-a", "cap-b"} for c in (first, second)])

        await await_for("collection with the two products the children have", two_in_each, 60)
        pending = RedisPendingMemberships(s.container.redis)
        assert await pending.of_product(first, "cap-c") == [handle]
        for child in (first, second):
            found = await collection(s, child, handle)
            assert found is not None and found["title"] == "Caps"
            assert found["sortOrder"] == "ALPHA_ASC"  # the image copied to the child's CDN:
            assert "/collections/caps.png?" in found["image"]["url"]  # a URL of its own

        await publish_product(s, "products/create", "CAP-C")  # the product reaches them now

        async def three_in_each() -> bool:
            wanted = {"cap-a", "cap-b", "cap-c"}
            return all([await members(s, c, handle) == wanted for c in (first, second)])

        await await_for("the late product added to the children's collection", three_in_each, 60)
        assert await pending.of_product(first, "cap-c") == []
        assert await pending.of_collection(second, handle) == []


async def test_smart_collection_rules_arrive_and_the_child_computes_the_same_members(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, first, second = s.shops
        for shop in s.shops:  # the same catalog everywhere
            await seed(s, shop, "TEE-SUN", "20.00", tags=["summer"], vendor="Acme")
            await seed(s, shop, "TEE-BIG", "60.00", vendor="Acme")
            await seed(s, shop, "TEE-LOW", "10.00", vendor="Other")
        rules = {
            "appliedDisjunctively": True,
            "rules": [
                {"column": "TAG", "relation": "EQUALS", "condition": "summer"},
                {"column": "VARIANT_PRICE", "relation": "GREATER_THAN", "condition": "50"},
            ],
        }
        handle = await create(s, parent, {"title": "Picks", "ruleSet": rules})
        await publish_collection(s, "collections/create", handle)

        async def arrived() -> bool:
            return all([await collection(s, c, handle) is not None for c in (first, second)])

        await await_for("smart collection in both children", arrived, 60)
        in_parent = await members(s, parent, handle)
        assert in_parent == {"tee-sun", "tee-big"}
        for child in (first, second):
            found = await collection(s, child, handle)
            assert found is not None
            assert found["ruleSet"] == {
                "appliedDisjunctively": True,
                "rules": [
                    {"column": "TAG", "relation": "EQUALS", "condition": "summer"},
                    {"column": "VARIANT_PRICE", "relation": "GREATER_THAN", "condition": "50"},
                ],
            }
            assert await members(s, child, handle) == in_parent


async def test_child_owned_title_survives_a_parent_update(sync_stack: SyncFactory) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, keeps_title, follows = s.shops
        product = await seed(s, parent, "MUG-1")
        for child in (keeps_title, follows):
            await seed(s, child, "MUG-1")
        handle = await create(s, parent, {"title": "Mugs", "descriptionHtml": "v1",
                                          "products": [product]})  # fmt: skip
        await publish_collection(s, "collections/create", handle)

        async def created() -> bool:
            return all([await members(s, c, handle) == {"mug-1"} for c in (keeps_title, follows)])

        await await_for("collection in both children", created, 60)
        own = await collection(s, keeps_title, handle)
        assert own is not None
        await gql(s, keeps_title, UPDATE, {"input": {"id": own["id"], "title": "Our mugs"}})
        parent_id = (await collection(s, parent, handle) or {})["id"]
        await gql(s, parent, UPDATE, {"input": {"id": parent_id, "title": "Mugs v2",
                                                "descriptionHtml": "v2"}})  # fmt: skip
        await publish_collection(s, "collections/update", handle)

        async def updated() -> bool:
            kept, followed = (
                await collection(s, keeps_title, handle),
                await collection(s, follows, handle),
            )
            return (
                kept is not None and kept["descriptionHtml"] == "v2"
                and followed is not None and followed["title"] == "Mugs v2"
            )  # fmt: skip

        await await_for("parent update in both children", updated, 60)
        kept = await collection(s, keeps_title, handle)
        assert kept is not None and kept["title"] == "Our mugs"


async def test_a_failure_midway_is_rolled_back(sync_stack: SyncFactory) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, _, child = s.shops
        one, two = await seed(s, parent, "PEN-1"), await seed(s, parent, "PEN-2")
        await seed(s, child, "PEN-1")
        await seed(s, child, "PEN-2")
        handle = await create(s, parent, {"title": "Pens", "products": [one]})
        store = s.container.stores.by_shop(child)
        assert store is not None
        view = await propagator(s).read(s.container.stores.stores[0], {"handle": handle})
        assert view is not None
        await propagator(s).sync_child(store, view)
        assert await members(s, child, handle) == {"pen-1"}

        parent_id = (await collection(s, parent, handle) or {})["id"]
        await gql(s, parent, UPDATE, {"input": {"id": parent_id, "title": "Pens v2"}})
        await swap(s, parent, parent_id, [two], [one])
        # the child takes the new title and pen-2, then fails once letting pen-1 go
        fault = {"shop": child, "fail_mutations": ["collectionRemoveProducts"],
                 "fail_mutation_times": 1}  # fmt: skip
        r = await s.sim.post("/_sim/faults", json=fault)
        assert r.status_code == 200
        view = await propagator(s).read(s.container.stores.stores[0], {"handle": handle})
        assert view is not None and view.products == ("pen-2",)
        with pytest.raises(TransientError):  # INTERNAL_SERVER_ERROR: retried by the consumer
            await propagator(s).sync_child(store, view)

        after = await collection(s, child, handle)
        assert after is not None and after["title"] == "Pens"  # the snapshot's, not "Pens v2"
        assert await members(s, child, handle) == {"pen-1"}  # pen-2's add undone
        journal = await s.container.redis.hgetall(f"sync:catalog-journal:{{{child}}}")
        assert journal == {}

        await s.sim.delete("/_sim/faults", params={"shop": child})
        await propagator(s).sync_child(store, view)  # healed: the next attempt completes
        assert await members(s, child, handle) == {"pen-2"}
        done = await collection(s, child, handle)
        assert done is not None and done["title"] == "Pens v2"


async def test_catalog_sync_job_brings_collections_and_names_the_one_a_child_refuses(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent = s.shops[0]
        ids = [await seed(s, parent, sku, tags=["job"]) for sku in ("JOB-1", "JOB-2", "JOB-3")]
        custom = await create(s, parent, {"title": "Hand picked", "products": ids[:2]})
        rule = {"column": "TAG", "relation": "EQUALS", "condition": "job"}
        rules = {"appliedDisjunctively": False, "rules": [rule]}
        smart = await create(s, parent, {"title": "All job", "ruleSet": rules})
        clash = s.shops[2]  # has a custom collection under the smart one's handle: refused
        assert await create(s, clash, {"title": "All job"}) == smart
        doc = await catalog_sync(s)
        for child in s.shops[1:]:  # no product was there before the job: all created by it
            assert await members(s, child, custom) == {"job-1", "job-2"}
        assert doc["progress"]["collections"] == {s.shops[1]: 2, clash: 1}
        assert await members(s, s.shops[1], smart) == {"job-1", "job-2", "job-3"}
        [refused] = doc["progress"]["errors"]
        assert (refused["collection"], refused["shop"]) == (smart, clash)
        assert "custom collection" in refused["errors"]  # Shopify's reason, for the merchant
        assert await members(s, clash, smart) == set()  # the child's own, left as it was


async def test_child_webhooks_echo_dropped_and_drift_reasserted(sync_stack: SyncFactory) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, keeps_title, follows = s.shops
        handle = await create(s, parent, {"title": "Bags", "descriptionHtml": "canvas"})
        view = await propagator(s).read(s.container.stores.stores[0], {"handle": handle})
        assert view is not None
        stores = {store.shop: store for store in s.container.stores.stores}
        for child in (keeps_title, follows):
            await propagator(s).sync_child(stores[child], view)

        async def child_webhook(child: str) -> str:
            r = await s.sim.get(f"/_sim/stores/{child}/collections/{handle}/payload")
            assert r.status_code == 200, r.text
            return await propagator(s).on_webhook(stores[child], "collections/update", r.json())

        assert await child_webhook(follows) == "echo"  # our own write coming back
        for child, title in ((keeps_title, "Their bags"), (follows, "Wrong bags")):
            own = await collection(s, child, handle)
            assert own is not None
            await gql(s, child, UPDATE, {"input": {"id": own["id"], "title": title}})
        assert await child_webhook(follows) == "reasserted"  # the parent owns the title there
        assert (await collection(s, follows, handle) or {})["title"] == "Bags"
        assert await child_webhook(keeps_title) == "echo"  # the child owns its title
        assert (await collection(s, keeps_title, handle) or {})["title"] == "Their bags"
        assert await propagator(s).on_webhook(
            stores[follows], "collections/update", {"id": 1, "handle": "only-mine", "title": "x"}
        ) == "child-only"  # fmt: skip


async def test_a_crash_journal_is_rolled_back_and_redone(sync_stack: SyncFactory) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, _, child = s.shops
        product = await seed(s, parent, "KEY-1")
        await seed(s, child, "KEY-1")
        handle = await create(s, parent, {"title": "Keys", "products": [product]})
        parent_id = (await collection(s, parent, handle) or {})["id"]
        # a crash after collectionCreate, before the products were added
        assert await create(s, child, {"title": "half written", "handle": handle}) == handle
        entry = {
            "kind": "collection", "op": "crashed", "handle": handle, "created": True,
            "snapshot": None, "steps": ["collection_set"], "added": [], "removed": [],
            "parent_collection": parent_id,
        }  # fmt: skip
        journal = s.container.propagator.state if s.container.propagator else None
        assert journal is not None
        await journal.journal_put(child, f"collection:{handle}", entry)
        await journal.journal_put(child, "a-product", {"handle": "a-product", "steps": []})
        assert await propagator(s).recover() == 1  # the product's entry is not its own
        redone = await collection(s, child, handle)
        assert redone is not None and redone["title"] == "Keys"
        assert await members(s, child, handle) == {"key-1"}
        assert set(await journal.journal_open(child)) == {"a-product"}


async def test_a_product_arriving_during_the_collection_sync_is_not_left_pending(
    sync_stack: SyncFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, _, child = s.shops
        ids = [await seed(s, parent, sku) for sku in ("BOX-1", "BOX-2")]
        await seed(s, child, "BOX-1")
        handle = await create(s, parent, {"title": "Boxes", "products": ids})
        store = s.container.stores.by_shop(child)
        assert store is not None
        collections = propagator(s)
        looked_up = collections.find_products

        async def box_2_arrives_right_after_the_lookup(target: Any, handles: Any) -> dict[str, str]:
            found = await looked_up(target, handles)
            if "box-2" in handles and "box-2" not in found:  # the first lookup only
                product_id = await seed(s, child, "BOX-2")
                # product propagation's hook runs now: nothing is pending for it yet
                assert await collections.product_arrived(target, "box-2", product_id) == 0
            return found

        monkeypatch.setattr(collections, "find_products", box_2_arrives_right_after_the_lookup)
        view = await collections.read(s.container.stores.stores[0], {"handle": handle})
        assert view is not None
        await collections.sync_child(store, view)
        assert await members(s, child, handle) == {"box-1", "box-2"}
        pending = RedisPendingMemberships(s.container.redis)
        assert await pending.of_collection(child, handle) == []
