"""Order routing in the apply script on a real Redis (docs/decisions/0018-order-routing.md):
the first location covering the line, a split when allowed, a refusal naming the locations
tried, and releases and commits that follow the units where they are held."""

import asyncio
import uuid

import pytest

from inventory_adjuster.adapters.redis_store import Applied, RedisInventory
from stocksync_common.events import InventoryCommand, OrderLineRef, Route, SkuConfig
from stocksync_common.redis_client import connect
from support.infra import REDIS

pytestmark = pytest.mark.integration

ROUTE = ["wh-a", "wh-b", "wh-c"]


def stock(sku: str, loc: str, n: int) -> InventoryCommand:
    return InventoryCommand(
        command="set_on_hand", idempotency_key=uuid.uuid4().hex, sku=sku, location=loc, quantity=n
    )


def line(sku, command, qty, *, split=False, key=None, loc="wh-a", line_id="1"):
    """A routed command of order line ``line_id`` (the route: ROUTE)."""
    order = OrderLineRef(shop="s.myshopify.com", order_id="o1", line_id=line_id)
    fields = {"command": command, "sku": sku, "location": loc, "quantity": qty, "order": order}
    route = Route(locations=ROUTE, split=split)
    return InventoryCommand(idempotency_key=key or uuid.uuid4().hex, route=route, **fields)


async def levels(store, sku):
    lv = await store.levels(sku)
    assert lv is not None
    return {loc: (x.on_hand, x.reserved) for loc, x in lv.locations.items()}


async def one(store, cmd):
    (r,) = await store.apply_many([(cmd, None)])
    assert isinstance(r, Applied)
    return r


async def test_reserves_at_the_first_location_that_covers_the_line(store, sku):
    await store.apply_many([(stock(sku, "wh-a", 1), None), (stock(sku, "wh-b", 5), None)])
    r = await one(store, line(sku, "reserve", 3))
    assert r.status == "applied"
    assert r.result["location"] == "wh-b" and r.result["routed"] == {"wh-b": 3}
    assert await levels(store, sku) == {"wh-a": (1, 0), "wh-b": (5, 3)}


async def test_splits_only_when_allowed_and_refuses_naming_the_locations_tried(store, sku):
    await store.apply_many([(stock(sku, "wh-a", 2), None), (stock(sku, "wh-b", 2), None)])
    refused = await one(store, line(sku, "reserve", 3, line_id="1"))
    assert refused.status == "rejected"
    assert refused.result["tried"] == ROUTE
    assert refused.result["available_at"] == {"wh-a": 2, "wh-b": 2, "wh-c": 0}
    split = await one(store, line(sku, "reserve", 3, split=True, line_id="2"))
    assert split.status == "applied" and split.result["routed"] == {"wh-a": 2, "wh-b": 1}
    assert [a["location"] for a in split.result["allocations"]] == ["wh-a", "wh-b"]
    assert await levels(store, sku) == {"wh-a": (2, 2), "wh-b": (2, 1)}


async def test_an_undone_commit_puts_the_units_back_where_it_took_them(store, sku):
    """A cancelled fulfilment's adjust names the routed commit it undoes (ADR 0031): the
    units come back at the commit's locations, not at the adjust's own; what the commit does
    not account for (an unknown key) comes back at the adjust's location."""
    await store.apply_many([(stock(sku, "wh-a", 1), None), (stock(sku, "wh-b", 2), None)])
    await one(store, line(sku, "reserve", 3, split=True))  # 1 at wh-a, 2 at wh-b
    key = uuid.uuid4().hex
    await one(store, line(sku, "commit", 3, loc="wh-c", key=key))  # Shopify named wh-c
    assert await levels(store, sku) == {"wh-a": (0, 0), "wh-b": (0, 0)}

    def undo(qty: int, undoes: str) -> InventoryCommand:
        return stock(sku, "wh-c", qty).model_copy(update={"command": "adjust", "undoes": undoes})

    r = await one(store, undo(3, key))
    assert r.result["routed"] == {"wh-b": 2, "wh-a": 1}
    assert await levels(store, sku) == {"wh-a": (1, 0), "wh-b": (2, 0)}
    await one(store, undo(1, "unknown"))
    assert (await levels(store, sku))["wh-c"] == (1, 0)


async def test_release_and_commit_follow_the_units_where_they_are_held(store, sku):
    await store.apply_many([(stock(sku, "wh-a", 2), None), (stock(sku, "wh-b", 4), None)])
    await one(store, line(sku, "reserve", 5, split=True))  # 2 at wh-a, 3 at wh-b
    released = await one(store, line(sku, "release", 1))
    assert released.result["routed"] == {"wh-b": 1}  # the route's end gives first
    shipped = await one(store, line(sku, "commit", 3, loc="wh-a"))
    assert shipped.result["routed"] == {"wh-a": 2, "wh-b": 1}  # where it shipped, first
    assert await levels(store, sku) == {"wh-a": (0, 0), "wh-b": (3, 1)}


async def test_a_release_never_takes_units_the_line_does_not_hold(store, sku):
    await store.apply_many([(stock(sku, "wh-a", 5), None)])
    await one(store, line(sku, "reserve", 2, line_id="other"))
    await one(store, line(sku, "reserve", 9, line_id="1"))  # refused
    r = await one(store, line(sku, "release", 9, line_id="1"))
    assert r.status == "applied" and r.result["routed"] == {}
    assert await levels(store, sku) == {"wh-a": (5, 2)}  # the other order keeps its hold


async def test_a_replayed_routed_reserve_applies_nothing(store, sku):
    await store.apply_many([(stock(sku, "wh-a", 1), None), (stock(sku, "wh-b", 5), None)])
    cmd = line(sku, "reserve", 3, key="replayed")
    first = await one(store, cmd)
    again = await one(store, cmd)
    assert again.status == "duplicate" and again.result == first.result
    assert await levels(store, sku) == {"wh-a": (1, 0), "wh-b": (5, 3)}


async def test_backorder_reserves_at_the_routes_first_location_when_nothing_covers(store, sku):
    policy = InventoryCommand(
        command="configure",
        idempotency_key=uuid.uuid4().hex,
        sku=sku,
        location="wh-a",
        quantity=0,
        config=SkuConfig(policy="backorder"),
    )
    await store.apply_many([(stock(sku, "wh-b", 2), None), (policy, None)])
    r = await one(store, line(sku, "reserve", 3))
    assert r.status == "applied" and r.result["routed"] == {"wh-a": 3}
    assert r.result["backordered"] is True
    assert await levels(store, sku) == {"wh-a": (0, 3), "wh-b": (2, 0)}


async def test_a_location_named_twice_never_gives_its_stock_twice(store, sku):
    await store.apply_many([(stock(sku, "wh-a", 2), None)])
    twice = line(sku, "reserve", 4, split=True)
    # past the model's check (a command validated elsewhere): the script holds on its own
    raw = twice.model_copy(
        update={"route": Route.model_construct(locations=["wh-a", "wh-a"], split=True)}
    )
    r = await one(store, raw)
    assert r.status == "rejected" and await levels(store, sku) == {"wh-a": (2, 0)}
    with pytest.raises(ValueError, match="once"):
        Route(locations=["wh-a", "wh-a"])


def test_a_route_without_an_order_line_is_refused_clearly():
    with pytest.raises(ValueError, match="order line"):
        InventoryCommand(
            command="adjust",
            idempotency_key="k",
            sku="S",
            location="wh-a",
            quantity=1,
            route=Route(locations=ROUTE),
        )


async def test_racing_routed_reserves_never_reserve_beyond_any_location(store, sku):
    """Four clients, each with its own connection, race split reserves for one SKU."""
    await store.apply_many(
        [(stock(sku, loc, n), None) for loc, n in (("wh-a", 7), ("wh-b", 5), ("wh-c", 3))]
    )
    clients = [connect(REDIS) for _ in range(4)]
    try:
        stores = [
            RedisInventory(c, f"race-{n}", idem_ttl_s=60, ledger_max_len=1000)
            for n, c in enumerate(clients)
        ]

        async def client(n: int) -> list[tuple[InventoryCommand, Applied]]:
            cmds = [line(sku, "reserve", 1 + (n + i) % 4, split=True, line_id=f"{n}-{i}")
                    for i in range(12)]  # fmt: skip
            out: list[Applied] = []
            for i in range(0, len(cmds), 3):  # pipelined runs, as the consumer sends them
                run = await stores[n].apply_many([(c, None) for c in cmds[i : i + 3]])
                out += [r for r in run if isinstance(r, Applied)]
            return list(zip(cmds, out, strict=True))

        results = [r for rs in await asyncio.gather(*(client(n) for n in range(4))) for r in rs]
    finally:
        for c in clients:
            await c.aclose()
    applied = [(c, r) for c, r in results if r.status == "applied"]
    assert all(sum(r.result["routed"].values()) == c.quantity for c, r in applied)
    final = await levels(store, sku)
    assert all(reserved <= on_hand for on_hand, reserved in final.values())
    assert sum(r for _, r in final.values()) == sum(c.quantity for c, _ in applied)
    assert sum(r for _, r in final.values()) >= 15 - 3  # demand exceeds stock: it sells out
