"""Property: whatever the interleaving of storefront sales, late order webhooks and sync
writes (with the stale compare-and-set answers they cause), three stores sharing low
stock never sell a unit beyond it, no write raises a store over its unseen sales, and once
everything has landed every unit truth holds is on sale somewhere (nothing left unsold).

The stores are the Shopify simulator (in process, counts of their own); truth is a small
model of the adjuster's rules (reserve or refuse, each shop's applied-order counter,
shares weighted by sales); the writer, its state and its allocation gate are the
service's own. Each store also sells a second item, ``OTHER``, whose changes go in the same
calls: a sale of it the sync has not seen makes the store refuse the whole call (it is all
or nothing), and with few retries a round can end with the shared SKU's write unapplied.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from unit.shopify_sync.harness import Rig, rig, store

from shopify_sync.domain.quantities import Pending, seen_of

SHOPS = ("p.myshopify.com", "e.myshopify.com", "u.myshopify.com")
SKU, LOC = "H", "wh-1"
OTHER = "O"  # an item of every store that is not shared: its raced writes refuse the call
# 60 drawn examples per run in CI; the examples that broke the property were found at
# 1,500-8,000 (``STOCKSYNC_FLASH_PROPERTY_EXAMPLES=8000`` runs that many, about 10 minutes)
EXAMPLES = int(os.environ.get("STOCKSYNC_FLASH_PROPERTY_EXAMPLES", "60"))


@dataclass
class Truth:
    """apply.lua's rules for one SKU under channel allocation, in a few lines."""

    available: int
    version: int = 1
    seen: dict[str, int] = field(default_factory=dict)
    sold: dict[str, int] = field(default_factory=dict)
    refused: int = 0

    def shares(self) -> dict[str, int]:
        weights = [1 + self.sold.get(s, 0) for s in SHOPS]
        pool, total = max(0, self.available), sum(weights)
        shares = {s: pool * w // total for s, w in zip(SHOPS, weights, strict=True)}
        order = sorted(range(len(SHOPS)), key=lambda i: (-weights[i], i))
        k = 0
        while sum(shares.values()) < pool:
            shares[SHOPS[order[k % len(SHOPS)]]] += 1
            k += 1
        return shares

    def reserve(self, shop: str) -> bool:
        self.seen[shop] = self.seen.get(shop, 0) + 1
        if self.available < 1:
            self.refused += 1
            return False
        self.available -= 1
        self.sold[shop] = self.sold.get(shop, 0) + 1
        self.version += 1
        return True

    def pending(self, shop: str) -> Pending:
        return Pending(self.version, self.shares()[shop], self.available, True, seen_of(self.seen))


async def counts(r: Rig) -> dict[str, int]:
    return {s: (await r.inventory(s))[SKU] for s in SHOPS}


async def record_all(r: Rig, truth: Truth) -> None:
    for shop in SHOPS:
        await r.state.record(shop, {(SKU, LOC): truth.pending(shop)})


Step = tuple[str, int]
steps = st.lists(
    st.tuples(st.sampled_from(["sell", "sell", "deliver", "push", "race"]), st.integers(0, 2)),
    max_size=40,
)


async def play(stock: int, plan: list[Step], retries: int = 3) -> None:
    async with rig([store(s, "plus") for s in SHOPS]) as r:
        r.writer.max_stale_retries = retries
        r.writer.contended_s = 0.0  # a raced item is never written apart: any call may be refused
        other = dict.fromkeys(SHOPS, 50)  # what each store shows of OTHER
        for s in SHOPS:
            await r.seed(s, {SKU: 0, OTHER: 50})
            await r.state.record(s, {(OTHER, LOC): Pending(1, 50)})
        truth = Truth(stock)
        unseen: dict[str, deque[int]] = {s: deque() for s in SHOPS}
        await record_all(r, truth)
        sold = 0

        async def check_after_push(shop: str) -> None:
            shown = await counts(r)
            allowed = truth.shares()[shop]
            # the write invariant: never above its share minus its unseen sales
            assert shown[shop] <= max(0, allowed - len(unseen[shop])), (shop, shown, truth)
            # and together: shown plus unseen never above what truth holds
            assert sum(shown[s] + len(unseen[s]) for s in SHOPS) <= truth.available

        for action, i in plan:
            shop = SHOPS[i]
            if action == "sell":
                level = (await counts(r))[shop]
                if level > 0:  # the storefront refuses at zero (its own count)
                    await r.seed(shop, {SKU: level - 1})
                    unseen[shop].append(1)
                    sold += 1
            elif action == "deliver" and unseen[shop]:
                unseen[shop].popleft()
                if truth.reserve(shop):
                    await record_all(r, truth)
            elif action == "race":
                # OTHER sells in the store, unseen by the sync, and a change of it is pending:
                # its compare-and-set is stale, and the call it shares with H is refused
                level = (await r.inventory(shop))[OTHER]
                await r.seed(shop, {OTHER: level - 1})
                other[shop] += 1
                # a new target each time, so that a write of it is planned (not settled)
                target = Pending(other[shop], 40 + other[shop] % 2)
                await r.state.record(shop, {(OTHER, LOC): target})
            elif action == "push":
                await r.writer.push_pending(r.stores[shop])
                await check_after_push(shop)
            assert sold <= stock and truth.refused == 0, "sold beyond stock"

        # everything lands: webhooks delivered, every lane pushed until nothing moves
        for shop in SHOPS:
            while unseen[shop]:
                unseen[shop].popleft()
                assert truth.reserve(shop), "sold beyond stock"
        await record_all(r, truth)
        for _ in range(3):
            for shop in SHOPS:
                await r.writer.push_pending(r.stores[shop])
        shown = await counts(r)
        assert shown == truth.shares(), "stock left off sale after everything landed"
        assert sum(shown.values()) == truth.available


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stock=st.integers(1, 11), plan=steps, retries=st.sampled_from([0, 1, 3]))
def test_no_interleaving_oversells_or_raises_a_store_over_its_unseen_sales(
    stock: int, plan: list[Step], retries: int
) -> None:
    asyncio.run(play(stock, plan, retries))


def test_a_raced_lowering_without_retries_still_takes_the_store_down() -> None:
    # u shows its share 2 and sells one unseen; p's sale lowers u's share to 1; the push of
    # u compares against the 2 it wrote and the store answers stale. With no retry left, the
    # round used to end with u at 1 where share 1 minus 1 unseen allows 0 (found by the
    # property above); the lowering now goes as a relative adjustment from the level read
    # again (ADR 0044), whatever the retries left
    plan = [("push", 0), ("push", 2), ("sell", 0), ("sell", 2), ("deliver", 0), ("push", 2)]
    asyncio.run(play(6, plan, retries=0))


def test_a_lowering_refused_with_its_call_still_takes_the_store_down() -> None:
    # p shows 1; u's delivered sale moves p's share to 0; a sale of OTHER in p makes the
    # call that carries p's lowering stale (all or nothing), and with no retry left the
    # lowering used to stay pending, p at 1 over its share 0. It now goes in a relative
    # adjustment once the tries are spent (ADR 0044)
    plan = [("push", 0), ("push", 2), ("sell", 2), ("deliver", 2), ("race", 0), ("push", 0)]
    asyncio.run(play(3, plan, retries=0))
