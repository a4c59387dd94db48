"""A kit and its component in one store under channel allocation (ADR 0040): the store's budget
of the component covers what it shows of the component directly and through its kits, after
every write the store accepts, also while the component's budget moves between the kits'
parts and its direct share (what gives up room is lowered first, what takes it raised after)."""

from __future__ import annotations

from typing import Any

from unit.shopify_sync.harness import Rig, rig, store

from shopify_sync.domain.kit_gate import kit_cap, linked_skus
from shopify_sync.domain.quantities import Pending, pending_for_store
from stocksync_common.events import KitComponent, KitPart, Levels, StockChange
from stocksync_common.stores import Store

P = "parent.myshopify.com"
A, K, K2 = ("A", "wh-1"), ("K", "wh-1"), ("K2", "wh-1")
UNITS = 2  # units of A in one kit
BUDGET = 4  # the store's budget of A: its whole available (one store)
SEEN = ((P, 0),)


def component(version: int, direct: int, kit_part: int) -> Pending:
    return Pending(version, direct, BUDGET, True, SEEN, (("K", UNITS, kit_part),))


def kit(version: int, share: int, direct: int | None = None, kit_part: int = 0) -> Pending:
    """The kit's change; ``direct`` (given): A's split it was derived from (A's direct share
    and this kit's part of A's budget)."""
    split = None if direct is None else (("A", UNITS, direct, (("K", UNITS, kit_part),)),)
    return Pending(version, share, BUDGET // UNITS, True, SEEN, None, split)


async def accepted(r: Rig, shop: str) -> list[tuple[str, int]]:
    """(SKU, quantity) of every quantity the store applied, in the order it applied them."""
    reqs: list[dict[str, Any]] = (
        await r.http.get(f"/_sim/requests?shop={shop}&operation_name=SetInventoryQuantities")
    ).json()
    reqs.sort(key=lambda req: req["seq"])
    return [
        (str(w["sku"]), int(w["quantity"]))
        for req in reqs
        for w in req["writes"]
        if w["outcome"] == "applied"
    ]


async def assert_within_budget(r: Rig, shop: str, start: dict[str, int]) -> dict[str, int]:
    """After each accepted write: shown A + units x shown kits <= the budget. What it shows
    last."""
    shown = dict(start)
    for sku, quantity in await accepted(r, shop):
        shown[sku] = quantity
        load = shown["A"] + UNITS * (shown["K"] + shown.get("K2", 0))
        assert load <= BUDGET, f"after {sku}={quantity} the store shows {shown}: {load} of A"
    return shown


async def start(r: Rig) -> None:
    """The store shows 1 A and 1 kit (2 A): its budget of 4, 1 direct and 1 kit's part."""
    await r.seed(P, {"A": 1, "K": 1})
    await r.state.record(P, {A: component(1, 1, 1), K: kit(1, 1)})
    out = await r.writer.push_pending(r.stores[P])
    assert out.calls == 0 and await r.state.pending(P) == {}


async def test_a_components_raise_waits_for_its_kits_lowering_that_has_not_arrived() -> None:
    """A's change arrives first: its kit part goes 1 -> 0 and its direct share 1 -> 3; the
    kit's change (share 0) comes later. Raised at once, the store would sell 3 A and a kit
    (5 of 4 units). The raise waits, pending, until the kit is lowered; then it goes out."""
    async with rig([store(P, "plus")]) as r:
        await start(r)
        await r.state.record(P, {A: component(2, 3, 0)})
        await r.writer.push_pending(r.stores[P])
        await assert_within_budget(r, P, {"A": 1, "K": 1})
        assert A in await r.state.pending(P)  # held: it stays pending
        await r.state.record(P, {K: kit(2, 0)})
        for _ in range(3):
            await r.writer.push_pending(r.stores[P])
        shown = await assert_within_budget(r, P, {"A": 1, "K": 1})
        assert shown == {"A": 3, "K": 0}  # and sold out: the whole budget on sale directly
        assert await r.state.pending(P) == {}


async def test_a_components_raise_in_the_kits_round_is_not_written_before_its_lowering() -> None:
    """Both changes are pending in one round, but the kit goes out in a call of its own after
    the others (a sale raced it lately): the component's raise must not go first."""
    async with rig([store(P, "plus")]) as r:
        await start(r)
        r.writer.contended[P] = {K: r.writer.clock() + 60.0}
        await r.state.record(P, {A: component(2, 3, 0), K: kit(2, 0)})
        for _ in range(3):
            await r.writer.push_pending(r.stores[P])
        shown = await assert_within_budget(r, P, {"A": 1, "K": 1})
        assert shown == {"A": 3, "K": 0}
        assert await r.state.pending(P) == {}


async def test_a_component_in_no_kit_part_here_is_raised_at_once() -> None:
    """The kit's share here stays within its part: the component's raise goes out in the
    first round (the gate costs no round when the kits hold no more than their parts)."""
    async with rig([store(P, "plus")]) as r:
        await r.seed(P, {"A": 1, "K": 0})
        await r.state.record(P, {A: component(1, 1, 0), K: kit(1, 0)})
        await r.writer.push_pending(r.stores[P])
        await r.state.record(P, {A: component(2, 4, 0)})
        out = await r.writer.push_pending(r.stores[P])
        assert out.applied == 1 and out.held == 0
        assert (await r.inventory(P))["A"] == 4


async def test_a_kits_raise_waits_for_its_components_lowering_that_has_not_arrived() -> None:
    """The other way: the store shows 4 A and no kit; A's budget moves 1 kit's part to the
    kit (A 4 -> 2 directly, the kit 0 -> 1). The kit's change arrives first: raised at once,
    the store would sell 4 A and a kit (6 of 4). The kit waits for A's lowering."""
    async with rig([store(P, "plus")]) as r:
        await r.seed(P, {"A": 4, "K": 0})
        await r.state.record(P, {A: component(1, 4, 0), K: kit(1, 0, 4, 0)})
        await r.writer.push_pending(r.stores[P])
        await r.state.record(P, {K: kit(2, 1, 2, 1)})
        await r.writer.push_pending(r.stores[P])
        await assert_within_budget(r, P, {"A": 4, "K": 0})
        assert K in await r.state.pending(P)  # held: it stays pending
        await r.state.record(P, {A: component(2, 2, 1)})
        for _ in range(3):
            await r.writer.push_pending(r.stores[P])
        shown = await assert_within_budget(r, P, {"A": 4, "K": 0})
        assert shown == {"A": 2, "K": 1}
        assert await r.state.pending(P) == {}


async def test_a_kits_raise_in_its_components_round_is_not_written_before_its_lowering() -> None:
    """Both pending in one round, the component written in a call of its own after the
    others (a sale raced it lately): the kit's raise must not go first."""
    async with rig([store(P, "plus")]) as r:
        await r.seed(P, {"A": 4, "K": 0})
        await r.state.record(P, {A: component(1, 4, 0), K: kit(1, 0, 4, 0)})
        await r.writer.push_pending(r.stores[P])
        r.writer.contended[P] = {A: r.writer.clock() + 60.0}
        await r.state.record(P, {A: component(2, 2, 1), K: kit(2, 1, 2, 1)})
        for _ in range(3):
            await r.writer.push_pending(r.stores[P])
        shown = await assert_within_budget(r, P, {"A": 4, "K": 0})
        assert shown == {"A": 2, "K": 1}
        assert await r.state.pending(P) == {}


async def test_a_kits_raise_waits_for_the_lowering_of_another_kit_of_its_component() -> None:
    """A is in two kits; the store's budget moves a kit's part from K2 to K (A stays at 2
    directly). K's raise, first, waits for K2's lowering."""
    async with rig([store(P, "plus")]) as r:

        def split(k: int, k2: int) -> tuple[tuple[str, int, int, Any], ...]:
            return (("A", UNITS, 2, (("K", UNITS, k), ("K2", UNITS, k2))),)

        def kit_of(version: int, share: int, k: int, k2: int) -> Pending:
            return Pending(version, share, 2, True, SEEN, None, split(k, k2))

        await r.seed(P, {"A": 2, "K": 0, "K2": 1})
        await r.state.record(P, {K: kit_of(1, 0, 0, 1), K2: kit_of(1, 1, 0, 1)})
        await r.writer.push_pending(r.stores[P])
        await r.state.record(P, {K: kit_of(2, 1, 1, 0)})
        await r.writer.push_pending(r.stores[P])
        await assert_within_budget(r, P, {"A": 2, "K": 0, "K2": 1})
        assert K in await r.state.pending(P)
        await r.state.record(P, {K2: kit_of(2, 0, 1, 0)})
        for _ in range(3):
            await r.writer.push_pending(r.stores[P])
        shown = await assert_within_budget(r, P, {"A": 2, "K": 0, "K2": 1})
        assert shown == {"A": 2, "K": 1, "K2": 0}
        assert await r.state.pending(P) == {}


def test_a_components_change_carries_its_kit_parts_into_the_pending_entry() -> None:
    lv = Levels(on_hand=4, available=4)
    change = StockChange(
        sku="A", location="wh-1", command="adjust", idempotency_key="k", version=2,
        before=lv, after=lv, sku_available_before=4, sku_available_after=4,
        shares={P: 3, "other.myshopify.com": 0},
        kit_parts={"K": KitPart(units=UNITS, shares={P: 0, "other.myshopify.com": 2})},
        seen={P: 0},
    )  # fmt: skip
    entry = pending_for_store([change], Store.model_validate(store(P, "plus")))[A]
    assert entry.kits == (("K", UNITS, 0),) and entry.quantity == 3
    assert Pending.decode(entry.encode()) == entry
    # an older record (no kit parts) still decodes, and a change without them carries none
    assert Pending.decode("2:3:4:1:a=0").kits is None
    plain = change.model_copy(update={"kit_parts": None})
    assert pending_for_store([plain], Store.model_validate(store(P, "plus")))[A].kits is None
    # a kit's change carries its components' splits: the store's own figures of each
    kit_change = change.model_copy(
        update={
            "sku": "K",
            "shares": {P: 1},
            "kit_parts": None,
            "kit_components": {
                "A": KitComponent(units=UNITS, shares={P: 2}, kit_parts=change.kit_parts or {})
            },
        }
    )
    entry = pending_for_store([kit_change], Store.model_validate(store(P, "plus")))[K]
    assert entry.components == (("A", UNITS, 2, (("K", UNITS, 0),)),) and entry.kits is None
    assert Pending.decode(entry.encode()) == entry


def test_the_rule_counts_every_kit_of_a_component_and_what_the_sync_has_not_met() -> None:
    """domain.kit_gate: A (budget 2 direct + 2 x 1 part of K + 2 x 0 of K2 = 4)."""
    shown = {"K": 1, "K2": 1}  # A never met: it counts at its direct share

    def selling(sku: str, unmet: int) -> int:
        return shown.get(sku, unmet)

    comp = Pending(2, 2, 4, True, SEEN, (("K", 2, 1), ("K2", 2, 0)))
    assert kit_cap("A", comp, selling) == 2 + 2 * (1 - 1) + 2 * (0 - 1) == 0
    split = (("A", 2, 2, (("K", 2, 1), ("K2", 2, 0))),)
    k = Pending(2, 1, 2, True, SEEN, None, split)
    assert kit_cap("K", k, selling) == (4 - 2 - 2 * 1) // 2 == 0  # K2's lowering first
    shown["K2"] = 0
    assert kit_cap("K", k, selling) == 1
    assert kit_cap("A", Pending(2, 2, 4, True, SEEN), selling) is None  # in no kit
    assert linked_skus(k) == {"A", "K", "K2"} and linked_skus(comp) == {"K", "K2"}
