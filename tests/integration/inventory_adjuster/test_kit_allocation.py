"""A kit over components under channel allocation never oversells (ADR 0040): the kit's
change carries shares, and for every component c what the stores are shown of it directly
and through the kit never exceeds what it has: sum_s(share_c(s) + q_c * kit_share(s)) <=
available_c. Real broker (the handler's own topics) and Redis (database 5); the kit applied
in one script and in one-slot phases (ADR 0034)."""

from __future__ import annotations

import uuid

import pytest

from inventory_adjuster.adapters.kits import KitStore
from inventory_adjuster.adapters.redis_store import DefaultAllocation, RedisInventory
from inventory_adjuster.handlers import CommandHandler
from inventory_adjuster.rebuild import read_to_end
from stocksync_common.events import (
    InventoryChanged,
    InventoryLevelsUpdated,
    OrderLineRef,
    SkuConfig,
    StockChange,
    decode,
)
from stocksync_common.kafka import make_producer, publish_event
from support.rebuild_topics import Topics, command, handle_all

pytestmark = [pytest.mark.integration]

SHOPS = ["s1.myshopify.com", "s2.myshopify.com", "s3.myshopify.com"]


def order(shop: str) -> OrderLineRef:
    return OrderLineRef(shop=shop, order_id=uuid.uuid4().hex[:8], line_id="1")


async def latest(kafka: str, topics: Topics) -> tuple[dict[str, StockChange], dict[str, object]]:
    """The last change and the last levels record of every SKU (a SKU's records are in
    order on its partition)."""
    changes: dict[str, StockChange] = {}
    levels: dict[str, object] = {}

    def changed(records):
        for r in records:
            event = decode(r.value)
            if isinstance(event, InventoryChanged):
                changes[event.payload.sku] = event.payload

    def leveled(records):
        for r in records:
            event = decode(r.value)
            if isinstance(event, InventoryLevelsUpdated):
                levels[event.payload.sku] = event.payload

    await read_to_end(kafka, topics.changed, changed)
    await read_to_end(kafka, topics.levels, leveled)
    return changes, levels


def shown(change: StockChange, shop: str) -> int:
    """What shopify-sync writes a store for this change (domain.quantities.publish_quantity)."""
    if change.shares is not None:
        return max(0, change.shares.get(shop, 0))
    return max(0, change.after.available)


def exposure(parts: dict[str, int], kit: str, changes: dict[str, StockChange]) -> dict[str, int]:
    """Per component, the units every store can sell of it, directly and through the kit."""
    return {
        c: sum(shown(changes[c], s) + q * shown(changes[kit], s) for s in SHOPS)
        for c, q in parts.items()
    }


@pytest.mark.parametrize("phased", [False, True], ids=["one-script", "phased"])
async def test_a_kit_over_allocated_components_is_shared_out_with_them(
    kafka_bootstrap: str, redis5, handler_topics: Topics, phased: bool
) -> None:
    run = uuid.uuid4().hex[:8]
    a, b, kit = f"KA-{run}", f"KB-{run}", f"KK-{run}"
    parts = {a: 2, b: 1}
    allocation = DefaultAllocation()  # 4 units per store: 12 for three stores
    store = RedisInventory(
        redis5, f"ka-{run}", idem_ttl_s=600, ledger_max_len=100, shops=SHOPS, allocation=allocation
    )
    kits = KitStore(
        redis5,
        f"ka-{run}",
        idem_ttl_s=600,
        ledger_max_len=100,
        phased=phased,
        shops=SHOPS,
        allocation=allocation,
    )
    producer = make_producer(kafka_bootstrap, f"it-kit-alloc-{run}")
    await producer.start()
    handler = CommandHandler(store, producer, kits)
    handled = dict.fromkeys(range(3), -1)

    async def run_commands(*events) -> None:
        for event in events:
            await publish_event(
                producer, handler_topics.commands, event.payload.sku, event, timeout_s=10
            )
        await handle_all(kafka_bootstrap, handler_topics.commands, handler, after=dict(handled))
        offsets: dict[int, int] = {}

        def note(records):
            for r in records:
                offsets[r.partition] = max(offsets.get(r.partition, -1), r.offset)

        await read_to_end(kafka_bootstrap, handler_topics.commands, note)
        handled.update(offsets)

    def key() -> str:
        return uuid.uuid4().hex

    try:
        await run_commands(
            command(a, "set_on_hand", 10, key()),
            command(b, "set_on_hand", 6, key()),
            command(kit, "configure", 0, key(), config=SkuConfig(kit_components=parts)),
        )
        # sales from several stores: the components are low, so they are shared out
        await run_commands(
            command(a, "reserve", 1, key(), order=order(SHOPS[0])),
            command(b, "reserve", 1, key(), order=order(SHOPS[1])),
            command(a, "reserve", 1, key(), order=order(SHOPS[1])),
        )
        changes, levels = await latest(kafka_bootstrap, handler_topics)
        assert changes[a].sku_available_after == 8 and changes[b].sku_available_after == 5
        assert changes[a].shares is not None and changes[b].shares is not None
        shown_units = exposure(parts, kit, changes)
        assert shown_units[a] <= 8 and shown_units[b] <= 5, shown_units
        assert changes[kit].shares is not None, "the kit's change carries no shares"
        # and every unit is on sale in some store, directly or in a kit (none stranded)
        assert shown_units == {a: 8, b: 5}

        # a kit sold in a third store: the components' changes after it are shared out too
        await run_commands(command(kit, "reserve", 1, key(), order=order(SHOPS[2])))
        changes, levels = await latest(kafka_bootstrap, handler_topics)
        assert changes[a].sku_available_after == 6 and changes[b].sku_available_after == 4
        for c in parts:
            assert changes[c].shares is not None, f"{c}: a kit's move publishes no shares"
            assert getattr(levels[c], "shares", None) == changes[c].shares
        shown_units = exposure(parts, kit, changes)
        assert shown_units[a] <= 6 and shown_units[b] <= 4, shown_units
        assert shown_units == {a: 6, b: 4}
        kit_shares = changes[kit].shares
        assert kit_shares is not None and kit_shares[SHOPS[2]] >= 1  # the kit still sells
        direct = changes[a].shares
        assert direct is not None and sum(direct.values()) >= 1  # and the component on its own
    finally:
        await producer.stop()
