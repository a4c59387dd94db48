"""Read-only status for the ops console (bearer ``STOCKSYNC_ADMIN_TOKEN``): per store its
circuit, bucket, pending changes and push counts, the consumer lag, and recent jobs; per
SKU what each store was last seen showing."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from fastapi import APIRouter, Query
from prometheus_client.metrics import MetricWrapperBase

from shopify_sync.adapters import metrics
from shopify_sync.adapters.jobs import job_key
from shopify_sync.domain.quantities import Pending
from shopify_sync.entrypoints.deps import AdminDep, ContainerDep
from stocksync_common.metrics import CONSUMER_LAG

router = APIRouter(prefix="/status", tags=["admin"])
MAX_JOB_KEYS = 500


def _sample(metric: MetricWrapperBase, name: str, **labels: str) -> float:
    """Sum of ``metric``'s samples called ``name`` whose labels include ``labels``."""
    return sum(
        s.value
        for family in metric.collect()
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


@router.get("/stores")
async def store_status(c: ContainerDep, _who: AdminDep) -> dict[str, Any]:
    """Per store: circuit, bucket, pending changes, pushes; plus the consumer's lag."""
    stores = []
    for store in c.stores.stores:
        shop = store.shop
        limits = c.client.shop(shop)
        lane = c.lanes.lanes.get(shop)
        last = lane.last if lane is not None else None
        stores.append(
            {
                "shop": shop,
                "role": store.role,
                "circuit": limits.breaker.state.value,
                "bucket": limits.bucket.snapshot(),
                "pending": await c.state.pending_count(shop),
                "quantities_pushed": _sample(
                    metrics.PUSHED, "stocksync_shopify_quantities_pushed_total", shop=shop
                ),
                "pushes": _sample(
                    metrics.PUSH_SECONDS, "stocksync_shopify_push_seconds_count", shop=shop
                ),
                "throttled": _sample(
                    metrics.THROTTLED, "stocksync_shopify_throttled_total", shop=shop
                ),
                "last_round": dataclasses.asdict(last) if last is not None else None,
                "last_round_at": lane.last_round_at if lane is not None else None,
                "last_push_at": lane.last_push_at if lane is not None else None,
                "failures": lane.failures if lane is not None else None,
            }
        )
    group = c.settings.consumer_group
    lag = _sample(CONSUMER_LAG, "stocksync_consumer_lag_records", group=group)
    return {"consumer_group": group, "consumer_lag": lag, "stores": stores}


@router.get("/stock/{sku}")
async def stock_in_stores(sku: str, c: ContainerDep, _who: AdminDep) -> dict[str, Any]:
    """Per store and mapped location: what the store showed when shopify-sync last wrote or
    read the SKU there (``shows``; None: never seen, or not stocked there), the truth version
    applied to it, and the change waiting to be pushed. No call to Shopify: a targeted
    reconciliation (``POST /reconcile`` with the SKU) reads the stores afresh."""
    stores = []
    for store in c.stores.stores:
        keys = [(sku, location) for location in store.locations]
        known = await c.state.known(store.shop, keys)
        pending = await c.state.pending_of(store.shop, keys)
        locations = {
            location: {
                "shows": known[(sku, location)].level,
                "applied_version": known[(sku, location)].applied,
                "pending": _pending(pending.get((sku, location))),
            }
            for _, location in keys
        }
        mapped = sku in await c.catalog.entries(store.shop, [sku])
        stores.append(
            {"shop": store.shop, "role": store.role, "mapped": mapped, "locations": locations}
        )
    return {"sku": sku, "stores": stores}


def _pending(p: Pending | None) -> dict[str, int] | None:
    return None if p is None else {"quantity": p.quantity, "version": p.version}


@router.get("/jobs")
async def recent_jobs(
    c: ContainerDep, _who: AdminDep, limit: int = Query(20, ge=1, le=100)
) -> dict[str, Any]:
    """The newest reconciliation jobs (kept a week), newest first."""
    keys: list[Any] = []
    async for key in c.redis.scan_iter(match=job_key("*"), count=1000):
        keys.append(key)
        if len(keys) >= MAX_JOB_KEYS:
            break
    # GETs in one pipeline, not an MGET: on a Redis Cluster the jobs live in many hash slots
    # (an MGET across slots is refused there; the cluster's pipeline splits by node)
    pipe = c.redis.pipeline(transaction=False)
    for key in keys:
        pipe.get(key)
    docs = [json.loads(raw) for raw in (await pipe.execute() if keys else []) if raw]
    docs.sort(key=lambda d: d.get("created_at") or 0, reverse=True)
    return {"jobs": docs[:limit]}
