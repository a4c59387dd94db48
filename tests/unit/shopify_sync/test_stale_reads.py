"""A read of the store that began before a write must not overwrite what the write
recorded. The flash sale found it: a catalog discovery read every level at 0 (products
just created), the first sync then wrote 50, and the discovery's answer, recorded after,
said the store showed 0. The next sale (truth 49) then looked like 50 unseen sales: the
plan was 0, "already shown", and no write went out. The store kept showing 50, one above
truth, and never got the sale."""

from __future__ import annotations

from unit.shopify_sync.fakes import MemorySyncState
from unit.shopify_sync.harness import rig, store

from shopify_sync.domain.quantities import Known, Pending

P, C = "parent.myshopify.com", "child.myshopify.com"
KEY = ("A", "wh-1")


def pending(version: int, quantity: int, **seen: int) -> Pending:
    counters = tuple(sorted((f"{shop}.myshopify.com", n) for shop, n in seen.items()))
    return Pending(version, quantity, quantity, False, counters)


async def test_a_discovery_read_before_a_write_does_not_hide_the_next_sale() -> None:
    async with rig([store(C, "plus")]) as r:
        await r.seed(C, {"A": 0})  # the product exists, no stock yet
        since = await r.state.stamp(C)
        found, method = await r.mapping.read_store(r.stores[C])  # reads A at 0
        await r.state.record(C, {KEY: pending(1, 50, parent=0)})  # the stock import
        await r.writer.push_pending(r.stores[C])
        assert (await r.inventory(C))["A"] == 50
        await r.mapping.save(r.stores[C], found, method, since=since)  # the late answer
        await r.state.record(C, {KEY: pending(2, 49, parent=1)})  # a sale at the parent
        out = await r.writer.push_pending(r.stores[C])
        assert out.applied == 1
        assert (await r.inventory(C))["A"] == 49


async def test_a_late_read_keeps_the_level_a_write_recorded_after_it_began() -> None:
    state = MemorySyncState()
    since = await state.stamp(P)
    await state.applied(P, {KEY: (pending(1, 50), 50)})
    await state.observed(P, {KEY: 0}, since=since)
    assert (await state.known(P, [KEY]))[KEY] == Known(1, 50)
    later = await state.stamp(P)
    await state.observed(P, {KEY: 48}, since=later)  # read after the write: it counts
    assert (await state.known(P, [KEY]))[KEY] == Known(1, 48)
    await state.observed(P, {KEY: 47})  # what the store was just set to: always counts
    assert (await state.known(P, [KEY]))[KEY] == Known(1, 47)
