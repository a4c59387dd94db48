"""The apply script on a real Redis: atomic, idempotent, ledgered, position-recording."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from inventory_adjuster.adapters.redis_store import Applied, Invalid, Position, RedisInventory
from stocksync_common.events import InventoryCommand, OrderLineRef, SkuConfig

pytestmark = pytest.mark.integration


def cmd(sku, command, qty, key=None, loc="wh-1"):
    return InventoryCommand(
        command=command,
        idempotency_key=key or uuid.uuid4().hex,
        sku=sku,
        location=loc,
        quantity=qty,
    )


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


def at(offset, partition=4):
    return Position("inventory.commands.v1", partition, offset)


async def test_consumed_offset_is_recorded_after_its_script_returned(store, sku):
    """ADR 0029: the offset is a separate write at the head of the next pipeline, only for
    commands the handler saw handled, never lowered by an older one."""
    await apply(store, cmd(sku, "adjust", 1), pos=at(41))
    assert (await store.stored_offsets()) == {}  # not before its script was seen to return
    store.handled([at(41), at(40), at(7, partition=2)])
    await apply(store, cmd(sku, "adjust", 1), pos=at(42))
    assert (await store.stored_offsets()) == {
        "inventory.commands.v1:4": 41,
        "inventory.commands.v1:2": 7,
    }
    store.handled([at(42)])
    await apply(store)  # nothing to apply: nothing written
    assert (await store.stored_offsets())["inventory.commands.v1:4"] == 41
    levels = await store.levels(sku)
    assert levels is not None and levels.locations["wh-1"].on_hand == 2


async def test_idempotency_keys_alone_keep_a_replay_from_anywhere_exact(store, sku):
    """ADR 0003 as amended by ADR 0029: the offsets hash is best-effort; a consumer that
    lost it (or finds it behind) reads from an earlier offset and every command it already
    applied is a duplicate: levels, version and ledger stay as they were."""
    stream = [
        cmd(sku, "set_on_hand", 9),
        cmd(sku, "reserve", 4),
        cmd(sku, "adjust", -1),
        cmd(sku, "commit", 2),
        cmd(sku, "release", 1),
    ]
    first = await store.apply_many([(c, at(i)) for i, c in enumerate(stream)])
    store.handled([at(i) for i in range(len(stream))])
    before = (await store.levels(sku), len(await store.ledger(sku)))
    await store.redis.delete(f"offsets:{{{store.group}}}")  # the best-effort write lost
    again = await store.apply_many([(c, at(i)) for i, c in enumerate(stream)])
    assert [r.status for r in again] == ["duplicate"] * len(stream)  # type: ignore[union-attr]
    assert [r.result for r in again] == [r.result for r in first]  # type: ignore[union-attr]
    assert (await store.levels(sku), len(await store.ledger(sku))) == before
    assert (await store.stored_offsets()) == {"inventory.commands.v1:4": 4}


async def test_invalid_quantity_is_reported_not_applied(store, sku):
    bad = InventoryCommand.model_construct(
        command="reserve", idempotency_key="x", sku=sku, location="wh-1", quantity=-1
    )
    (r,) = await apply(store, bad)
    assert isinstance(r, Invalid) and "negative" in r.reason
    assert await store.levels(sku) is None


def configure(sku, loc="wh-1", **cfg):
    return InventoryCommand(
        command="configure",
        idempotency_key=uuid.uuid4().hex,
        sku=sku,
        location=loc,
        quantity=0,
        config=SkuConfig(**cfg),
    )


def reserve_from(sku, shop, qty):
    return InventoryCommand(
        command="reserve",
        idempotency_key=uuid.uuid4().hex,
        sku=sku,
        location="wh-1",
        quantity=qty,
        order=OrderLineRef(shop=shop, order_id="1"),
    )


async def test_backorder_policy_lets_available_go_negative_and_flags_it(store, sku):
    await apply(store, cmd(sku, "set_on_hand", 1), configure(sku, policy="backorder"))
    (r,) = await apply(store, cmd(sku, "reserve", 3))
    assert isinstance(r, Applied) and r.result["status"] == "applied"
    assert r.result["backordered"] is True
    assert r.levels.available == -2


async def test_safety_stock_holds_units_back(store, sku):
    await apply(store, cmd(sku, "set_on_hand", 5), configure(sku, safety_stock=2))
    (ok, refused) = await apply(store, cmd(sku, "reserve", 3), cmd(sku, "reserve", 1))
    assert isinstance(refused, Applied) and refused.result["status"] == "rejected"
    levels = await store.levels(sku)
    assert levels is not None and levels.available == 0
    assert levels.locations["wh-1"].safety_stock == 2


async def server_ms(redis) -> int:
    sec, usec = await redis.time()
    return int(sec) * 1000 + int(usec) // 1000


async def test_cycle_count_honours_moves_applied_after_it_was_taken(store, sku, redis):
    await apply(store, cmd(sku, "set_on_hand", 10))
    # The ledger's clock is Redis' (ms); "after the count" means a later millisecond there.
    taken_ms = await server_ms(redis)
    taken = datetime.fromtimestamp(taken_ms / 1000, UTC)
    deadline = time.monotonic() + 5
    while await server_ms(redis) <= taken_ms:
        assert time.monotonic() < deadline
    # after the count was taken: a shipment of 2 and a receipt of 5 were applied
    await apply(store, cmd(sku, "reserve", 2))
    await apply(store, cmd(sku, "commit", 2), cmd(sku, "adjust", 5))
    count = cmd(sku, "set_on_hand", 7).model_copy(update={"as_of": taken})
    (r,) = await apply(store, count)
    assert isinstance(r, Applied) and r.result["status"] == "applied"
    # counted 7 at `taken`; since then -2 shipped and +5 received
    assert r.result["after"]["on_hand"] == 10


async def test_an_older_count_than_the_last_one_is_stale(store, sku):
    now = datetime.now(UTC)
    newer = cmd(sku, "set_on_hand", 4).model_copy(update={"as_of": now})
    older = cmd(sku, "set_on_hand", 9).model_copy(update={"as_of": now - timedelta(minutes=5)})
    (_, r) = await apply(store, newer, older)
    assert isinstance(r, Applied) and r.result["status"] == "stale"
    levels = await store.levels(sku)
    assert levels is not None and levels.locations["wh-1"].on_hand == 4


async def test_low_stock_is_split_into_shares_that_follow_sales(redis, sku):
    shops = ["a.myshopify.com", "b.myshopify.com", "c.myshopify.com"]
    store = RedisInventory(redis, "g", idem_ttl_s=60, ledger_max_len=100, shops=shops)
    await apply(store, cmd(sku, "set_on_hand", 100), configure(sku, allocation_threshold=20))
    for _ in range(6):
        await apply(store, reserve_from(sku, "a.myshopify.com", 10))
    (r,) = await apply(store, reserve_from(sku, "b.myshopify.com", 30))
    assert isinstance(r, Applied) and r.levels.available == 10
    shares = r.result["shares"]
    assert sum(shares.values()) == 10
    assert shares["a.myshopify.com"] > shares["b.myshopify.com"] > shares["c.myshopify.com"]
    assert (await store.levels(sku)).shares == shares  # type: ignore[union-attr]


async def test_no_shares_above_the_threshold(redis, sku):
    store = RedisInventory(redis, "g", idem_ttl_s=60, ledger_max_len=100, shops=["a.myshopify.com"])
    (_, r) = await apply(store, configure(sku, allocation_threshold=5), cmd(sku, "set_on_hand", 50))
    assert isinstance(r, Applied) and r.result["shares"] is None


async def test_script_cache_loss_is_recovered_with_a_reload(store, sku, redis):
    await apply(store, cmd(sku, "set_on_hand", 3))
    await redis.script_flush()  # as after a Redis restart or failover
    (r,) = await apply(store, cmd(sku, "reserve", 1))
    assert isinstance(r, Applied) and r.result["status"] == "applied"
    assert (await store.levels(sku)).available == 2  # type: ignore[union-attr]
