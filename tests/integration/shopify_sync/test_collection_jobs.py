"""A collection's product order is written by ``collectionReorderProducts``, which Shopify
runs as a background job (ADR 0039 section 3): shopify-sync polls the job until done; a job
not done in time fails the sync (rolled back, the event retried). The simulator applies a
reorder only when its job is polled (the manual-order test in test_collection_metadata.py
shows the order followed; it fails without the polling). On the real Kafka and Redis."""

from __future__ import annotations

import pytest
from integration.shopify_sync.conftest import SyncFactory
from integration.shopify_sync.test_collection_metadata import ROLES, order
from integration.shopify_sync.test_collection_propagation import PLANS, create, seed

from shopify_sync.collection_propagator import JobNotDone

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
        collections = s.container.collections
        store = s.container.stores.by_shop(follows)
        assert collections is not None and store is not None
        view = await collections.read(s.container.stores.stores[0], {"handle": handle})
        assert view is not None and view.order == ("cup-c", "cup-a", "cup-b")
        with pytest.raises(JobNotDone):  # one poll, not done, past the deadline
            await collections.sync_child(store, view)
        assert await order(s, follows, handle) == []  # created, then deleted by the rollback
        journal = await s.container.redis.hgetall(f"sync:catalog-journal:{{{follows}}}")
        assert journal == {}
        params = {"shop": follows, "operation_name": "JobStatus"}
        assert len((await s.sim.get("/_sim/requests", params=params)).json()) == 1
