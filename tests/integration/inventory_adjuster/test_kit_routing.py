"""A routed store's kit line is reserved at the first location of its route where every
component covers the whole line (issue #23, item 2; ADR 0037 §3), through the command handler
on the real Redis: the components move there, the kit's change places the line there
(``routed``) with the route ``tried``; a replay answers the first placement; the line's
routed release and commit move the units where the line holds them, whatever location the
command names; a line no location covers is refused with every location tried and waits.
Each test runs with kit.lua (one Redis only) and in one-slot phases (a Redis Cluster's path,
ADR 0034; on one Redis too)."""

import uuid
from dataclasses import dataclass

import pytest
from integration.inventory_adjuster.test_kit_handler import RecordingProducer
from integration.inventory_adjuster.test_kit_waiting import Rig as WaitingRig
from redis.asyncio import Redis

from inventory_adjuster.adapters.kits import KitStore
from inventory_adjuster.adapters.redis_store import (
    RedisInventory,
    as_text,
    hold_line,
    line_hold_key,
    state_key,
    waiting_key,
)
from inventory_adjuster.handlers import CommandHandler
from stocksync_common.events import (
    InventoryChanged,
    OrderOversold,
    Route,
    SkuConfig,
    StockChange,
)
from support.infra import REDIS_CLUSTER

pytestmark = [pytest.mark.integration]
SHOP = "kr.myshopify.com"
ROUTE = Route(locations=["wh-1", "wh-2"])


@dataclass
class Rig(WaitingRig):
    shop: str = SHOP

    async def at(self, sku: str, location: str) -> tuple[int, int]:
        """(on_hand, reserved) of ``sku`` at ``location``."""
        levels = await self.store.levels(sku)
        assert levels is not None
        lv = levels.locations.get(location)
        return (lv.on_hand, lv.reserved) if lv else (0, 0)

    async def both(self, location: str) -> tuple[tuple[int, int], tuple[int, int]]:
        return await self.at(self.a, location), await self.at(self.b, location)


@pytest.fixture(params=[False, True], ids=["one-script", "phased"])
async def rig(redis: Redis, request: pytest.FixtureRequest) -> Rig:
    """Kit = 2 A + 1 B. wh-1: A 1, B 5 (no kit: A short); wh-2: A 4, B 2 (two kits)."""
    if REDIS_CLUSTER and not request.param:
        pytest.skip("kit.lua spans hash slots: one Redis only (ADR 0034)")
    run = uuid.uuid4().hex[:8]
    producer = RecordingProducer()
    store = RedisInventory(redis, f"kr-{run}", idem_ttl_s=600, ledger_max_len=100)
    kits = KitStore(redis, f"kr-{run}", idem_ttl_s=600, ledger_max_len=100, phased=request.param)
    handler = CommandHandler(store, producer, kits)  # type: ignore[arg-type]
    r = Rig(redis, store, handler, producer, f"A-{run}", f"B-{run}", f"KIT-{run}")
    cfg = SkuConfig(kit_components={r.a: 2, r.b: 1})
    await r.run(
        r.item(r.a, "set_on_hand", 1),
        r.item(r.b, "set_on_hand", 5),
        r.item(r.a, "set_on_hand", 4, location="wh-2"),
        r.item(r.b, "set_on_hand", 2, location="wh-2"),
        r.item(r.kit, "configure", 0, config=cfg),
    )
    return r


def kit_changes(r: Rig, events: list[object]) -> list[StockChange]:
    """The kit's changes placing a line (``routed``)."""
    return [e.payload for e in events if isinstance(e, InventoryChanged) and e.payload.sku == r.kit
            and e.payload.routed is not None]  # fmt: skip


def component_locations(r: Rig, events: list[object]) -> set[tuple[str, str]]:
    return {
        (e.payload.sku, e.payload.location)
        for e in events
        if isinstance(e, InventoryChanged) and e.payload.sku in (r.a, r.b)
    }


async def test_a_routed_kit_line_is_reserved_at_the_first_location_covering_it(rig: Rig) -> None:
    r = rig
    reserve = r.item(r.kit, "reserve", 1, line="x", route=ROUTE)
    events = await r.run(reserve)
    assert await r.both("wh-2") == ((4, 2), (2, 1))  # held at wh-2, all components
    assert await r.both("wh-1") == ((1, 0), (5, 0))  # nothing at wh-1
    assert component_locations(r, events) == {(r.a, "wh-2"), (r.b, "wh-2")}
    [placed] = kit_changes(r, events)
    assert (placed.location, placed.routed, placed.tried) == ("wh-2", {"wh-2": 1}, ["wh-1", "wh-2"])

    # a replay answers the first result, its placement included; nothing moves again
    events = await r.run(reserve)
    assert await r.both("wh-2") == ((4, 2), (2, 1))
    [again] = kit_changes(r, events)
    assert (again.location, again.routed, again.tried) == ("wh-2", {"wh-2": 1}, ["wh-1", "wh-2"])

    # the line's release names wh-1 (its order's location): it releases where it is held
    await r.run(r.item(r.kit, "release", 1, line="x", route=ROUTE))
    assert await r.both("wh-2") == ((4, 0), (2, 0))
    assert await r.both("wh-1") == ((1, 0), (5, 0))


async def test_a_routed_kit_lines_commit_takes_its_units_where_they_are_held(rig: Rig) -> None:
    r = rig
    await r.run(r.item(r.kit, "reserve", 1, line="y", route=ROUTE))
    assert await r.both("wh-2") == ((4, 2), (2, 1))
    # shipped (Shopify names no location: the order's, wh-1): committed at wh-2
    events = await r.run(r.item(r.kit, "commit", 1, line="y", route=ROUTE))
    assert await r.both("wh-2") == ((2, 0), (1, 0))
    assert await r.both("wh-1") == ((1, 0), (5, 0))
    assert component_locations(r, events) == {(r.a, "wh-2"), (r.b, "wh-2")}


async def test_a_routed_kit_line_no_location_covers_is_refused_having_tried_each(rig: Rig) -> None:
    r = rig
    events = await r.run(r.item(r.kit, "reserve", 3, line="z", route=ROUTE))
    [refused] = [e.payload for e in events if isinstance(e, OrderOversold)]
    assert (refused.tried, refused.waiting) == (["wh-1", "wh-2"], True)
    assert await r.both("wh-2") == ((4, 0), (2, 0))
    assert await r.both("wh-1") == ((1, 0), (5, 0))
    assert await r.redis.llen(waiting_key(r.kit)) == 1  # it waits, as before


# Splits by whole kits (issue #23 item 2; ADR 0037 §3, amendment of the split): a store that
# allows splits takes a kit line no single location covers across its route's locations in
# order, whole kits at each, as a plain line is split by units.
SPLIT = Route(locations=["wh-1", "wh-2"], split=True)


async def two_and_one(r: Rig) -> None:
    """wh-1 covers 2 kits (A 4, B 5), wh-2 covers 1 (A 2, B 2): no location covers 3."""
    await r.run(r.item(r.a, "set_on_hand", 4), r.item(r.a, "set_on_hand", 2, location="wh-2"))


async def held(r: Rig, line: str) -> dict[str, int]:
    raw = await r.redis.hgetall(line_hold_key(r.kit, hold_line(SHOP, f"o-{line}", line)))
    return {as_text(k): int(v) for k, v in raw.items()}


async def test_a_kit_line_no_location_covers_is_split_by_whole_kits(rig: Rig) -> None:
    r = rig
    await two_and_one(r)
    reserve = r.item(r.kit, "reserve", 3, line="s", route=SPLIT)
    events = await r.run(reserve)
    assert await r.both("wh-1") == ((4, 4), (5, 2))  # 2 kits at wh-1
    assert await r.both("wh-2") == ((2, 2), (2, 1))  # 1 kit at wh-2
    assert component_locations(r, events) == {
        (r.a, "wh-1"), (r.b, "wh-1"), (r.a, "wh-2"), (r.b, "wh-2")
    }  # fmt: skip
    placed = kit_changes(r, events)
    # one change per location, each with the whole placement (as a plain split line's)
    assert [(c.location, c.after.reserved - c.before.reserved) for c in placed] == [
        ("wh-1", 2), ("wh-2", 1)
    ]  # fmt: skip
    assert {(tuple(sorted((c.routed or {}).items())), tuple(c.tried or ())) for c in placed} == {
        ((("wh-1", 2), ("wh-2", 1)), ("wh-1", "wh-2"))
    }  # fmt: skip
    first = [e for e in await r.run(reserve) if isinstance(e, InventoryChanged)]
    again = [e.payload for e in first if e.payload.sku == r.kit and e.payload.routed]
    assert [(c.location, c.routed) for c in again] == [(c.location, c.routed) for c in placed]
    assert await r.both("wh-1") == ((4, 4), (5, 2))  # the replay moved nothing
    assert await held(r, "s") == {"wh-1": 2, "wh-2": 1}


async def test_a_kit_line_is_not_split_when_the_store_does_not_allow_it(rig: Rig) -> None:
    r = rig
    await two_and_one(r)
    events = await r.run(r.item(r.kit, "reserve", 3, line="n", route=ROUTE))
    [refused] = [e.payload for e in events if isinstance(e, OrderOversold)]
    assert (refused.tried, refused.waiting) == (["wh-1", "wh-2"], True)
    assert await r.both("wh-1") == ((4, 0), (5, 0))
    assert await r.both("wh-2") == ((2, 0), (2, 0))


async def test_a_split_kit_lines_cancel_releases_every_kit_where_held(rig: Rig) -> None:
    r = rig
    await two_and_one(r)
    await r.run(r.item(r.kit, "reserve", 3, line="c", route=SPLIT))
    events = await r.run(r.item(r.kit, "release", 3, line="c", route=SPLIT))
    assert await r.both("wh-1") == ((4, 0), (5, 0))
    assert await r.both("wh-2") == ((2, 0), (2, 0))
    changes = kit_changes(r, events)
    unheld = sorted((c.location, c.before.reserved - c.after.reserved) for c in changes)
    assert unheld == [("wh-1", 2), ("wh-2", 1)]  # the rebuild's story of the hold
    assert await held(r, "c") == {}


async def test_a_split_kit_lines_commit_takes_its_kits_where_held(rig: Rig) -> None:
    r = rig
    await two_and_one(r)
    await r.run(r.item(r.kit, "reserve", 3, line="m", route=SPLIT))
    events = await r.run(r.item(r.kit, "commit", 3, line="m", route=SPLIT))
    assert await r.both("wh-1") == ((0, 0), (3, 0))
    assert await r.both("wh-2") == ((0, 0), (1, 0))
    assert component_locations(r, events) == {
        (r.a, "wh-1"), (r.b, "wh-1"), (r.a, "wh-2"), (r.b, "wh-2")
    }  # fmt: skip
    assert await held(r, "m") == {}


async def test_a_waiting_routed_kit_line_is_served_at_another_location_of_its_route(
    rig: Rig,
) -> None:
    r = rig
    events = await r.run(r.item(r.kit, "reserve", 3, line="w", route=ROUTE))
    assert [e.payload.tried for e in events if isinstance(e, OrderOversold)] == [["wh-1", "wh-2"]]
    # wh-2 gets what 3 kits take (A 6, B 3); wh-1, the line's own location, stays short
    events = await r.run(
        r.item(r.a, "set_on_hand", 6, location="wh-2"),
        r.item(r.b, "set_on_hand", 3, location="wh-2"),
    )
    assert await r.both("wh-2") == ((6, 6), (3, 3))
    assert await r.both("wh-1") == ((1, 0), (5, 0))
    assert await r.redis.llen(waiting_key(r.kit)) == 0
    [served] = [e.payload for e in events if isinstance(e, InventoryChanged)
                and e.payload.sku == r.kit and e.payload.rereserved]  # fmt: skip
    assert (served.location, served.routed) == ("wh-2", {"wh-2": 3})
    assert await held(r, "w") == {"wh-2": 3}
    # its cancel releases the kits where they are
    await r.run(r.item(r.kit, "release", 3, line="w", route=ROUTE))
    assert await r.both("wh-2") == ((6, 0), (3, 0))


async def test_a_split_whose_stock_races_away_is_refused_all_or_nothing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a Redis Cluster the split is chosen on a read (ADR 0037 §3): B leaving wh-2 between
    the read and the holds refuses the whole line, what was held at wh-1 given back."""
    r = rig
    if not r.handler.kits or not r.handler.kits.phased:
        pytest.skip("one script: no window between the choice and the holds")
    await two_and_one(r)
    original = KitStore._covering

    async def race(self: KitStore, *args: object) -> object:
        chosen = await original(self, *args)  # type: ignore[arg-type]
        await r.redis.hset(state_key(r.b), "wh-2|on_hand", 0)  # gone since the read
        return chosen

    monkeypatch.setattr(KitStore, "_covering", race)
    events = await r.run(r.item(r.kit, "reserve", 3, line="r", route=SPLIT))
    assert [e.payload.tried for e in events if isinstance(e, OrderOversold)] == [["wh-1", "wh-2"]]
    assert await r.both("wh-1") == ((4, 0), (5, 0))  # the hold at wh-1 undone
    assert await r.both("wh-2") == ((2, 0), (0, 0))
    assert await held(r, "r") == {}
    assert await r.redis.llen(waiting_key(r.kit)) == 1
