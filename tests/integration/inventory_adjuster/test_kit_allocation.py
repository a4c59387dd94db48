"""A kit over components under channel allocation never oversells (ADR 0040): the kit's
change carries shares, and for every component c what the stores are shown of it directly
and through the kit never exceeds what it has: sum_s(share_c(s) + q_c * kit_share(s)) <=
available_c. Real broker (the handler's own topics) and Redis (database 5); the kit applied
in one script and in one-slot phases (ADR 0034)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from inventory_adjuster.adapters.kits import KitStore
from inventory_adjuster.adapters.redis_store import DefaultAllocation, RedisInventory
from inventory_adjuster.handlers import CommandHandler
from inventory_adjuster.rebuild import read_to_end
from stocksync_common.events import (
    InventoryChanged,
    InventoryLevelsUpdated,
    KitPart,
    OrderLineRef,
    SkuConfig,
    StockChange,
    decode,
)
from stocksync_common.kafka import make_producer, publish_event
from support.infra import REDIS_CLUSTER
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


def carries_its_kit_part(parts: dict[str, int], kit: str, changes: dict[str, StockChange]) -> None:
    """Every allocated component's change says, per store, what its budget holds for the
    kit (``kit_parts``, what shopify-sync's cross-SKU gate reads): its units per kit, and a
    part the kit's share there never exceeds (the kit's share is the least part)."""
    kit_shares = changes[kit].shares or {}
    for c, q in parts.items():
        if changes[c].shares is None:
            assert changes[c].kit_parts is None, f"{c}: not allocated, yet kit parts"
            continue
        carried = (changes[c].kit_parts or {}).get(kit)
        assert carried is not None, f"{c}: its change carries no part for the kit"
        assert carried.units == q
        for s in SHOPS:
            assert kit_shares.get(s, 0) <= carried.shares.get(s, 0), (c, s, carried)
        # and the kit's change says what it came from: the component's split, as published
        derived = (changes[kit].kit_components or {}).get(c)
        assert derived is not None, f"the kit's change carries no {c}"
        assert derived.units == q and derived.shares == changes[c].shares
        assert derived.kit_parts == changes[c].kit_parts


class Rig:
    """The handler as the adjuster runs it (three stores, the default allocation) on the
    test's own topics: commands published, then handled as the consumer loop would."""

    def __init__(self, kafka: str, redis, topics: Topics, *, phased: bool = False) -> None:
        run = uuid.uuid4().hex[:8]
        allocation = DefaultAllocation()  # 4 units per store: 12 for three stores
        self.kafka, self.topics = kafka, topics
        self.store = RedisInventory(
            redis, f"ka-{run}", idem_ttl_s=600, ledger_max_len=100, shops=SHOPS,
            allocation=allocation,
        )  # fmt: skip
        self.kits = KitStore(
            redis, f"ka-{run}", idem_ttl_s=600, ledger_max_len=100, phased=phased, shops=SHOPS,
            allocation=allocation,
        )  # fmt: skip
        self.producer = make_producer(kafka, f"it-kit-alloc-{run}")
        self.handler = CommandHandler(self.store, self.producer, self.kits)
        self.handled = dict.fromkeys(range(3), -1)

    async def run(self, *events) -> None:
        for event in events:
            await publish_event(
                self.producer, self.topics.commands, event.payload.sku, event, timeout_s=10
            )
        await handle_all(self.kafka, self.topics.commands, self.handler, after=dict(self.handled))
        offsets: dict[int, int] = {}

        def note(records):
            for r in records:
                offsets[r.partition] = max(offsets.get(r.partition, -1), r.offset)

        await read_to_end(self.kafka, self.topics.commands, note)
        self.handled.update(offsets)


@pytest.fixture
async def rig(kafka_bootstrap: str, redis5, handler_topics: Topics, request) -> AsyncIterator[Rig]:
    phased = getattr(request, "param", None)
    if REDIS_CLUSTER and phased is False:
        pytest.skip("kit.lua spans hash slots: one Redis only (ADR 0034)")
    rig = Rig(kafka_bootstrap, redis5, handler_topics, phased=bool(phased))
    await rig.producer.start()
    try:
        yield rig
    finally:
        await rig.producer.stop()


def key() -> str:
    return uuid.uuid4().hex


@pytest.mark.parametrize("rig", [False, True], ids=["one-script", "phased"], indirect=True)
async def test_a_kit_over_allocated_components_is_shared_out_with_them(
    kafka_bootstrap: str, handler_topics: Topics, rig: Rig
) -> None:
    run = uuid.uuid4().hex[:8]
    a, b, kit = f"KA-{run}", f"KB-{run}", f"KK-{run}"
    parts = {a: 2, b: 1}
    run_commands = rig.run
    await run_commands(
        command(a, "set_on_hand", 10, key()),
        command(b, "set_on_hand", 6, key()),
        command(kit, "configure", 0, key(), config=SkuConfig(kit_components=parts)),
    )
    changes, _ = await latest(kafka_bootstrap, handler_topics)  # the kit defined: shared out
    kit_shares = changes[kit].shares
    assert kit_shares is not None and sum(kit_shares.values()) >= 1
    assert exposure(parts, kit, changes) == {a: 10, b: 6}
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
    carries_its_kit_part(parts, kit, changes)

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
    carries_its_kit_part(parts, kit, changes)
    direct = changes[a].shares
    assert direct is not None and sum(direct.values()) >= 1  # and the component on its own


async def test_a_kits_part_follows_the_stores_direct_sales(
    kafka_bootstrap: str, handler_topics: Topics, rig: Rig
) -> None:
    """Stock still sells out: a store whose buyers want the component alone stops keeping a
    kit's part of it after a few sales, so every unit left is on sale there directly (the
    kit's other component is plentiful: not allocated)."""
    run = uuid.uuid4().hex[:8]
    a, b, kit = f"KA-{run}", f"KB-{run}", f"KK-{run}"
    parts = {a: 2, b: 1}
    await rig.run(
        command(a, "set_on_hand", 9, key()),
        command(b, "set_on_hand", 50, key()),
        command(kit, "configure", 0, key(), config=SkuConfig(kit_components=parts)),
    )
    changes, _ = await latest(kafka_bootstrap, handler_topics)  # the kit defined: shared out
    assert changes[b].shares is None and changes[kit].shares == dict.fromkeys(SHOPS, 1)
    assert exposure(parts, kit, changes)[a] == 9  # 3 per store: 1 directly, 1 kit of 2
    # A's budget in each store: 1 directly and 1 kit's part, which its change says
    assert changes[a].kit_parts == {kit: KitPart(units=2, shares=dict.fromkeys(SHOPS, 1))}

    for shop in SHOPS * 2:  # two sales of A alone in every store
        await rig.run(command(a, "reserve", 1, key(), order=order(shop)))
    changes, _ = await latest(kafka_bootstrap, handler_topics)
    assert changes[a].sku_available_after == 3
    assert changes[kit].shares == dict.fromkeys(SHOPS, 0)
    assert changes[a].shares == dict.fromkeys(SHOPS, 1)  # all of A on sale directly
    # the part given up is said with the direct share it became: shopify-sync raises A in a
    # store only once the store's kit was lowered into it
    assert changes[a].kit_parts == {kit: KitPart(units=2, shares=dict.fromkeys(SHOPS, 0))}


@pytest.mark.parametrize("rig", [False, True], ids=["one-script", "phased"], indirect=True)
async def test_a_kit_of_many_units_is_allocated_though_its_component_is_not_low_in_units(
    kafka_bootstrap: str, handler_topics: Topics, rig: Rig
) -> None:
    """100 units of A are not low for three stores (4 units each), but a kit of 50 A makes
    them 2 kits: "low for the number of stores" counts kits for a kit's component, so A and
    the kit are shared out and the stores together are shown no more A than exists (before,
    each store showed 100 A and 2 kits: 600 units of A on sale for 100)."""
    run = uuid.uuid4().hex[:8]
    a, b, kit = f"KA-{run}", f"KB-{run}", f"KK-{run}"
    parts = {a: 50, b: 1}
    await rig.run(
        command(a, "set_on_hand", 100, key()),
        command(b, "set_on_hand", 1000, key()),
        command(kit, "configure", 0, key(), config=SkuConfig(kit_components=parts)),
    )
    changes, _ = await latest(kafka_bootstrap, handler_topics)
    assert changes[kit].after.available == 2 or changes[kit].sku_available_after == 2
    assert changes[kit].shares is not None, "the kit of 50 A is shown whole in every store"
    assert changes[a].shares is not None, "A (2 kits' worth) is shown whole in every store"
    shown_units = exposure(parts, kit, changes)
    assert shown_units[a] <= 100, shown_units
    assert shown_units[a] == 100  # every unit on sale somewhere, directly or in a kit
    # no store's third of A holds a kit: one store is given a kit's worth, so it still sells
    kit_shares = changes[kit].shares
    assert kit_shares is not None and sum(kit_shares.values()) == 1, kit_shares
    assert changes[b].shares is None  # plentiful for its kits too: not allocated

    # a kit sold: what is left is still shared out, and still all on sale
    await rig.run(command(kit, "reserve", 1, key(), order=order(SHOPS[0])))
    changes, _ = await latest(kafka_bootstrap, handler_topics)
    assert changes[a].sku_available_after == 50
    shown_units = exposure(parts, kit, changes)
    assert shown_units[a] == 50, shown_units
    kit_shares = changes[kit].shares
    assert kit_shares is not None and kit_shares[SHOPS[0]] == 1, kit_shares  # where it sold
