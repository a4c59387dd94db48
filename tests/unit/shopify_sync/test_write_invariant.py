"""The write invariant against the simulator: a write never sets a store above what truth
allows it minus the units it sold that truth has not applied yet; under channel allocation
a store is raised only into room the other stores gave up (giver lowered first)."""

from __future__ import annotations

from typing import Any

import pytest
from unit.shopify_sync.harness import Rig, rig, store

from shopify_sync.adapters.intents import LocalIntents
from shopify_sync.domain.intents import Intent
from shopify_sync.domain.quantities import Pending
from shopify_sync.lanes import Lane, LaneConfig, Lanes

P, C = "parent.myshopify.com", "child.myshopify.com"
KEY = ("A", "wh-1")


def pending(version: int, quantity: int, available: int, *, shared: bool = False,
            **seen: int) -> Pending:  # fmt: skip
    counters = tuple(sorted((f"{shop}.myshopify.com", n) for shop, n in seen.items()))
    return Pending(version, quantity, available, shared, counters)


async def adjustments(r: Rig, shop: str) -> list[tuple[int, int | None]]:
    """(delta, changeFromQuantity) of every adjustment sent to ``shop``, oldest first."""
    reqs: list[dict[str, Any]] = (
        await r.http.get("/_sim/requests?operation_name=AdjustInventoryQuantities")
    ).json()
    return [
        (c["delta"], c["changeFromQuantity"])
        for req in reqs
        if req.get("shop") in (None, shop)
        for c in req["variables"]["input"]["changes"]
    ]


async def sets(r: Rig, shop: str) -> list[tuple[int, int | None]]:
    """(quantity, changeFromQuantity) of every set sent to ``shop``, oldest first."""
    reqs: list[dict[str, Any]] = (
        await r.http.get("/_sim/requests?operation_name=SetInventoryQuantities")
    ).json()
    out = []
    for req in reqs:
        if req.get("shop") not in (None, shop):
            continue
        for q in req["variables"]["input"]["quantities"]:
            out.append((q["quantity"], q["changeFromQuantity"]))
    return out


async def test_a_stale_answer_never_raises_the_store_over_its_unseen_sales() -> None:
    """The issue's trace: truth 29 (another store sold one), the parent had sold 20 that
    truth had not applied. The old writer re-read the level and sent 29 again, from 10:
    twenty sold units back on sale. The target is recomputed: 29 - 20 = 9, and the store
    lowered from the 10 it shows by 1 (ADR 0044)."""
    async with rig([store(P, "plus")]) as r:
        await r.seed(P, {"A": 30})
        await r.state.record(P, {KEY: pending(1, 30, 30, parent=0)})
        await r.writer.push_pending(r.stores[P])  # read 30, nothing to write
        await r.seed(P, {"A": 10})  # twenty sales the sync has not seen
        await r.state.record(P, {KEY: pending(2, 29, 29, parent=0, child=1)})
        out = await r.writer.push_pending(r.stores[P])
        assert out.applied == 1
        assert (await r.inventory(P))["A"] == 9
        assert await sets(r, P) == [(29, 30)]
        assert await adjustments(r, P) == [(-1, None)]
        assert await r.state.pending(P) == {}


async def test_sales_truth_already_applied_are_not_held_back_twice() -> None:
    """Of the twenty sales, truth applied fifteen (the shop's counter moved 0 -> 15) and
    another store sold one: truth allows 14, five sales are unseen, the store gets 9."""
    async with rig([store(P, "plus")]) as r:
        await r.seed(P, {"A": 30})
        await r.state.record(P, {KEY: pending(1, 30, 30, parent=0)})
        await r.writer.push_pending(r.stores[P])
        await r.seed(P, {"A": 10})
        await r.state.record(P, {KEY: pending(17, 14, 14, parent=15, child=1)})
        await r.writer.push_pending(r.stores[P])
        assert (await r.inventory(P))["A"] == 9
        # and once truth has applied all twenty, the store shows truth exactly
        await r.state.record(P, {KEY: pending(22, 9, 9, parent=20, child=1)})
        out = await r.writer.push_pending(r.stores[P])
        assert out.calls == 0 and (await r.inventory(P))["A"] == 9


async def test_a_store_lower_for_reasons_truth_does_not_know_is_never_raised() -> None:
    """The store shows 4 of the 10 it was set to, and truth has applied none of its sales
    (a receipt of one raised truth to 11): the six are unseen sales or a loss truth does
    not know of; the write adds the one unit and never puts the six back."""
    async with rig([store(P, "plus")]) as r:
        await r.seed(P, {"A": 0})
        await r.state.record(P, {KEY: pending(1, 10, 10, parent=0)})
        await r.writer.push_pending(r.stores[P])
        assert (await r.inventory(P))["A"] == 10
        await r.seed(P, {"A": 4})
        await r.state.record(P, {KEY: pending(2, 11, 11, parent=0)})
        await r.writer.push_pending(r.stores[P])
        assert (await r.inventory(P))["A"] == 5
        assert await sets(r, P) == [(10, 0), (11, 10), (5, 4)]


async def test_under_allocation_the_taker_waits_until_the_giver_was_lowered() -> None:
    """Shares move from the child (not selling) to the parent: 3/3 of 6 -> 5/1. The
    parent's raise is held while the child still shows 3, and goes out once the child
    was lowered: at no moment do the two stores show more than truth's 6."""
    async with rig([store(P, "plus"), store(C, "plus")]) as r:
        await r.seed(P, {"A": 3})
        await r.seed(C, {"A": 3})
        for shop in (P, C):
            await r.state.record(shop, {KEY: pending(1, 3, 6, shared=True)})
            await r.writer.push_pending(r.stores[shop])
        await r.state.record(P, {KEY: pending(2, 5, 6, shared=True)})
        await r.state.record(C, {KEY: pending(2, 1, 6, shared=True)})
        held = await r.writer.push_pending(r.stores[P])
        assert held.applied == 0 and (await r.inventory(P))["A"] == 3
        assert KEY in await r.state.pending(P)  # it stays pending, to be tried again
        await r.writer.push_pending(r.stores[C])
        assert (await r.inventory(C))["A"] == 1
        await r.writer.push_pending(r.stores[P])
        assert (await r.inventory(P))["A"] == 5
        assert await r.state.pending(P) == {}


async def test_a_count_guessed_from_applied_sales_is_confirmed_not_trusted() -> None:
    """Truth applied two of the parent's orders (its counter 0 -> 2), so the parent should
    show 18, and the sync guesses it does. It does not (the orders never took its count
    down: untracked, or a merchant's edit): the write checks, meets 20, and lowers it by 2."""
    async with rig([store(P, "plus")]) as r:
        await r.seed(P, {"A": 0})
        await r.state.record(P, {KEY: pending(1, 20, 20, parent=0)})
        await r.writer.push_pending(r.stores[P])
        await r.seed(P, {"A": 20})  # as written; the two sales never showed here
        await r.state.record(P, {KEY: pending(3, 18, 18, parent=2)})
        await r.writer.push_pending(r.stores[P])
        assert (await r.inventory(P))["A"] == 18
        assert await sets(r, P) == [(20, 0), (18, 18)]
        assert await adjustments(r, P) == [(-2, None)]


async def test_a_lane_that_gives_up_room_wakes_the_lane_waiting_for_it() -> None:
    """The taker's raise is held; the giver's lowering round wakes the taker's lane at
    once instead of leaving it to its next poll."""
    async with rig([store(P, "plus"), store(C, "plus")]) as r:
        config = LaneConfig(window_s=0.0, discover=False)
        lanes = Lanes(
            {
                s: Lane(r.stores[s], r.writer, r.state, r.client, r.mapping, config, r.clock.sleep)
                for s in (P, C)
            }
        )
        lanes.link()
        for shop in (P, C):
            await r.seed(shop, {"A": 3})
            await r.state.record(shop, {KEY: pending(1, 3, 6, shared=True)})
            await r.writer.push_pending(r.stores[shop])
        await r.state.record(P, {KEY: pending(2, 5, 6, shared=True)})
        await r.state.record(C, {KEY: pending(2, 1, 6, shared=True)})
        held = await lanes.lanes[P].round()
        assert held is not None and held.held == 1
        lanes.lanes[P].wake.clear()
        gave = await lanes.lanes[C].round()
        assert gave is not None and gave.gave_up == 2
        assert lanes.lanes[P].wake.is_set()


async def test_a_raise_refused_with_its_call_gives_its_room_back_to_the_next_round() -> None:
    """A call is all or nothing. Room moved from the child to the parent (shares 3/3 ->
    5/1), and the parent's raise of A went in one call with B, which a sale had raced: the
    store refused the call, and with no retry left the round ended with A still pending.
    The gate had recorded the raise (5) as what the parent could sell before the call; the
    old writer left that record behind, so the next round took the two units the parent
    did not show as sales truth had not applied yet and held it at 3 for good: units on
    sale in no store (the flash-sale bench's unsold stock, at 200 orders/s). A raise that
    was not applied gives its claim back, and the next round raises the parent."""
    b_key = ("B", "wh-1")
    async with rig([store(P, "plus"), store(C, "plus")]) as r:
        r.writer.max_stale_retries = 0  # one call per round: a refused one ends it
        await r.seed(P, {"A": 3, "B": 10})
        await r.seed(C, {"A": 3})
        for shop in (P, C):
            await r.state.record(shop, {KEY: pending(1, 3, 6, shared=True)})
        await r.state.record(P, {b_key: pending(1, 10, 10)})
        for shop in (P, C):
            await r.writer.push_pending(r.stores[shop])
        await r.state.record(C, {KEY: pending(2, 1, 6, shared=True)})
        await r.writer.push_pending(r.stores[C])
        assert (await r.inventory(C))["A"] == 1
        await r.seed(P, {"B": 9})  # a sale of B the sync has not seen: its write is stale
        await r.state.record(P, {KEY: pending(2, 5, 6, shared=True), b_key: pending(2, 9, 9)})
        refused = await r.writer.push_pending(r.stores[P])
        # B's lowering was raced, and goes as an adjustment whatever the retries (ADR 0044)
        assert refused.deferred == 1 and (await r.inventory(P))["A"] == 3
        assert KEY in await r.state.pending(P)
        await r.writer.push_pending(r.stores[P])
        assert (await r.inventory(P))["A"] == 5
        assert (await r.inventory(P))["A"] + (await r.inventory(C))["A"] <= 6


class FailingOnce(LocalIntents):
    """Redis lost once, right after the gate recorded the raise: the call is never sent."""

    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    async def put(self, shop: str, intent: Intent) -> None:
        if self.fail:
            self.fail = False
            raise ConnectionError("Redis did not answer")
        await super().put(shop, intent)


async def test_a_claim_whose_call_was_never_sent_is_not_taken_for_unseen_sales() -> None:
    """The gate records a raise before the call; the round failed before the call was sent
    (its intent could not be recorded: Redis lost for a moment, or the process killed).
    The next round finds the claim and no intent: the raise was never applied, and the
    parent is raised to its share instead of being held at 3 for units it never showed."""
    async with rig([store(P, "plus"), store(C, "plus")]) as r:
        intents = FailingOnce()
        r.writer.intents = intents
        for shop in (P, C):
            await r.seed(shop, {"A": 3})
            await r.state.record(shop, {KEY: pending(1, 3, 6, shared=True)})
            await r.writer.push_pending(r.stores[shop])
        await r.state.record(C, {KEY: pending(2, 1, 6, shared=True)})
        await r.writer.push_pending(r.stores[C])
        await r.state.record(P, {KEY: pending(2, 5, 6, shared=True)})
        intents.fail = True
        with pytest.raises(ConnectionError):
            await r.writer.push_pending(r.stores[P])
        assert (await r.inventory(P))["A"] == 3
        await r.writer.push_pending(r.stores[P])
        assert (await r.inventory(P))["A"] == 5
        assert await r.state.pending(P) == {}


async def test_the_same_write_again_after_a_sale_is_a_new_call_not_a_replayed_answer() -> None:
    """Shopify answers a reused idempotency key with the first call's answer and applies
    nothing. The parent was raised 0 -> 1 (of its share 2: the child still held the rest),
    sold that unit (truth has not seen it: same truth version), and the next round's raise,
    refreshed after a stale answer, was 0 -> 1 again at the same version: the old key was
    the same, Shopify replayed "applied", and the sync believed the parent showed 1 while
    it showed 0, for good (a unit on sale nowhere; the flash-sale bench's `replayed`)."""
    async with rig([store(P, "plus"), store(C, "plus")]) as r:
        await r.seed(P, {"A": 0})
        await r.seed(C, {"A": 3})
        await r.state.record(P, {KEY: pending(1, 0, 3, shared=True)})
        await r.state.record(C, {KEY: pending(1, 3, 3, shared=True)})
        for shop in (P, C):
            await r.writer.push_pending(r.stores[shop])
        await r.state.record(C, {KEY: pending(2, 2, 3, shared=True)})
        await r.writer.push_pending(r.stores[C])  # the child gives up one unit of three
        await r.state.record(P, {KEY: pending(2, 2, 3, shared=True)})
        await r.writer.push_pending(r.stores[P])  # granted one of two: 0 -> 1, still pending
        assert (await r.inventory(P))["A"] == 1
        await r.seed(P, {"A": 0})  # the parent sells it; truth has not seen the sale
        await r.state.record(C, {KEY: pending(3, 1, 3, shared=True)})
        await r.writer.push_pending(r.stores[C])  # the child gives up another
        await r.writer.push_pending(r.stores[P])  # 1 -> 2 stale; refreshed: 0 -> 1 again
        assert (await r.inventory(P))["A"] == 1  # its share 2, one sale unseen
        assert [q for q, _ in await sets(r, P)][-1] == 1
