"""Fair lanes: catalog work at a store waits for that store's pending inventory, never for
another store's, and runs one call at a time per store."""

from __future__ import annotations

import asyncio

from unit.shopify_sync.fakes import FakeClock, MemorySyncState

from shopify_sync.catalog_gate import CatalogGate
from shopify_sync.domain.quantities import Pending
from support.redis_errors import cluster_unreachable


async def test_catalog_yields_to_pending_inventory_of_the_same_shop_only() -> None:
    clock, state = FakeClock(), MemorySyncState()
    await state.record("busy.myshopify.com", {("SKU-1", "wh-1"): Pending(1, 5)})
    order: list[str] = []

    async def sleep(seconds: float) -> None:
        order.append("busy waits")
        if order.count("busy waits") == 3:  # the lane pushed the inventory meanwhile
            await state.discard("busy.myshopify.com", await state.pending("busy.myshopify.com"))
        await clock.sleep(seconds)

    gate = CatalogGate(state, sleep=sleep, clock=clock, max_wait_s=60.0)

    async def catalog(shop: str) -> None:
        async with gate.turn(shop):
            order.append(f"catalog {shop.split('.')[0]}")

    await asyncio.gather(catalog("busy.myshopify.com"), catalog("calm.myshopify.com"))
    assert order.index("catalog calm") < order.index("catalog busy")
    assert order[-1] == "catalog busy"
    assert gate.yielded == {"busy.myshopify.com": 3}


async def test_catalog_is_not_starved_forever() -> None:
    clock, state = FakeClock(), MemorySyncState()
    await state.record("busy.myshopify.com", {("SKU-1", "wh-1"): Pending(1, 5)})
    gate = CatalogGate(state, sleep=clock.sleep, clock=clock, poll_s=1.0, max_wait_s=5.0)
    async with gate.turn("busy.myshopify.com"):
        ran = True
    assert ran and 4 <= gate.yielded["busy.myshopify.com"] <= 6


async def test_one_catalog_call_at_a_time_per_shop() -> None:
    state = MemorySyncState()
    gate = CatalogGate(state)
    inside: list[int] = []
    current = 0

    async def call() -> None:
        nonlocal current
        async with gate.turn("a.myshopify.com"):
            current += 1
            inside.append(current)
            await asyncio.sleep(0)
            current -= 1

    await asyncio.gather(*(call() for _ in range(5)))
    assert inside == [1, 1, 1, 1, 1]


class UnansweredState(MemorySyncState):
    """No node of a Redis Cluster answers (the cluster client's own error, not a RedisError)."""

    async def pending_count(self, shop: str) -> int:
        raise cluster_unreachable()


async def test_a_redis_cluster_that_does_not_answer_holds_no_catalog_call() -> None:
    gate = CatalogGate(UnansweredState(), max_wait_s=60.0)
    async with gate.turn("a.myshopify.com"):
        ran = True
    assert ran and gate.yielded == {}
