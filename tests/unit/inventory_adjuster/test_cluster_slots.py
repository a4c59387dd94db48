"""Every key one apply.lua call touches lives in one Redis Cluster hash slot (ADR 0029): a
plain command, a routed one (its hold key) and an order line's reserve (its waiting list)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from inventory_adjuster.adapters.kits import KitStore, part_keys
from inventory_adjuster.adapters.redis_store import (
    RedisInventory,
    offsets_key,
    script_head_keys,
)
from stocksync_common.events import InventoryCommand, OrderLineRef, Route


def _store() -> RedisInventory:
    return RedisInventory(None, "inventory-adjuster", idem_ttl_s=60, ledger_max_len=10)  # type: ignore[arg-type]


def _slots(keys: list[str]) -> set[int]:
    return {key_slot(k.encode()) for k in keys}


def test_an_apply_call_touches_one_slot_whatever_the_command() -> None:
    order = OrderLineRef(shop="a.myshopify.com", order_id="1001", line_id="7")
    commands = [
        InventoryCommand(command="adjust", idempotency_key="wms:1", sku="SKU-1", location="wh",
                         quantity=2),
        InventoryCommand(command="reserve", idempotency_key="shopify:a:order:1001:line:7:reserve",
                         sku="SKU-2", location="wh", quantity=1, order=order),
        InventoryCommand(command="reserve", idempotency_key="k", sku="S{odd}", location="wh",
                         quantity=1, order=order, route=Route(locations=["wh", "store"])),
    ]  # fmt: skip
    for cmd in commands:
        keys = _store()._keys(cmd)
        assert len(keys) == 7 and len(_slots(keys)) == 1, keys


def test_the_offsets_hash_is_not_among_a_scripts_keys() -> None:
    cmd = InventoryCommand(
        command="adjust", idempotency_key="x", sku="SKU-9", location="wh", quantity=1
    )
    keys = _store()._keys(cmd)
    assert offsets_key("inventory-adjuster") not in keys
    # it lives elsewhere: with it, the call would be CROSSSLOT on a cluster
    assert _slots([*keys, offsets_key("inventory-adjuster")]) != _slots(keys)


def test_a_kit_on_a_cluster_runs_in_phases_of_one_slot_each() -> None:
    """kit.lua spans the components' slots: a cluster client applies kits in phases (ADR
    0034), each call in one slot: a component's four keys, the kit's three."""
    cluster = RedisCluster(host="127.0.0.1", port=1)  # never connected
    assert KitStore(cluster, "g", idem_ttl_s=60, ledger_max_len=10).phased  # type: ignore[arg-type]
    single = Redis(host="127.0.0.1", port=1)
    assert not KitStore(single, "g", idem_ttl_s=60, ledger_max_len=10).phased
    for comp in ("A-1", "B{x}", "C-3"):
        keys = part_keys("shopify:a:order:1:line:2:reserve", comp)
        assert len(keys) == 4 and len(_slots(keys)) == 1, keys
    cmd = InventoryCommand(command="reserve", idempotency_key="k", sku="KIT-1", location="wh",
                           quantity=1)  # fmt: skip
    assert len(_slots(script_head_keys(cmd))) == 1
