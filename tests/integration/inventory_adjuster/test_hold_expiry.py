"""Holds expire (ADR 0035): a routed line's hold (``inv:{sku}:hold:...``) outlives the last
command that wrote it by the hold TTL, and a parked hold (a field of ``inv:{sku}:waited``)
is swept once parked longer than that, while a younger one stays and still joins its
line's hold."""

import time
import uuid

import orjson
import pytest
from integration.inventory_adjuster.test_waiting_list import SHOP, apply, cmd, routed

from inventory_adjuster.adapters.redis_store import RedisInventory, hold_key, waited_key

pytestmark = pytest.mark.integration
TTL_S = 7200


@pytest.fixture
def store(redis):
    return RedisInventory(
        redis, f"g-{uuid.uuid4().hex[:6]}", idem_ttl_s=3600, ledger_max_len=100, hold_ttl_s=TTL_S
    )


async def test_a_hold_expires_the_hold_ttl_after_its_last_write(store, sku, redis):
    reserve = routed(sku, "reserve", 2, "a")
    await apply(store, cmd(sku, "set_on_hand", 5), reserve)
    key = hold_key(reserve)
    assert await redis.hgetall(key) == {b"wh-1": b"2"}
    ttl = await redis.ttl(key)
    assert TTL_S - 60 <= ttl <= TTL_S
    # a later write sets it again (here after the expiry was shortened by hand)
    await redis.expire(key, 10)
    await apply(store, routed(sku, "release", 1, "a"))
    assert await redis.ttl(key) > TTL_S - 60


async def test_a_parked_hold_older_than_the_ttl_is_swept_a_younger_one_is_kept(store, sku, redis):
    await apply(store, cmd(sku, "set_on_hand", 0), cmd(sku, "set_on_hand", 0, loc="wh-2"))
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
    (refused,) = await apply(store, routed(sku, "reserve", 2, "new"))
    assert refused.result["waiting"] is True
    (served,) = await apply(store, cmd(sku, "adjust", 2))
    assert [s["order"]["line_id"] for s in served.result["served"]] == ["new"]

    stored = await redis.hgetall(waited_key(sku))
    parked = {k.decode(): orjson.loads(v) for k, v in stored.items()}
    assert f"{SHOP}:o-old:old" not in parked
    assert parked[f"{SHOP}:o-new:new"]["at"] == {"wh-1": 2}
    assert parked[f"{SHOP}:o-legacy:legacy"]["at"] == {"wh-2": 1}  # its clock starts now
    assert abs(parked[f"{SHOP}:o-legacy:legacy"]["t"] - time.time() * 1000) < 60_000
    assert TTL_S - 60 <= await redis.ttl(waited_key(sku)) <= TTL_S

    # the kept ones still join their lines' holds, in either format
    (rel,) = await apply(store, routed(sku, "release", 2, "new"))
    assert rel.result["routed"] == {"wh-1": 2}
    (rel2,) = await apply(store, routed(sku, "release", 1, "legacy"))
    assert rel2.result["routed"] == {"wh-2": 1}
    assert await redis.exists(waited_key(sku)) == 0
