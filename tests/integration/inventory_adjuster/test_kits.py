"""Kits on the real Redis: components move together, all or nothing. Each test runs with
kit.lua (one Redis only: its keys span slots) and in one-slot phases (what a Redis Cluster
runs, ADR 0034; on one Redis too)."""

import uuid

import pytest

from inventory_adjuster.adapters.kits import (
    KitApplied,
    KitDefinitionChanged,
    KitStore,
    kit_available,
)
from inventory_adjuster.adapters.redis_store import RedisInventory
from stocksync_common.events import InventoryCommand, SkuConfig
from support.infra import REDIS_CLUSTER

pytestmark = [pytest.mark.integration]


def cmd(
    sku: str, command: str, qty: int, key: str | None = None, **extra: object
) -> InventoryCommand:
    return InventoryCommand(
        command=command,  # type: ignore[arg-type]
        idempotency_key=key or uuid.uuid4().hex,
        sku=sku,
        location="wh-1",
        quantity=qty,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(params=[False, True], ids=["one-script", "phased"])
async def kit(redis, request):
    if REDIS_CLUSTER and not request.param:
        pytest.skip("kit.lua spans hash slots: one Redis only (ADR 0034)")
    run = uuid.uuid4().hex[:8]
    a, b, k = f"A-{run}", f"B-{run}", f"KIT-{run}"
    store = RedisInventory(redis, "kits", idem_ttl_s=600, ledger_max_len=1000)
    kits = KitStore(redis, "kits", idem_ttl_s=600, ledger_max_len=1000, phased=request.param)
    comps = {a: 2, b: 1}
    await store.apply_many(
        [
            (cmd(a, "set_on_hand", 10), None),
            (cmd(b, "set_on_hand", 4), None),
            (cmd(k, "configure", 0, config=SkuConfig(kit_components=comps)), None),
        ]
    )
    await kits.define(k, comps)
    return store, kits, a, b, k


def test_kit_availability_is_the_scarcest_component():
    assert kit_available([("A", 2), ("B", 1)], {"A": 10, "B": 4}) == 4
    assert kit_available([("A", 2), ("B", 1)], {"A": 5, "B": 4}) == 2
    assert kit_available([("A", 2)], {}) == 0


async def test_reserving_kits_reserves_components_all_or_nothing(kit):
    store, kits, a, b, k = kit
    defs = await kits.definitions([k, a])
    assert defs == {k: sorted([(a, 2), (b, 1)])}
    assert await kits.kits_of([a, b]) == {a: [k], b: [k]}

    ok = await kits.apply(cmd(k, "reserve", 3, key="o1"), None, defs[k])
    assert isinstance(ok, KitApplied) and ok.status == "applied"
    assert {c["sku"]: c["after"]["reserved"] for c in ok.result["components"]} == {a: 6, b: 3}

    refused = await kits.apply(cmd(k, "reserve", 2, key="o2"), None, defs[k])
    assert isinstance(refused, KitApplied) and refused.status == "rejected"
    la, lb = await store.levels(a), await store.levels(b)
    assert la is not None and lb is not None
    assert (la.locations["wh-1"].reserved, lb.locations["wh-1"].reserved) == (6, 3)

    again = await kits.apply(cmd(k, "reserve", 3, key="o1"), None, defs[k])
    assert isinstance(again, KitApplied) and again.status == "duplicate"
    assert (await store.levels(a)).locations["wh-1"].reserved == 6  # type: ignore[union-attr]

    avail = await kits.availability([k], "wh-1")
    assert avail[k][0] == 1  # min((10-6)//2, (4-3)//1)


async def test_changed_definition_is_detected(kit):
    _, kits, a, b, k = kit
    with pytest.raises(KitDefinitionChanged):
        await kits.apply(cmd(k, "reserve", 1), None, [(a, 1), (b, 1)])


async def test_commit_ships_the_components(kit):
    store, kits, a, b, k = kit
    defs = await kits.definitions([k])
    await kits.apply(cmd(k, "reserve", 2), None, defs[k])
    shipped = await kits.apply(cmd(k, "commit", 2), None, defs[k])
    assert isinstance(shipped, KitApplied) and shipped.status == "applied"
    la = await store.levels(a)
    assert la is not None and (la.locations["wh-1"].on_hand, la.locations["wh-1"].reserved) == (
        6,
        0,
    )


class Crash(Exception):
    pass


@pytest.mark.parametrize("refused", [False, True], ids=["applied", "rejected"])
async def test_a_crash_between_the_phases_and_a_replay_end_all_or_nothing_once(
    redis, monkeypatch, refused
):
    """The kit command stops after its holds (before settle and record), as a crashed
    adjuster would, and is read again: the components end as one application says (a
    rejected one given back exactly once), the second and third deliveries are duplicates."""
    run = uuid.uuid4().hex[:8]
    a, b, k = f"A-{run}", f"B-{run}", f"KIT-{run}"
    store = RedisInventory(redis, "kits", idem_ttl_s=600, ledger_max_len=1000)
    kits = KitStore(redis, "kits", idem_ttl_s=600, ledger_max_len=1000, phased=True)
    comps = {a: 2, b: 1}
    await store.apply_many(
        [
            (cmd(a, "set_on_hand", 10), None),
            (cmd(b, "set_on_hand", 1 if refused else 4), None),
            (cmd(k, "configure", 0, config=SkuConfig(kit_components=comps)), None),
        ]
    )
    await kits.define(k, comps)
    parts = sorted(comps.items())
    original = KitStore._parts
    calls: list[str] = []

    async def crash_after_holds(self, c, pos, components, step, decision="", shop="", parts=None):
        calls.append(step)
        if step == "settle" and calls.count("settle") == 1:
            raise Crash
        return await original(self, c, pos, components, step, decision, shop, parts)

    monkeypatch.setattr(KitStore, "_parts", crash_after_holds)
    reserve = cmd(k, "reserve", 2, key=f"order-{run}")
    with pytest.raises(Crash):
        await kits.apply(reserve, None, parts)
    held = await store.levels(a)
    assert held is not None and held.locations["wh-1"].reserved == 4  # between the phases

    first = await kits.apply(reserve, None, parts)  # the redelivery finishes it
    assert isinstance(first, KitApplied)
    assert first.status == ("rejected" if refused else "applied")
    for _ in range(2):
        again = await kits.apply(reserve, None, parts)
        assert isinstance(again, KitApplied) and again.status == "duplicate"
        assert again.result == first.result
    la, lb = await store.levels(a), await store.levels(b)
    assert la is not None and lb is not None
    expected = (0, 0) if refused else (4, 2)
    assert (la.locations["wh-1"].reserved, lb.locations["wh-1"].reserved) == expected
    # A moved once (and, rejected, was given back once): its ledger says so
    moves = [e for e in await store.ledger(a) if e.get("kit") == reserve.idempotency_key]
    assert [int(e["d_reserved"]) for e in moves] == ([4, -4] if refused else [4])
