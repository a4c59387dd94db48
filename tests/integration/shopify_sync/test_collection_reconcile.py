"""Collections put back without waiting for the parent (ADR 0035), through shopify-sync's
catalog consumers on the real Kafka and Redis, against the Shopify simulator: a collection
the parent deleted while shopify-sync was not consuming is deleted in the children by the
next catalog sync (a child's own collection stays); a child's edit of a field the parent
owns but the collections/update body does not carry (sort order, rules, members) is put
back when that webhook arrives, while the child's own fields and pending members are left."""

from __future__ import annotations

from typing import Any

import pytest
from integration.shopify_sync.conftest import Sync, SyncFactory
from integration.shopify_sync.test_collection_propagation import (
    PLANS,
    ROLES,
    UPDATE,
    catalog_sync,
    collection,
    create,
    gql,
    members,
    propagator,
    publish,
    seed,
    swap,
)

from support.poll import await_for

pytestmark = pytest.mark.integration
DELETE = """
mutation Delete($input: CollectionDeleteInput!) {
  collectionDelete(input: $input) { deletedCollectionId userErrors { field message } }
}
"""


async def test_a_collection_deleted_unseen_in_the_parent_leaves_the_children_at_the_next_sync(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, first, second = s.shops
        gone = await create(s, parent, {"title": "Old season"})
        kept = await create(s, parent, {"title": "This season"})
        await catalog_sync(s)
        for child in (first, second):
            assert await collection(s, child, gone) is not None
        own = await create(s, second, {"title": "Second's own"})
        # deleted in the parent; its collections/delete never reaches shopify-sync
        parent_id = (await collection(s, parent, gone) or {})["id"]
        answer = await gql(s, parent, DELETE, {"input": {"id": parent_id}})
        assert answer["collectionDelete"]["userErrors"] == []

        doc = await catalog_sync(s)
        for child in (first, second):
            assert await collection(s, child, gone) is None
            assert await collection(s, child, kept) is not None
        assert doc["progress"]["collections_deleted"] == [gone]
        assert await collection(s, second, own) is not None  # the child's own: untouched
        records = await propagator(s).state.recorded_handles(parent)
        assert gone not in records.values() and kept in records.values()
        again = await catalog_sync(s)  # nothing left to delete
        assert again["progress"]["collections_deleted"] == []


def title_rule(word: str) -> dict[str, Any]:
    rule = {"column": "TITLE", "relation": "CONTAINS", "condition": word}
    return {"appliedDisjunctively": False, "rules": [rule]}


async def child_webhook(s: Sync, child: str, handle: str) -> None:
    """The child's collections/update as webhook-receiver publishes it."""
    r = await s.sim.get(f"/_sim/stores/{child}/collections/{handle}/payload")
    assert r.status_code == 200, r.text
    await publish(s, child, "collections/update", r.json())


async def test_a_child_edit_the_webhook_body_does_not_show_is_put_back_on_that_webhook(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, keeps_title, follows = s.shops
        ids = [await seed(s, parent, sku) for sku in ("HAT-1", "HAT-2", "HAT-3")]
        child_ids = {sku: await seed(s, follows, sku) for sku in ("HAT-1", "HAT-2", "HAT-3")}
        await seed(s, keeps_title, "HAT-1")  # HAT-2 and HAT-3 are pending there
        handle = await create(
            s, parent, {"title": "Hats", "sortOrder": "ALPHA_ASC", "products": ids[:2]}
        )
        rules = title_rule("hat")
        smart = await create(s, parent, {"title": "All hats", "ruleSet": rules})
        await propagator(s).sync_all()  # collections only: no product reaches keeps_title
        assert await members(s, follows, handle) == {"hat-1", "hat-2"}
        assert await members(s, keeps_title, handle) == {"hat-1"}

        # follows' merchant: sort order, a member swapped, the smart collection's rule
        mine = await collection(s, follows, handle)
        assert mine is not None
        await gql(s, follows, UPDATE, {"input": {"id": mine["id"], "sortOrder": "BEST_SELLING"}})
        await swap(s, follows, mine["id"], [child_ids["HAT-3"]], [child_ids["HAT-1"]])
        theirs = await collection(s, follows, smart)
        assert theirs is not None
        wrong = title_rule("cap")
        await gql(s, follows, UPDATE, {"input": {"id": theirs["id"], "ruleSet": wrong}})
        # keeps_title's merchant renames it (its own field): nothing to put back
        own = await collection(s, keeps_title, handle)
        assert own is not None
        await gql(s, keeps_title, UPDATE, {"input": {"id": own["id"], "title": "Our hats"}})
        for child, name in ((follows, handle), (follows, smart), (keeps_title, handle)):
            await child_webhook(s, child, name)

        async def put_back() -> bool:
            found = await collection(s, follows, handle)
            rule = await collection(s, follows, smart)
            return (
                found is not None and found["sortOrder"] == "ALPHA_ASC"
                and await members(s, follows, handle) == {"hat-1", "hat-2"}
                and rule is not None and rule["ruleSet"] == rules
            )  # fmt: skip

        await await_for("the child's edits put back on its webhooks", put_back, 60)
        kept = await collection(s, keeps_title, handle)
        assert kept is not None and kept["title"] == "Our hats"
        assert await members(s, keeps_title, handle) == {"hat-1"}  # the others still pending
        stores = {store.shop: store for store in s.container.stores.stores}
        # in step now: the webhook changes nothing, however often it comes
        r = await s.sim.get(f"/_sim/stores/{follows}/collections/{handle}/payload")
        body = r.json()
        assert await propagator(s).on_webhook(stores[follows], "collections/update", body) in (
            "echo", "in-step",
        )  # fmt: skip
        older = dict(body, updated_at="2020-01-01T00:00:00Z")
        assert await propagator(s).on_webhook(stores[follows], "collections/update", older) == (
            "echo"
        )
