"""The push round against the simulator: pacing, compare-and-set, user errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from unit.shopify_sync.harness import LOC_GID, Rig, rig, store

from shopify_sync.adapters.sync_trace import SYNC_CLOCK
from shopify_sync.domain.pacing import ThrottleStatus
from shopify_sync.domain.quantities import Exposure, ItemKey, Pending
from shopify_sync.ports import RoundRead
from stocksync_common.tracing import OriginSampler

STD = "std.myshopify.com"


async def test_a_catalog_goes_out_in_batches_of_250_without_a_throttled_answer() -> None:
    async with rig([store(STD, "standard")]) as r:
        skus = {f"S{i:04d}": 0 for i in range(600)}
        await r.seed(STD, skus)
        # Nearly empty: one point for the probe that teaches the bucket, the rest must come
        # from the restore rate.
        await r.http.put(f"/_sim/stores/{STD}/bucket", json={"currently_available": 1})
        truth = {sku: i % 7 + 1 for i, sku in enumerate(skus)}
        await r.state.record(STD, {(s, "wh-1"): Pending(1, q) for s, q in truth.items()})
        out = await r.writer.push_pending(r.stores[STD])
        assert out.applied == 600 and out.rejected == 0
        assert await r.inventory(STD) == truth
        stats = await r.stats(STD)
        assert stats["throttled"] == 0
        assert stats["mutations"] == 3 and stats["quantities_set"] == 600
        assert await r.state.pending(STD) == {}
        sets = (await r.http.get("/_sim/requests?operation_name=SetInventoryQuantities")).json()
        for req in sets:
            assert len(req["variables"]["idempotencyKey"]) == 64
            assert all("changeFromQuantity" in q for q in req["variables"]["input"]["quantities"])


async def test_under_load_the_pacer_spends_the_restore_rate_and_is_never_refused() -> None:
    """Demand above the budget (a small write every round): points come from the restore
    rate alone, at >= 90% of it, with no THROTTLED answer."""
    async with rig([store(STD, "standard")]) as r:
        skus = [f"L{i:03d}" for i in range(30)]
        await r.seed(STD, dict.fromkeys(skus, 0))
        await r.mapping.discover(r.stores[STD])  # mapped and levels known: writes only
        # The bucket just got spent (by us: a bucket belongs to the app and the store).
        await r.http.put(f"/_sim/stores/{STD}/bucket", json={"currently_available": 0})
        r.client.shop(STD).bucket.settle(0, ThrottleStatus(2000.0, 0.0, 100.0))
        started = r.clock.now
        for version in range(1, 81):
            batch = {
                (skus[(version * 3 + j) % 30], "wh-1"): Pending(version, version) for j in range(3)
            }
            await r.state.record(STD, batch)
            out = await r.writer.push_pending(r.stores[STD])
            assert out.applied == 3
        elapsed = r.clock.now - started
        stats = await r.stats(STD)
        assert stats["throttled"] == 0
        spent = 80 * 10
        assert stats["points"] >= spent
        assert spent / (elapsed * 100.0) >= 0.9


async def test_levels_already_equal_need_no_call() -> None:
    async with rig([store(STD, "plus")]) as r:
        await r.seed(STD, {"A": 5})
        await r.state.record(STD, {("A", "wh-1"): Pending(3, 5)})
        out = await r.writer.push_pending(r.stores[STD])
        assert out.unchanged == 1 and out.calls == 0
        assert (await r.stats(STD))["mutations"] == 0


class StepSettler:
    """Records each settle and does what the writer's two waits do, in memory."""

    def __init__(self, r: Rig) -> None:
        self.r = r
        self.calls: list[tuple[Any, ...]] = []

    async def settle(
        self,
        shop: str,
        exposures: Mapping[ItemKey, Exposure],
        applied: Mapping[ItemKey, tuple[Pending, int]],
        observed: Mapping[ItemKey, int | None],
        intents: Sequence[str],
    ) -> None:
        self.calls.append((shop, dict(exposures), dict(applied), dict(observed), list(intents)))
        await self.r.writer.exposures.put(shop, exposures)
        await self.r.state.applied(shop, applied)
        await self.r.state.observed(shop, observed)
        await self.r.writer.intents.drop(shop, intents)


async def test_a_settler_records_a_write_and_its_intent_in_one_step() -> None:
    async with rig([store(STD, "plus")]) as r:
        await r.seed(STD, {"A": 10, "B": 4})
        r.writer.settler = settler = StepSettler(r)
        await r.state.record(STD, {("A", "wh-1"): Pending(3, 7), ("B", "wh-1"): Pending(3, 4)})
        out = await r.writer.push_pending(r.stores[STD])
        assert out.applied == 1 and out.unchanged == 1
        # B already showed 4 (settled without a call), A was written (with its intent)
        (_, shown, same, held, none), (_, exposures, applied, held_a, intents) = settler.calls
        assert list(shown) == [("B", "wh-1")] and same == {("B", "wh-1"): (Pending(3, 4), 4)}
        assert held == {} and none == []
        assert exposures == {("A", "wh-1"): Exposure(7, 0)}
        assert applied == {("A", "wh-1"): (Pending(3, 7), 7)} and held_a == {}
        assert len(intents) == 1 and await r.writer.intents.all(STD) == {}
        assert await r.inventory(STD) == {"A": 7, "B": 4}
        assert await r.state.pending(STD) == {}


async def test_a_round_starts_from_what_its_reads_read_in_one_step() -> None:
    """With ``reads``, the round's catalog entries are the ones read with its pending changes
    (here only there: the catalog lost them since): no lookup in the store."""
    async with rig([store(STD, "plus")]) as r:
        await r.seed(STD, {"A": 10})
        await r.mapping.discover(r.stores[STD])
        entries = await r.catalog.entries(STD, ["A"])
        await r.catalog.remove(STD, ["A"])
        calls: list[str] = []

        class Reads:
            async def pending_round(self, shop: str) -> RoundRead:
                calls.append(shop)
                pending = await r.state.pending(shop)
                return RoundRead(pending, await r.state.known(shop, list(pending)), entries)

        r.writer.reads = Reads()
        await r.state.record(STD, {("A", "wh-1"): Pending(3, 7)})
        out = await r.writer.push_pending(r.stores[STD])
        assert out.applied == 1 and calls == [STD]
        assert await r.inventory(STD) == {"A": 7}
        lookups = await r.http.get("/_sim/requests?operation_name=FindInventoryItems")
        assert lookups.json() == []


async def sold_unseen(r: Rig) -> None:
    """A written at 10 and remembered so; then the store sells one the sync has not seen."""
    await r.seed(STD, {"A": 10})
    await r.state.observed(STD, {("A", "wh-1"): 10})
    await r.mapping.resolve(r.stores[STD], ["A"])
    await r.seed(STD, {"A": 9})


async def test_a_sale_racing_a_raise_is_refreshed_and_set_again_with_a_new_key() -> None:
    async with rig([store(STD, "plus")]) as r:
        await sold_unseen(r)
        await r.state.record(STD, {("A", "wh-1"): Pending(2, 14)})
        out = await r.writer.push_pending(r.stores[STD])
        assert out.applied == 1
        assert (await r.inventory(STD))["A"] == 14
        sets = (await r.http.get("/_sim/requests?operation_name=SetInventoryQuantities")).json()
        froms = [s["variables"]["input"]["quantities"][0]["changeFromQuantity"] for s in sets]
        keys = {s["variables"]["idempotencyKey"] for s in sets}
        assert froms == [10, 9] and len(keys) == 2


async def test_a_sale_racing_a_lowering_lowers_the_store_by_the_difference() -> None:
    """A lowering whose compare-and-set a sale made stale is not set again (another sale
    could make that stale too, and a store left above its share sells units it no longer
    holds): the level is read again and the store lowered by the difference, without
    compare-and-set, in an adjustment under a key of its own (ADR 0044)."""
    async with rig([store(STD, "plus")]) as r:
        await sold_unseen(r)
        await r.state.record(STD, {("A", "wh-1"): Pending(2, 4)})
        out = await r.writer.push_pending(r.stores[STD])
        assert out.applied == 1 and out.calls == 2
        assert (await r.inventory(STD))["A"] == 4
        path = "/_sim/requests?operation_name="
        [set_call] = (await r.http.get(path + "SetInventoryQuantities")).json()
        [adjust] = (await r.http.get(path + "AdjustInventoryQuantities")).json()
        assert set_call["variables"]["input"]["quantities"][0]["changeFromQuantity"] == 10
        [change] = adjust["variables"]["input"]["changes"]
        assert change["delta"] == -5 and change["changeFromQuantity"] is None
        keys = {c["variables"]["idempotencyKey"] for c in (set_call, adjust)}
        assert len(keys) == 2
        assert await r.state.pending(STD) == {}


REFUSALS = [
    {"code": "ADJUST_QUANTITIES_FAILED", "field": None, "message": "Try again."},
    {"code": "INVALID_LOCATION", "field": ["input", "changes", "0", "locationId"],
     "message": "The specified location could not be found."},
]  # fmt: skip


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda e: str(e["code"]))
async def test_a_refused_adjustment_leaves_its_lowering_pending_or_dead_letters_it(
    refusal: dict[str, Any],
) -> None:
    """An adjustment is all or nothing too: a transient refusal leaves the item pending for
    the next round (nothing applied, nothing lost); an error no retry can fix dead-letters
    it, as a set's would."""
    async with rig([store(STD, "plus")]) as r:
        await sold_unseen(r)  # the set is stale
        await r.state.record(STD, {("A", "wh-1"): Pending(2, 4)})
        execute = r.client.execute

        async def refuse_adjustments(*args: Any, **kwargs: Any) -> dict[str, Any]:
            if kwargs.get("operation") == "AdjustInventoryQuantities":
                return {"inventoryAdjustQuantities": {"userErrors": [refusal]}}
            data: dict[str, Any] = await execute(*args, **kwargs)
            return data

        r.client.execute = refuse_adjustments  # type: ignore[method-assign]
        out = await r.writer.push_pending(r.stores[STD])
        assert out.applied == 0 and (await r.inventory(STD))["A"] == 9
        pending = await r.state.pending(STD)
        if refusal["code"] == "ADJUST_QUANTITIES_FAILED":
            assert out.deferred == 1 and ("A", "wh-1") in pending
            assert r.dead.rejected == []
        else:
            assert out.rejected == 1 and pending == {}
            assert [k for _, k, _, _, _ in r.dead.rejected] == [("A", "wh-1")]


async def test_stale_level_that_already_equals_truth_is_not_written_again() -> None:
    async with rig([store(STD, "plus")]) as r:
        await r.seed(STD, {"A": 10})
        await r.state.observed(STD, {("A", "wh-1"): 10})
        await r.mapping.resolve(r.stores[STD], ["A"])
        await r.seed(STD, {"A": 8})  # the store sold 2, and truth says 8 too
        await r.state.record(STD, {("A", "wh-1"): Pending(2, 8)})
        out = await r.writer.push_pending(r.stores[STD])
        assert out.unchanged == 1 and out.applied == 0
        assert (await r.stats(STD))["mutations"] == 0


async def test_unstocked_location_is_dead_lettered_and_other_items_still_go_out() -> None:
    async with rig([store(STD, "plus")]) as r:
        await r.seed(STD, {"A": 1})
        r2 = await r.http.post(
            f"/_sim/stores/{STD}/products",
            json=[{"sku": "ELSEWHERE", "quantities": {"gid://shopify/Location/77": 3}}],
        )
        assert r2.status_code == 201
        await r.state.record(
            STD, {("A", "wh-1"): Pending(1, 6), ("ELSEWHERE", "wh-1"): Pending(1, 2)}
        )
        out = await r.writer.push_pending(r.stores[STD])
        assert out.applied == 1 and out.rejected == 1
        assert [(k, reason) for _, k, _, reason, _ in r.dead.rejected] == [
            (("ELSEWHERE", "wh-1"), "INVALID_LOCATION")
        ]
        assert await r.state.pending(STD) == {}


async def test_sku_the_store_does_not_list_is_dropped_and_remembered_absent() -> None:
    async with rig([store(STD, "plus")]) as r:
        await r.state.record(STD, {("NOPE", "wh-1"): Pending(1, 2)})
        out = await r.writer.push_pending(r.stores[STD])
        assert out.unlisted == 1 and r.dead.rejected == []
        assert await r.catalog.absent(STD, ["NOPE"], 60) == {"NOPE"}
        await r.state.record(STD, {("NOPE", "wh-1"): Pending(2, 3)})
        await r.writer.push_pending(r.stores[STD])
        lookups = (await r.http.get("/_sim/requests?operation_name=FindInventoryItems")).json()
        assert len(lookups) == 1  # the second round did not ask again


async def test_a_deleted_item_is_remapped_by_sku() -> None:
    async with rig([store(STD, "plus")]) as r:
        await r.seed(STD, {"A": 1})
        await r.mapping.resolve(r.stores[STD], ["A"])
        await r.http.post("/_sim/reset")
        await r.seed(STD, {"A": 1})  # same SKU, new inventory item
        await r.state.record(STD, {("A", "wh-1"): Pending(1, 7)})
        first = await r.writer.push_pending(r.stores[STD])
        assert first.deferred == 1 and r.dead.rejected == []
        await r.writer.push_pending(r.stores[STD])
        assert (await r.inventory(STD))["A"] == 7


async def test_a_version_older_than_the_applied_one_is_ignored() -> None:
    async with rig([store(STD, "plus")]) as r:
        await r.seed(STD, {"A": 0})
        await r.state.record(STD, {("A", "wh-1"): Pending(5, 3)})
        await r.writer.push_pending(r.stores[STD])
        assert await r.state.record(STD, {("A", "wh-1"): Pending(4, 9)}) == 0  # a replay
        assert await r.state.record(STD, {("A", "wh-1"): Pending(6, 9)}) == 1
        assert LOC_GID


async def test_a_level_that_returns_to_an_earlier_pair_is_written_again() -> None:
    """498 -> 496, back to 498 (a cancellation), then 498 -> 496 again (a new order): the
    third write has the same item, quantity and changeFromQuantity as the first. Its
    idempotency key must differ, or the store (Shopify keeps keys for hours) answers from
    the first write and applies nothing. The fault suite found this as a store stuck at 498."""
    async with rig([store(STD, "plus")]) as r:
        await r.seed(STD, {"F": 498})
        await r.mapping.discover(r.stores[STD])
        for version, level in ((6, 496), (7, 498), (10, 496)):
            await r.state.record(STD, {("F", "wh-1"): Pending(version, level)})
            out = await r.writer.push_pending(r.stores[STD])
            assert out.applied == 1
            assert await r.inventory(STD) == {"F": level}, f"version {version}"
        sets = (await r.http.get("/_sim/requests?operation_name=SetInventoryQuantities")).json()
        keys = [req["variables"]["idempotencyKey"] for req in sets]
        assert len(keys) == 3 and len(set(keys)) == 3


async def test_a_change_settled_without_a_write_leaves_no_latency_note() -> None:
    """A change the store already shows ends without a write: its note (origin of the trace)
    must go with it. Left behind, the key's next change would be dated from this one, and
    an idle store's next write reported as minutes of sync latency."""
    provider = TracerProvider(sampler=OriginSampler())
    async with rig([store(STD, "plus")]) as r:
        await r.seed(STD, {"A": 5, "B": 9})
        with provider.get_tracer("t").start_as_current_span("a sale elsewhere"):
            SYNC_CLOCK.note(STD, [("A", "wh-1"), ("B", "wh-1")])
        await r.state.record(STD, {("A", "wh-1"): Pending(3, 5), ("B", "wh-1"): Pending(3, 4)})
        out = await r.writer.push_pending(r.stores[STD])
        assert out.unchanged == 1 and out.applied == 1
        assert not SYNC_CLOCK.waiting(STD, ("A", "wh-1"))  # settled, no write
        assert not SYNC_CLOCK.waiting(STD, ("B", "wh-1"))  # written and measured


async def test_an_item_selling_through_every_write_never_holds_the_others_back() -> None:
    """``inventorySetQuantities`` is all or nothing: one stale compare-and-set refuses the
    whole call. In a flash sale a hot SKU sold between every read and write of its store kept
    the calls of that store refused for as long as it sold (up to a second at 200 orders/s),
    and every other change in them (cold sales of other stores) waited behind it. The others
    now go again at once without it."""
    async with rig([store(STD, "plus")]) as r:
        await r.seed(STD, {"COLD": 5, "HOT": 40})
        await r.state.observed(STD, {("COLD", "wh-1"): 5, ("HOT", "wh-1"): 40})
        await r.mapping.resolve(r.stores[STD], ["COLD", "HOT"])
        hot = [40]

        async def a_sale_races_every_write(request: httpx.Request) -> None:
            if b"SetInventoryQuantities" in request.content:
                hot[0] -= 1  # the store sells HOT just before each write lands
                await r.seed(STD, {"HOT": hot[0]})

        r.http.event_hooks["request"].append(a_sale_races_every_write)
        # a raise of HOT (a lowering a sale raced goes as an adjustment, which cannot be raced)
        await r.state.record(
            STD, {("COLD", "wh-1"): Pending(2, 4), ("HOT", "wh-1"): Pending(2, 50)}
        )
        out = await r.writer.push_pending(r.stores[STD])
        assert (await r.inventory(STD))["COLD"] == 4
        assert out.applied == 1 and ("COLD", "wh-1") not in await r.state.pending(STD)
        # HOT never landed (each write raced): still pending, never raised.
        assert ("HOT", "wh-1") in await r.state.pending(STD)
        assert (await r.inventory(STD))["HOT"] == hot[0]


async def test_an_item_raced_lately_is_written_apart_and_never_keeps_the_round_waiting() -> None:
    """A hot SKU selling in the store is raced again on most writes: after a race it goes in
    calls of its own, after the others, with one retry per round (a round that retried it
    three times kept every change behind it waiting: 250-370 ms rounds at the parent store
    at the start of a 200 orders/s flash sale); the rest of it waits for the next round."""
    async with rig([store(STD, "plus")]) as r:
        await r.seed(STD, {"A": 5, "B": 5, "HOT": 40})
        await r.state.observed(STD, {("A", "wh-1"): 5, ("B", "wh-1"): 5, ("HOT", "wh-1"): 40})
        await r.mapping.resolve(r.stores[STD], ["A", "B", "HOT"])
        hot = [40]

        hot_id = (await r.catalog.entries(STD, ["HOT"]))["HOT"].item_id

        async def a_sale_races_every_write_of_hot(request: httpx.Request) -> None:
            if b"SetInventoryQuantities" in request.content and hot_id.encode() in request.content:
                hot[0] -= 1
                await r.seed(STD, {"HOT": hot[0]})

        async def sets() -> list[list[str]]:
            path = "/_sim/requests?operation_name=SetInventoryQuantities"
            return [
                [q["inventoryItemId"] for q in call["variables"]["input"]["quantities"]]
                for call in (await r.http.get(path)).json()
            ]

        r.http.event_hooks["request"].append(a_sale_races_every_write_of_hot)
        # HOT is raised: a raced lowering would go as an adjustment, which cannot be raced
        await r.state.record(STD, {("A", "wh-1"): Pending(2, 4), ("HOT", "wh-1"): Pending(2, 50)})
        first = await r.writer.push_pending(r.stores[STD])
        assert first.applied == 1 and first.deferred == 1
        assert sum(hot_id in ids for ids in await sets()) == 2  # its first call and one retry
        before = len(await sets())
        await r.state.record(STD, {("B", "wh-1"): Pending(3, 3)})
        second = await r.writer.push_pending(r.stores[STD])
        assert second.applied == 1 and (await r.inventory(STD))["B"] == 3
        calls = (await sets())[before:]
        assert hot_id not in calls[0] and len(calls[0]) == 1  # B alone, first
        assert len(calls) == 3  # then HOT's call and its one retry
