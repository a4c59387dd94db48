"""A collection's product order is written by ``collectionReorderProducts`` and its members
removed by ``collectionRemoveProducts``, both of which Shopify runs as a background job
(ADR 0038 section 3 and its amendment): shopify-sync polls the job until done; a job not done
in time fails the sync (rolled back, the event retried). The simulator applies a reorder or
a removal only when its job is polled (the manual-order test in test_collection_metadata.py
shows the order followed; it fails without the polling). A smart collection sorted by hand
has its order copied too (section 4). On the real Kafka and Redis."""

from __future__ import annotations

import pytest
from integration.shopify_sync.conftest import SyncFactory
from integration.shopify_sync.test_collection_metadata import (
    ROLES,
    move_first,
    order,
    wait_shows,
)
from integration.shopify_sync.test_collection_propagation import (
    PLANS,
    collection,
    create,
    members,
    parent_view,
    publish_collection,
    seed,
    swap,
)
from integration.shopify_sync.test_collection_reconcile import child_webhook

from shopify_sync.collection_writes import JobNotDone

pytestmark = pytest.mark.integration


async def test_a_reorder_job_not_done_in_time_fails_the_sync_and_rolls_it_back(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES, collection_job_timeout_s=0.01) as s:
        parent, _, follows = s.shops
        skus = ("CUP-C", "CUP-A", "CUP-B")
        ids = [await seed(s, parent, sku) for sku in skus]
        for sku in skus:
            await seed(s, follows, sku)
        handle = await create(s, parent, {"title": "Cups", "sortOrder": "MANUAL", "products": ids})
        collections, store, view = await parent_view(s, follows, handle)
        assert view.order == ("cup-c", "cup-a", "cup-b")
        with pytest.raises(JobNotDone):  # one poll, not done, past the deadline
            await collections.sync_child(store, view)
        assert await order(s, follows, handle) == []  # created, then deleted by the rollback
        journal = await s.container.redis.hgetall(f"sync:catalog-journal:{{{follows}}}")
        assert journal == {}
        params = {"shop": follows, "operation_name": "JobStatus"}
        assert len((await s.sim.get("/_sim/requests", params=params)).json()) == 1


async def test_a_smart_collection_sorted_by_hand_has_its_order_copied(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, owns, follows = s.shops
        for shop in s.shops:  # the same products everywhere: the rule picks all three
            for sku in ("BAG-C", "BAG-A", "BAG-B"):
                await seed(s, shop, sku, tags=["bag"])
        rule = {"column": "TAG", "relation": "EQUALS", "condition": "bag"}
        rules = {"appliedDisjunctively": False, "rules": [rule]}
        spec = {"title": "Bags", "sortOrder": "MANUAL", "ruleSet": rules}
        handle = await create(s, parent, spec)
        assert await order(s, parent, handle) == ["bag-c", "bag-a", "bag-b"]
        await move_first(s, parent, handle, "bag-b")  # the merchant sorts it by hand
        await publish_collection(s, "collections/create", handle)
        for child in (owns, follows):  # created whole: in the parent's order
            await wait_shows(s, order, child, handle, ["bag-b", "bag-c", "bag-a"])

        # both children's merchants reorder it: follows' webhook puts the parent's order
        # back, owns keeps its own (it lists collection_product_order)
        for child in (owns, follows):
            await move_first(s, child, handle, "bag-a")
            await child_webhook(s, child, handle)
        await wait_shows(s, order, follows, handle, ["bag-b", "bag-c", "bag-a"])
        assert await order(s, owns, handle) == ["bag-a", "bag-b", "bag-c"]


async def test_a_member_the_parent_removed_is_gone_from_the_child_when_the_sync_returns(
    sync_stack: SyncFactory,
) -> None:
    """The removal's job polled until done: the next step and the next comparison read the
    child without the product. Not done in time: the sync fails and is rolled back, and the
    retried sync removes it."""
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, _, follows = s.shops
        skus = ("PAN-A", "PAN-B", "PAN-C")
        ids = [await seed(s, parent, sku) for sku in skus]
        for sku in skus:
            await seed(s, follows, sku)
        handle = await create(s, parent, {"title": "Pans", "products": ids})
        collections, store, view = await parent_view(s, follows, handle)
        await collections.sync_child(store, view)
        assert await members(s, follows, handle) == {"pan-a", "pan-b", "pan-c"}

        parent_id = (await collection(s, parent, handle) or {})["id"]
        await swap(s, parent, parent_id, [], [ids[1]])  # the merchant takes pan-b out
        _, _, view = await parent_view(s, follows, handle)
        assert view.products == ("pan-a", "pan-c")
        await collections.sync_child(store, view)
        assert await members(s, follows, handle) == {"pan-a", "pan-c"}  # no waiting
        params = {"shop": follows, "operation_name": "JobStatus"}
        polls = (await s.sim.get("/_sim/requests", params=params)).json()
        assert len(polls) == 2  # the simulator's job: done at the second poll

        await swap(s, parent, parent_id, [], [ids[2]])  # and pan-c
        _, _, view = await parent_view(s, follows, handle)
        assert view.products == ("pan-a",)
        collections.job_timeout_s = 0.01  # one poll, not done, past the deadline
        with pytest.raises(JobNotDone):
            await collections.sync_child(store, view)
        journal = await s.container.redis.hgetall(f"sync:catalog-journal:{{{follows}}}")
        assert journal == {}
        assert len((await s.sim.get("/_sim/requests", params=params)).json()) == 3
        assert await members(s, follows, handle) == {"pan-a", "pan-c"}

        collections.job_timeout_s = 30.0  # the event's retry
        await collections.sync_child(store, view)
        assert await members(s, follows, handle) == {"pan-a"}
