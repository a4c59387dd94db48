"""A rebuild run twice without a flush gives what one run gave (issue #23; ADR 0008).

An operator reruns the rebuild after an interrupted or repeated repair (``--force`` on the
whole store, ``--skus`` twice after a failover). The second run restores the same levels
records and replays the same tail on a Redis that still holds what the first run wrote. Each
SKU's state hash, each kit's own counters (``seen|<location>|<shop>``, used by shopify-sync's
allocation) and each waiting list must come out as after one run: a field the restored record
does not carry (a shop's first sale, a location first stocked, by a replayed command) must
not survive into the second run's replay, which would count it twice.

Real broker, real Redis (database 5, or the cluster the URL names).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from inventory_adjuster.adapters.redis_store import (
    as_text,
    state_key,
    waiting_key,
)
from inventory_adjuster.handlers import CommandHandler
from stocksync_common.events import OrderLineRef, SkuConfig
from support.rebuild_topics import LOC, LOC2, RebuildEnv, Topics, command, rebuild_env

pytestmark = pytest.mark.integration

SHOP1, SHOP2 = "shop-1.myshopify.com", "shop-2.myshopify.com"
# written at apply time (the decayed demand and its clock): a replay writes its own
VOLATILE = frozenset(("vel", "vel_ms"))


def line(shop: str, order: str) -> OrderLineRef:
    return OrderLineRef(shop=shop, order_id=order, line_id="1")


@dataclass
class Store(RebuildEnv):
    async def state(self, skus: list[str]) -> dict[str, dict[str, Any]]:
        """Every SKU's state hash (but what apply time writes), waiting list (its keys),
        levels as the read API answers them, and ledger (but the entry ids: apply times)."""
        out: dict[str, dict[str, Any]] = {}
        for sku in skus:
            raw = await self.redis.hgetall(state_key(sku))
            fields = {as_text(k): as_text(v) for k, v in raw.items()}
            waiting = await self.redis.lrange(waiting_key(sku), 0, -1)
            out[sku] = {
                "hash": {k: v for k, v in sorted(fields.items()) if k not in VOLATILE},
                "waiting": [orjson.loads(w)["key"] for w in waiting],
                "levels": await self.store.levels(sku),
                "ledger": [
                    (e["key"], e["command"], e["status"], e["location"], e["d_on_hand"])
                    for e in await self.store.ledger(sku)
                ],
            }
        return out


@pytest.fixture
async def env(
    kafka_bootstrap: str, redis_url: str, redis5: Redis, topics3: Topics, monkeypatch
) -> AsyncIterator[Store]:
    async with rebuild_env(Store, kafka_bootstrap, redis_url, redis5, topics3, monkeypatch,
                           "rerun") as env:  # fmt: skip
        yield env


@pytest.mark.parametrize("rerun", ["force", "skus"])
async def test_a_second_rebuild_counts_nothing_twice(env: Store, rerun: str) -> None:
    """P: sold by shop 1 before the cut; the tail brings shop 2's first sale (a ``seen``
    field P's record lacks), shop 1's next one, a location first stocked, a reserve refused
    (it waits, and counts in ``seen``) and then the policy that would have accepted it. N:
    only in the tail (no levels record at all). Rerun: ``--force`` on the whole store, or
    ``--skus`` of both, twice."""
    run = uuid.uuid4().hex[:8]
    p, n = f"RR-p-{run}", f"RR-n-{run}"
    counted = datetime.now(UTC) - timedelta(minutes=5)
    for event in [
        command(p, "set_on_hand", 10, f"{p}:count"),
        command(p, "reserve", 2, f"{p}:order-1", order=line(SHOP1, "1")),
    ]:
        await env.handle(event)
    await env.leave(
        [
            command(p, "reserve", 1, f"{p}:order-2", order=line(SHOP2, "2")),
            command(p, "reserve", 3, f"{p}:order-3", order=line(SHOP1, "3")),
            command(p, "adjust", 4, f"{p}:receipt-wh2", location=LOC2),
            # a count taken before the receipt was applied: the moves since its time (the
            # ledger's) are added to it
            command(p, "set_on_hand", 7, f"{p}:count-wh2", location=LOC2, as_of=counted),
            command(p, "reserve", 9, f"{p}:order-4", order=line(SHOP2, "4")),  # refused
            command(p, "configure", 0, f"{p}:config", config=SkuConfig(policy="backorder")),
            command(n, "adjust", 3, f"{n}:receipt"),
        ]
    )
    await env.redis.flushdb()  # the loss
    assert await env.cli() == 0
    once = await env.state([p, n])
    hp = once[p]["hash"]
    assert hp[f"seen|{LOC}|{SHOP1}"] == "5" and hp[f"seen|{LOC}|{SHOP2}"] == "10"
    assert hp[f"{LOC}|reserved"] == "6" and hp[f"{LOC2}|on_hand"] == "11"
    assert hp["policy"] == "backorder" and once[p]["waiting"] == [f"{p}:order-4"]
    assert once[n]["hash"][f"{LOC}|on_hand"] == "3"

    extra = ["--force"] if rerun == "force" else ["--skus", f"{p},{n}"]
    for _ in range(2):
        assert await env.cli(*extra) == 0
        assert await env.state([p, n]) == once


async def test_a_field_the_record_lacks_does_not_survive_the_restore(env: Store) -> None:
    """Fields left in a restored hash from before (a counter of a shop, a location, a kit
    stamp, shares the levels no longer have) are gone after a rebuild that restores the
    hash; a setting no retained command states (its ``configure`` past retention) stays."""
    run = uuid.uuid4().hex[:8]
    p = f"RR-s-{run}"
    for event in [
        command(p, "set_on_hand", 10, f"{p}:count"),
        command(p, "reserve", 2, f"{p}:order-1", order=line(SHOP1, "1")),
    ]:
        await env.handle(event)
    await env.redis.flushdb()
    assert await env.cli() == 0
    once = await env.state([p])
    await env.redis.hset(
        state_key(p),
        mapping={
            f"seen|{LOC}|shop-9.myshopify.com": 5,
            f"{LOC2}|on_hand": 3,
            f"{LOC2}|reserved": 1,
            "kitoff|2": 99,
            "shares": '{"shop-9.myshopify.com": 2}',
            "sold|shop-9.myshopify.com": 7,
        },
    )
    await env.redis.hset(state_key(p), "policy", "backorder")  # a configure long gone
    assert await env.cli("--force") == 0
    again = await env.state([p])
    hash_once = dict(once[p]["hash"])
    hash_once["policy"] = "backorder"
    assert again[p]["hash"] == hash_once
    assert again[p]["levels"] == once[p]["levels"]
    assert await env.cli("--skus", p) == 0
    assert (await env.state([p]))[p]["hash"] == hash_once


@pytest.mark.parametrize("lost", ["nothing", "kit-record"])
async def test_a_kits_own_counters_are_counted_once_over_two_rebuilds(
    env: Store, monkeypatch, lost: str
) -> None:
    """A kit sold by shop 1 before the cut and by shop 2 in the tail (its first sale: the
    kit's record lacks that ``seen`` field; the replay through the kit script moves it).
    "kit-record": the kit's own records never arrived, so its share of the consumed kit
    command is applied alone (``kit_own_only``) on every run."""
    if lost == "kit-record":

        async def nothing(*_: object) -> None:
            return None

        monkeypatch.setattr(CommandHandler, "_publish_kit_levels", nothing)
    run = uuid.uuid4().hex[:8]
    a, b, kit = f"RR-a-{run}", f"RR-b-{run}", f"RR-kit-{run}"
    for event in [
        command(a, "set_on_hand", 10, f"{a}:count"),
        command(b, "set_on_hand", 10, f"{b}:count"),
        command(kit, "configure", 0, f"{kit}:def", config=SkuConfig(kit_components={a: 1, b: 2})),
        command(kit, "reserve", 2, f"{kit}:order-1", order=line(SHOP1, "1")),
    ]:
        await env.handle(event)
    await env.leave([command(kit, "reserve", 1, f"{kit}:order-2", order=line(SHOP2, "2"))])
    await env.redis.flushdb()
    assert await env.cli() == 0
    once = await env.state([a, b, kit])
    hk = once[kit]["hash"]
    assert hk[f"seen|{LOC}|{SHOP1}"] == "2" and hk[f"seen|{LOC}|{SHOP2}"] == "1"
    assert once[b]["hash"][f"{LOC}|reserved"] == "6"
    for extra in (["--force"], ["--skus", f"{a},{b},{kit}"]):
        assert await env.cli(*extra) == 0
        assert await env.state([a, b, kit]) == once


async def test_a_repair_on_a_kept_redis_keeps_the_ledger_of_what_the_levels_cover(
    env: Store,
) -> None:
    """A per-SKU repair runs on a Redis that kept the SKU's history (nothing was flushed).
    The ledger entries of the commands its levels cover stay, a late copy of one of them in
    the tail included (a duplicate, it writes none), and the replayed receipt's entry is
    there once, however often the repair runs."""
    run = uuid.uuid4().hex[:8]
    p = f"RR-k-{run}"
    order = line(SHOP1, "1")
    for event in [
        command(p, "set_on_hand", 10, f"{p}:count"),
        command(p, "reserve", 2, f"{p}:order-1", order=order),
    ]:
        await env.handle(event)
    await env.leave(
        [
            command(p, "reserve", 2, f"{p}:order-1", order=order),  # a late copy
            command(p, "adjust", 3, f"{p}:receipt"),
        ]
    )
    expected = [
        (f"{p}:count", "set_on_hand", "applied", LOC, "10"),
        (f"{p}:order-1", "reserve", "applied", LOC, "0"),
        (f"{p}:receipt", "adjust", "applied", LOC, "3"),
    ]
    for _ in range(2):
        assert await env.cli("--skus", p) == 0
        state = (await env.state([p]))[p]
        assert state["ledger"] == expected
        assert state["hash"][f"{LOC}|on_hand"] == "13"
        assert state["hash"][f"{LOC}|reserved"] == "2"
        assert state["hash"][f"seen|{LOC}|{SHOP1}"] == "2"
