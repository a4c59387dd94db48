"""The waiting list of refused order lines on a real Redis (apply.lua, ADR 0022): a refused
reserve of an order line waits; stock coming back serves the waiting lines in order of
arrival, atomically with the command that returned it; a replayed command serves nothing
more; an earlier line that does not fit yet is never jumped at its location."""

import uuid

import pytest

from inventory_adjuster.adapters.redis_store import (
    Applied,
    RedisInventory,
    waited_key,
    waiting_key,
)
from stocksync_common.events import InventoryCommand, OrderLineRef, Route, SkuConfig

pytestmark = pytest.mark.integration

SHOP = "w.myshopify.com"


def cmd(sku: str, command: str, qty: int, *, line: str | None = None, loc: str = "wh-1",
        key: str | None = None) -> InventoryCommand:  # fmt: skip
    order = OrderLineRef(shop=SHOP, order_id="o-" + line, line_id=line) if line else None
    return InventoryCommand(
        command=command,  # type: ignore[arg-type]
        idempotency_key=key or f"{command}:{line}:{uuid.uuid4().hex}",
        sku=sku,
        location=loc,
        quantity=qty,
        order=order,
    )


async def apply(store: RedisInventory, *cmds: InventoryCommand) -> list[Applied]:
    out = await store.apply_many([(c, None) for c in cmds])
    assert all(isinstance(r, Applied) for r in out)
    return out  # type: ignore[return-value]


async def reserved(store: RedisInventory, sku: str, loc: str = "wh-1") -> int:
    levels = await store.levels(sku)
    assert levels is not None
    return levels.locations[loc].reserved


async def test_stock_returning_serves_refused_lines_in_order_of_arrival(store, sku, redis):
    first = cmd(sku, "reserve", 3, line="a")
    (_, a, b, c) = await apply(
        store,
        cmd(sku, "set_on_hand", 1),
        first,
        cmd(sku, "reserve", 1, line="b"),  # fits: not refused, not queued
        cmd(sku, "reserve", 2, line="c"),
    )
    assert (a.status, a.result["waiting"]) == ("rejected", True)
    assert b.status == "applied"
    assert (c.status, c.result["waiting"]) == ("rejected", True)
    assert await redis.llen(waiting_key(sku)) == 2

    # 2 units back: c would fit, but a came first and does not: nobody is served
    (r1,) = await apply(store, cmd(sku, "adjust", 2))
    assert r1.result["served"] in ({}, [])
    assert await reserved(store, sku) == 1

    # 1 more: a (3) is served, then c (2) no longer fits
    (r2,) = await apply(store, cmd(sku, "release", 1))
    assert [(s["key"], s["quantity"]) for s in r2.result["served"]] == [(first.idempotency_key, 3)]
    assert [s["order"]["line_id"] for s in r2.result["served"]] == ["a"]
    assert await reserved(store, sku) == 3
    assert r2.levels.available == 0

    # a cycle count of 5 serves c
    key = uuid.uuid4().hex
    (r3,) = await apply(store, cmd(sku, "set_on_hand", 5, key=key))
    assert [s["order"]["line_id"] for s in r3.result["served"]] == ["c"]
    assert await reserved(store, sku) == 5
    assert await redis.llen(waiting_key(sku)) == 0
    levels = await store.levels(sku)
    assert levels is not None and levels.version == r3.result["served"][-1]["version"]

    # replayed: a duplicate, the same re-reservations listed, nothing applied again
    (dup,) = await apply(store, cmd(sku, "set_on_hand", 5, key=key))
    assert dup.status == "duplicate" and dup.result["served"] == r3.result["served"]
    assert await reserved(store, sku) == 5
    ledger = await store.ledger(sku)
    served = [e for e in ledger if e.get("served_by")]
    assert [(e["command"], e["d_reserved"], e["served_by"]) for e in served] == [
        ("reserve", "3", served[0]["served_by"]),
        ("reserve", "2", key),
    ]


async def test_a_blocked_location_does_not_hold_up_another(store, sku):
    await apply(store, cmd(sku, "set_on_hand", 0), cmd(sku, "set_on_hand", 0, loc="wh-2"))
    await apply(
        store,
        cmd(sku, "reserve", 5, line="big"),
        cmd(sku, "reserve", 1, line="small", loc="wh-2"),
    )
    (r,) = await apply(store, cmd(sku, "adjust", 1, loc="wh-2"))
    assert [s["order"]["line_id"] for s in r.result["served"]] == ["small"]
    assert await reserved(store, sku, "wh-2") == 1 and await reserved(store, sku) == 0


async def test_what_does_not_wait(store, sku, redis):
    """A reserve without an order line and one under backorder never queue; reserves and
    refusals serve nothing."""
    (_, plain) = await apply(store, cmd(sku, "set_on_hand", 1), cmd(sku, "reserve", 2))
    assert plain.status == "rejected" and not plain.result["waiting"]
    assert await redis.llen(waiting_key(sku)) == 0
    config = cmd(sku, "configure", 0).model_copy(update={"config": SkuConfig(policy="backorder")})
    (_, back) = await apply(store, config, cmd(sku, "reserve", 4, line="x"))
    assert back.status == "applied" and not back.result["waiting"]
    assert await redis.llen(waiting_key(sku)) == 0


def routed(sku: str, command: str, qty: int, line: str, *, split: bool = False,
           key: str | None = None) -> InventoryCommand:  # fmt: skip
    route = Route(locations=["wh-1", "wh-2"], split=split)
    return cmd(sku, command, qty, line=line, key=key).model_copy(update={"route": route})


async def test_a_routed_line_waits_and_is_placed_where_its_route_allows(store, sku, redis):
    """ADR 0031: a routed refusal waits with its route, in order of arrival with the plain
    ones; stock back at any of its locations places it; its hold follows (a routed release
    of the line frees what it was given)."""
    await apply(store, cmd(sku, "set_on_hand", 0), cmd(sku, "set_on_hand", 0, loc="wh-2"))
    a = routed(sku, "reserve", 2, "a")
    (ra, rb) = await apply(store, a, cmd(sku, "reserve", 1, line="b", loc="wh-2"))
    assert (ra.status, ra.result["waiting"]) == ("rejected", True)
    assert (rb.status, rb.result["waiting"]) == ("rejected", True)

    # 1 unit at wh-2: b would fit, but a came first and its route includes wh-2
    (r1,) = await apply(store, cmd(sku, "adjust", 1, loc="wh-2"))
    assert r1.result["served"] in ({}, [])

    # 2 at wh-1: a is placed there (its route's first), then b takes wh-2's unit
    (r2,) = await apply(store, cmd(sku, "adjust", 2))
    got = [(s["order"]["line_id"], s["location"], s["quantity"]) for s in r2.result["served"]]
    assert got == [("a", "wh-1", 2), ("b", "wh-2", 1)]
    assert r2.result["served"][0]["routed"] == {"wh-1": 2}
    assert r2.result["served"][0]["tried"] == ["wh-1", "wh-2"]
    assert await reserved(store, sku) == 2 and await reserved(store, sku, "wh-2") == 1
    assert await redis.llen(waiting_key(sku)) == 0

    # the line's next routed command finds its hold: a release frees the 2 units at wh-1
    (rel,) = await apply(store, routed(sku, "release", 2, "a"))
    assert rel.result["routed"] == {"wh-1": 2}
    assert await reserved(store, sku) == 0
    assert await redis.hlen(waited_key(sku)) == 0


async def test_a_waiting_split_line_is_served_across_locations(store, sku):
    await apply(store, cmd(sku, "set_on_hand", 0), cmd(sku, "set_on_hand", 0, loc="wh-2"))
    key = uuid.uuid4().hex
    (r,) = await apply(store, routed(sku, "reserve", 3, "s", split=True, key=key))
    assert r.result["waiting"] is True
    (r1,) = await apply(store, cmd(sku, "adjust", 1))
    assert r1.result["served"] in ({}, [])  # 1 of 3 anywhere: still waiting
    (r2,) = await apply(store, cmd(sku, "adjust", 2, loc="wh-2"))
    parts = [(s["key"], s["location"], s["quantity"], s["part"]) for s in r2.result["served"]]
    assert parts == [(key, "wh-1", 1, 1), (key, "wh-2", 2, 2)]
    assert r2.result["served"][1]["routed"] == {"wh-1": 1, "wh-2": 2}
    assert await reserved(store, sku) == 1 and await reserved(store, sku, "wh-2") == 2
    # shipped from wh-2: the routed commit takes the line's hold there first
    (c,) = await apply(store, routed(sku, "commit", 3, "s").model_copy(update={"location": "wh-2"}))
    assert c.result["routed"] == {"wh-2": 2, "wh-1": 1}
    assert await reserved(store, sku) == 0 and await reserved(store, sku, "wh-2") == 0
