"""The apply script's side of the flash-sale promise, on a real Redis: each shop's applied
orders counted per location (shopify-sync's unseen-sales accounting), a default channel
allocation for SKUs nobody configured, and share moves in the ledger."""

import uuid

import pytest

from inventory_adjuster.adapters.redis_store import Applied, DefaultAllocation, RedisInventory
from stocksync_common.events import InventoryCommand, OrderLineRef, SkuConfig

pytestmark = pytest.mark.integration

A, B, C = "a.myshopify.com", "b.myshopify.com", "c.myshopify.com"


def command(sku, name, qty, shop=None, **extra):
    return InventoryCommand(
        command=name,
        idempotency_key=uuid.uuid4().hex,
        sku=sku,
        location="wh-1",
        quantity=qty,
        order=OrderLineRef(shop=shop, order_id="1") if shop else None,
        **extra,
    )


@pytest.fixture
def sku():
    return f"DA-{uuid.uuid4().hex[:10]}"


DEFAULT = DefaultAllocation()


def store_of(redis, allocation=DEFAULT):
    return RedisInventory(
        redis, "g", idem_ttl_s=60, ledger_max_len=100, shops=[A, B, C], allocation=allocation
    )


async def one(store, c) -> Applied:
    (r,) = await store.apply_many([(c, None)])
    assert isinstance(r, Applied)
    return r


async def test_each_shops_orders_are_counted_refused_ones_too_and_never_less(redis, sku):
    """A release (a cancellation, an edit, a refund) does not say whether the store's count
    came back, so it leaves the counter alone: counting it would make a store that did not
    restock look as if it had unseen sales, held below truth for good (the fault suite)."""
    store = store_of(redis)
    await one(store, command(sku, "set_on_hand", 3))
    r = await one(store, command(sku, "reserve", 2, A))
    assert r.result["seen"] == {A: 2}
    refused = await one(store, command(sku, "reserve", 5, B))
    assert refused.status == "rejected" and refused.result["seen"] == {A: 2, B: 5}
    r = await one(store, command(sku, "release", 1, A))
    assert r.result["seen"] == {A: 2, B: 5}
    r = await one(store, command(sku, "adjust", 4, A))  # a return restocked
    assert r.result["seen"] == {A: 2, B: 5}
    levels = await store.levels(sku)
    assert levels is not None and levels.seen == {"wh-1": {A: 2, B: 5}}


async def test_no_shop_has_sold_yet_reads_as_every_counter_at_zero(redis, sku):
    r = await one(store_of(redis), command(sku, "set_on_hand", 50))
    assert r.result["seen"] == {}  # known and empty, not unknown


async def test_low_stock_is_allocated_by_default_and_ample_stock_is_not(redis, sku):
    store = store_of(redis)
    ample = await one(store, command(sku, "set_on_hand", 30))
    assert ample.result["shares"] is None  # tens of units, no recent sales: truth everywhere
    low = await one(store, command(f"{sku}-low", "set_on_hand", 11))
    shares = low.result["shares"]
    assert shares is not None and sum(shares.values()) == 11  # under 4 per store


async def test_recent_demand_starts_allocation_before_stock_is_low_for_the_stores(redis, sku):
    """Ten units sold in a burst with 20 left: three times the recent demand (30) is above
    20, so the stores are given shares now, while a sync window cannot sell 20."""
    store = store_of(redis)
    await one(store, command(sku, "set_on_hand", 30))
    last = None
    for i in range(10):
        last = await one(store, command(sku, "reserve", 1, A if i % 3 else B))
    assert last is not None and last.levels.available == 20
    assert last.result["shares"] is not None and sum(last.result["shares"].values()) == 20


async def test_a_configured_threshold_overrides_the_default_even_zero(redis, sku):
    store = store_of(redis)
    await one(store, command(sku, "configure", 0, config=SkuConfig(allocation_threshold=0)))
    r = await one(store, command(sku, "set_on_hand", 2))
    assert r.result["shares"] is None


async def test_without_the_default_nothing_is_allocated_unless_configured(redis, sku):
    r = await one(store_of(redis, allocation=None), command(sku, "set_on_hand", 2))
    assert r.result["shares"] is None


async def test_shares_that_move_between_stores_are_ledger_entries(redis, sku):
    store = store_of(redis)
    await one(store, command(sku, "set_on_hand", 9))  # 3 / 3 / 3
    moved = 0
    for _ in range(3):  # A sells: its weight grows, C's share goes to it
        moved += (await one(store, command(sku, "reserve", 1, A))).result["moved"]
    assert moved > 0
    entries = await redis.xrange(f"inv:{{{sku}}}:ledger")
    moves = [f for _, f in entries if f[b"command"] == b"share_move"]
    assert sum(int(f[b"quantity"]) for f in moves) == moved
    assert all(b"shares" in f for f in moves)
