"""Every key one apply.lua call touches lives in one Redis Cluster hash slot (ADR 0029): a
plain command, a routed one (its hold key) and an order line's reserve (its waiting list)."""

from __future__ import annotations

from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from inventory_adjuster.adapters.kits import ACROSS_SLOTS, KitStore
from inventory_adjuster.adapters.redis_store import Invalid, RedisInventory, offsets_key
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


async def test_a_kit_command_on_a_cluster_is_refused_with_its_reason_before_any_call() -> None:
    """kit.lua spans the components' slots: on a cluster the command is poison (dead-lettered
    with this reason, replayable once the ADR 0029 design is built), never a CROSSSLOT retry."""
    cluster = RedisCluster(host="127.0.0.1", port=1)  # never connected: refused before I/O
    kits = KitStore(cluster, "g", idem_ttl_s=60, ledger_max_len=10)  # type: ignore[arg-type]
    cmd = InventoryCommand(command="reserve", idempotency_key="k", sku="KIT-1", location="wh",
                           quantity=1)  # fmt: skip
    result = await kits.apply(cmd, None, [("A-1", 2), ("B-1", 1)])
    assert result == Invalid(ACROSS_SLOTS)
