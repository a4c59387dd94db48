"""A routed order line's hold survives a rebuild of Redis truth (issue #23; ADR 0018, 0008).

A routed reserve places an order line's units at one or several locations and records them in
the line's hold (``inv:{sku}:hold:<shop>:<order>:<line>``); the line's later release or commit
reads that hold to know where to take units back. The levels record the rebuild restores
from already includes the reserve, so the reserve is not replayed: the hold must come back
by itself, or the release moves nothing (the units stay reserved for good) and a commit takes
on-hand where the command says instead of where the units were held. A line served from the
waiting list holds its units in the SKU's parked holds (``inv:{sku}:waited``) until its next
routed command: those must come back too. A rebuild run again (``--force``, ``--skus``) must
not add a replayed reserve to the hold a first run left.

Real broker, real Redis (database 5, or the cluster the URL names).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from inventory_adjuster.adapters.redis_store import (
    as_text,
    hold_key,
    state_key,
    waited_key,
)
from stocksync_common.events import (
    InventoryCommandRequested,
    OrderLineRef,
    Route,
    SkuConfig,
)
from support.rebuild_topics import LOC, LOC2, RebuildEnv, Topics, command, rebuild_env

pytestmark = pytest.mark.integration

SHOP = "shop-1.myshopify.com"
SPLIT = Route(locations=[LOC, LOC2], split=True)


def line(order: str) -> OrderLineRef:
    return OrderLineRef(shop=SHOP, order_id=order, line_id="1")


def routed(
    sku: str, name: str, qty: int, key: str, order: str, route: Route = SPLIT, **extra: object
) -> InventoryCommandRequested:
    loc = str(extra.pop("location", route.locations[0]))
    return command(sku, name, qty, key, order=line(order), route=route, location=loc, **extra)


@dataclass
class Env(RebuildEnv):
    async def levels(self, sku: str) -> dict[str, tuple[int, int]]:
        """(on_hand, reserved) per location."""
        lv = await self.store.levels(sku)
        assert lv is not None
        return {loc: (x.on_hand, x.reserved) for loc, x in sorted(lv.locations.items())}

    async def hold(self, sku: str, order: str) -> dict[str, int]:
        cmd = routed(sku, "release", 0, "probe", order).payload
        raw = await self.redis.hgetall(hold_key(cmd))
        return {as_text(k): int(v) for k, v in sorted(raw.items())}


@pytest.fixture
async def env(
    kafka_bootstrap: str, redis_url: str, redis5: Redis, topics3: Topics, monkeypatch
) -> AsyncIterator[Env]:
    async with rebuild_env(Env, kafka_bootstrap, redis_url, redis5, topics3, monkeypatch,
                           "holds") as env:  # fmt: skip
        yield env


async def split_line(env: Env, sku: str) -> None:
    """wh-1 has 2, wh-2 has 3; order 1's line of 4 is split: 2 at wh-1, 2 at wh-2. Every
    command is consumed, so the SKU's levels record includes the reserve."""
    for event in [
        command(sku, "set_on_hand", 2, f"{sku}:count-1"),
        command(sku, "set_on_hand", 3, f"{sku}:count-2", location=LOC2),
        routed(sku, "reserve", 4, f"{sku}:order-1:reserve", "1"),
    ]:
        await env.handle(event)
    assert await env.levels(sku) == {LOC: (2, 2), LOC2: (3, 2)}
    assert await env.hold(sku, "1") == {LOC: 2, LOC2: 2}


async def lose_and_rebuild(env: Env, sku: str, how: str) -> None:
    """The loss (every key of the database) and the rebuild: the whole store, or the SKU
    alone (the failover repair's path)."""
    await env.redis.flushdb()
    assert await env.cli(*(["--skus", sku] if how == "skus" else [])) == 0
    assert await env.levels(sku) == {LOC: (2, 2), LOC2: (3, 2)}  # the levels came back


@pytest.mark.parametrize("how", ["whole", "skus"])
async def test_a_routed_lines_release_after_a_rebuild_frees_both_locations(
    env: Env, how: str
) -> None:
    sku = f"RH-rel-{uuid.uuid4().hex[:8]}"
    await split_line(env, sku)
    await lose_and_rebuild(env, sku, how)
    await env.handle(routed(sku, "release", 4, f"{sku}:order-1:release", "1"))
    assert await env.levels(sku) == {LOC: (2, 0), LOC2: (3, 0)}
    assert await env.hold(sku, "1") == {}


@pytest.mark.parametrize("how", ["whole", "skus"])
async def test_a_routed_lines_commits_after_a_rebuild_take_on_hand_where_it_was_held(
    env: Env, how: str
) -> None:
    """Each warehouse ships its part (a commit with a route of its own location): wh-2 all
    of its 2, wh-1 1 of its 2 (a partial shipment); then the rest is released."""
    sku = f"RH-com-{uuid.uuid4().hex[:8]}"
    await split_line(env, sku)
    await lose_and_rebuild(env, sku, how)
    only2, only1 = Route(locations=[LOC2]), Route(locations=[LOC])
    await env.handle(routed(sku, "commit", 2, f"{sku}:order-1:ship-2", "1", route=only2))
    assert await env.levels(sku) == {LOC: (2, 2), LOC2: (1, 0)}
    await env.handle(routed(sku, "commit", 1, f"{sku}:order-1:ship-1", "1", route=only1))
    assert await env.levels(sku) == {LOC: (1, 1), LOC2: (1, 0)}
    assert await env.hold(sku, "1") == {LOC: 1}
    await env.handle(routed(sku, "release", 1, f"{sku}:order-1:release", "1"))
    assert await env.levels(sku) == {LOC: (1, 0), LOC2: (1, 0)}


async def test_a_served_waiting_lines_parked_hold_survives_a_rebuild(env: Env) -> None:
    """Order 2's routed line is refused (nothing anywhere) and waits; a receipt at wh-2
    serves it, its units parked until its next routed command. After the rebuild its
    release frees them."""
    sku = f"RH-park-{uuid.uuid4().hex[:8]}"
    for event in [
        command(sku, "set_on_hand", 0, f"{sku}:count-1"),
        command(sku, "configure", 0, f"{sku}:config", config=SkuConfig(policy="reject")),
        routed(sku, "reserve", 3, f"{sku}:order-2:reserve", "2"),
        command(sku, "adjust", 4, f"{sku}:receipt", location=LOC2),
    ]:
        await env.handle(event)
    assert await env.levels(sku) == {LOC: (0, 0), LOC2: (4, 3)}
    assert await env.redis.hexists(waited_key(sku), f"{SHOP}:2:1")
    await env.redis.flushdb()
    assert await env.cli() == 0
    assert await env.levels(sku) == {LOC: (0, 0), LOC2: (4, 3)}
    await env.handle(routed(sku, "release", 3, f"{sku}:order-2:release", "2"))
    assert await env.levels(sku) == {LOC: (0, 0), LOC2: (4, 0)}


@pytest.mark.parametrize("rerun", ["force", "skus"])
async def test_a_rebuild_run_again_does_not_grow_a_hold(env: Env, rerun: str) -> None:
    """Order 1's reserve is in the levels, order 3's only in the tail (replayed). "force": the
    whole store lost, rebuilt, then rebuilt twice more with ``--force`` on what the first run
    left; "skus": nothing lost, ``--skus`` three times on the Redis the adjuster kept. The
    holds are as after one run, and releasing both lines frees every unit."""
    sku = f"RH-rerun-{uuid.uuid4().hex[:8]}"
    await split_line(env, sku)
    await env.leave([routed(sku, "reserve", 1, f"{sku}:order-3:reserve", "3")])
    if rerun == "force":
        await env.redis.flushdb()
        assert await env.cli() == 0
    expected = ({LOC: 2, LOC2: 2}, {LOC2: 1}, {LOC: (2, 2), LOC2: (3, 3)})
    for _ in range(2 if rerun == "force" else 3):
        assert await env.cli(*(["--force"] if rerun == "force" else ["--skus", sku])) == 0
        again = (await env.hold(sku, "1"), await env.hold(sku, "3"), await env.levels(sku))
        assert again == expected
    ttl = await env.redis.ttl(state_key(sku).replace("}", "}:hold:") + f"{SHOP}:1:1")
    assert ttl > 0  # the hold still expires (ADR 0035)
    await env.handle(routed(sku, "release", 4, f"{sku}:order-1:release", "1"))
    await env.handle(routed(sku, "release", 1, f"{sku}:order-3:release", "3"))
    assert await env.levels(sku) == {LOC: (2, 0), LOC2: (3, 0)}


async def test_a_routed_kit_lines_hold_survives_a_rebuild(env: Env) -> None:
    """Kit = 1 A + 1 B; wh-1 has no B, wh-2 has 3 of each. Order 1's routed kit line of 2
    is reserved at wh-2, its kit hold there; a release of 1 comes back from wh-2. After the
    loss and the rebuild (every command in the levels, none replayed) the line's hold says
    wh-2 still, so its last release frees wh-2's units, not wh-1's (issue #23)."""
    run = uuid.uuid4().hex[:8]
    a, b, kit = f"RHK-a-{run}", f"RHK-b-{run}", f"RHK-kit-{run}"
    route = Route(locations=[LOC, LOC2])
    for event in [
        command(a, "set_on_hand", 3, f"{a}:count-1"),
        command(a, "set_on_hand", 3, f"{a}:count-2", location=LOC2),
        command(b, "set_on_hand", 3, f"{b}:count-2", location=LOC2),
        command(kit, "configure", 0, f"{kit}:def", config=SkuConfig(kit_components={a: 1, b: 1})),
        routed(kit, "reserve", 2, f"{kit}:order-1:reserve", "1", route=route),
        routed(kit, "release", 1, f"{kit}:order-1:release-1", "1", route=route),
    ]:
        await env.handle(event)
    assert (await env.levels(a), await env.levels(b)) == ({LOC: (3, 0), LOC2: (3, 1)},
                                                          {LOC2: (3, 1)})  # fmt: skip
    assert await env.hold(kit, "1") == {LOC2: 1}
    await env.redis.flushdb()
    assert await env.cli() == 0
    assert await env.hold(kit, "1") == {LOC2: 1}
    await env.handle(routed(kit, "release", 1, f"{kit}:order-1:release-2", "1", route=route))
    assert (await env.levels(a), await env.levels(b)) == ({LOC: (3, 0), LOC2: (3, 0)},
                                                          {LOC2: (3, 0)})  # fmt: skip
    assert await env.hold(kit, "1") == {}


async def test_a_split_kit_lines_hold_survives_a_rebuild(env: Env) -> None:
    """Kit = 1 A + 1 B; wh-1 has 2 of each, wh-2 3 of each; the store allows splits. Order
    1's kit line of 4 is split, 2 kits at each; a release of 1 comes back from wh-2 (the
    route's end). After the loss and the rebuild the hold says 2 at wh-1 and 1 at wh-2
    (each location's placement and release is a change of its own), so the line's last
    release of 3 frees both locations (issue #23)."""
    run = uuid.uuid4().hex[:8]
    a, b, kit = f"RHS-a-{run}", f"RHS-b-{run}", f"RHS-kit-{run}"
    for event in [
        command(a, "set_on_hand", 2, f"{a}:count-1"),
        command(b, "set_on_hand", 2, f"{b}:count-1"),
        command(a, "set_on_hand", 3, f"{a}:count-2", location=LOC2),
        command(b, "set_on_hand", 3, f"{b}:count-2", location=LOC2),
        command(kit, "configure", 0, f"{kit}:def", config=SkuConfig(kit_components={a: 1, b: 1})),
        routed(kit, "reserve", 4, f"{kit}:order-1:reserve", "1", route=SPLIT),
        routed(kit, "release", 1, f"{kit}:order-1:release-1", "1", route=SPLIT),
    ]:
        await env.handle(event)
    assert await env.levels(a) == {LOC: (2, 2), LOC2: (3, 1)}
    assert await env.hold(kit, "1") == {LOC: 2, LOC2: 1}
    await env.redis.flushdb()
    assert await env.cli() == 0
    assert await env.hold(kit, "1") == {LOC: 2, LOC2: 1}
    await env.handle(routed(kit, "release", 3, f"{kit}:order-1:release-2", "1", route=SPLIT))
    assert (await env.levels(a), await env.levels(b)) == ({LOC: (2, 0), LOC2: (3, 0)},
                                                          {LOC: (2, 0), LOC2: (3, 0)})  # fmt: skip
    assert await env.hold(kit, "1") == {}
