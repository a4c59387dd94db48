"""Writes whose outcome the sync does not know: Shopify applied (or may have applied) a
``inventorySetQuantities`` but the round failed before recording it (Redis went away, the
answer was lost, the process died). The next round must not take the count the write
left for sales the store made unseen: that leaves the store under truth for good, stock
nobody can buy. CI's 'restart Redis (AOF)' fault showed it: a parent store 3 units under
truth after Redis stopped between a write and its record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unit.shopify_sync.harness import Rig, rig, store

from shopify_sync.adapters.exposures import LocalExposures
from shopify_sync.adapters.intents import LocalIntents
from shopify_sync.adapters.shopify import TransientError
from shopify_sync.domain.intents import Intent
from shopify_sync.domain.quantities import Exposure, ItemKey, Pending
from shopify_sync.writer import Writer

P = "parent.myshopify.com"
KEY = ("A", "wh-1")


def pending(
    version: int, quantity: int, available: int | None = None, shared: bool = False, **seen: int
) -> Pending:
    counters = tuple(sorted((f"{shop}.myshopify.com", n) for shop, n in seen.items()))
    return Pending(version, quantity, quantity if available is None else available, shared,
                   counters)  # fmt: skip


class RedisGone(ConnectionError):
    pass


class FlakyExposures(LocalExposures):
    """Records in memory; ``fail_puts`` next puts raise as a Redis that went away would."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_puts = 0

    async def put(self, shop: str, entries: Mapping[ItemKey, Exposure]) -> None:
        if entries and self.fail_puts > 0:
            self.fail_puts -= 1
            raise RedisGone("Connection refused")
        await super().put(shop, entries)


def writer_of(r: Rig, exposures: LocalExposures, intents: LocalIntents) -> Writer:
    """A writer over the rig's state and these records: another one over the same stores is
    a restarted process (nothing kept in memory but what Redis would keep)."""
    return Writer(
        r.client, r.mapping, r.state, r.dead, r.clock.sleep,
        exposures=exposures, intents=intents,
    )  # fmt: skip


async def _first_rounds(r: Rig, w: Writer, exposures: FlakyExposures) -> None:
    """Store and truth at 30; the child sells 3, truth 27: the write 30 -> 27 is applied by
    the store, and recording it fails."""
    await r.seed(P, {"A": 30})
    await r.state.record(P, {KEY: pending(1, 30, parent=0, child=0)})
    await w.push_pending(r.stores[P])  # read 30: nothing to write, 30 remembered
    await r.state.record(P, {KEY: pending(2, 27, parent=0, child=3)})
    exposures.fail_puts = 1
    try:
        await w.push_pending(r.stores[P])
    except RedisGone:
        pass
    else:
        raise AssertionError("the round should have failed at recording")
    assert (await r.inventory(P))["A"] == 27  # the store took the write


async def _round_fails_before_the_store(r: Rig) -> None:
    """One push round whose call times out before Shopify applies it (504)."""
    await r.faults(P, timeout_rate=1.0, timeout_mode="before", hang_s=60.0)
    try:
        await r.writer.push_pending(r.stores[P])
    except TransientError:
        pass
    else:
        raise AssertionError("the round should have failed with the 504")
    await r.faults(P)


async def _round_loses_an_answer(r: Rig, operation: str | None = None) -> None:
    """One push round whose first call (of ``operation``, when given) the store applies and
    whose answer is lost (the connection dropped after the store applied it)."""
    execute = r.client.execute
    lose = [1]

    async def answer_lost(*args: Any, **kwargs: Any) -> dict[str, Any]:
        data = await execute(*args, **kwargs)
        if lose and operation in (None, kwargs.get("operation")):
            lose.pop()
            raise TransientError("parent: ReadTimeout")
        return data

    r.client.execute = answer_lost  # type: ignore[method-assign]
    try:
        await r.writer.push_pending(r.stores[P])
    except TransientError:
        pass
    else:
        raise AssertionError("the round should have failed with the lost answer")


async def test_a_write_applied_but_not_recorded_is_not_taken_for_unseen_sales() -> None:
    """Redis back, the child sells one more (truth 26): the store must show 26, not 23."""
    async with rig([store(P, "plus")]) as r:
        exposures = FlakyExposures()
        w = r.writer
        w.exposures = exposures
        await _first_rounds(r, w, exposures)
        await r.state.record(P, {KEY: pending(3, 26, parent=0, child=4)})
        await w.push_pending(r.stores[P])
        assert (await r.inventory(P))["A"] == 26
        assert await r.state.pending(P) == {}


async def test_a_restarted_process_resolves_the_write_its_predecessor_left_in_doubt() -> None:
    """The same, with the round's process gone (SIGKILL): a new writer, nothing in memory
    but what Redis keeps."""
    async with rig([store(P, "plus")]) as r:
        exposures = FlakyExposures()
        intents = LocalIntents()
        first = writer_of(r, exposures, intents)
        await _first_rounds(r, first, exposures)
        second = writer_of(r, exposures, intents)
        await r.state.record(P, {KEY: pending(3, 26, parent=0, child=4)})
        await second.push_pending(r.stores[P])
        assert (await r.inventory(P))["A"] == 26


async def test_a_write_whose_answer_was_lost_is_resolved_before_newer_changes_go_out() -> None:
    """Shopify applied 30 -> 27 and the answer was lost (the connection dropped after the
    store applied it); a newer change arrives before the next round: its write is stale,
    and the count read after it (27) must not count as three unseen sales."""
    async with rig([store(P, "plus")], failure_threshold=100) as r:
        await r.seed(P, {"A": 30})
        await r.state.record(P, {KEY: pending(1, 30, parent=0, child=0)})
        await r.writer.push_pending(r.stores[P])
        await r.state.record(P, {KEY: pending(2, 27, parent=0, child=3)})
        await _round_loses_an_answer(r)
        assert (await r.inventory(P))["A"] == 27
        await r.state.record(P, {KEY: pending(3, 26, parent=0, child=4)})
        await r.writer.push_pending(r.stores[P])
        assert (await r.inventory(P))["A"] == 26


async def test_a_write_that_never_reached_the_store_is_void_and_the_store_is_not_lowered() -> None:
    """The opposite doubt: the call failed before Shopify applied it (timeout before). The
    store still shows 30 with truth at 26 after another sale: one write, 30 -> 26, and the
    replay of the old one (30 -> 27) never lands on top of it."""
    async with rig([store(P, "plus")], failure_threshold=100) as r:
        await r.seed(P, {"A": 30})
        await r.state.record(P, {KEY: pending(1, 30, parent=0, child=0)})
        await r.writer.push_pending(r.stores[P])
        await r.state.record(P, {KEY: pending(2, 27, parent=0, child=3)})
        await _round_fails_before_the_store(r)
        await r.seed(P, {"A": 29})  # and the parent sold one, unseen by truth so far
        await r.state.record(P, {KEY: pending(3, 26, parent=0, child=4)})
        await r.writer.push_pending(r.stores[P])
        # truth 26, one sale unseen: 25, never 26 or more
        assert (await r.inventory(P))["A"] == 25


async def test_a_raise_granted_by_the_gate_that_failed_is_not_taken_for_unseen_sales() -> None:
    """Channel allocation: the gate records a raise (3 -> 5) as the store's exposure before
    the call, so no other store is raised into the same room. The call fails before Shopify
    applies it; the next round must not read the two units between the granted exposure and
    the count as sales the store made unseen (the old writer settled the store at 3, its
    share 5, for good)."""
    async with rig([store(P, "plus")], failure_threshold=100) as r:
        await r.seed(P, {"A": 3})
        await r.state.record(P, {KEY: pending(1, 3, 10, True, parent=0)})
        await r.writer.push_pending(r.stores[P])  # read 3: the exposure is 3
        await r.state.record(P, {KEY: pending(2, 5, 10, True, parent=0)})
        await _round_fails_before_the_store(r)
        assert (await r.inventory(P))["A"] == 3
        await r.writer.push_pending(r.stores[P])
        assert (await r.inventory(P))["A"] == 5
        assert await r.state.pending(P) == {}


async def test_an_intent_keeps_its_variables_and_both_outcomes() -> None:
    intent = Intent(
        {"input": {"quantities": [{"quantity": 4}]}, "idempotencyKey": "k1"},
        {("A\x1fB", "wh-1"): 4},
        {("A\x1fB", "wh-1"): Exposure(6, 2)},
        {("A\x1fB", "wh-1"): Exposure(9, 2)},
    )
    again = Intent.decode(intent.encode())
    assert again == intent and again.key == "k1"


async def test_an_adjustment_whose_answer_was_lost_is_replayed_as_an_adjustment() -> None:
    """A lowering a sale raced goes as a relative adjustment (ADR 0044). Shopify applied
    it (29 -> 26: truth 27 minus the parent's one unseen sale) and the answer was lost.
    The next round sends it again under its key, as the same mutation: Shopify answers the
    first result without applying it twice, and the round records it as applied. Sent as a
    set, it would be refused and taken as void: 26 read as four unseen sales, the store
    held three units under truth for good."""
    async with rig([store(P, "plus")], failure_threshold=100) as r:
        await r.seed(P, {"A": 30})
        await r.state.record(P, {KEY: pending(1, 30, parent=0, child=0)})
        await r.writer.push_pending(r.stores[P])
        await r.seed(P, {"A": 29})  # the parent sells one, unseen by truth
        await r.state.record(P, {KEY: pending(2, 27, parent=0, child=3)})
        await _round_loses_an_answer(r, "AdjustInventoryQuantities")
        assert (await r.inventory(P))["A"] == 26
        await r.state.record(P, {KEY: pending(3, 26, parent=0, child=4)})
        await r.writer.push_pending(r.stores[P])
        # truth 26, one sale unseen: 25
        assert (await r.inventory(P))["A"] == 25
        path = "/_sim/requests?operation_name=AdjustInventoryQuantities"
        adjustments = (await r.http.get(path)).json()
        assert len(adjustments) == 2
        assert len({a["variables"]["idempotencyKey"] for a in adjustments}) == 1
