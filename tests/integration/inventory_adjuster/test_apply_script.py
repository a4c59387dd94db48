"""The apply script on a real Redis: atomic, idempotent, ledgered, offset-recording."""

import uuid

import pytest

from inventory_adjuster.adapters.redis_store import Applied, Invalid, Position, RedisInventory
from stocksync_common.events import InventoryCommand

pytestmark = pytest.mark.integration


def cmd(sku, command, qty, key=None, loc="wh-1"):
    return InventoryCommand(
        command=command,
        idempotency_key=key or uuid.uuid4().hex,
        sku=sku,
        location=loc,
        quantity=qty,
    )


@pytest.fixture
def sku():
    return f"IT-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(redis):
    return RedisInventory(redis, f"g-{uuid.uuid4().hex[:6]}", idem_ttl_s=3600, ledger_max_len=1000)


async def apply(store, *cmds, pos=None):
    return await store.apply_many([(c, pos) for c in cmds])


async def test_reserve_release_commit_move_the_right_counters(store, sku):
    await apply(store, cmd(sku, "set_on_hand", 10), cmd(sku, "reserve", 3), cmd(sku, "release", 1))
    (r,) = await apply(store, cmd(sku, "commit", 2))
    assert isinstance(r, Applied) and r.status == "applied"
    assert r.result["after"] == {"on_hand": 8, "reserved": 0, "safety_stock": 0, "available": 8}
    levels = await store.levels(sku)
    assert levels is not None and levels.available == 8 and levels.version == 4


async def test_duplicate_is_not_applied_twice_and_returns_the_first_result(store, sku):
    first = cmd(sku, "set_on_hand", 5)
    again = cmd(sku, "reserve", 2, key="dup-key")
    r1 = await apply(store, first, again)
    (r2,) = await apply(store, again)
    assert isinstance(r2, Applied) and r2.status == "duplicate"
    assert r2.result == r1[1].result  # type: ignore[union-attr]
    levels = await store.levels(sku)
    assert levels is not None and levels.available == 3 and levels.version == 2


async def test_reject_policy_refuses_a_reservation_beyond_stock(store, sku):
    (_, ok, refused) = await apply(
        store, cmd(sku, "set_on_hand", 2), cmd(sku, "reserve", 2), cmd(sku, "reserve", 1)
    )
    assert isinstance(refused, Applied) and refused.result["status"] == "rejected"
    levels = await store.levels(sku)
    assert levels is not None and levels.available == 0 and levels.locations["wh-1"].reserved == 2


async def test_ledger_sums_equal_state(store, sku):
    await apply(
        store,
        cmd(sku, "set_on_hand", 7),
        cmd(sku, "reserve", 4),
        cmd(sku, "reserve", 9),
        cmd(sku, "commit", 1),
        cmd(sku, "adjust", -2),
    )
    entries = await store.ledger(sku)
    assert [e["command"] for e in entries] == [
        "set_on_hand",
        "reserve",
        "reserve",
        "commit",
        "adjust",
    ]
    assert [e["status"] for e in entries][2] == "rejected"
    levels = await store.levels(sku)
    assert levels is not None
    assert sum(int(e["d_on_hand"]) for e in entries) == levels.locations["wh-1"].on_hand == 4
    assert sum(int(e["d_reserved"]) for e in entries) == levels.locations["wh-1"].reserved == 3


async def test_consumed_offset_is_recorded_with_the_change(store, sku):
    await apply(store, cmd(sku, "adjust", 1), pos=Position("inventory.commands.v1", 4, 41))
    await apply(store, cmd(sku, "adjust", 1), pos=Position("inventory.commands.v1", 4, 40))
    assert (await store.stored_offsets()) == {"inventory.commands.v1:4": 41}


async def test_invalid_quantity_is_reported_not_applied(store, sku):
    bad = InventoryCommand.model_construct(
        command="reserve", idempotency_key="x", sku=sku, location="wh-1", quantity=-1
    )
    (r,) = await apply(store, bad)
    assert isinstance(r, Invalid) and "negative" in r.reason
    assert await store.levels(sku) is None
