"""The Redis calls the apply script makes for a plain command (issue #19): none that what it
already read shows to be a no-op (docs/decisions/0014-adjuster-hot-path.md, decision 8).

Counted with INFO commandstats deltas on the Redis that holds the SKU (on a Redis Cluster,
the master of its slot). The counters are the whole server's: these tests assume nothing
else writes to the test Redis while they run (the suite runs one test at a time)."""

import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from inventory_adjuster.adapters.redis_store import (
    Applied,
    DefaultAllocation,
    Position,
    RedisInventory,
    state_key,
)
from stocksync_common.events import InventoryCommand, OrderLineRef, SkuConfig

pytestmark = pytest.mark.integration

# What the script's inner calls may be; EVALSHA, INFO and the client's own are left out.
INNER = ("get", "hgetall", "hset", "hincrby", "hget", "hdel", "exists", "llen", "set", "xadd")


def cmd(
    sku: str, command: str, qty: int, key: str | None = None, loc: str = "wh-1"
) -> InventoryCommand:
    return InventoryCommand(
        command=command,  # type: ignore[arg-type]
        idempotency_key=key or uuid.uuid4().hex,
        sku=sku,
        location=loc,
        quantity=qty,
    )


def at(offset: int, partition: int = 4) -> Position:
    return Position("inventory.commands.v1", partition, offset)


async def calls(redis: Redis, sku: str) -> dict[str, int]:
    """Calls so far per inner command, on the server (the cluster's master) of ``sku``."""
    if isinstance(redis, RedisCluster):
        cluster = cast(RedisCluster, redis)
        await cluster.initialize()  # its slot map (a no-op once it has one)
        node = cluster.get_node_from_key(state_key(sku))
        stats: dict[str, Any] = await cluster.info("commandstats", target_nodes=node)
    else:
        stats = await redis.info("commandstats")
    return {c: int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in INNER}


async def counted(
    store: RedisInventory, sku: str, command: InventoryCommand, pos: Position
) -> tuple[Applied, dict[str, int]]:
    before = await calls(store.redis, sku)
    (r,) = await store.apply_many([(command, pos)])
    after = await calls(store.redis, sku)
    assert isinstance(r, Applied)
    return r, {c: after[c] - before[c] for c in INNER if after[c] != before[c]}


@pytest.fixture
def allocating(redis: Redis) -> RedisInventory:
    """A store as the service runs it: shops listed and the default allocation on."""
    return RedisInventory(
        redis,
        f"g-{uuid.uuid4().hex[:6]}",
        idem_ttl_s=3600,
        ledger_max_len=1000,
        shops=("north.myshopify.com", "south.myshopify.com"),
        allocation=DefaultAllocation(),
    )


@pytest.mark.parametrize("allocation", [False, True])
async def test_a_plain_adjust_makes_only_the_calls_it_needs(
    store: RedisInventory, allocating: RedisInventory, sku: str, allocation: bool
) -> None:
    """GET of its idempotency key, HGETALL, one HSET (levels, version and position), LLEN
    of the waiting list, SET of its result, XADD to the ledger: no HDEL of shares the state
    does not hold, no EXISTS of the hash it just wrote, no HGET of the position it read."""
    s = allocating if allocation else store
    await s.apply_many([(cmd(sku, "set_on_hand", 1000), at(1))])
    r, made = await counted(s, sku, cmd(sku, "adjust", 5), at(2))
    assert r.status == "applied" and r.levels.version == 2
    assert made == {"get": 1, "hgetall": 1, "hset": 1, "llen": 1, "set": 1, "xadd": 1}
    flat = await s.redis.hgetall(state_key(sku))
    assert flat[b"pos"] == b"4:2" and flat[b"version"] == b"2"
    assert flat[b"wh-1|on_hand"] == b"1005"
    assert not {b"shares", b"kitshares", b"kitwants"} & set(flat)


async def test_a_duplicate_reads_the_position_with_the_state(
    store: RedisInventory, sku: str
) -> None:
    """A replay (a later offset, as after a lost offsets hash) moves the position forward
    without an EXISTS or an HGET; an older offset of the same partition leaves it."""
    again = cmd(sku, "adjust", 3, key="dup")
    await store.apply_many([(cmd(sku, "set_on_hand", 10), at(1)), (again, at(2))])
    r, made = await counted(store, sku, again, at(9))
    assert r.status == "duplicate" and r.levels.version == 2
    assert made == {"get": 1, "hgetall": 1, "hset": 1}
    assert await store.redis.hget(state_key(sku), "pos") == b"4:9"
    r, made = await counted(store, sku, again, at(5))
    assert made == {"get": 1, "hgetall": 1}
    assert await store.redis.hget(state_key(sku), "pos") == b"4:9"


async def test_a_duplicate_of_a_forgotten_sku_writes_no_position(
    store: RedisInventory, sku: str
) -> None:
    """The position is only written on a hash that exists: a replay whose state is gone
    (the stored result outlived it) creates no hash holding nothing but "pos"."""
    again = cmd(sku, "adjust", 3, key="dup")
    await store.apply_many([(again, at(1))])
    await store.redis.delete(state_key(sku))
    r, made = await counted(store, sku, again, at(2))
    assert r.status == "duplicate"
    assert made == {"get": 1, "hgetall": 1}
    assert await store.redis.exists(state_key(sku)) == 0


async def test_a_refused_reserve_on_a_new_sku_writes_no_position(
    store: RedisInventory, sku: str
) -> None:
    """A refusal that wrote nothing on the SKU's hash leaves it absent, position included."""
    r, _ = await counted(store, sku, cmd(sku, "reserve", 1), at(1))
    assert r.status == "rejected"
    assert await store.redis.exists(state_key(sku)) == 0
    order = OrderLineRef(shop="north.myshopify.com", order_id="o-1", line_id="1")
    refused = cmd(sku, "reserve", 1).model_copy(update={"order": order})
    r, _ = await counted(store, sku, refused, at(2))
    assert r.status == "rejected"  # its store's sale is counted: the hash exists, with "pos"
    assert await store.redis.hget(state_key(sku), "pos") == b"4:2"


async def test_allocation_ending_still_drops_the_kept_shares(
    allocating: RedisInventory, sku: str
) -> None:
    """The HDEL of shares is skipped only when the state shows none: a SKU that was low
    and is stocked again loses its kept shares."""
    await allocating.apply_many([(cmd(sku, "set_on_hand", 3), at(1))])
    assert await allocating.redis.hexists(state_key(sku), "shares")
    r, made = await counted(allocating, sku, cmd(sku, "adjust", 1000), at(2))
    assert r.status == "applied" and r.levels.shares is None
    assert made.get("hdel") == 1
    assert not await allocating.redis.hexists(state_key(sku), "shares")


async def test_each_result_says_the_skus_available_before_and_after(
    store: RedisInventory, sku: str
) -> None:
    """The result's SKU-wide available before a command (derived from the one after and the
    command's own location since #19) is the sum over every location read before it, the
    one after the sum read after it: across locations, a new location, a refusal, a stale
    count and a safety stock."""
    order = OrderLineRef(shop="north.myshopify.com", order_id="o-1", line_id="1")
    stale = cmd(sku, "set_on_hand", 50, loc="wh-2").model_copy(
        update={"as_of": datetime(2020, 1, 1, tzinfo=UTC)}
    )
    steps = [
        cmd(sku, "adjust", 4),
        cmd(sku, "set_on_hand", 10, loc="wh-2"),
        cmd(sku, "reserve", 3, loc="wh-2").model_copy(update={"order": order}),
        cmd(sku, "reserve", 99),  # refused: nothing moves
        cmd(sku, "set_on_hand", 7, loc="store-3"),
        stale,  # older than wh-2's count: stale, nothing moves
        cmd(sku, "configure", 0, loc="store-3").model_copy(
            update={"config": SkuConfig(safety_stock=2)}
        ),
        cmd(sku, "commit", 2, loc="wh-2"),
        cmd(sku, "adjust", -6),
        cmd(sku, "release", 1, loc="wh-2"),
    ]
    statuses = []
    for i, step in enumerate(steps):
        before = await store.levels(sku)
        (r,) = await store.apply_many([(step, at(i))])
        assert isinstance(r, Applied)
        after = await store.levels(sku)
        assert after is not None
        statuses.append(r.result["status"])
        assert r.result["sku_available_before"] == (before.available if before else 0), step
        assert r.result["sku_available_after"] == after.available, step
    assert statuses == ["applied"] * 3 + ["rejected", "applied", "stale"] + ["applied"] * 4
