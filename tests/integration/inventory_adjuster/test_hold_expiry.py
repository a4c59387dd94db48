"""Holds expire (ADR 0035): a routed line's hold (``inv:{sku}:hold:...``) outlives the last
command that wrote it by the hold TTL, and a parked hold (a field of ``inv:{sku}:waited``)
is swept once parked longer than that, while a younger one stays and still joins its
line's hold."""

import time
import uuid

import orjson
import pytest

from inventory_adjuster.adapters.redis_store import (
    Applied,
    RedisInventory,
    hold_key,
    waited_key,
)
from stocksync_common.events import InventoryCommand, OrderLineRef, Route

pytestmark = pytest.mark.integration

SHOP = "h.myshopify.com"
TTL_S = 7200


@pytest.fixture
def store(redis):
    return RedisInventory(
        redis, f"g-{uuid.uuid4().hex[:6]}", idem_ttl_s=3600, ledger_max_len=100, hold_ttl_s=TTL_S
    )


def command(sku: str, command: str, qty: int, *, line: str | None = None,
            loc: str = "wh-1") -> InventoryCommand:  # fmt: skip
    order = OrderLineRef(shop=SHOP, order_id="o-" + line, line_id=line) if line else None
    route = Route(locations=["wh-1", "wh-2"]) if line else None
    return InventoryCommand(
        command=command,  # type: ignore[arg-type]
        idempotency_key=f"{command}:{line}:{uuid.uuid4().hex}",
        sku=sku,
        location=loc,
        quantity=qty,
        order=order,
        route=route,
    )


async def apply(store: RedisInventory, *cmds: InventoryCommand) -> list[Applied]:
    out = await store.apply_many([(c, None) for c in cmds])
    assert all(isinstance(r, Applied) for r in out)
    return out  # type: ignore[return-value]


async def test_a_hold_expires_the_hold_ttl_after_its_last_write(store, sku, redis):
    reserve = command(sku, "reserve", 2, line="a")
    await apply(store, command(sku, "set_on_hand", 5), reserve)
    key = hold_key(reserve)
    assert await redis.hgetall(key) == {b"wh-1": b"2"}
    ttl = await redis.ttl(key)
    assert TTL_S - 60 <= ttl <= TTL_S
    # a later write sets it again (here after the expiry was shortened by hand)
    await redis.expire(key, 10)
    await apply(store, command(sku, "release", 1, line="a"))
    assert await redis.ttl(key) > TTL_S - 60


async def test_a_parked_hold_older_than_the_ttl_is_swept_a_younger_one_is_kept(store, sku, redis):
    await apply(store, command(sku, "set_on_hand", 0), command(sku, "set_on_hand", 0, loc="wh-2"))
    # line "old" was parked more than the TTL ago (and its order forgotten since), line
    # "legacy" before parked holds carried a time
    stale_ms = int(time.time() * 1000) - (TTL_S + 60) * 1000
    await redis.hset(
        waited_key(sku),
        mapping={
            f"{SHOP}:o-old:old": orjson.dumps({"at": {"wh-1": 1}, "t": stale_ms}),
            f"{SHOP}:o-legacy:legacy": orjson.dumps({"wh-2": 1}),
        },
    )
    (refused,) = await apply(store, command(sku, "reserve", 2, line="new"))
    assert refused.result["waiting"] is True
    (served,) = await apply(store, command(sku, "adjust", 2))
    assert [s["order"]["line_id"] for s in served.result["served"]] == ["new"]

    stored = await redis.hgetall(waited_key(sku))
    parked = {k.decode(): orjson.loads(v) for k, v in stored.items()}
    assert f"{SHOP}:o-old:old" not in parked
    assert parked[f"{SHOP}:o-new:new"]["at"] == {"wh-1": 2}
    assert parked[f"{SHOP}:o-legacy:legacy"]["at"] == {"wh-2": 1}  # its clock starts now
    assert abs(parked[f"{SHOP}:o-legacy:legacy"]["t"] - time.time() * 1000) < 60_000
    assert TTL_S - 60 <= await redis.ttl(waited_key(sku)) <= TTL_S

    # the kept ones still join their lines' holds, in either format
    (rel,) = await apply(store, command(sku, "release", 2, line="new"))
    assert rel.result["routed"] == {"wh-1": 2}
    (rel2,) = await apply(store, command(sku, "release", 1, line="legacy"))
    assert rel2.result["routed"] == {"wh-2": 1}
    assert await redis.exists(waited_key(sku)) == 0
