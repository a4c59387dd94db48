"""A kit and its component in one store under channel allocation (ADR 0040): the store's budget
of the component covers what it shows of the component directly and through the kit, after
every write the store accepts, also while the component's budget moves from the kit's part to
its direct share (the kit lowered first, the component raised after)."""

from __future__ import annotations

from typing import Any

from unit.shopify_sync.harness import Rig, rig, store

from shopify_sync.domain.quantities import Pending
from stocksync_common.events import KitPart, Levels, StockChange

P = "parent.myshopify.com"
A, K = ("A", "wh-1"), ("K", "wh-1")
UNITS = 2  # units of A in one kit
BUDGET = 4  # the store's budget of A: its whole available (one store)
SEEN = ((P, 0),)


def component(version: int, direct: int, kit_part: int) -> Pending:
    return Pending(version, direct, BUDGET, True, SEEN, (("K", UNITS, kit_part),))


def kit(version: int, share: int) -> Pending:
    return Pending(version, share, BUDGET // UNITS, True, SEEN)


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
    """After each accepted write: shown A + units x shown K <= the budget. What it shows last."""
    shown = dict(start)
    for sku, quantity in await accepted(r, shop):
        shown[sku] = quantity
        load = shown["A"] + UNITS * shown["K"]
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


def test_a_components_change_carries_its_kit_parts_into_the_pending_entry() -> None:
    lv = Levels(on_hand=4, available=4)
    change = StockChange(
        sku="A", location="wh-1", command="adjust", idempotency_key="k", version=2,
        before=lv, after=lv, sku_available_before=4, sku_available_after=4,
        shares={P: 3, "other.myshopify.com": 0},
        kit_parts={"K": KitPart(units=UNITS, shares={P: 0, "other.myshopify.com": 2})},
        seen={P: 0},
    )  # fmt: skip
    from shopify_sync.domain.quantities import pending_for_store
    from stocksync_common.stores import Store

    entry = pending_for_store([change], Store.model_validate(store(P, "plus")))[A]
    assert entry.kits == (("K", UNITS, 0),) and entry.quantity == 3
    assert Pending.decode(entry.encode()) == entry
    # an older record (no kit parts) still decodes, and a change without them carries none
    assert Pending.decode("2:3:4:1:a=0").kits is None
    plain = change.model_copy(update={"kit_parts": None})
    assert pending_for_store([plain], Store.model_validate(store(P, "plus")))[A].kits is None
